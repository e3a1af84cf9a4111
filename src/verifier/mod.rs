//! The on-chain verifier: Solidity generated from the verifying key, a checking wrapper in
//! front of it, compilation with the installed solc, ABI calldata, and an in-process EVM.

mod calldata;
mod compile;
mod evm;
mod halo2;
mod layout;
mod solidity;
mod split;

pub use calldata::{decode_bool, encode_verify_call, verify_selector};
pub use compile::{compile, compile_sources, Compiled, CompiledContract, CompiledSet};
pub use evm::{evm_verify, evm_verify_halo2, EvmCall, EvmRun};
pub use halo2::halo2_verifier_source;
pub use layout::{kind_code, layout_hash, registry_layout, wrapper_facts};
pub use solidity::{wrapper_source, WrapperFacts};
pub use split::{split_verifier, TAIL_CONTRACT, TAIL_OK};

/// EIP-170 limit on runtime bytecode size.
pub const CODE_SIZE_LIMIT: usize = 24_576;
/// EIP-3860 limit on contract creation code, in bytes.
pub const INITCODE_SIZE_LIMIT: usize = 49_152;

/// Errors of the verifier stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Solidity generator failed.
    #[error("generating the Solidity verifier failed: {0}")]
    Generate(String),
    /// solc could not be run or rejected the sources.
    #[error("compiling the verifier with solc ({solc}) failed: {reason}")]
    Compile {
        /// The solc used.
        solc: String,
        /// What went wrong.
        reason: String,
    },
    /// A tool was not found.
    #[error(transparent)]
    Tool(#[from] crate::tools::Error),
    /// The generated verifier is over the EVM's code size limits.
    #[error("the verifier is {runtime} bytes of runtime code ({initcode} of creation code), over the EVM's limits ({CODE_SIZE_LIMIT} runtime, EIP-170; {INITCODE_SIZE_LIMIT} creation, EIP-3860): it could not be deployed. Its size grows with the circuit's columns and gates, not with its {instances} public instances: build with --optimize-for gas (fewest columns)")]
    TooLarge {
        /// Runtime bytecode size.
        runtime: usize,
        /// Creation bytecode size.
        initcode: usize,
        /// Public instances of the circuit.
        instances: usize,
    },
    /// An instance's fixed-point exponent does not fit the registry's `int16`.
    #[error("instance '{instance}': exponent {exp} is outside the registry's int16 range")]
    Exponent {
        /// The instance.
        instance: String,
        /// Its exponent.
        exp: i32,
    },
    /// The in-process EVM failed.
    #[error("in-process EVM: {0}")]
    Evm(String),
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
