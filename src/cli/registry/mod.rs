//! `zkinfer registry deploy|register|provider|attest|request|gate`: one file per subcommand;
//! the chain options they share are in [`super::opts`].

mod attest;
mod deploy;
mod gate;
mod provider;
mod register;
mod request;

use clap::{Args, Subcommand};

use super::output::print_json;
use super::Exit;

/// Arguments of `registry`.
#[derive(Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    command: RegistryCommand,
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Deploy a PredictionRegistry owned by the sender; records it in the deployments file.
    Deploy(deploy::DeployArgs),
    /// Register a build's model (deploying its verifier unless --verifier is given).
    Register(register::RegisterArgs),
    /// Grant (or --revoke) the data-provider role (owner only).
    Provider(provider::ProviderArgs),
    /// Attest that an input commitment stands for an account's data (providers only).
    Attest(attest::AttestArgs),
    /// Ask bots for a prediction: emits PredictionRequested.
    Request(request::RequestArgs),
    /// Deploy the LendingGate example for a threshold model (`y[I] >= T` or `<= T`).
    Gate(gate::GateArgs),
}

/// Runs `registry`.
pub fn run(a: RegistryArgs) -> anyhow::Result<Exit> {
    match a.command {
        RegistryCommand::Deploy(a) => deploy::run(a),
        RegistryCommand::Register(a) => register::run(a),
        RegistryCommand::Provider(a) => provider::run(a),
        RegistryCommand::Attest(a) => attest::run(a),
        RegistryCommand::Request(a) => request::run(a),
        RegistryCommand::Gate(a) => gate::run(a),
    }
}

/// Prints a subcommand's result: JSON with --json, else the human line.
fn report(json: bool, value: serde_json::Value, human: String) {
    if json {
        print_json(&value);
    } else {
        println!("{human}");
    }
}
