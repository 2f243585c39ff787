//! # skeet-worker
//!
//! Runs jobs from the shared queue ([`skeet_store::jobs`]): in-process inside `skeet serve`,
//! or as `skeet worker` processes on the same database.
//!
//! Invariants:
//! - A worker holds a job only under its lease and heartbeats while the job runs; if the
//!   process dies, the lease expires and another worker runs the job again. Handlers are
//!   therefore idempotent: a backtest is a pure function of its payload and the stored bars.
//! - CPU-heavy work runs on the blocking pool, never on the async threads that serve HTTP.
//! - A job's input is validated by [`BacktestRequest::prepare`] both when it is submitted
//!   (so the caller gets a 400) and when it runs (the data may have changed since).

mod backtest;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use skeet_store::jobs::{Jobs, Lease};
use tokio::sync::watch;

pub use backtest::{BacktestRequest, JobError};

/// Job kinds this worker runs.
pub const KINDS: &[&str] = &["backtest"];

/// Lease length; heartbeats come every third of it.
pub const LEASE_MS: i64 = 15_000;

/// Worker settings.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Name in leases and logs (unique per worker).
    pub id: String,
    /// Data directory (market data under `market/`).
    pub data_dir: PathBuf,
    /// Idle wait between polls of an empty queue.
    pub poll: Duration,
    /// Lease length in ms ([`LEASE_MS`] by default); heartbeats come every third of it.
    pub lease_ms: i64,
}

/// Claims and runs jobs until `shutdown` turns true; a job running then is given back to the
/// queue (not failed) so another worker can pick it up at once.
pub async fn run(jobs: Jobs, cfg: WorkerConfig, mut shutdown: watch::Receiver<bool>) {
    let cfg = Arc::new(cfg);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let claimed = match jobs.claim(&cfg.id, KINDS, cfg.lease_ms).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(worker = %cfg.id, error = %e, "claim failed");
                None
            }
        };
        let Some(job) = claimed else {
            tokio::select! {
                () = tokio::time::sleep(cfg.poll) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        };
        tracing::info!(worker = %cfg.id, job = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
        let payload = job.payload.clone();
        let data_dir = cfg.data_dir.clone();
        let mut work = tokio::task::spawn_blocking(move || backtest::execute(&payload, &data_dir));
        let mut beat =
            tokio::time::interval(Duration::from_millis((cfg.lease_ms / 3).max(1) as u64));
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                done = &mut work => break Some(done),
                _ = beat.tick() => {
                    match jobs.heartbeat(&job.id, &cfg.id, cfg.lease_ms, None).await {
                        Ok(Lease::Held) | Err(_) => {}
                        Ok(Lease::CancelRequested) => {
                            let _ = jobs.cancelled(&job.id, &cfg.id).await;
                            break None;
                        }
                        Ok(Lease::Lost) => break None,
                    }
                }
                _ = shutdown.changed() => {
                    let _ = jobs.release(&job.id, &cfg.id).await;
                    tracing::info!(worker = %cfg.id, job = %job.id, "shutting down: job returned to the queue");
                    return;
                }
            }
        };
        match outcome {
            Some(Ok(Ok(result))) => {
                if let Err(e) = jobs.succeed(&job.id, &cfg.id, &result).await {
                    tracing::warn!(job = %job.id, error = %e, "could not record the result");
                }
            }
            Some(Ok(Err(JobError::Invalid(e)))) => {
                let _ = jobs.fail_permanently(&job.id, &cfg.id, &e).await;
            }
            Some(Ok(Err(e))) => {
                let _ = jobs.fail(&job.id, &cfg.id, &e.to_string()).await;
            }
            Some(Err(panic)) => {
                let _ = jobs
                    .fail(&job.id, &cfg.id, &format!("the job crashed: {panic}"))
                    .await;
            }
            None => {}
        }
    }
}
