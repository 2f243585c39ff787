//! Test databases: a fresh SQLite file and a fresh PostgreSQL database per test, so runs
//! never collide. PostgreSQL comes from `SKEET_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); when it is unreachable the PostgreSQL half is
//! skipped with a note, unless `SKEET_REQUIRE_SERVICES=1` (CI), where that is a failure.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "test support"
)]

use skeet_store::Db;

/// A database for one test; the PostgreSQL one is dropped when this is.
pub struct TestDb {
    pub db: Db,
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.pg_drop.take() {
            // Best effort, on a thread of its own: Drop cannot be async.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    sqlx::any::install_default_drivers();
                    if let Ok(pool) = sqlx::AnyPool::connect(&admin_url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&pool)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("skeet.db").display());
    TestDb {
        db: Db::connect(&url).await.unwrap(),
        name: "sqlite",
        _dir: Some(dir),
        pg_drop: None,
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("SKEET_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

pub fn services_required() -> bool {
    std::env::var("SKEET_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A fresh PostgreSQL database, or `None` (skipped) when the server is unreachable and
/// services are not required.
pub async fn postgres() -> Option<TestDb> {
    sqlx::any::install_default_drivers();
    let admin = pg_admin_url();
    let pool = match sqlx::AnyPool::connect(&admin).await {
        Ok(p) => p,
        Err(e) => {
            assert!(
                !services_required(),
                "PostgreSQL at {admin} is required (SKEET_REQUIRE_SERVICES=1): {e}"
            );
            eprintln!("skipping the PostgreSQL half: {admin} unreachable ({e})");
            return None;
        }
    };
    let name = format!("skeet_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    Some(TestDb {
        db: Db::connect(&url).await.unwrap(),
        name: "postgres",
        _dir: None,
        pg_drop: Some((admin, name)),
    })
}

/// Both engines (PostgreSQL when reachable).
pub async fn both() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    if let Some(pg) = postgres().await {
        v.push(pg);
    }
    v
}
