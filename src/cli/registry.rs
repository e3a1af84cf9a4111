//! `zkinfer registry deploy|register|provider|attest|request|gate`, and the chain options the
//! registry commands share.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use zkinfer::chain::deployments::{ContractEntry, Deployments, ModelEntry};
use zkinfer::chain::registry::{parse_model_id, predicate_op_text, GateDirection, GateSpec};
use zkinfer::chain::{self, Address, Chain};
use zkinfer::pipeline::Build;
use zkinfer::visibility::Vis;

use super::output::print_json;
use super::{block_on, Exit};

/// Where the chain is and who signs.
#[derive(Args, Clone)]
pub struct ChainArgs {
    /// JSON-RPC endpoint, e.g. http://127.0.0.1:8545 for a local anvil. Shown in messages
    /// only as scheme, host and port (API keys in URLs stay out of logs).
    #[arg(long, env = "ZKINFER_RPC_URL", hide_env_values = true)]
    pub rpc_url: String,
    #[command(flatten)]
    pub key: super::keys::KeyArgs,
    #[command(flatten)]
    pub at: RegistryLocation,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Which registry: given, or recorded in the deployments file of the chain.
#[derive(Args, Clone)]
pub struct RegistryLocation {
    /// The registry; default: the one recorded in the deployments file for this chain.
    #[arg(long)]
    pub registry: Option<String>,
    /// Folder of deployments files, one per chain id (`<chain id>.json`).
    #[arg(long, env = "ZKINFER_DEPLOYMENTS", default_value = "deployments")]
    pub deployments: PathBuf,
}

impl RegistryLocation {
    /// The registry: `--registry` when given, else the one the deployments file records for
    /// the chain.
    pub fn resolve(&self, chain: &Chain) -> anyhow::Result<Address> {
        match &self.registry {
            Some(r) => address("--registry", r),
            None => {
                let d = Deployments::load(&self.deployments, chain.chain_id)
                    .map_err(anyhow::Error::msg)?;
                address(
                    "registry in the deployments file",
                    &d.registry_address(&self.deployments)
                        .map_err(anyhow::Error::msg)?,
                )
            }
        }
    }
}

/// Parses an address, naming the flag on error.
pub fn address(flag: &str, s: &str) -> anyhow::Result<Address> {
    s.trim()
        .parse::<Address>()
        .map_err(|_| anyhow::anyhow!("{flag} '{s}' is not a 20-byte 0x address"))
}

/// Parses a 32-byte `0x` hex word (a commitment), naming the flag on error.
pub fn word(flag: &str, s: &str) -> anyhow::Result<[u8; 32]> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    let b = hex::decode(h).map_err(|e| anyhow::anyhow!("{flag} '{s}': not hex ({e})"))?;
    if b.len() > 32 {
        anyhow::bail!("{flag} '{s}': more than 32 bytes");
    }
    let mut w = [0u8; 32];
    w[32 - b.len()..].copy_from_slice(&b);
    Ok(w)
}

impl ChainArgs {
    /// Connects (with the key when given).
    pub async fn connect(&self) -> anyhow::Result<Chain> {
        self.key.connect(&self.rpc_url).await
    }

    /// The deployments record of the connected chain.
    pub fn deployments(&self, chain: &Chain) -> anyhow::Result<Deployments> {
        Deployments::load(&self.at.deployments, chain.chain_id).map_err(anyhow::Error::msg)
    }

    /// The registry: `--registry`, else the deployments file's.
    pub fn registry(&self, chain: &Chain) -> anyhow::Result<Address> {
        self.at.resolve(chain)
    }
}

/// Arguments of `registry`.
#[derive(Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    command: RegistryCommand,
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Deploy a PredictionRegistry owned by the sender; records it in the deployments file.
    Deploy(DeployArgs),
    /// Register a build's model (deploying its verifier unless --verifier is given).
    Register(RegisterArgs),
    /// Grant (or --revoke) the data-provider role (owner only).
    Provider(ProviderArgs),
    /// Attest that an input commitment stands for an account's data (providers only).
    Attest(AttestArgs),
    /// Ask bots for a prediction: emits PredictionRequested.
    Request(RequestArgs),
    /// Deploy the LendingGate example for a threshold model (`y[I] >= T` or `<= T`).
    Gate(GateArgs),
}

#[derive(Args)]
struct DeployArgs {
    #[command(flatten)]
    chain: ChainArgs,
}

#[derive(Args)]
struct RegisterArgs {
    /// Build directory (built with --binding).
    dir: PathBuf,
    /// Model id: a name of up to 32 bytes, or 0x and 64 hex digits.
    #[arg(long)]
    model: String,
    /// An already deployed verifier of this build; checked against the build's bytecode.
    #[arg(long)]
    verifier: Option<String>,
    /// Where the model and its predicate are described.
    #[arg(long, default_value = "")]
    uri: String,
    /// Register (and deploy) a verifier built on an untrusted SRS on a chain other than a
    /// local dev chain.
    #[arg(long)]
    allow_insecure_srs: bool,
    #[command(flatten)]
    chain: ChainArgs,
}

#[derive(Args)]
struct ProviderArgs {
    /// The provider's address.
    account: String,
    /// Revoke instead of grant.
    #[arg(long)]
    revoke: bool,
    #[command(flatten)]
    chain: ChainArgs,
}

#[derive(Args)]
struct AttestArgs {
    /// The input commitment (from `zkinfer hash` or a proof file), 0x hex.
    #[arg(long)]
    commitment: String,
    /// Whose data it is.
    #[arg(long)]
    account: String,
    #[command(flatten)]
    chain: ChainArgs,
}

#[derive(Args)]
struct RequestArgs {
    /// Model id.
    #[arg(long)]
    model: String,
    /// Where bots find the input: a relative path under the folder the oracle serves (`zkinfer oracle --events INPUT_DIR`).
    #[arg(long)]
    input_ref: String,
    #[command(flatten)]
    chain: ChainArgs,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("bound").required(true).args(["min_threshold", "max_threshold"]))]
struct GateArgs {
    /// Model id of a threshold model with hashed inputs: `y[I] >= T` (or `>`) for
    /// --min-threshold, `y[I] <= T` (or `<`) for --max-threshold.
    #[arg(long)]
    model: String,
    /// The flattened model output the predicate must read (I in `y[I]`).
    #[arg(long, default_value_t = 0)]
    output: u32,
    /// Borrowers need a proof of `y[I] >= T` (or `>`) with T at least this (a float at the
    /// output's scale).
    #[arg(long)]
    min_threshold: Option<f64>,
    /// Borrowers need a proof of `y[I] <= T` (or `<`) with T at most this.
    #[arg(long)]
    max_threshold: Option<f64>,
    /// Oldest acceptable proof, in seconds.
    #[arg(long, default_value_t = 86_400)]
    max_age: u64,
    #[command(flatten)]
    chain: ChainArgs,
}

/// Runs `registry`.
pub fn run(a: RegistryArgs) -> anyhow::Result<Exit> {
    match a.command {
        RegistryCommand::Deploy(a) => deploy(a),
        RegistryCommand::Register(a) => register(a),
        RegistryCommand::Provider(a) => provider(a),
        RegistryCommand::Attest(a) => attest(a),
        RegistryCommand::Request(a) => request(a),
        RegistryCommand::Gate(a) => gate(a),
    }
}

fn report(json: bool, value: serde_json::Value, human: String) {
    if json {
        print_json(&value);
    } else {
        println!("{human}");
    }
}

fn deploy(a: DeployArgs) -> anyhow::Result<Exit> {
    let (chain_id, d) = block_on(async {
        let chain = a.chain.connect().await?;
        eprintln!(
            "zkinfer: deploying PredictionRegistry to chain {} ...",
            chain.chain_id
        );
        let d = chain.deploy_registry().await?;
        let mut rec = a.chain.deployments(&chain)?;
        rec.registry = Some(ContractEntry {
            address: format!("{:#x}", d.address),
            tx: d.tx_hash.clone(),
            gas_used: d.gas_used,
        });
        rec.save(&a.chain.at.deployments)
            .map_err(anyhow::Error::msg)?;
        anyhow::Ok((chain.chain_id, d))
    })??;
    report(
        a.chain.json,
        json!({ "chain_id": chain_id, "registry": format!("{:#x}", d.address), "tx": d.tx_hash, "gas_used": d.gas_used }),
        format!("{:#x}", d.address),
    );
    eprintln!(
        "zkinfer: recorded in {}",
        chain::deployments::path(&a.chain.at.deployments, chain_id).display()
    );
    Ok(Exit::Ok)
}

fn register(a: RegisterArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let s = &build.settings;
    let vis = s.circuit.visibility;
    if !vis.binding {
        anyhow::bail!(
            "{}: this build has no binding instance, so its proofs could be replayed or front-run; rebuild with `zkinfer build ... --binding`",
            a.dir.display()
        );
    }
    if vis.params == Vis::Private {
        anyhow::bail!(
            "{}: its weights are private and nothing pins them (built with --allow-unbound-params): a prover could use any weights of the model's shape and every proof would still verify, so the registry refuses such a model. Rebuild with --param-visibility fixed, hashed or public",
            a.dir.display()
        );
    }
    let model = parse_model_id(&a.model).map_err(anyhow::Error::msg)?;
    let (weight, weights_hash) = match vis.params {
        Vis::Hashed => (
            zkinfer::verifier::instance_word(&build.param_commitment()),
            [0u8; 32],
        ),
        Vis::Public => ([0u8; 32], build.public_weights_hash()),
        _ => ([0u8; 32], [0u8; 32]),
    };
    let contracts = build.contracts()?;
    let (mined, verifier, inner) = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        chain::srs_allowed(s.srs.insecure, chain.chain_id, a.allow_insecure_srs)
            .map_err(anyhow::Error::msg)?;
        let (verifier, inner) = match &a.verifier {
            Some(v) => {
                let v = address("--verifier", v)?;
                let inner = chain::check_deployed(&chain, &contracts, v)
                    .await?
                    .map_err(anyhow::Error::msg)?;
                (v, inner)
            }
            None => {
                eprintln!("zkinfer: deploying the build's verifier ...");
                let pair = chain::deploy_pair(&chain, &contracts).await?;
                (pair.wrapper.address, pair.verifier.address)
            }
        };
        eprintln!("zkinfer: registering model '{}' ...", a.model);
        let mined = chain
            .register_model(
                registry,
                model,
                verifier,
                weight,
                weights_hash,
                &s.instances,
                &a.uri,
            )
            .await?;
        let mut rec = a.chain.deployments(&chain)?;
        rec.models.insert(
            a.model.clone(),
            ModelEntry {
                verifier: format!("{verifier:#x}"),
                halo2_verifier: format!("{inner:#x}"),
                vk_digest: s.vk_digest.clone(),
                build_dir: a.dir.display().to_string(),
                tx: mined.tx_hash.clone(),
            },
        );
        rec.save(&a.chain.at.deployments)
            .map_err(anyhow::Error::msg)?;
        anyhow::Ok((mined, verifier, inner))
    })??;
    report(
        a.chain.json,
        json!({ "model": a.model, "model_id": format!("0x{}", hex::encode(model)), "verifier": format!("{verifier:#x}"), "halo2_verifier": format!("{inner:#x}"), "tx": mined.tx_hash, "gas_used": mined.gas_used, "block": mined.block }),
        format!(
            "registered '{}' with verifier {verifier:#x} (gas {})",
            a.model, mined.gas_used
        ),
    );
    Ok(Exit::Ok)
}

fn provider(a: ProviderArgs) -> anyhow::Result<Exit> {
    let who = address("ACCOUNT", &a.account)?;
    let mined = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        anyhow::Ok(chain.set_provider(registry, who, !a.revoke).await?)
    })??;
    report(
        a.chain.json,
        json!({ "provider": format!("{who:#x}"), "allowed": !a.revoke, "tx": mined.tx_hash, "gas_used": mined.gas_used }),
        if a.revoke {
            format!("revoked {who:#x}: its attestations no longer count")
        } else {
            format!("granted {who:#x}")
        },
    );
    Ok(Exit::Ok)
}

fn attest(a: AttestArgs) -> anyhow::Result<Exit> {
    let account = address("--account", &a.account)?;
    let c = word("--commitment", &a.commitment)?;
    let mined = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        anyhow::Ok(chain.attest(registry, c, account).await?)
    })??;
    report(
        a.chain.json,
        json!({ "commitment": format!("0x{}", hex::encode(c)), "account": format!("{account:#x}"), "tx": mined.tx_hash, "gas_used": mined.gas_used }),
        format!("attested 0x{} to {account:#x}", hex::encode(c)),
    );
    Ok(Exit::Ok)
}

fn request(a: RequestArgs) -> anyhow::Result<Exit> {
    let model = parse_model_id(&a.model).map_err(anyhow::Error::msg)?;
    let mined = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        anyhow::Ok(
            chain
                .request_prediction(registry, model, &a.input_ref)
                .await?,
        )
    })??;
    report(
        a.chain.json,
        json!({ "model": a.model, "input_ref": a.input_ref, "tx": mined.tx_hash, "block": mined.block, "gas_used": mined.gas_used }),
        format!("requested in {}", mined.tx_hash),
    );
    Ok(Exit::Ok)
}

fn gate(a: GateArgs) -> anyhow::Result<Exit> {
    let model = parse_model_id(&a.model).map_err(anyhow::Error::msg)?;
    let (direction, bound) = match (a.min_threshold, a.max_threshold) {
        (Some(t), None) => (GateDirection::AtLeast, t),
        (None, Some(t)) => (GateDirection::AtMost, t),
        _ => anyhow::bail!("give exactly one of --min-threshold and --max-threshold"),
    };
    let (d, fixed) = block_on(async {
        let chain = a.chain.connect().await?;
        let registry = a.chain.registry(&chain)?;
        // The predicate as the registry recorded it from the model's verifier: the gate's
        // constructor checks it too, this says why in words before spending gas.
        let info = chain.model_info(registry, model).await?;
        let want = match direction {
            GateDirection::AtLeast => ">= (or >)",
            GateDirection::AtMost => "<= (or <)",
        };
        if !direction.accepts(info.predicate_op) || info.predicate_output != a.output {
            anyhow::bail!(
                "model '{}' proves {} on output {}; this gate needs `y[{}] {want} T`: a proof of another predicate says nothing about this bound. Register a model built with --output-predicate 'y[{}] {} T'",
                a.model,
                if info.predicate_op == 0 { "no predicate".to_string() } else { format!("`{}`", predicate_op_text(info.predicate_op)) },
                info.predicate_output,
                a.output,
                a.output,
                if direction == GateDirection::AtLeast { ">=" } else { "<=" },
            );
        }
        let scaled = bound * 2f64.powi(info.predicate_exp);
        if !scaled.is_finite() || scaled.abs() >= 2f64.powi(120) {
            anyhow::bail!(
                "--{}-threshold {bound}: not a threshold the model can prove (give a finite number within the output's range)",
                if direction == GateDirection::AtLeast { "min" } else { "max" }
            );
        }
        let fixed = zkinfer::quant::to_fixed(bound, info.predicate_exp);
        let exp = i16::try_from(info.predicate_exp).map_err(|_| {
            anyhow::anyhow!(
                "the model's threshold exponent {} is out of range",
                info.predicate_exp
            )
        })?;
        let d = chain
            .deploy_gate(
                registry,
                model,
                GateSpec {
                    output: a.output,
                    direction,
                    bound: fixed,
                    exp,
                    max_age: a.max_age,
                },
            )
            .await?;
        let mut rec = a.chain.deployments(&chain)?;
        rec.gates.insert(
            a.model.clone(),
            ContractEntry {
                address: format!("{:#x}", d.address),
                tx: d.tx_hash.clone(),
                gas_used: d.gas_used,
            },
        );
        rec.save(&a.chain.at.deployments)
            .map_err(anyhow::Error::msg)?;
        anyhow::Ok((d, fixed))
    })??;
    report(
        a.chain.json,
        json!({ "gate": format!("{:#x}", d.address), "output": a.output, "direction": direction, "bound_fixed": fixed.to_string(), "max_age": a.max_age, "tx": d.tx_hash, "gas_used": d.gas_used }),
        format!("{:#x}", d.address),
    );
    Ok(Exit::Ok)
}
