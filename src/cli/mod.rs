//! clap commands, one file each: parse, call the library, print. Results go to stdout (one
//! JSON object with `--json`); progress and logs to stderr. Exit codes: 0 success (for verify
//! commands: valid), 1 an invalid proof, 2 bad input or any other error.

mod build;
mod demo;
mod deploy;
mod eval;
mod hash;
mod keys;
mod log;
mod opts;
mod oracle;
mod output;
mod prove;
mod read;
mod registry;
mod srs;
mod submit;
mod verify;
mod verify_evm;

use clap::{Parser, Subcommand};

/// What a command ended with.
pub enum Exit {
    /// Success / valid.
    Ok,
    /// An invalid proof.
    Invalid,
}

#[derive(Parser)]
#[command(
    name = "zkinfer",
    version,
    about = "Prove ONNX model inferences with halo2 (KZG, BN254) and verify them on Ethereum"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Quantize a model, build its circuit, keys and Solidity verifier.
    Build(build::BuildArgs),
    /// Accuracy of the float and the quantized (proven) model on labelled data.
    Eval(eval::EvalArgs),
    /// The Poseidon commitment to an input, as a proof with hashed inputs exposes it.
    Hash(hash::HashArgs),
    /// Prove one inference (or, on a batch build, up to its batch size); prints the outputs.
    Prove(prove::ProveArgs),
    /// Verify a proof natively.
    Verify(verify::VerifyArgs),
    /// Deploy a build's verifier to a chain; prints its address.
    Deploy(deploy::DeployArgs),
    /// Verify a proof with a deployed verifier; prints gas used.
    VerifyEvm(verify_evm::VerifyEvmArgs),
    /// The PredictionRegistry: deploy, register models, grant providers, attest, request.
    Registry(registry::RegistryArgs),
    /// Submit a bound proof to the registry, which verifies and stores the prediction.
    Submit(submit::SubmitArgs),
    /// The oracle bot: prove and submit inputs from a file, stdin or PredictionRequested events.
    Oracle(oracle::OracleArgs),
    /// Read verified predictions from the registry.
    Read(read::ReadArgs),
    /// Generate a local (INSECURE) SRS.
    Srs(srs::SrsArgs),
    /// The whole flow on a bundled model, on a local anvil started for you.
    Demo(demo::DemoArgs),
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    log::init();
    let res = match cli.command {
        Command::Build(a) => build::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Hash(a) => hash::run(a),
        Command::Prove(a) => prove::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Deploy(a) => deploy::run(a),
        Command::VerifyEvm(a) => verify_evm::run(a),
        Command::Registry(a) => registry::run(a),
        Command::Submit(a) => submit::run(a),
        Command::Oracle(a) => oracle::run(a),
        Command::Read(a) => read::run(a),
        Command::Srs(a) => srs::run(a),
        Command::Demo(a) => demo::run(a),
    };
    match res {
        Ok(Exit::Ok) => 0,
        Ok(Exit::Invalid) => 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

/// Runs a future on a fresh runtime (chain commands).
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> anyhow::Result<T> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f))
}
