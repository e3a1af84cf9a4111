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
//! Leaves every stage uses: `field` (the proving backend and its scalar field), `files` (atomic
//! writes, JSON reads, the one hex parser), `inputs` (the data users give). Around the stages:
//! `visibility` and `predicate` (what a proof states), `fidelity` (what quantization changed and
//! what calibration tried), `artifacts` (the build directory and the proof file), `pipeline`
//! (build, calibrate, prove, verify: the stages strung together), `tools` (finds solc and anvil),
//! `demo` (the whole flow on a bundled model, as `zkinfer demo` runs it).
//! Dependencies point forward only: no module imports one that imports it.

pub mod field;
pub mod files;
pub mod inputs;

pub mod artifacts;
pub mod chain;
pub mod circuit;
pub mod demo;
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
