//! `zkinfer registry register`: a build's model, its verifier deployed unless given.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::chain::{self, deployments::ModelEntry, registry::parse_model_id};
use zkinfer::pipeline::Build;
use zkinfer::visibility::Vis;

use super::report;
use crate::cli::opts::{address, ChainArgs};
use crate::cli::{block_on, Exit};

/// Arguments of `registry register`.
#[derive(Args)]
pub struct RegisterArgs {
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

/// Runs `registry register`.
pub fn run(a: RegisterArgs) -> anyhow::Result<Exit> {
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
            zkinfer::field::to_word(&build.param_commitment()),
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
                    .into_result()
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
            .registry(registry)
            .register_model(model, verifier, weight, weights_hash, &s.instances, &a.uri)
            .await?;
        let mut rec = a.chain.deployments(&chain)?;
        rec.models.insert(
            a.model.clone(),
            ModelEntry {
                verifier,
                halo2_verifier: inner,
                vk_digest: s.vk_digest,
                build_dir: a.dir.display().to_string(),
                tx: mined.tx_hash,
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
