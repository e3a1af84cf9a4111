//! Retrying chain calls, and the test-only knobs (`ZKINFER_ORACLE_CRASH`,
//! `ZKINFER_ORACLE_LOW_GAS`; see the [module doc](super)).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::{Error, Result, CRASH_EXIT};
use crate::chain::registry::CallError;

static CRASH_COUNT: AtomicU32 = AtomicU32::new(0);
static LOW_GAS_USED: AtomicBool = AtomicBool::new(false);

/// Test-only: exits the process at `point` as `ZKINFER_ORACLE_CRASH` asks.
pub(super) fn crash_point(point: &str) {
    let Ok(spec) = std::env::var("ZKINFER_ORACLE_CRASH") else {
        return;
    };
    let (p, n) = match spec.split_once(':') {
        Some((p, n)) => (p.to_string(), n.parse::<u32>().unwrap_or(1)),
        None => (spec.clone(), 1),
    };
    if p == point && CRASH_COUNT.fetch_add(1, Ordering::SeqCst) + 1 == n {
        tracing::warn!("zkinfer oracle: ZKINFER_ORACLE_CRASH: exiting at {point}");
        std::process::exit(CRASH_EXIT);
    }
}

/// Test-only: the gas limit of the first submission this process signs, when
/// `ZKINFER_ORACLE_LOW_GAS=PERCENT` asks for that percentage of the estimate.
pub(super) fn low_gas(estimate: u64) -> Option<u64> {
    let percent = std::env::var("ZKINFER_ORACLE_LOW_GAS")
        .ok()?
        .parse::<u64>()
        .ok()?;
    if LOW_GAS_USED.swap(true, Ordering::SeqCst) {
        return None;
    }
    let limit = estimate.saturating_mul(percent) / 100;
    tracing::warn!(
        "zkinfer oracle: ZKINFER_ORACLE_LOW_GAS: gas limit {limit} ({percent}% of {estimate})"
    );
    Some(limit)
}

/// How a retried contract call ended: its value, or a revert (final: retrying cannot change
/// it). Transport failures are retried, and after the last attempt are the error.
pub(super) enum Called<T> {
    /// The call's value.
    Done(T),
    /// The contract reverted.
    Reverted(CallError),
}

/// Retries `f` on errors that are not reverts: 0.25 s, doubling, five times.
pub(super) async fn retry<T, F, Fut>(what: &str, mut f: F) -> Result<Called<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, CallError>>,
{
    let mut wait = Duration::from_millis(250);
    for attempt in 0..6 {
        match f().await {
            Ok(v) => return Ok(Called::Done(v)),
            Err(e @ CallError::Reverted { .. }) => return Ok(Called::Reverted(e)),
            Err(e) if attempt == 5 => {
                return Err(Error::Chain(format!("{what}: {e} (after 6 attempts)")))
            }
            Err(e) => {
                tracing::warn!("zkinfer oracle: {what}: {e}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
    unreachable!("the loop returns")
}

/// [`retry`] for calls that cannot revert.
pub(super) async fn retry_plain<T, F, Fut>(what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::chain::Result<T>>,
{
    match retry(what, || {
        let fut = f();
        async move { fut.await.map_err(CallError::Other) }
    })
    .await?
    {
        Called::Done(v) => Ok(v),
        Called::Reverted(e) => Err(Error::Chain(format!("{what}: {e}"))),
    }
}
