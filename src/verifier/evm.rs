//! An in-process EVM (revm): deploy the verifier pair and run calls, in milliseconds, no node.

use revm::{
    context::{
        result::{ExecutionResult, Output},
        TxEnv,
    },
    database::InMemoryDB,
    primitives::{Address, TxKind},
    Context, ExecuteCommitEvm, MainBuilder, MainContext,
};

use super::{decode_bool, Compiled, Error, Result};

/// The outcome of one call.
#[derive(Clone, Debug, PartialEq)]
pub struct EvmCall {
    /// The call did not revert and returned ABI `true`.
    pub accepted: bool,
    /// Gas used by the transaction (intrinsic cost included).
    pub gas_used: u64,
}

/// Deployment facts and the outcome of each call.
#[derive(Clone, Debug, PartialEq)]
pub struct EvmRun {
    /// Gas to deploy the halo2 verifier.
    pub verifier_deploy_gas: u64,
    /// Gas to deploy the wrapper.
    pub wrapper_deploy_gas: u64,
    /// One per calldata given.
    pub calls: Vec<EvmCall>,
}

/// A fresh in-memory EVM with one sender: transactions with explicit nonces.
struct Evm {
    evm: revm::MainnetEvm<revm::handler::MainnetContext<InMemoryDB>>,
    nonce: u64,
}

impl Evm {
    fn new() -> Self {
        Self {
            evm: Context::mainnet()
                .with_db(InMemoryDB::default())
                .build_mainnet(),
            nonce: 0,
        }
    }

    fn tx(&mut self, kind: TxKind, data: Vec<u8>) -> Result<ExecutionResult> {
        let t = TxEnv {
            gas_limit: 30_000_000,
            kind,
            data: data.into(),
            nonce: self.nonce,
            ..Default::default()
        };
        self.nonce += 1;
        self.evm
            .transact_commit(t)
            .map_err(|e| Error::Evm(format!("{e:?}")))
    }

    /// Deploys `code`: the address and the gas used.
    fn deploy(&mut self, code: Vec<u8>) -> Result<(Address, u64)> {
        match self.tx(TxKind::Create, code)? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(addr)),
                gas_used,
                ..
            } => Ok((addr, gas_used)),
            other => Err(Error::Evm(format!("deployment failed: {other:?}"))),
        }
    }

    /// Calls `to` with `data`; a call that does not revert is accepted if `accept` says so of
    /// its return data.
    fn call(&mut self, to: Address, data: &[u8], accept: fn(&[u8]) -> bool) -> Result<EvmCall> {
        Ok(match self.tx(TxKind::Call(to), data.to_vec())? {
            ExecutionResult::Success {
                output, gas_used, ..
            } => EvmCall {
                accepted: accept(output.data()),
                gas_used,
            },
            ExecutionResult::Revert { gas_used, .. } | ExecutionResult::Halt { gas_used, .. } => {
                EvmCall {
                    accepted: false,
                    gas_used,
                }
            }
        })
    }
}

/// Deploys the compiled halo2 verifier alone in a fresh in-memory EVM and calls it directly with
/// each of `calldatas` (its own format: instance words, then the proof; no wrapper checks in
/// front). A call is accepted when it does not revert.
pub fn evm_verify_halo2(contracts: &Compiled, calldatas: &[Vec<u8>]) -> Result<Vec<EvmCall>> {
    let mut evm = Evm::new();
    let (verifier, _) = evm.deploy(contracts.verifier.creation_code())?;
    calldatas
        .iter()
        .map(|data| evm.call(verifier, data, |_| true))
        .collect()
}

/// Deploys the compiled verifier and wrapper in a fresh in-memory EVM, then calls the wrapper
/// with each calldata in turn.
pub fn evm_verify(contracts: &Compiled, calldatas: &[Vec<u8>]) -> Result<EvmRun> {
    let mut evm = Evm::new();
    let (verifier, verifier_deploy_gas) = evm.deploy(contracts.verifier.creation_code())?;
    let mut wrapper_code = contracts.wrapper.creation_code();
    wrapper_code.extend_from_slice(&[0u8; 12]);
    wrapper_code.extend_from_slice(verifier.as_slice());
    let (wrapper, wrapper_deploy_gas) = evm.deploy(wrapper_code)?;
    let calls = calldatas
        .iter()
        .map(|data| evm.call(wrapper, data, decode_bool))
        .collect::<Result<Vec<_>>>()?;
    Ok(EvmRun {
        verifier_deploy_gas,
        wrapper_deploy_gas,
        calls,
    })
}
