//! The real `skeet serve` binary over HTTP, on SQLite and on PostgreSQL: health and
//! readiness, sign-up validation, sign-in with bearer tokens and cookies (CSRF enforced),
//! sign-out, workspace isolation (404, not 403), `{code, message}` errors, and the demo login
//! printed on first start.

#![allow(clippy::unwrap_used, clippy::print_stderr, reason = "test")]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod common;
use common::{error_is, request, start};

fn exercise(addr: &str) {
    let get = |path: &str, h: &[(&str, &str)]| request(addr, "GET", path, h, None);
    let post = |path: &str, h: &[(&str, &str)], b: Value| request(addr, "POST", path, h, Some(&b));

    let health = get("/healthz", &[]);
    assert_eq!(health.status, 200);
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert!(
            health
                .headers
                .contains(&(name.to_string(), value.to_string())),
            "{name}: {:?}",
            health.headers
        );
    }
    // CORS is closed: no Access-Control-Allow-Origin for a foreign origin.
    let cors = get("/api/me", &[("Origin", "https://evil.example")]);
    assert!(
        !cors
            .headers
            .iter()
            .any(|(k, _)| k.starts_with("access-control-")),
        "{:?}",
        cors.headers
    );
    let ready = get("/readyz", &[]);
    assert_eq!(
        (ready.status, ready.body["migrations"].clone()),
        (200, json!("applied"))
    );

    // Sign-up validation.
    error_is(
        &post(
            "/api/auth/signup",
            &[],
            json!({"email": "nope", "password": "long enough pw"}),
        ),
        400,
        "bad_request",
        "'nope' is not an email address",
    );
    error_is(
        &post(
            "/api/auth/signup",
            &[],
            json!({"email": "a@b.co", "password": "short"}),
        ),
        400,
        "bad_request",
        "at least 10 characters",
    );
    error_is(
        &post("/api/auth/signup", &[], json!({"email": 1})),
        400,
        "bad_request",
        "request body",
    );
    let alice = post(
        "/api/auth/signup",
        &[],
        json!({"email": "Alice@Example.com", "password": "alice password"}),
    );
    assert_eq!(alice.status, 201, "{}", alice.body);
    let alice_ws = alice.body["workspace_id"].as_str().unwrap().to_string();
    error_is(
        &post(
            "/api/auth/signup",
            &[],
            json!({"email": "alice@example.com", "password": "another password"}),
        ),
        409,
        "conflict",
        "already exists",
    );
    let bob = post(
        "/api/auth/signup",
        &[],
        json!({"email": "bob@example.com", "password": "bob password!"}),
    );
    let bob_ws = bob.body["workspace_id"].as_str().unwrap().to_string();

    // Sign-in.
    error_is(
        &post(
            "/api/auth/login",
            &[],
            json!({"email": "alice@example.com", "password": "wrong password"}),
        ),
        401,
        "unauthorized",
        "wrong email or password",
    );
    error_is(
        &post(
            "/api/auth/login",
            &[],
            json!({"email": "nobody@example.com", "password": "wrong password"}),
        ),
        401,
        "unauthorized",
        "wrong email or password",
    );
    let login = post(
        "/api/auth/login",
        &[],
        json!({"email": "ALICE@example.com", "password": "alice password"}),
    );
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.body["token"].as_str().unwrap().to_string();
    let csrf = login.body["csrf_token"].as_str().unwrap().to_string();
    let cookie = login
        .headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .unwrap()
        .1
        .clone();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let bearer = format!("Bearer {token}");
    let me = get("/api/me", &[("Authorization", &bearer)]);
    assert_eq!(me.body["user"]["email"], "alice@example.com", "{}", me.body);
    assert_eq!(me.body["workspaces"][0]["role"], "owner");
    error_is(&get("/api/me", &[]), 401, "unauthorized", "sign in first");
    error_is(
        &get("/api/me", &[("Authorization", "Bearer forged")]),
        401,
        "unauthorized",
        "unknown, expired or revoked",
    );

    // Repeated wrong passwords lock the account out (429), even for the right one.
    post(
        "/api/auth/signup",
        &[],
        json!({"email": "locked@example.com", "password": "the right one"}),
    );
    for _ in 0..5 {
        let r = post(
            "/api/auth/login",
            &[],
            json!({"email": "locked@example.com", "password": "a wrong guess"}),
        );
        assert_eq!(r.status, 401);
    }
    error_is(
        &post(
            "/api/auth/login",
            &[],
            json!({"email": "LOCKED@example.com", "password": "the right one"}),
        ),
        429,
        "too_many_requests",
        "too many failed sign-ins; try again in 15 minute(s)",
    );

    // Workspaces: one's own jobs list, another's is 404 (as if it did not exist).
    let jobs = get(
        &format!("/api/workspaces/{alice_ws}/jobs"),
        &[("Authorization", &bearer)],
    );
    assert_eq!((jobs.status, jobs.body["items"].clone()), (200, json!([])));
    error_is(
        &get(
            &format!("/api/workspaces/{bob_ws}/jobs"),
            &[("Authorization", &bearer)],
        ),
        404,
        "not_found",
        "no such workspace",
    );
    error_is(
        &get(
            "/api/workspaces/made-up/jobs",
            &[("Authorization", &bearer)],
        ),
        404,
        "not_found",
        "no such workspace",
    );
    error_is(
        &get(
            &format!("/api/workspaces/{alice_ws}/jobs?limit=0"),
            &[("Authorization", &bearer)],
        ),
        400,
        "bad_request",
        "limit must be from 1 to 500",
    );
    error_is(
        &get(
            &format!("/api/workspaces/{alice_ws}/jobs?state=bogus"),
            &[("Authorization", &bearer)],
        ),
        400,
        "bad_request",
        "not a job state",
    );
    error_is(
        &get(
            &format!("/api/workspaces/{alice_ws}/jobs?limit=x"),
            &[("Authorization", &bearer)],
        ),
        400,
        "bad_request",
        "query string",
    );
    error_is(
        &get(
            &format!("/api/workspaces/{alice_ws}/jobs/nope"),
            &[("Authorization", &bearer)],
        ),
        404,
        "not_found",
        "not found",
    );
    error_is(
        &get("/api/nothing", &[]),
        404,
        "not_found",
        "no such endpoint",
    );

    // Cookie sessions: reads work, writes need the CSRF token.
    let session_cookie = format!("skeet_session={token}");
    assert_eq!(get("/api/me", &[("Cookie", &session_cookie)]).status, 200);
    error_is(
        &post(
            "/api/auth/logout",
            &[("Cookie", &session_cookie)],
            json!({}),
        ),
        403,
        "forbidden",
        "X-CSRF-Token",
    );
    error_is(
        &post(
            "/api/auth/logout",
            &[("Cookie", &session_cookie), ("X-CSRF-Token", "wrong")],
            json!({}),
        ),
        403,
        "forbidden",
        "X-CSRF-Token",
    );
    let out = post(
        "/api/auth/logout",
        &[("Cookie", &session_cookie), ("X-CSRF-Token", &csrf)],
        json!({}),
    );
    assert_eq!(out.status, 204);
    error_is(
        &get("/api/me", &[("Authorization", &bearer)]),
        401,
        "unauthorized",
        "unknown, expired or revoked",
    );
}

#[test]
fn the_api_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    assert!(
        server.stdout[0].starts_with("SKEET is running at http://127.0.0.1:"),
        "{:?}",
        server.stdout
    );
    let demo = server
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("demo login: "))
        .unwrap()
        .to_string();
    let (email, password) = demo.split_once(" / ").unwrap();
    let login = request(
        &server.addr,
        "POST",
        "/api/auth/login",
        &[],
        Some(&json!({"email": email, "password": password})),
    );
    assert_eq!(
        login.status, 200,
        "the printed demo login works: {}",
        login.body
    );
    exercise(&server.addr);
    drop(server);
    // A second start on the same data directory prints the same demo login again.
    let again = start(dir.path(), None);
    assert!(
        again
            .stdout
            .iter()
            .any(|l| l == &format!("demo login: {demo}")),
        "{:?}",
        again.stdout
    );
}

#[test]
fn the_api_on_postgres() {
    let Some(pg) = common::PgDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Some(&pg.url));
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l.starts_with("database: postgres://")),
        "{:?}",
        server.stdout
    );
    exercise(&server.addr);
}

fn wait_done(addr: &str, path: &str, auth: &[(&str, &str)]) -> Value {
    let mut job = Value::Null;
    for _ in 0..600 {
        job = request(addr, "GET", path, auth, None).body;
        if job["state"] == "succeeded" || job["state"] == "failed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    job
}

#[test]
fn a_backtest_submitted_through_the_api_runs_and_its_report_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    let addr = server.addr.as_str();
    let post = |path: &str, h: &[(&str, &str)], b: Value| request(addr, "POST", path, h, Some(&b));
    post(
        "/api/auth/signup",
        &[],
        json!({"email": "q@example.com", "password": "quant password"}),
    );
    let login = post(
        "/api/auth/login",
        &[],
        json!({"email": "q@example.com", "password": "quant password"}),
    );
    let bearer = format!("Bearer {}", login.body["token"].as_str().unwrap());
    let me = request(addr, "GET", "/api/me", &[("Authorization", &bearer)], None);
    let ws = me.body["workspaces"][0]["workspace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/workspaces/{ws}/backtests");
    let auth = [("Authorization", bearer.as_str())];

    // Data: generated through the API into the workspace's own store.
    let dataset = post(
        &format!("/api/workspaces/{ws}/datasets/generate"),
        &auth,
        json!({"symbol": "BTC/USDT", "timeframe": "1h", "bars": 3000, "seed": 3}),
    );
    assert_eq!(dataset.status, 201, "{}", dataset.body);
    assert_eq!(dataset.body["bars"], 3000);
    let dataset_id = dataset.body["id"].as_str().unwrap().to_string();

    // Bad requests are refused before anything is queued, saying what is wrong.
    error_is(
        &post(
            &path,
            &auth,
            json!({"strategy": "smaa_cross", "symbol": "BTC/USDT", "timeframe": "1h"}),
        ),
        400,
        "bad_request",
        "smaa_cross",
    );
    error_is(
        &post(
            &path,
            &auth,
            json!({"strategy": "sma_cross", "symbol": "ETH/USDT", "timeframe": "1h"}),
        ),
        400,
        "bad_request",
        "no ETH/USDT 1h data is stored",
    );
    error_is(
        &post(
            &path,
            &auth,
            json!({"strategy": "sma_cross", "params": {"fast": 500}, "symbol": "BTC/USDT", "timeframe": "1h"}),
        ),
        400,
        "bad_request",
        "params",
    );
    error_is(
        &post(
            &path,
            &auth,
            json!({"strategy": "sma_cross", "symbol": "BTC/USDT", "timeframe": "1h", "colour": "red"}),
        ),
        400,
        "bad_request",
        "unknown field `colour`",
    );
    error_is(
        &post(
            &path,
            &auth,
            json!({"strategy": "sma_cross", "dataset": "nope"}),
        ),
        400,
        "bad_request",
        "dataset: no dataset nope in this workspace",
    );
    error_is(
        &post(&path, &auth, json!({"strategy": "sma_cross"})),
        400,
        "bad_request",
        "give dataset",
    );
    // An inline spec is compiled before it is queued: a rule error is a 400 with its place.
    let mut spec: Value =
        serde_json::from_str(skeet_strategy::templates::json("sma_cross").unwrap()).unwrap();
    spec["exit"]["long"] = json!("close > smaa(close, 5)");
    error_is(
        &post(&path, &auth, json!({"spec": spec, "dataset": dataset_id})),
        400,
        "invalid_spec",
        "exit.long: unknown indicator 'smaa' at 1:9",
    );
    let listed = request(
        addr,
        "GET",
        &format!("/api/workspaces/{ws}/jobs"),
        &auth,
        None,
    );
    assert_eq!(listed.body["items"], json!([]), "nothing was queued");

    // A saved strategy, referenced by id, on the dataset, referenced by id.
    let strategy = post(
        &format!("/api/workspaces/{ws}/strategies"),
        &auth,
        json!({"name": "my sma", "template": "sma_cross"}),
    );
    assert_eq!(strategy.status, 201, "{}", strategy.body);
    let strategy_id = strategy.body["id"].as_str().unwrap().to_string();
    let submitted = post(
        &path,
        &auth,
        json!({
            "strategy_id": strategy_id, "params": {"fast": 10, "slow": 30},
            "dataset": dataset_id, "commission": "0.001"
        }),
    );
    assert_eq!(submitted.status, 202, "{}", submitted.body);
    assert_eq!(submitted.body["payload"]["strategy_version"], 1);
    assert_eq!(submitted.body["payload"]["symbol"], "BTC/USDT");
    let id = submitted.body["id"].as_str().unwrap().to_string();
    let job = wait_done(addr, &format!("{path}/{id}"), &auth);
    assert_eq!(job["state"], "succeeded", "{job}");
    let report = &job["result"];
    assert_eq!(report["strategy"], "sma_cross");
    assert_eq!(report["params"], json!({"fast": 10.0, "slow": 30.0}));
    assert_eq!(report["metrics"]["bars"], 3000);
    let trades = report["trades"].as_array().unwrap();
    assert!(trades.len() > 10, "{}", report["metrics"]);

    // Result endpoints: pages of trades, the curve, the metrics without the heavy parts.
    let page = request(
        addr,
        "GET",
        &format!("{path}/{id}/trades?limit=5&offset=2"),
        &auth,
        None,
    );
    assert_eq!(page.body["total"], trades.len());
    assert_eq!(page.body["items"].as_array().unwrap().len(), 5);
    assert_eq!(page.body["items"][0], trades[2]);
    let equity = request(addr, "GET", &format!("{path}/{id}/equity"), &auth, None);
    assert_eq!(equity.body, report["equity_curve"]);
    let metrics = request(addr, "GET", &format!("{path}/{id}/metrics"), &auth, None);
    assert_eq!(metrics.body["metrics"], report["metrics"]);
    assert!(metrics.body.get("trades").is_none());
    let list = request(addr, "GET", &path, &auth, None);
    assert_eq!(list.body["items"][0]["id"], id.as_str());
    // Lists carry the headline numbers, not the whole report.
    assert!(list.body["items"][0]["result"].is_null());
    assert_eq!(list.body["items"][0]["summary"]["trades"], trades.len());
    assert_eq!(
        list.body["items"][0]["summary"]["total_return_pct"],
        report["metrics"]["total_return_pct"]
    );

    // The same run on the command line, on the workspace's own store, gives the same numbers.
    let cli = Command::new(env!("CARGO_BIN_EXE_skeet"))
        .arg("--data-dir")
        .arg(dir.path().join("workspaces").join(&ws))
        .args([
            "backtest",
            "--symbol",
            "BTC/USDT",
            "--timeframe",
            "1h",
            "--strategy",
            "sma_cross",
            "--param",
            "fast=10",
            "--param",
            "slow=30",
            "--commission",
            "0.001",
            "--output",
            "-",
        ])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(
        cli["metrics"]["total_return_pct"],
        report["metrics"]["total_return_pct"]
    );
    assert_eq!(cli["final_equity"], report["final_equity"]);

    // An optimisation over the same data: every grid point, progress, a heat map.
    let opt_path = format!("/api/workspaces/{ws}/optimizations");
    error_is(
        &post(
            &opt_path,
            &auth,
            json!({"run": {"strategy": "sma_cross", "dataset": dataset_id}, "ranges": {"fats": "5..20:5"}}),
        ),
        400,
        "bad_request",
        "unknown parameter 'fats'",
    );
    let opt = post(
        &opt_path,
        &auth,
        json!({
            "run": {"strategy": "sma_cross", "dataset": dataset_id},
            "ranges": {"fast": "5..20:5", "slow": "30,50"}, "objective": "sharpe"
        }),
    );
    assert_eq!(opt.status, 202, "{}", opt.body);
    let opt_id = opt.body["id"].as_str().unwrap().to_string();
    let done = wait_done(addr, &format!("{opt_path}/{opt_id}"), &auth);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["result"]["trials"].as_array().unwrap().len(), 8);
    assert!(done["result"]["heatmap"].is_object(), "{}", done["result"]);
    // A walk-forward analysis: windows, stitched out-of-sample result, verdict.
    let wf_path = format!("/api/workspaces/{ws}/walkforwards");
    error_is(
        &post(
            &wf_path,
            &auth,
            json!({"search": {"run": {"strategy": "sma_cross", "dataset": dataset_id}}, "windows": 0}),
        ),
        400,
        "bad_request",
        "windows must be from 1 to 50",
    );
    let wf = post(
        &wf_path,
        &auth,
        json!({
            "search": {"run": {"strategy": "sma_cross", "dataset": dataset_id},
                       "ranges": {"fast": "5,10", "slow": "30,50"}},
            "windows": 3
        }),
    );
    assert_eq!(wf.status, 202, "{}", wf.body);
    let wf_id = wf.body["id"].as_str().unwrap().to_string();
    let done = wait_done(addr, &format!("{wf_path}/{wf_id}"), &auth);
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["result"]["windows"].as_array().unwrap().len(),
        3,
        "{}",
        done["result"]
    );
    assert!(
        done["result"]["efficiency"].is_number(),
        "{}",
        done["result"]["config"]
    );
    assert_eq!(done["result"]["out_of_sample"]["bars"], 1500);

    // A backtest's result endpoints do not serve optimisations.
    let wrong = request(addr, "GET", &format!("{path}/{opt_id}"), &auth, None);
    assert_eq!(wrong.status, 404);
}

#[test]
fn the_operator_creates_accounts_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let create = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_skeet"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["user", "create"])
            .args(args)
            .env_remove("DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, out, _) = create(&["--email", "Ops@Example.com", "--admin"], "");
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("created ops@example.com, platform admin ("),
        "{out}"
    );
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string();
    let (code, _, err) = create(&["--email", "ops@example.com"], "");
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            "error: an account with the email ops@example.com already exists"
        )
    );
    let (code, _, err) = create(&["--email", "t@example.com", "--password-stdin"], "short\n");
    assert_eq!(
        (code, err.trim()),
        (
            Some(1),
            "error: the password must be at least 10 characters"
        )
    );
    let (code, out, _) = create(
        &["--email", "t@example.com", "--password-stdin"],
        "trader password\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        !out.contains("password:"),
        "a given password is never printed"
    );

    let server = start(dir.path(), None);
    assert!(
        !server.stdout.iter().any(|l| l.starts_with("demo login")),
        "no demo user on a non-empty database"
    );
    for (email, pw) in [
        ("ops@example.com", password.as_str()),
        ("t@example.com", "trader password"),
    ] {
        let login = request(
            &server.addr,
            "POST",
            "/api/auth/login",
            &[],
            Some(&json!({"email": email, "password": pw})),
        );
        assert_eq!(login.status, 200, "{email}: {}", login.body);
    }
    let me = request(
        &server.addr,
        "GET",
        "/api/me",
        &[(
            "Authorization",
            &format!(
                "Bearer {}",
                request(
                    &server.addr,
                    "POST",
                    "/api/auth/login",
                    &[],
                    Some(&json!({"email": "ops@example.com", "password": password}))
                )
                .body["token"]
                    .as_str()
                    .unwrap()
            ),
        )],
        None,
    );
    assert_eq!(me.body["user"]["is_admin"], true);
}

#[test]
fn the_master_key_is_generated_once_and_rotation_keeps_credentials_readable() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    assert!(
        server
            .stdout
            .iter()
            .any(|l| l.starts_with("master key: GENERATED") && l.contains("back it up")),
        "{:?}",
        server.stdout
    );
    let key_file = dir.path().join("master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let addr = server.addr.clone();
    let post = |path: &str, h: &[(&str, &str)], b: Value| request(&addr, "POST", path, h, Some(&b));
    let creds = json!({"email": "vault@example.com", "password": "vault password"});
    post("/api/auth/signup", &[], creds.clone());
    let login = post("/api/auth/login", &[], creds);
    let bearer = format!("Bearer {}", login.body["token"].as_str().unwrap());
    let auth = [("Authorization", bearer.as_str())];
    let me = request(&addr, "GET", "/api/me", &auth, None);
    let ws = me.body["workspaces"][0]["workspace_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stored = post(
        &format!("/api/workspaces/{ws}/credentials"),
        &auth,
        json!({"venue": "binance", "label": "main", "api_key": "ROTATE-KEY-123456", "api_secret": "ROTATE-SECRET"}),
    );
    assert_eq!(stored.status, 201, "{}", stored.body);
    let id = stored.body["id"].as_str().unwrap().to_string();
    drop(server);

    // A second start reuses the key file (no new key, no note).
    let again = start(dir.path(), None);
    assert!(
        !again.stdout.iter().any(|l| l.starts_with("master key:")),
        "{:?}",
        again.stdout
    );
    drop(again);

    let rotate = Command::new(env!("CARGO_BIN_EXE_skeet"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["vault", "rotate"])
        .env_remove("DATABASE_URL")
        .env_remove("SKEET_MASTER_KEY")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&rotate.stdout);
    assert!(
        rotate.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&rotate.stderr)
    );
    assert!(out.starts_with("master key version 2 added to"), "{out}");
    assert!(out.contains("1 workspace key(s) re-wrapped"), "{out}");
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert!(text.lines().any(|l| l.starts_with("1:")) && text.lines().any(|l| l.starts_with("2:")));

    // Only version 2 is needed now: the credential opens with it alone.
    let only_v2: String = text.lines().filter(|l| l.starts_with("2:")).collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secret = rt.block_on(async {
        let db = skeet_store::Db::connect(&format!(
            "sqlite://{}",
            dir.path().join("skeet.db").display()
        ))
        .await
        .unwrap();
        let vault = skeet_store::vault::Vault::new(
            db,
            skeet_store::vault::MasterKeys::parse(&only_v2).unwrap(),
        );
        vault.open(&ws, &id).await.unwrap()
    });
    assert_eq!(secret.api_secret, "ROTATE-SECRET");

    // Rotation refuses to run when the key comes from the environment.
    let refused = Command::new(env!("CARGO_BIN_EXE_skeet"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["vault", "rotate"])
        .env("SKEET_MASTER_KEY", format!("1:{}", "00".repeat(32)))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("SKEET_MASTER_KEY is set"));
}
