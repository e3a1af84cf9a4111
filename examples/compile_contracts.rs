//! Regenerates `contracts/artifacts/` from `contracts/*.sol` with the pinned solc
//! (run by `scripts/contracts.sh`).

fn main() -> anyhow::Result<()> {
    let solc = zkinfer::tools::solc()?;
    let artifacts = zkinfer::chain::contracts::compile(&solc)?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts/artifacts");
    zkinfer::chain::contracts::write_artifacts(&dir, &artifacts)?;
    for a in &artifacts {
        eprintln!(
            "{}: {} bytes runtime, solc {}",
            a.contract_name,
            a.deployed_bytecode.len() / 2 - 1,
            a.solc
        );
    }
    Ok(())
}
