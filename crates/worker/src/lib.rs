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
pub mod bots;
mod cache;
pub mod divergence;
pub mod download;
pub mod live;
pub mod notify;
mod optimize;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use skeet_store::jobs::{Jobs, Lease};
use tokio::sync::watch;

pub use backtest::{BacktestRequest, JobError};
pub use optimize::{MAX_TRIALS, OptimizeRequest, WalkForwardRequest};

/// Job kinds this worker runs.
pub const KINDS: &[&str] = &[
    "backtest",
    "optimize",
    "walkforward",
    "download",
    "divergence",
];

/// Checks a job payload of `kind` against the workspace directory `dir` before it is
/// queued, with the same code that runs it.
///
/// # Errors
/// What is wrong, as one sentence for the caller.
pub fn validate(kind: &str, dir: &Path, payload: &serde_json::Value) -> Result<(), String> {
    match kind {
        "backtest" => {
            let req: BacktestRequest = serde_json::from_value(payload.clone())
                .map_err(|e| format!("request body: {e}"))?;
            req.validate(dir).map_err(|e| e.to_string())
        }
        "optimize" => {
            let req: OptimizeRequest = serde_json::from_value(payload.clone())
                .map_err(|e| format!("request body: {e}"))?;
            req.validate(dir).map_err(|e| e.to_string())
        }
        "walkforward" => {
            let req: WalkForwardRequest = serde_json::from_value(payload.clone())
                .map_err(|e| format!("request body: {e}"))?;
            req.validate(dir).map_err(|e| e.to_string())
        }
        "download" => download::validate(payload),
        "divergence" => serde_json::from_value::<divergence::DivergenceRequest>(payload.clone())
            .map(|_| ())
            .map_err(|e| format!("request body: {e}")),
        // Not a job: a bot's settings, checked with the code that runs them.
        "live_bot" => {
            let cfg: live::LiveConfig =
                serde_json::from_value(payload.clone()).map_err(|e| format!("settings: {e}"))?;
            cfg.validate()
        }
        "bot" => {
            let cfg: bots::PaperConfig =
                serde_json::from_value(payload.clone()).map_err(|e| format!("settings: {e}"))?;
            cfg.validate(dir)
        }
        other => Err(format!("no worker runs '{other}' jobs")),
    }
}

fn execute(
    kind: &str,
    payload: &serde_json::Value,
    dir: &Path,
    progress: &AtomicU32,
) -> Result<(String, serde_json::Value), JobError> {
    match kind {
        "backtest" => backtest::execute(payload, dir),
        "optimize" => optimize::execute(payload, dir, progress),
        "walkforward" => optimize::execute_walkforward(payload, dir, progress),
        "download" => download::execute(payload, dir, progress),
        "divergence" => divergence::execute(payload, dir),
        other => Err(JobError::Invalid(format!("no worker runs '{other}' jobs"))),
    }
}

/// Lease length; heartbeats come every second (every third of it when that is shorter).
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
    /// Wakes an idle worker at once when a job is queued in this process (`skeet serve`);
    /// jobs queued elsewhere are found by the next poll.
    pub wake: Option<Arc<tokio::sync::Notify>>,
    /// Notified after every change this worker makes to a job (so `skeet serve` pushes it
    /// to websocket clients at once).
    pub changed: Option<Arc<tokio::sync::Notify>>,
    /// Lease length in ms ([`LEASE_MS`] by default).
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
                () = async {
                    match &cfg.wake {
                        Some(w) => w.notified().await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = shutdown.changed() => {}
            }
            continue;
        };
        tracing::info!(worker = %cfg.id, job = %job.id, kind = %job.kind, attempt = job.attempts, "job started");
        let changed = || {
            if let Some(n) = &cfg.changed {
                n.notify_one();
            }
        };
        changed();
        let started = Instant::now();
        let Ok(dir) = skeet_store::workspace_dir(&cfg.data_dir, &job.workspace_id) else {
            let _ = jobs
                .fail_permanently(&job.id, &cfg.id, "the job's workspace id is not valid")
                .await;
            continue;
        };
        let progress = Arc::new(AtomicU32::new(0));
        let mut work = {
            let payload = job.payload.clone();
            let kind = job.kind.clone();
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || execute(&kind, &payload, &dir, &progress))
        };
        let mut reported = 0;
        // Heartbeats carry progress and bring cancel requests, so they come every second
        // (or every third of the lease, when that is shorter).
        let mut beat = tokio::time::interval(Duration::from_millis(
            (cfg.lease_ms / 3).clamp(1, 1000) as u64,
        ));
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                done = &mut work => break Some(done),
                _ = beat.tick() => {
                    let now = progress.load(Ordering::Relaxed);
                    let update = (now != reported).then(|| {
                        reported = now;
                        (f64::from(now) / 1000.0, "running")
                    });
                    let moved = update.is_some();
                    let lease = jobs.heartbeat(&job.id, &cfg.id, cfg.lease_ms, update).await;
                    if moved {
                        changed();
                    }
                    match lease {
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
        if outcome.is_some() {
            metrics::histogram!("skeet_job_duration_seconds", "kind" => job.kind.clone())
                .record(started.elapsed().as_secs_f64());
        }
        match outcome {
            Some(Ok(Ok((result, summary)))) => {
                let ran = started.elapsed();
                if job.kind == "download"
                    && let Err(e) =
                        download::record_dataset(&jobs, &job.workspace_id, &result).await
                {
                    tracing::warn!(job = %job.id, error = %e, "could not record the downloaded dataset");
                }
                match jobs
                    .succeed_with_summary(&job.id, &cfg.id, &result, &summary)
                    .await
                {
                    Ok(()) => tracing::info!(
                        job = %job.id,
                        kind = %job.kind,
                        run_ms = ran.as_secs_f64() * 1e3,
                        store_ms = (started.elapsed() - ran).as_secs_f64() * 1e3,
                        result_bytes = result.len(),
                        "job succeeded"
                    ),
                    Err(e) => {
                        tracing::warn!(job = %job.id, error = %e, "could not record the result");
                    }
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
        changed();
    }
}
