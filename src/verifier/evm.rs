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

/// Deploys the compiled halo2 verifier alone in a fresh in-memory EVM and calls it directly with
/// each of `calldatas` (its own format: instance words, then the proof; no wrapper checks in
/// front). A call is accepted when it does not revert.
pub fn evm_verify_halo2(contracts: &Compiled, calldatas: &[Vec<u8>]) -> Result<Vec<EvmCall>> {
    let mut evm = Context::mainnet()
        .with_db(InMemoryDB::default())
        .build_mainnet();
    let mut nonce = 0u64;
    let mut tx = |kind: TxKind, data: Vec<u8>| {
        let t = TxEnv {
            gas_limit: 30_000_000,
            kind,
            data: data.into(),
            nonce,
            ..Default::default()
        };
        nonce += 1;
        evm.transact_commit(t)
            .map_err(|e| Error::Evm(format!("{e:?}")))
    };
    let verifier = match tx(TxKind::Create, contracts.verifier.creation_code())? {
        ExecutionResult::Success {
            output: Output::Create(_, Some(addr)),
            ..
        } => addr,
        other => return Err(Error::Evm(format!("deployment failed: {other:?}"))),
    };
    calldatas
        .iter()
        .map(|data| {
            Ok(match tx(TxKind::Call(verifier), data.clone())? {
                ExecutionResult::Success { gas_used, .. } => EvmCall {
                    accepted: true,
                    gas_used,
                },
                ExecutionResult::Revert { gas_used, .. }
                | ExecutionResult::Halt { gas_used, .. } => EvmCall {
                    accepted: false,
                    gas_used,
                },
            })
        })
        .collect()
}

/// Deploys the compiled verifier and wrapper in a fresh in-memory EVM, then calls the wrapper
/// with each calldata in turn.
pub fn evm_verify(contracts: &Compiled, calldatas: &[Vec<u8>]) -> Result<EvmRun> {
    let mut evm = Context::mainnet()
        .with_db(InMemoryDB::default())
        .build_mainnet();
    let mut nonce = 0u64;
    let mut tx = |kind: TxKind, data: Vec<u8>| {
        let t = TxEnv {
            gas_limit: 30_000_000,
            kind,
            data: data.into(),
            nonce,
            ..Default::default()
        };
        nonce += 1;
        evm.transact_commit(t)
            .map_err(|e| Error::Evm(format!("{e:?}")))
    };
    let mut deploy = |code: Vec<u8>| -> Result<(Address, u64)> {
        match tx(TxKind::Create, code)? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(addr)),
                gas_used,
                ..
            } => Ok((addr, gas_used)),
            other => Err(Error::Evm(format!("deployment failed: {other:?}"))),
        }
    };
    let (verifier, verifier_deploy_gas) = deploy(contracts.verifier.creation_code())?;
    let mut wrapper_code = contracts.wrapper.creation_code();
    wrapper_code.extend_from_slice(&[0u8; 12]);
    wrapper_code.extend_from_slice(verifier.as_slice());
    let (wrapper, wrapper_deploy_gas) = deploy(wrapper_code)?;
    let mut calls = Vec::with_capacity(calldatas.len());
    for data in calldatas {
        let call = match tx(TxKind::Call(wrapper), data.clone())? {
            ExecutionResult::Success {
                output, gas_used, ..
            } => EvmCall {
                accepted: decode_bool(output.data()),
                gas_used,
            },
            ExecutionResult::Revert { gas_used, .. } | ExecutionResult::Halt { gas_used, .. } => {
                EvmCall {
                    accepted: false,
                    gas_used,
                }
            }
        };
        calls.push(call);
    }
    Ok(EvmRun {
        verifier_deploy_gas,
        wrapper_deploy_gas,
        calls,
    })
}
