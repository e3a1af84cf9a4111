//! zkinfer: prove ONNX model inferences with halo2 (KZG on BN254) and verify them on Ethereum.
//!
//! ```text
//!  model.onnx ──onnx──▶ graph::Graph ──quant──▶ QuantModel + integer witness
//!                                                   │
//!                                 circuit (halo2-base chips, weights as constants)
//!                                                   │
//!                 proof (SRS, keys, SHPLONK + EVM transcript) ──▶ PROOF.json
//!                                                   │
//!           verifier (Solidity from the vk + checking wrapper, solc) ──▶ contracts
//!                                                   │
//!                               chain (alloy: anvil, deploy, verify on-chain,
//!                                      PredictionRegistry client) ──▶ oracle (the bot)
//! ```
//!
//! `artifacts` names and (de)serialises every file; `pipeline` strings the stages together;
//! `fidelity` measures what quantization changed; `tools` finds solc and anvil.

pub mod artifacts;
pub mod chain;
pub mod circuit;
pub mod fidelity;
pub mod graph;
pub mod onnx;
pub mod oracle;
pub mod pipeline;
pub mod predicate;
pub mod proof;
pub mod quant;
pub mod tools;
pub mod verifier;
pub mod visibility;
