//! `zkinfer verify-evm`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::artifacts::ProofFile;
use zkinfer::chain;
use zkinfer::pipeline::{self, Build};

use super::output::print_json;
use super::{block_on, Exit};

/// Arguments of `verify-evm`.
#[derive(Args)]
pub struct VerifyEvmArgs {
    /// Build directory.
    pub dir: PathBuf,
    /// Proof file.
    pub proof: PathBuf,
    /// Address of the deployed ZkinferVerifier (printed by `zkinfer deploy`).
    #[arg(long)]
    pub address: String,
    #[command(flatten)]
    pub rpc: super::opts::RpcOpts,
    /// The key to send a verify transaction with; without one the proof is checked with
    /// eth_call and the gas estimated.
    #[command(flatten)]
    pub key: super::keys::KeyArgs,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `verify-evm`: exit 0 valid, 1 invalid.
pub fn run(a: VerifyEvmArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    let pf = ProofFile::read(&a.proof)?;
    build.check_proof_file(&pf, &a.proof)?;
    // The instances must be the ones this build describes (names, kinds, scales) and agree
    // with their stated integers and values, or what is printed could differ from what the
    // chain checked.
    let checked = pipeline::proof_instances(&build, &pf)
        .and_then(|inst| pipeline::check_statement(&build, &pf, &inst));
    if let Err(reason) = checked {
        if a.json {
            print_json(&json!({ "valid": false, "reason": reason }));
        } else {
            println!("INVALID: {reason}");
        }
        return Ok(Exit::Invalid);
    }
    let (words, proof) = pipeline::verify_calldata(&pf);
    let contracts = build.contracts()?;
    let address: zkinfer::chain::Address = a
        .address
        .parse()
        .map_err(|_| anyhow::anyhow!("--address {}: not a 20-byte hex address", a.address))?;
    let out = block_on(async {
        let chain = a.key.connect(&a.rpc.url()?).await?;
        eprintln!("zkinfer: connected to chain id {}", chain.chain_id);
        if let chain::CodeCheck::Differs { reason } =
            chain::check_deployed(&chain, &contracts, address).await?
        {
            anyhow::bail!("{reason}");
        }
        let valid = chain.call_verify(address, &words, &proof).await?;
        let (gas, tx) = if !valid {
            (None, None)
        } else if chain.from.is_some() {
            let t = chain.send_verify(address, &words, &proof).await?;
            (Some(t.gas_used), Some(t))
        } else {
            (
                Some(chain.estimate_verify(address, &words, &proof).await?),
                None,
            )
        };
        Ok((chain.chain_id, valid, gas, tx))
    })??;
    let (chain_id, valid, gas, tx) = out;
    if a.json {
        print_json(&json!({
            "valid": valid,
            "chain_id": chain_id,
            "address": a.address,
            "gas_used": gas,
            "gas_source": if tx.is_some() { "receipt" } else { "estimate" },
            "tx": tx.as_ref().map(|t| &t.tx_hash),
            "block": tx.as_ref().and_then(|t| t.block),
            "outputs": pf.instances.iter().filter(|i| i.info.kind == zkinfer::circuit::InstanceKind::Output).filter_map(|i| i.value).collect::<Vec<_>>(),
            "instances": pf.instances,
        }));
    } else if valid {
        println!(
            "valid on chain {chain_id}: gas used {} ({})",
            gas.unwrap_or(0),
            tx.as_ref().map_or(
                "estimated; give --private-key to send a transaction".to_string(),
                |t| format!("tx {}", t.tx_hash)
            )
        );
    } else {
        println!("INVALID: the verifier at {} rejected the proof", a.address);
    }
    Ok(if valid { Exit::Ok } else { Exit::Invalid })
}
