//! The jobs queue on SQLite and PostgreSQL: claim, progress, success, retries with backoff,
//! cancellation, workspace isolation, concurrent claims without duplicates, and lease expiry
//! (a worker that stops reporting loses its job to another).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use skeet_store::StoreError;
use skeet_store::jobs::{JobState, Jobs, Lease, backoff_ms};

#[tokio::test]
async fn a_job_runs_from_queued_to_succeeded() {
    for t in common::both().await {
        let jobs = Jobs::new(t.db.clone());
        let job = jobs
            .enqueue("ws1", "backtest", &json!({"n": 1}), 3, Some("u1"))
            .await
            .unwrap();
        assert_eq!(job.state, JobState::Queued, "{}", t.name);
        assert_eq!(job.payload, json!({"n": 1}));
        let claimed = jobs
            .claim("w1", &["backtest"], 30_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, job.id);
        assert_eq!(claimed.state, JobState::Running);
        assert_eq!(claimed.attempts, 1);
        assert_eq!(claimed.locked_by.as_deref(), Some("w1"));
        // Nothing else to claim, and another kind never matches.
        assert!(
            jobs.claim("w2", &["backtest"], 30_000)
                .await
                .unwrap()
                .is_none()
        );
        jobs.enqueue("ws1", "optimize", &json!({}), 1, None)
            .await
            .unwrap();
        assert!(
            jobs.claim("w2", &["backtest"], 30_000)
                .await
                .unwrap()
                .is_none()
        );

        assert_eq!(
            jobs.heartbeat(&job.id, "w1", 30_000, Some((0.5, "half way")))
                .await
                .unwrap(),
            Lease::Held
        );
        let mid = jobs.get("ws1", &job.id).await.unwrap();
        assert_eq!(
            (mid.progress, mid.message.as_deref()),
            (0.5, Some("half way"))
        );
        jobs.succeed(&job.id, "w1", &json!({"ok": true}))
            .await
            .unwrap();
        let done = jobs.get("ws1", &job.id).await.unwrap();
        assert_eq!(done.state, JobState::Succeeded, "{}", t.name);
        assert_eq!(done.result, Some(json!({"ok": true})));
        assert_eq!(done.progress, 1.0);
        assert!(done.finished_at.is_some() && done.locked_by.is_none());
        // A finished job cannot be finished again, or cancelled.
        assert!(matches!(
            jobs.succeed(&job.id, "w1", &json!({})).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            jobs.cancel("ws1", &job.id).await,
            Err(StoreError::Conflict(m)) if m == "the job has already succeeded"
        ));
    }
}

#[tokio::test]
async fn another_workspace_sees_nothing() {
    for t in common::both().await {
        let jobs = Jobs::new(t.db.clone());
        let job = jobs
            .enqueue("ws1", "backtest", &json!({}), 1, None)
            .await
            .unwrap();
        assert!(matches!(
            jobs.get("ws2", &job.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            jobs.cancel("ws2", &job.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            jobs.list("ws2", None, None, 50, 0)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(jobs.list("ws1", None, None, 50, 0).await.unwrap().len(), 1);
        assert_eq!(
            jobs.list("ws1", None, Some(JobState::Running), 50, 0)
                .await
                .unwrap()
                .len(),
            0,
            "{}",
            t.name
        );
    }
}

#[tokio::test]
async fn failures_retry_with_backoff_then_fail() {
    assert_eq!(
        [1, 2, 3, 9, 50].map(backoff_ms),
        [2_000, 4_000, 8_000, 300_000, 300_000]
    );
    for t in common::both().await {
        let jobs = Jobs::new(t.db.clone());
        let job = jobs
            .enqueue("ws1", "backtest", &json!({}), 2, None)
            .await
            .unwrap();
        jobs.claim("w1", &["backtest"], 30_000)
            .await
            .unwrap()
            .unwrap();
        let before = skeet_store::now_ms();
        assert_eq!(
            jobs.fail(&job.id, "w1", "boom").await.unwrap(),
            JobState::Queued
        );
        let queued = jobs.get("ws1", &job.id).await.unwrap();
        assert!(queued.run_at >= before + 2_000, "{}", t.name);
        assert_eq!(queued.error.as_deref(), Some("boom"));
        // Not due yet.
        assert!(
            jobs.claim("w1", &["backtest"], 30_000)
                .await
                .unwrap()
                .is_none()
        );
        sqlx::query("UPDATE jobs SET run_at = 0")
            .execute(t.db.pool())
            .await
            .unwrap();
        let again = jobs
            .claim("w2", &["backtest"], 30_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.attempts, 2);
        assert_eq!(
            jobs.fail(&job.id, "w2", "boom again").await.unwrap(),
            JobState::Failed
        );
        let failed = jobs.get("ws1", &job.id).await.unwrap();
        assert_eq!(failed.state, JobState::Failed, "{}", t.name);
        assert_eq!(failed.error.as_deref(), Some("boom again"));
    }
}

#[tokio::test]
async fn cancel_stops_queued_jobs_at_once_and_running_ones_at_the_next_heartbeat() {
    for t in common::both().await {
        let jobs = Jobs::new(t.db.clone());
        let queued = jobs
            .enqueue("ws1", "backtest", &json!({}), 1, None)
            .await
            .unwrap();
        assert_eq!(
            jobs.cancel("ws1", &queued.id).await.unwrap().state,
            JobState::Cancelled,
            "{}",
            t.name
        );
        assert!(
            jobs.claim("w1", &["backtest"], 30_000)
                .await
                .unwrap()
                .is_none()
        );

        let running = jobs
            .enqueue("ws1", "backtest", &json!({}), 3, None)
            .await
            .unwrap();
        jobs.claim("w1", &["backtest"], 30_000)
            .await
            .unwrap()
            .unwrap();
        let asked = jobs.cancel("ws1", &running.id).await.unwrap();
        assert_eq!(asked.state, JobState::Running);
        assert!(asked.cancel_requested);
        assert_eq!(
            jobs.heartbeat(&running.id, "w1", 30_000, None)
                .await
                .unwrap(),
            Lease::CancelRequested
        );
        // A failure after a cancel request is final, not retried.
        jobs.cancelled(&running.id, "w1").await.unwrap();
        assert_eq!(
            jobs.get("ws1", &running.id).await.unwrap().state,
            JobState::Cancelled
        );
    }
}

#[tokio::test]
async fn concurrent_workers_claim_each_job_exactly_once() {
    for t in common::both().await {
        let jobs = Jobs::new(t.db.clone());
        for i in 0..40 {
            jobs.enqueue("ws1", "backtest", &json!({"i": i}), 1, None)
                .await
                .unwrap();
        }
        let mut handles = Vec::new();
        for w in 0..4 {
            let jobs = jobs.clone();
            handles.push(tokio::spawn(async move {
                let me = format!("w{w}");
                let mut mine = Vec::new();
                while let Some(job) = jobs.claim(&me, &["backtest"], 30_000).await.unwrap() {
                    jobs.succeed(&job.id, &me, &json!({})).await.unwrap();
                    mine.push(job.id);
                }
                mine
            }));
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(all.len(), 40, "{}", t.name);
        assert_eq!(unique.len(), 40, "{}: a job was claimed twice", t.name);
        let counts = jobs.counts().await.unwrap();
        assert!(
            counts.contains(&("backtest".to_string(), JobState::Succeeded, 40)),
            "{counts:?}"
        );
    }
}

#[tokio::test]
async fn an_expired_lease_passes_the_job_to_another_worker() {
    for t in common::both().await {
        let jobs = Jobs::new(t.db.clone());
        let job = jobs
            .enqueue("ws1", "backtest", &json!({}), 2, None)
            .await
            .unwrap();
        jobs.claim("dead", &["backtest"], 300)
            .await
            .unwrap()
            .unwrap();
        assert!(
            jobs.claim("alive", &["backtest"], 30_000)
                .await
                .unwrap()
                .is_none()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        let taken = jobs
            .claim("alive", &["backtest"], 30_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taken.id, job.id, "{}", t.name);
        assert_eq!(taken.attempts, 2);
        // The old holder can neither report nor overwrite the new holder's work.
        assert_eq!(
            jobs.heartbeat(&job.id, "dead", 300, None).await.unwrap(),
            Lease::Lost
        );
        assert!(matches!(
            jobs.succeed(&job.id, "dead", &json!({})).await,
            Err(StoreError::Conflict(_))
        ));
        jobs.succeed(&job.id, "alive", &json!({"by": "alive"}))
            .await
            .unwrap();

        // Leases that keep expiring use up the attempts: the job fails instead of looping.
        let doomed = jobs
            .enqueue("ws1", "backtest", &json!({}), 1, None)
            .await
            .unwrap();
        jobs.claim("dead", &["backtest"], 100)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            jobs.claim("alive", &["backtest"], 30_000)
                .await
                .unwrap()
                .is_none()
        );
        let failed = jobs.get("ws1", &doomed.id).await.unwrap();
        assert_eq!(failed.state, JobState::Failed, "{}", t.name);
        assert!(failed.error.unwrap().contains("lease expired"));
    }
}

#[tokio::test]
async fn migrations_are_applied_and_idempotent() {
    for t in common::both().await {
        assert!(t.db.migrations_applied().await.unwrap(), "{}", t.name);
        t.db.migrate().await.unwrap();
        assert!(t.db.migrations_applied().await.unwrap());
    }
    assert!(matches!(
        skeet_store::Db::connect("mysql://x").await,
        Err(StoreError::BadUrl(_))
    ));
}
