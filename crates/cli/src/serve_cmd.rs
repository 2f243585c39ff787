//! `skeet serve` (the API, in one process on SQLite by default) and `skeet migrate`.
//!
//! On first start with an empty database a demo user is created; its password is printed
//! and kept in `<data-dir>/demo-login.txt` (readable by the owner only) so that later starts
//! can print the login again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use skeet_server::{AppState, hash_password, random_token, router};
use skeet_store::Db;

use crate::output::line;

/// Arguments of `skeet serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Database: sqlite://FILE or postgres://USER@HOST/DB (default: SQLite under the data
    /// directory).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Mark session cookies Secure (when served behind TLS).
    #[arg(long, env = "SKEET_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Run no job workers in this process (run `skeet worker` processes instead).
    #[arg(long)]
    no_workers: bool,
    /// In-process job workers (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Job lease in milliseconds: how long a silent worker keeps a job.
    #[arg(long, env = "SKEET_JOB_LEASE_MS", default_value_t = skeet_worker::LEASE_MS, hide = true)]
    lease_ms: i64,
    /// Log format on standard error: text, or json (one object per line, for log shippers).
    #[arg(long, env = "SKEET_LOG_FORMAT", default_value = "text")]
    log_format: String,
    /// The built dashboard to serve (default: `frontend/dist` when it exists; `none` serves
    /// the API only).
    #[arg(long, env = "SKEET_UI_DIR")]
    ui_dir: Option<PathBuf>,
    /// Reach a venue at another endpoint (testnet, sandbox, local test server):
    /// `venue=URL`, repeatable or comma-separated. Applies to the market browser, "test
    /// connection" and downloads; users cannot choose endpoints themselves.
    #[arg(long = "venue-url", env = "SKEET_VENUE_URLS", value_delimiter = ',')]
    venue_urls: Vec<String>,
    /// Plan limit: live bots each workspace may run at once (default: no limit).
    #[arg(long, env = "SKEET_MAX_LIVE_BOTS")]
    max_live_bots: Option<usize>,
    /// Plan limit: paper bots each workspace may run at once (default: no limit).
    #[arg(long, env = "SKEET_MAX_PAPER_BOTS")]
    max_paper_bots: Option<usize>,
    /// How often the websocket's job watcher reads job changes, in milliseconds.
    #[arg(long, default_value_t = 50, hide = true)]
    watch_ms: u64,
}

/// Starts logging on standard error; the level comes from `RUST_LOG` (default `info`;
/// `debug` adds an access-log line for every request).
fn init_logs(format: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let done = match format {
        "text" => builder.try_init(),
        "json" => builder.json().flatten_event(true).try_init(),
        other => anyhow::bail!("--log-format '{other}' is not known; use text or json"),
    };
    // A second call in the same process (tests) keeps the first subscriber.
    drop(done);
    Ok(())
}

/// Arguments of `skeet worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Database URL (default: SQLite under the data directory).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Job workers in this process (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Job lease in milliseconds: how long a silent worker keeps a job.
    #[arg(long, env = "SKEET_JOB_LEASE_MS", default_value_t = skeet_worker::LEASE_MS)]
    lease_ms: i64,
    /// Reach a venue at another endpoint for live bots (as `skeet serve --venue-url`).
    #[arg(long = "venue-url", env = "SKEET_VENUE_URLS", value_delimiter = ',')]
    venue_urls: Vec<String>,
    /// Serve this process's Prometheus metrics (job durations) at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

/// Arguments of `skeet migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// Database URL (default: SQLite under the data directory).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

fn database_url(data_dir: &Path, given: Option<&str>) -> String {
    given.map_or_else(
        || format!("sqlite://{}", data_dir.join("skeet.db").display()),
        str::to_string,
    )
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn migrate(data_dir: &Path, args: &MigrateArgs) -> anyhow::Result<()> {
    let url = database_url(data_dir, args.database_url.as_deref());
    runtime()?.block_on(async {
        Db::connect(&url)
            .await
            .with_context(|| format!("cannot migrate {}", redact(&url)))?;
        line(format!("migrations applied to {}", redact(&url)));
        Ok(())
    })
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub(crate) fn serve(data_dir: &Path, args: &ServeArgs) -> anyhow::Result<()> {
    let url = database_url(data_dir, args.database_url.as_deref());
    init_logs(&args.log_format)?;
    skeet_server::install_recorder();
    runtime()?.block_on(async {
        let db = Db::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        let validate: skeet_server::Validator = Arc::new(skeet_worker::validate);
        let ui_dir = match &args.ui_dir {
            Some(d) if d.as_os_str() == "none" => None,
            Some(d) => {
                anyhow::ensure!(
                    d.join("index.html").is_file(),
                    "--ui-dir {}: no index.html there; build the dashboard (npm run build in frontend/) or pass --ui-dir none",
                    d.display()
                );
                Some(d.clone())
            }
            None => Some(PathBuf::from("frontend/dist")).filter(|d| d.join("index.html").is_file()),
        };
        let (keys, key_note) = master_keys(data_dir)?;
        let state = AppState::new(
            db.clone(),
            data_dir.to_path_buf(),
            validate,
            keys,
            skeet_server::Options {
                ui_dir: ui_dir.clone(),
                secure_cookies: args.secure_cookies,
                venues: skeet_server::venues::VenueSettings::parse(&args.venue_urls)
                    .map_err(|e| anyhow::anyhow!("--venue-url: {e}"))?,
                plan: skeet_server::PlanLimits {
                    live_bots: args.max_live_bots,
                    paper_bots: args.max_paper_bots,
                },
            },
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(skeet_server::watch_jobs(
            state.hub.clone(),
            state.jobs.clone(),
            std::time::Duration::from_millis(args.watch_ms.max(5)),
            state.job_changed.clone(),
            stopped.clone(),
        ));
        let mut workers = if args.no_workers {
            Vec::new()
        } else {
            spawn_workers(
                &db,
                data_dir,
                args.workers,
                args.lease_ms,
                &stopped,
                Some(&state.job_queued),
                Some(&state.job_changed),
            )
        };
        if !args.no_workers {
            workers.push(spawn_bot_supervisor(
                &db,
                data_dir,
                args.lease_ms,
                &stopped,
                Some(state.vault.clone()),
                state.venues.urls.clone(),
                Some(state.bot_changed.clone()),
            ));
        }
        workers.push(tokio::spawn(skeet_server::bots::watch_bots(
            state.clone(),
            std::time::Duration::from_millis(args.watch_ms.max(5)),
            stopped.clone(),
        )));
        let demo = ensure_demo(&state, data_dir).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        line(format!("SKEET is running at http://{addr}"));
        if let Some((email, password)) = demo {
            line(format!("demo login: {email} / {password}"));
        }
        line(format!(
            "dashboard: {}",
            ui_dir.as_ref().map_or_else(
                || "not served (API only; build it with `make run`)".to_string(),
                |d| d.display().to_string()
            )
        ));
        if let Some(note) = key_note {
            line(note);
        }
        line(format!("database: {}", redact(&url)));
        let served = axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the server stopped with an error");
        // Running jobs go back to the queue for the next worker.
        let _ = stop.send(true);
        for w in workers {
            let _ = w.await;
        }
        let _ = watcher.await;
        served
    })
}

fn spawn_workers(
    db: &Db,
    data_dir: &Path,
    count: Option<usize>,
    lease_ms: i64,
    stopped: &tokio::sync::watch::Receiver<bool>,
    wake: Option<&Arc<tokio::sync::Notify>>,
    changed: Option<&Arc<tokio::sync::Notify>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let n = count.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let host = std::process::id();
    (0..n)
        .map(|k| {
            let cfg = skeet_worker::WorkerConfig {
                id: format!("{}-{host}-{k}", skeet_store::new_id()),
                data_dir: data_dir.to_path_buf(),
                poll: std::time::Duration::from_millis(200),
                wake: wake.cloned(),
                changed: changed.cloned(),
                lease_ms: lease_ms.max(300),
            };
            tokio::spawn(skeet_worker::run(
                skeet_store::jobs::Jobs::new(db.clone()),
                cfg,
                stopped.clone(),
            ))
        })
        .collect()
}

/// The bot supervisor of this process: runs the bots that should run, under leases.
fn spawn_bot_supervisor(
    db: &Db,
    data_dir: &Path,
    lease_ms: i64,
    stopped: &tokio::sync::watch::Receiver<bool>,
    vault: Option<skeet_store::vault::Vault>,
    venue_urls: std::collections::BTreeMap<String, String>,
    changed: Option<Arc<tokio::sync::Notify>>,
) -> tokio::task::JoinHandle<()> {
    let cfg = skeet_worker::bots::SupervisorConfig {
        id: format!("bots-{}-{}", skeet_store::new_id(), std::process::id()),
        data_dir: data_dir.to_path_buf(),
        lease_ms: lease_ms.max(300),
        poll: std::time::Duration::from_millis(250),
        max_bots: 1_000,
        vault,
        venue_urls,
        telegram_api: std::env::var("SKEET_TELEGRAM_API_URL")
            .unwrap_or_else(|_| "https://api.telegram.org".to_string()),
        changed,
    };
    tokio::spawn(skeet_worker::bots::supervise(
        skeet_store::bots::Bots::new(db.clone()),
        cfg,
        stopped.clone(),
    ))
}

/// `skeet worker`: job workers only, on the same database as `skeet serve`.
pub(crate) fn worker(data_dir: &Path, args: &WorkerArgs) -> anyhow::Result<()> {
    let url = database_url(data_dir, args.database_url.as_deref());
    init_logs("text")?;
    let metrics = skeet_server::install_recorder();
    runtime()?.block_on(async {
        let db = Db::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        if let (Some(addr), Some(handle)) = (args.metrics_listen, metrics) {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for metrics"))?;
            let app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let h = handle.clone();
                    async move { h.render() }
                }),
            );
            line(format!(
                "metrics at http://{}/metrics",
                listener.local_addr()?
            ));
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        let mut workers = spawn_workers(
            &db,
            data_dir,
            args.workers,
            args.lease_ms,
            &stopped,
            None,
            None,
        );
        let venues = skeet_server::venues::VenueSettings::parse(&args.venue_urls)
            .map_err(|e| anyhow::anyhow!("--venue-url: {e}"))?;
        let vault = master_keys(data_dir)
            .ok()
            .map(|(keys, _)| skeet_store::vault::Vault::new(db.clone(), keys));
        workers.push(spawn_bot_supervisor(
            &db,
            data_dir,
            args.lease_ms,
            &stopped,
            vault,
            venues.urls,
            None,
        ));
        line(format!(
            "{} worker(s) running on {}",
            workers.len(),
            redact(&url)
        ));
        shutdown_signal().await;
        let _ = stop.send(true);
        for w in workers {
            let _ = w.await;
        }
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM (what service managers and `docker stop` send).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

const DEMO_EMAIL: &str = "demo@skeet.local";

/// Creates the demo user on an empty database; returns the demo login when known.
async fn ensure_demo(
    state: &AppState,
    data_dir: &Path,
) -> anyhow::Result<Option<(String, String)>> {
    let file: PathBuf = data_dir.join("demo-login.txt");
    if state.accounts.count_users().await? == 0 {
        let password = random_token()[..20].to_string();
        let hash = hash_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
        let (user, ws) = state.accounts.create_user(DEMO_EMAIL, &hash, true).await?;
        seed_demo_workspace(state, &user.id, &ws).await?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        crate::output::write_atomic(&file, format!("{DEMO_EMAIL} {password}\n").as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
        return Ok(Some((DEMO_EMAIL.to_string(), password)));
    }
    // Later starts: repeat the login if the demo account still exists.
    let known = std::fs::read_to_string(&file).ok().and_then(|t| {
        let mut parts = t.split_whitespace();
        Some((parts.next()?.to_string(), parts.next()?.to_string()))
    });
    match known {
        Some((email, pw)) if state.accounts.find_by_email(&email).await.is_ok() => {
            Ok(Some((email, pw)))
        }
        _ => Ok(None),
    }
}

/// Fills the demo workspace: two years of hourly synthetic BTC/USDT (the same series as
/// `skeet demo`) and two template strategies, so a newcomer can run a backtest at once.
async fn seed_demo_workspace(state: &AppState, user_id: &str, ws: &str) -> anyhow::Result<()> {
    state
        .generate_dataset(
            ws,
            serde_json::json!({
                "symbol": "BTC/USDT", "timeframe": "1h", "bars": 17_520, "seed": 42,
                "model": "regime", "price": 40_000.0, "name": "Demo BTC/USDT 1h",
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo dataset: {}", e.message))?;
    for (name, template) in [
        ("SMA crossover", "sma_cross"),
        ("RSI mean reversion", "rsi_mean_reversion"),
    ] {
        let text = skeet_strategy::templates::json(template)
            .with_context(|| format!("template {template} is missing"))?;
        let spec = skeet_strategy::StrategySpec::from_json(text)?;
        let doc: serde_json::Value = serde_json::from_str(text)?;
        state
            .strategies
            .create(ws, name, &doc, &spec.hash(), user_id)
            .await?;
    }
    Ok(())
}

/// `skeet user ...`: accounts administration for the operator.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum UserCommand {
    /// Create an account (with its personal workspace).
    Create(UserCreateArgs),
}

/// Arguments of `skeet user create`.
#[derive(Debug, Args)]
pub(crate) struct UserCreateArgs {
    /// Email address (the sign-in name).
    #[arg(long)]
    email: String,
    /// Make the user a platform admin (the operator).
    #[arg(long)]
    admin: bool,
    /// Read the password from standard input (default: generate one and print it).
    #[arg(long)]
    password_stdin: bool,
    /// Database URL (default: SQLite under the data directory).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

pub(crate) fn user(data_dir: &Path, cmd: &UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create(args) = cmd;
    let email = args.email.trim();
    if !email.contains('@') || email.contains(char::is_whitespace) {
        anyhow::bail!("--email '{email}' is not an email address (name@example.com)");
    }
    let (password, generated) = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_line(&mut text)
            .context("cannot read the password from standard input")?;
        (text.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (random_token()[..20].to_string(), true)
    };
    if password.chars().count() < 10 {
        anyhow::bail!("the password must be at least 10 characters");
    }
    let url = database_url(data_dir, args.database_url.as_deref());
    runtime()?.block_on(async {
        let db = Db::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        let hash = hash_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
        let accounts = skeet_store::accounts::Accounts::new(db);
        let (user, _) = accounts
            .create_user(email, &hash, args.admin)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        line(format!(
            "created {}{} ({})",
            user.email,
            if user.is_admin {
                ", platform admin"
            } else {
                ""
            },
            user.id
        ));
        if generated {
            line(format!("password: {password}"));
        }
        Ok(())
    })
}

/// The master key file under the data directory.
fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

/// The vault's master keys: `SKEET_MASTER_KEY` (`1:HEX[,2:HEX...]`), or the key file
/// `<data-dir>/master.key`, generated on first start. Returns a line to print when a key was
/// generated.
fn master_keys(
    data_dir: &Path,
) -> anyhow::Result<(skeet_store::vault::MasterKeys, Option<String>)> {
    use skeet_store::vault::MasterKeys;
    if let Ok(text) = std::env::var("SKEET_MASTER_KEY") {
        return Ok((MasterKeys::parse(&text).context("SKEET_MASTER_KEY")?, None));
    }
    let file = key_file(data_dir);
    if file.is_file() {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let keys = MasterKeys::parse(&text).with_context(|| format!("{}", file.display()))?;
        return Ok((keys, None));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let text = MasterKeys::generate_file_text();
    crate::output::write_atomic(&file, text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok((
        MasterKeys::parse(&text)?,
        Some(format!(
            "master key: GENERATED {} — it decrypts every stored exchange credential: back it up, keep it out of version control (or set SKEET_MASTER_KEY)",
            file.display()
        )),
    ))
}

/// `skeet vault ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum VaultCommand {
    /// Add a new master-key version to the key file and re-wrap every workspace's data key
    /// with it (the credentials themselves are unchanged).
    Rotate(VaultRotateArgs),
}

/// Arguments of `skeet vault rotate`.
#[derive(Debug, Args)]
pub(crate) struct VaultRotateArgs {
    /// Database URL (default: SQLite under the data directory).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
}

pub(crate) fn vault(data_dir: &Path, cmd: &VaultCommand) -> anyhow::Result<()> {
    let VaultCommand::Rotate(args) = cmd;
    if std::env::var_os("SKEET_MASTER_KEY").is_some() {
        anyhow::bail!(
            "SKEET_MASTER_KEY is set: rotation writes the key file {}; unset the variable (or rotate by hand: add a new version to it, then run this with the file)",
            key_file(data_dir).display()
        );
    }
    let file = key_file(data_dir);
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read the master key file {}", file.display()))?;
    let keys = skeet_store::vault::MasterKeys::parse(&text)?;
    let (next, version) = keys.with_new_version();
    let url = database_url(data_dir, args.database_url.as_deref());
    runtime()?.block_on(async {
        let db = Db::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {}", redact(&url)))?;
        // The new key is on disk before any data key is wrapped with it.
        crate::output::write_atomic(&file, next.to_file_text().as_bytes())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
        }
        let n = skeet_store::vault::Vault::new(db, next)
            .rotate()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        line(format!(
            "master key version {version} added to {}; {n} workspace key(s) re-wrapped with it; older versions can be removed from the file once no server still uses them",
            file.display()
        ));
        Ok(())
    })
}
