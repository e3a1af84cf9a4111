//! The oracle bot, through its binary on a managed anvil: against crashes (`crash`, and in
//! batch mode `batch`), serving
//! requests under spam (`events`), and keeping private values, the journal and gas under
//! control (`guards`).

// A test fails by panicking: unwrap is how it says "this must hold".
#![allow(clippy::unwrap_used)]

mod batch;
#[path = "../common/mod.rs"]
mod common;
mod crash;
mod events;
mod guards;
mod support;
