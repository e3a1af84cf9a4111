//! The oracle bot, through its binary on a managed anvil: against crashes (`crash`, and in
//! batch mode `batch`), serving
//! requests under spam (`events`), and keeping private values, the journal and gas under
//! control (`guards`).

mod batch;
mod crash;
mod events;
mod guards;
mod support;
mod workers;
