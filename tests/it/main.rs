//! zkinfer's integration tests, in one crate: one binary links halo2, alloy, revm and tract
//! once, and every module shares one set of fixture builds (`common::built`, cached on disk
//! by model, options and a hash of the crate's sources).

// A test fails by panicking: unwrap is how it says "this must hold".
#![allow(clippy::unwrap_used)]

mod common;

mod anvil;
mod anvil_fixtures;
mod circuit_soundness;
mod cli;
mod conformance;
mod journal_pg;
mod ops;
mod oracle;
mod pipeline;
mod predicate;
mod registry;
mod visibility;
mod widths;
