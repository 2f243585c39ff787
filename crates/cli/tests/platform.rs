//! The multi-user platform through the real `skeet serve` binary, on SQLite and on
//! PostgreSQL: every workspace resource is invisible to other workspaces (404) and refuses
//! writes by viewers (403); invitations, roles and the last-owner rule; API-token scopes;
//! password change; CSV upload and candles; spec validation with positions; the websocket
//! (authentication, subscription checks, job events pushed as they happen); `/metrics`,
//! request ids and the served OpenAPI document.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::needless_pass_by_value,
    reason = "test: request bodies are built inline and handed over"
)]

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::{PgDatabase, error_is, request, start};

/// A signed-in user: bearer header and personal workspace.
struct User {
    bearer: String,
    ws: String,
    id: String,
    token: String,
}

impl User {
    fn auth(&self) -> [(&str, &str); 1] {
        [("Authorization", self.bearer.as_str())]
    }
}

fn sign_up(addr: &str, email: &str) -> User {
    let creds = json!({"email": email, "password": "a long password"});
    let up = request(addr, "POST", "/api/auth/signup", &[], Some(&creds));
    assert_eq!(up.status, 201, "{}", up.body);
    let login = request(addr, "POST", "/api/auth/login", &[], Some(&creds));
    let token = login.body["token"].as_str().unwrap().to_string();
    User {
        bearer: format!("Bearer {token}"),
        ws: up.body["workspace_id"].as_str().unwrap().to_string(),
        id: up.body["user"]["id"].as_str().unwrap().to_string(),
        token,
    }
}

fn call(addr: &str, u: &User, method: &str, path: &str, body: Option<Value>) -> common::Response {
    request(addr, method, path, &u.auth(), body.as_ref())
}

fn wait_state(addr: &str, u: &User, path: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = call(addr, u, "GET", path, None).body;
        if states.iter().any(|s| job["state"] == *s) || Instant::now() > deadline {
            return job;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn platform(addr: &str) {
    let alice = sign_up(addr, "alice@example.com");
    let bob = sign_up(addr, "bob@example.com");
    let carol = sign_up(addr, "carol@example.com");
    let a = alice.ws.clone();

    // Alice's resources.
    let ds = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/datasets/generate"),
        Some(json!({"symbol": "ETH/USDT", "timeframe": "1h", "bars": 800, "seed": 5})),
    );
    assert_eq!(ds.status, 201, "{}", ds.body);
    let ds_id = ds.body["id"].as_str().unwrap().to_string();
    let st = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/strategies"),
        Some(json!({"name": "cross", "template": "sma_cross"})),
    );
    assert_eq!(st.status, 201, "{}", st.body);
    let st_id = st.body["id"].as_str().unwrap().to_string();
    let bt = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/backtests"),
        Some(json!({"strategy_id": st_id, "dataset": ds_id})),
    );
    assert_eq!(bt.status, 202, "{}", bt.body);
    let bt_id = bt.body["id"].as_str().unwrap().to_string();
    let opt = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/optimizations"),
        Some(
            json!({"run": {"strategy": "sma_cross", "dataset": ds_id}, "ranges": {"fast": "5,10", "slow": "30"}}),
        ),
    );
    assert_eq!(opt.status, 202, "{}", opt.body);
    let opt_id = opt.body["id"].as_str().unwrap().to_string();
    let done = wait_state(
        addr,
        &alice,
        &format!("/api/workspaces/{a}/backtests/{bt_id}"),
        &["succeeded", "failed"],
    );
    assert_eq!(done["state"], "succeeded", "{done}");
    let inv = call(
        addr,
        &alice,
        "POST",
        &format!("/api/workspaces/{a}/invitations"),
        Some(json!({"role": "viewer"})),
    );
    assert_eq!(inv.status, 201, "{}", inv.body);
    let inv_id = inv.body["invitation"]["id"].as_str().unwrap().to_string();

    // Every resource of Alice's workspace is 404 for Bob, reads and writes alike.
    let reads = [
        format!("/api/workspaces/{a}/datasets"),
        format!("/api/workspaces/{a}/datasets/{ds_id}"),
        format!("/api/workspaces/{a}/datasets/{ds_id}/candles"),
        format!("/api/workspaces/{a}/strategies"),
        format!("/api/workspaces/{a}/strategies/{st_id}"),
        format!("/api/workspaces/{a}/strategies/{st_id}/versions"),
        format!("/api/workspaces/{a}/strategies/{st_id}/versions/1"),
        format!("/api/workspaces/{a}/backtests"),
        format!("/api/workspaces/{a}/backtests/{bt_id}"),
        format!("/api/workspaces/{a}/backtests/{bt_id}/trades"),
        format!("/api/workspaces/{a}/backtests/{bt_id}/equity"),
        format!("/api/workspaces/{a}/backtests/{bt_id}/metrics"),
        format!("/api/workspaces/{a}/optimizations"),
        format!("/api/workspaces/{a}/optimizations/{opt_id}"),
        format!("/api/workspaces/{a}/jobs"),
        format!("/api/workspaces/{a}/jobs/{bt_id}"),
        format!("/api/workspaces/{a}/members"),
        format!("/api/workspaces/{a}/invitations"),
    ];
    for path in &reads {
        error_is(&call(addr, &bob, "GET", path, None), 404, "not_found", "");
    }
    let writes = [
        (
            "POST",
            format!("/api/workspaces/{a}/datasets/generate"),
            json!({"symbol": "X/Y", "timeframe": "1h", "bars": 10}),
        ),
        (
            "DELETE",
            format!("/api/workspaces/{a}/datasets/{ds_id}"),
            Value::Null,
        ),
        (
            "POST",
            format!("/api/workspaces/{a}/strategies"),
            json!({"name": "x", "template": "sma_cross"}),
        ),
        (
            "PUT",
            format!("/api/workspaces/{a}/strategies/{st_id}"),
            json!({"spec": st.body["spec"]}),
        ),
        (
            "DELETE",
            format!("/api/workspaces/{a}/strategies/{st_id}"),
            Value::Null,
        ),
        (
            "POST",
            format!("/api/workspaces/{a}/backtests"),
            json!({"strategy": "sma_cross", "dataset": ds_id}),
        ),
        (
            "POST",
            format!("/api/workspaces/{a}/optimizations"),
            json!({"run": {"strategy": "sma_cross", "dataset": ds_id}}),
        ),
        (
            "POST",
            format!("/api/workspaces/{a}/jobs/{opt_id}/cancel"),
            Value::Null,
        ),
        (
            "POST",
            format!("/api/workspaces/{a}/invitations"),
            json!({"role": "owner"}),
        ),
        (
            "DELETE",
            format!("/api/workspaces/{a}/invitations/{inv_id}"),
            Value::Null,
        ),
        (
            "PUT",
            format!("/api/workspaces/{a}/members/{}", alice.id),
            json!({"role": "viewer"}),
        ),
        (
            "DELETE",
            format!("/api/workspaces/{a}/members/{}", alice.id),
            Value::Null,
        ),
    ];
    for (method, path, body) in &writes {
        let body = (!body.is_null()).then(|| body.clone());
        error_is(&call(addr, &bob, method, path, body), 404, "not_found", "");
    }
    // Nor can Bob reach Alice's dataset or strategy from his own workspace.
    let b = bob.ws.clone();
    error_is(
        &call(
            addr,
            &bob,
            "POST",
            &format!("/api/workspaces/{b}/backtests"),
            Some(json!({"strategy": "sma_cross", "dataset": ds_id})),
        ),
        400,
        "bad_request",
        "no dataset",
    );
    error_is(
        &call(
            addr,
            &bob,
            "POST",
            &format!("/api/workspaces/{b}/backtests"),
            Some(json!({"strategy_id": st_id, "symbol": "ETH/USDT", "timeframe": "1h"})),
        ),
        400,
        "bad_request",
        "no strategy",
    );
    // ...or Alice's bars by naming the series: workspaces have separate stores.
    error_is(
        &call(
            addr,
            &bob,
            "POST",
            &format!("/api/workspaces/{b}/backtests"),
            Some(json!({"strategy": "sma_cross", "symbol": "ETH/USDT", "timeframe": "1h"})),
        ),
        400,
        "bad_request",
        "no ETH/USDT 1h data is stored",
    );

    // Invitations: Carol joins as a viewer; the link works once.
    let token = inv.body["token"].as_str().unwrap().to_string();
    let joined = call(
        addr,
        &carol,
        "POST",
        &format!("/api/invitations/{token}/accept"),
        None,
    );
    assert_eq!(
        (joined.status, joined.body["role"].clone()),
        (200, json!("viewer")),
        "{}",
        joined.body
    );
    error_is(
        &call(
            addr,
            &bob,
            "POST",
            &format!("/api/invitations/{token}/accept"),
            None,
        ),
        409,
        "conflict",
        "already used",
    );
    error_is(
        &call(addr, &bob, "POST", "/api/invitations/nope/accept", None),
        404,
        "not_found",
        "",
    );
    // A viewer reads everything and writes nothing.
    for path in &reads[..16] {
        let r = call(addr, &carol, "GET", path, None);
        assert_eq!(r.status, 200, "viewer reads {path}: {}", r.body);
    }
    for (method, path, body) in &writes {
        let body = (!body.is_null()).then(|| body.clone());
        error_is(
            &call(addr, &carol, method, path, body),
            403,
            "forbidden",
            "",
        );
    }
    error_is(
        &call(
            addr,
            &carol,
            "GET",
            &format!("/api/workspaces/{a}/invitations"),
            None,
        ),
        403,
        "forbidden",
        "only owners",
    );
    // Promoted to analyst, Carol runs backtests but still manages nobody.
    let promoted = call(
        addr,
        &alice,
        "PUT",
        &format!("/api/workspaces/{a}/members/{}", carol.id),
        Some(json!({"role": "analyst"})),
    );
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    let run = call(
        addr,
        &carol,
        "POST",
        &format!("/api/workspaces/{a}/backtests"),
        Some(json!({"strategy": "sma_cross", "dataset": ds_id})),
    );
    assert_eq!(run.status, 202, "{}", run.body);
    error_is(
        &call(
            addr,
            &carol,
            "POST",
            &format!("/api/workspaces/{a}/invitations"),
            Some(json!({"role": "viewer"})),
        ),
        403,
        "forbidden",
        "only owners can invite",
    );
    error_is(
        &call(
            addr,
            &carol,
            "PUT",
            &format!("/api/workspaces/{a}/members/{}", carol.id),
            Some(json!({"role": "owner"})),
        ),
        403,
        "forbidden",
        "only owners",
    );
    error_is(
        &call(
            addr,
            &alice,
            "PUT",
            &format!("/api/workspaces/{a}/members/{}", carol.id),
            Some(json!({"role": "boss"})),
        ),
        400,
        "bad_request",
        "role 'boss' is not known",
    );
    // The last owner cannot step down or leave.
    error_is(
        &call(
            addr,
            &alice,
            "PUT",
            &format!("/api/workspaces/{a}/members/{}", alice.id),
            Some(json!({"role": "viewer"})),
        ),
        409,
        "conflict",
        "needs an owner",
    );
    error_is(
        &call(
            addr,
            &alice,
            "DELETE",
            &format!("/api/workspaces/{a}/members/{}", alice.id),
            None,
        ),
        409,
        "conflict",
        "needs an owner",
    );
    let members = call(
        addr,
        &carol,
        "GET",
        &format!("/api/workspaces/{a}/members"),
        None,
    );
    assert_eq!(
        members.body.as_array().unwrap().len(),
        2,
        "{}",
        members.body
    );
    // Carol leaves; the workspace is gone for her.
    let left = call(
        addr,
        &carol,
        "DELETE",
        &format!("/api/workspaces/{a}/members/{}", carol.id),
        None,
    );
    assert_eq!(left.status, 204);
    error_is(
        &call(addr, &carol, "GET", &reads[0], None),
        404,
        "not_found",
        "",
    );

    // API tokens: scopes are enforced; tokens cannot mint tokens; revoked tokens stop.
    error_is(
        &call(
            addr,
            &alice,
            "POST",
            "/api/tokens",
            Some(json!({"name": "ci", "scopes": ["admin"]})),
        ),
        400,
        "bad_request",
        "scope 'admin' is not known",
    );
    let ro = call(
        addr,
        &alice,
        "POST",
        "/api/tokens",
        Some(json!({"name": "dashboards", "scopes": ["read"]})),
    );
    assert_eq!(ro.status, 201, "{}", ro.body);
    let ro_auth = format!("Bearer {}", ro.body["token"].as_str().unwrap());
    let ro_h = [("Authorization", ro_auth.as_str())];
    assert_eq!(request(addr, "GET", &reads[0], &ro_h, None).status, 200);
    error_is(
        &request(
            addr,
            "POST",
            &format!("/api/workspaces/{a}/datasets/generate"),
            &ro_h,
            Some(&json!({"symbol": "X/Y", "timeframe": "1h", "bars": 10})),
        ),
        403,
        "forbidden",
        "lacks the 'write' scope",
    );
    let rw = call(
        addr,
        &alice,
        "POST",
        "/api/tokens",
        Some(json!({"name": "bot", "scopes": ["read", "write"]})),
    );
    let rw_auth = format!("Bearer {}", rw.body["token"].as_str().unwrap());
    error_is(
        &request(
            addr,
            "POST",
            "/api/tokens",
            &[("Authorization", rw_auth.as_str())],
            Some(&json!({"name": "more", "scopes": ["write"]})),
        ),
        403,
        "forbidden",
        "API tokens cannot manage tokens",
    );
    let listed = call(addr, &alice, "GET", "/api/tokens", None);
    assert_eq!(listed.body[1]["name"], "dashboards");
    assert!(
        listed.body[0].get("token").is_none(),
        "tokens are never listed"
    );
    let revoked = call(
        addr,
        &alice,
        "DELETE",
        &format!("/api/tokens/{}", ro.body["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(revoked.status, 204);
    error_is(
        &request(addr, "GET", &reads[0], &ro_h, None),
        401,
        "unauthorized",
        "revoked",
    );

    // Spec validation answers with the JSON path and the position inside the rule.
    let mut spec = st.body["spec"].clone();
    spec["entry"]["long"] = json!("crossover(sma(close, $fast), smaa(close, $slow))");
    let checked = call(
        addr,
        &alice,
        "POST",
        "/api/strategies/validate",
        Some(json!({"spec": spec})),
    );
    assert_eq!(checked.status, 200);
    assert_eq!(checked.body["valid"], false);
    let err = &checked.body["errors"][0];
    assert_eq!(err["path"], "entry.long", "{}", checked.body);
    assert_eq!(
        (err["line"].clone(), err["column"].clone()),
        (json!(1), json!(30)),
        "{}",
        checked.body
    );
    assert!(
        err["hint"].as_str().unwrap().contains("sma"),
        "{}",
        checked.body
    );
    let text = call(
        addr,
        &alice,
        "POST",
        "/api/strategies/validate",
        Some(json!({"spec": "{\n  \"version\": 1,\n  \"name\": \"x\",\n}"})),
    );
    assert_eq!(
        (
            text.body["errors"][0]["line"].clone(),
            text.body["valid"].clone()
        ),
        (json!(4), json!(false)),
        "{}",
        text.body
    );
    let ok = call(
        addr,
        &alice,
        "POST",
        "/api/strategies/validate",
        Some(json!({"spec": st.body["spec"]})),
    );
    assert_eq!(ok.body["valid"], true, "{}", ok.body);
    // Saving an invalid spec is refused with the same message; a valid one adds a version.
    error_is(
        &call(
            addr,
            &alice,
            "PUT",
            &format!("/api/workspaces/{a}/strategies/{st_id}"),
            Some(json!({"spec": spec})),
        ),
        400,
        "invalid_spec",
        "entry.long",
    );
    let mut v2 = st.body["spec"].clone();
    v2["description"] = json!("second version");
    let saved = call(
        addr,
        &alice,
        "PUT",
        &format!("/api/workspaces/{a}/strategies/{st_id}"),
        Some(json!({"spec": v2})),
    );
    assert_eq!(saved.body["latest_version"], 2, "{}", saved.body);
    let versions = call(
        addr,
        &alice,
        "GET",
        &format!("/api/workspaces/{a}/strategies/{st_id}/versions"),
        None,
    );
    assert_eq!(versions.body.as_array().unwrap().len(), 2);
    assert_eq!(
        versions.body[1]["spec"], st.body["spec"],
        "version 1 is kept as it was"
    );
    error_is(
        &call(
            addr,
            &alice,
            "POST",
            &format!("/api/workspaces/{a}/strategies"),
            Some(json!({"name": "cross", "template": "ema_cross"})),
        ),
        409,
        "conflict",
        "already exists",
    );

    // CSV upload and candles.
    let csv: String = std::iter::once("time,open,high,low,close,volume\n".to_string())
        .chain((0..120).map(|i| {
            let p = 100.0 + f64::from(i);
            format!(
                "{},{p},{},{},{},{}\n",
                1_700_000_000 + i * 3600,
                p + 2.0,
                p - 1.0,
                p + 1.0,
                10 + i
            )
        }))
        .collect();
    let up = upload(
        addr,
        &alice,
        &format!("/api/workspaces/{a}/datasets/upload?symbol=ACME/USD&timeframe=1h"),
        &csv,
    );
    assert_eq!(up.status, 201, "{}", up.body);
    assert_eq!(up.body["bars"], 120);
    let up_id = up.body["id"].as_str().unwrap().to_string();
    let bad = upload(
        addr,
        &alice,
        &format!("/api/workspaces/{a}/datasets/upload?symbol=ACME/USD&timeframe=1h"),
        "time,open,high,low,close\n1700000000,1,2,0.5,x\n",
    );
    error_is(&bad, 400, "bad_request", "line 2");
    let wrong_tf = upload(
        addr,
        &alice,
        &format!("/api/workspaces/{a}/datasets/upload?symbol=ACME/USD&timeframe=1d"),
        &csv,
    );
    error_is(&wrong_tf, 400, "bad_request", "1h");
    let still = call(
        addr,
        &alice,
        "GET",
        &format!("/api/workspaces/{a}/datasets/{up_id}"),
        None,
    );
    assert_eq!(
        still.body["bars"], 120,
        "a failed upload leaves the dataset as it was"
    );
    let candles = call(
        addr,
        &alice,
        "GET",
        &format!("/api/workspaces/{a}/datasets/{up_id}/candles?limit=10"),
        None,
    );
    assert_eq!(candles.body["t"].as_array().unwrap().len(), 10);
    assert_eq!(candles.body["t"][9], up.body["last_ts"]);
    assert_eq!(candles.body["c"][9], json!(220.0));
    error_is(
        &call(
            addr,
            &alice,
            "GET",
            &format!("/api/workspaces/{a}/datasets/{up_id}/candles?limit=0"),
            None,
        ),
        400,
        "bad_request",
        "limit",
    );
    error_is(
        &call(
            addr,
            &alice,
            "POST",
            &format!("/api/workspaces/{a}/datasets/generate"),
            Some(json!({"symbol": "BTC USDT", "timeframe": "1h", "bars": 10})),
        ),
        400,
        "bad_request",
        "symbol",
    );
    error_is(
        &call(
            addr,
            &alice,
            "POST",
            &format!("/api/workspaces/{a}/datasets/generate"),
            Some(json!({"symbol": "BTC/USDT", "timeframe": "7x", "bars": 10})),
        ),
        400,
        "bad_request",
        "timeframe",
    );
    let filtered = call(
        addr,
        &alice,
        "GET",
        &format!("/api/workspaces/{a}/datasets?symbol=ACME/USD"),
        None,
    );
    assert_eq!(
        filtered.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        filtered.body
    );
    let deleted = call(
        addr,
        &alice,
        "DELETE",
        &format!("/api/workspaces/{a}/datasets/{up_id}"),
        None,
    );
    assert_eq!(deleted.status, 204);
    error_is(
        &call(
            addr,
            &alice,
            "GET",
            &format!("/api/workspaces/{a}/datasets/{up_id}"),
            None,
        ),
        404,
        "not_found",
        "",
    );

    credentials(addr, &alice, &bob);
    websocket(addr, &alice, &bob, &ds_id);
    two_factor(addr, &bob);
    operations(addr, &alice);

    // A password change ends every session.
    error_is(
        &call(
            addr,
            &alice,
            "POST",
            "/api/auth/password",
            Some(json!({"current_password": "wrong one!!", "new_password": "another long one"})),
        ),
        401,
        "unauthorized",
        "current password",
    );
    let changed = call(
        addr,
        &alice,
        "POST",
        "/api/auth/password",
        Some(json!({"current_password": "a long password", "new_password": "another long one"})),
    );
    assert_eq!(changed.status, 204, "{}", changed.body);
    error_is(
        &call(addr, &alice, "GET", "/api/me", None),
        401,
        "unauthorized",
        "",
    );
    let again = request(
        addr,
        "POST",
        "/api/auth/login",
        &[],
        Some(&json!({"email": "alice@example.com", "password": "another long one"})),
    );
    assert_eq!(again.status, 200);
}

fn credentials(addr: &str, alice: &User, bob: &User) {
    let a = &alice.ws;
    let path = format!("/api/workspaces/{a}/credentials");
    let body = json!({"venue": "binance", "label": "main", "api_key": "AKIAVERYPUBLIC12345678",
                      "api_secret": "s3cr3t-never-shown-again", "passphrase": "pass-never-shown"});
    let created = call(addr, alice, "POST", &path, Some(body.clone()));
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["api_key_masked"], "AKIA****5678");
    let text = created.body.to_string();
    for secret in [
        "s3cr3t-never-shown-again",
        "pass-never-shown",
        "AKIAVERYPUBLIC12345678",
    ] {
        assert!(!text.contains(secret), "the API answered with {secret}");
    }
    error_is(
        &call(addr, alice, "POST", &path, Some(body.clone())),
        409,
        "conflict",
        "already exists",
    );
    error_is(
        &call(
            addr,
            alice,
            "POST",
            &path,
            Some(json!({"venue": "Binance!", "label": "x", "api_key": "k", "api_secret": "s"})),
        ),
        400,
        "bad_request",
        "venue",
    );
    error_is(
        &call(
            addr,
            alice,
            "POST",
            &path,
            Some(json!({"venue": "kraken", "label": "x", "api_key": "k", "api_secret": ""})),
        ),
        400,
        "bad_request",
        "api_secret",
    );
    // Another workspace's credentials do not exist for Bob.
    error_is(&call(addr, bob, "GET", &path, None), 404, "not_found", "");
    error_is(
        &call(addr, bob, "POST", &path, Some(body.clone())),
        404,
        "not_found",
        "",
    );
    // As an analyst he sees them masked, and cannot add or remove any.
    let inv = call(
        addr,
        alice,
        "POST",
        &format!("/api/workspaces/{a}/invitations"),
        Some(json!({"role": "analyst"})),
    );
    let token = inv.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        call(
            addr,
            bob,
            "POST",
            &format!("/api/invitations/{token}/accept"),
            None
        )
        .status,
        200
    );
    let listed = call(addr, bob, "GET", &path, None);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body[0]["api_key_masked"], "AKIA****5678");
    assert!(
        !listed.body.to_string().contains("s3cr3t"),
        "{}",
        listed.body
    );
    error_is(
        &call(addr, bob, "POST", &path, Some(body)),
        403,
        "forbidden",
        "only owners can add exchange credentials",
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    error_is(
        &call(addr, bob, "DELETE", &format!("{path}/{id}"), None),
        403,
        "forbidden",
        "only owners",
    );
    assert_eq!(
        call(
            addr,
            alice,
            "DELETE",
            &format!("/api/workspaces/{a}/members/{}", bob.id),
            None
        )
        .status,
        204
    );
    assert_eq!(
        call(addr, alice, "DELETE", &format!("{path}/{id}"), None).status,
        204
    );
    assert_eq!(call(addr, alice, "GET", &path, None).body, json!([]));
}

fn two_factor(addr: &str, bob: &User) {
    let now = || skeet_store::now_ms() / 1000;
    let setup = call(addr, bob, "POST", "/api/auth/totp/setup", None);
    assert_eq!(setup.status, 200, "{}", setup.body);
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    assert!(
        setup.body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/SKEET:bob@example.com?secret=")
    );
    error_is(
        &call(
            addr,
            bob,
            "POST",
            "/api/auth/totp/enable",
            Some(json!({"code": "000000x"})),
        ),
        400,
        "bad_request",
        "wrong code",
    );
    let code = skeet_server::totp_code(&secret, now()).unwrap();
    let on = call(
        addr,
        bob,
        "POST",
        "/api/auth/totp/enable",
        Some(json!({"code": code})),
    );
    assert_eq!(on.status, 204, "{}", on.body);
    assert_eq!(
        call(addr, bob, "GET", "/api/me", None).body["totp_enabled"],
        true
    );
    let creds = |totp: Option<&str>| json!({"email": "bob@example.com", "password": "a long password", "totp": totp});
    error_is(
        &request(addr, "POST", "/api/auth/login", &[], Some(&creds(None))),
        401,
        "totp_required",
        "6-digit code",
    );
    error_is(
        &request(
            addr,
            "POST",
            "/api/auth/login",
            &[],
            Some(&creds(Some("123456"))),
        ),
        401,
        "unauthorized",
        "wrong two-factor code",
    );
    let code = skeet_server::totp_code(&secret, now()).unwrap();
    let ok = request(
        addr,
        "POST",
        "/api/auth/login",
        &[],
        Some(&creds(Some(&code))),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let off = call(
        addr,
        bob,
        "POST",
        "/api/auth/totp/disable",
        Some(json!({"code": code})),
    );
    assert_eq!(off.status, 204, "{}", off.body);
    let plain = request(addr, "POST", "/api/auth/login", &[], Some(&creds(None)));
    assert_eq!(plain.status, 200, "{}", plain.body);
}

fn upload(addr: &str, u: &User, path: &str, csv: &str) -> common::Response {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: {}\r\nContent-Type: text/csv\r\nContent-Length: {}\r\n\r\n{csv}",
        u.bearer,
        csv.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    common::Response {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        headers: Vec::new(),
        body: serde_json::from_str(body).unwrap_or(Value::String(body.to_string())),
    }
}

type Ws = tungstenite::WebSocket<TcpStream>;

fn ws_connect(addr: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let stream = TcpStream::connect(addr).unwrap();
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/api/ws"))
            .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tungstenite::client(req, stream) {
        Ok((ws, _)) => {
            ws.get_ref()
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            Ok(ws)
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => {
            Err(r.status().as_u16())
        }
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

fn ws_send(ws: &mut Ws, v: Value) {
    ws.send(tungstenite::Message::text(v.to_string())).unwrap();
}

fn ws_next(ws: &mut Ws) -> Value {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            tungstenite::Message::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

fn websocket(addr: &str, alice: &User, bob: &User, ds_id: &str) {
    let a = &alice.ws;
    // Authentication, and cookie upgrades only from our own pages.
    assert_eq!(ws_connect(addr, &[]).err(), Some(401));
    let cookie = format!("skeet_session={}", alice.token);
    assert_eq!(
        ws_connect(
            addr,
            &[("Cookie", &cookie), ("Origin", "https://evil.example")]
        )
        .err(),
        Some(403)
    );
    assert!(
        ws_connect(
            addr,
            &[("Cookie", &cookie), ("Origin", &format!("http://{addr}"))]
        )
        .is_ok()
    );

    let mut ws = ws_connect(addr, &[("Authorization", &alice.bearer)]).unwrap();
    assert_eq!(ws_next(&mut ws)["type"], "hello");
    // Subscriptions are checked against the caller's workspaces.
    for (channel, code) in [
        (format!("workspace:{}", bob.ws), "not_found"),
        ("workspace:made-up".to_string(), "not_found"),
        ("job:nope".to_string(), "not_found"),
        ("prices".to_string(), "bad_request"),
    ] {
        ws_send(&mut ws, json!({"op": "subscribe", "channel": channel}));
        let r = ws_next(&mut ws);
        assert_eq!(
            (r["type"].clone(), r["code"].clone()),
            (json!("error"), json!(code)),
            "{channel}: {r}"
        );
    }
    ws.send(tungstenite::Message::text("not json")).unwrap();
    assert_eq!(
        ws_next(&mut ws)["code"],
        "bad_request",
        "bad input answers, the socket stays"
    );
    ws_send(&mut ws, json!({"op": "ping"}));
    assert_eq!(ws_next(&mut ws)["type"], "pong");
    ws_send(
        &mut ws,
        json!({"op": "subscribe", "channel": format!("workspace:{a}")}),
    );
    assert_eq!(ws_next(&mut ws)["type"], "subscribed");

    let mut bobs = ws_connect(addr, &[("Authorization", &bob.bearer)]).unwrap();
    ws_next(&mut bobs);
    ws_send(
        &mut bobs,
        json!({"op": "subscribe", "channel": format!("workspace:{}", bob.ws)}),
    );
    assert_eq!(ws_next(&mut bobs)["type"], "subscribed");

    // A job's life arrives on the workspace channel as it happens, ending in success.
    let job = call(
        addr,
        alice,
        "POST",
        &format!("/api/workspaces/{a}/backtests"),
        Some(json!({"strategy": "ema_cross", "dataset": ds_id})),
    );
    let id = job.body["id"].as_str().unwrap().to_string();
    let mut states = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let e = ws_next(&mut ws);
        assert_eq!(e["channel"], format!("workspace:{a}"), "{e}");
        assert_eq!(e["data"]["workspace_id"], a.as_str(), "{e}");
        if e["data"]["id"] != id.as_str() {
            continue;
        }
        let state = e["data"]["state"].as_str().unwrap().to_string();
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        if state == "succeeded" {
            break;
        }
    }
    assert_eq!(
        states.last().map(String::as_str),
        Some("succeeded"),
        "{states:?}"
    );
    assert!(
        states.len() >= 2,
        "saw the job before it finished: {states:?}"
    );
    // Bob heard nothing of Alice's job.
    bobs.get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(
        bobs.read().is_err(),
        "Bob received an event of another workspace"
    );
}

fn operations(addr: &str, alice: &User) {
    // Request ids: given ones are echoed, otherwise one is made.
    let mine = request(
        addr,
        "GET",
        "/api/me",
        &[
            ("Authorization", &alice.bearer),
            ("X-Request-Id", "trace-42"),
        ],
        None,
    );
    assert!(
        mine.headers
            .contains(&("x-request-id".into(), "trace-42".into())),
        "{:?}",
        mine.headers
    );
    let made = request(addr, "GET", "/healthz", &[], None);
    assert!(
        made.headers
            .iter()
            .any(|(k, v)| k == "x-request-id" && v.len() == 16),
        "{:?}",
        made.headers
    );

    let m = request(addr, "GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    let text = m.body.as_str().unwrap();
    for needle in [
        "skeet_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/workspaces/{ws}/datasets\"",
        "skeet_http_requests_total{method=\"POST\",route=\"/api/workspaces/{ws}/backtests\",status=\"202\"}",
        "skeet_jobs{kind=\"backtest\",state=\"succeeded\"}",
        "skeet_jobs{kind=\"optimize\",state=",
        "skeet_job_duration_seconds_bucket{kind=\"backtest\"",
        "skeet_db_pool_connections{state=\"idle\"}",
        "skeet_ws_clients ",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }

    // The served OpenAPI document is the committed one; the docs UI is served offline.
    let served = request(addr, "GET", "/api/openapi.json", &[], None);
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(served.body, committed);
    let ui = request(addr, "GET", "/api/docs/", &[], None);
    assert_eq!(ui.status, 200);
    assert!(ui.body.as_str().unwrap().contains("swagger"), "{}", ui.body);
}

#[test]
fn logs_are_json_with_request_ids_and_never_hold_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let server = common::start_logged(&dir.path().join("data"), &log);
    let addr = server.addr.as_str();
    let demo_password = server
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("demo login: "))
        .unwrap()
        .split_once(" / ")
        .unwrap()
        .1
        .to_string();
    let u = sign_up(addr, "secretive@example.com");
    let api = call(
        addr,
        &u,
        "POST",
        "/api/tokens",
        Some(json!({"name": "t", "scopes": ["read"]})),
    );
    let api_token = api.body["token"].as_str().unwrap().to_string();
    let inv = call(
        addr,
        &u,
        "POST",
        &format!("/api/workspaces/{}/invitations", u.ws),
        Some(json!({"role": "viewer"})),
    );
    let inv_token = inv.body["token"].as_str().unwrap().to_string();
    let totp = call(addr, &u, "POST", "/api/auth/totp/setup", None);
    let totp_secret = totp.body["secret"].as_str().unwrap().to_string();
    let cred = call(
        addr,
        &u,
        "POST",
        &format!("/api/workspaces/{}/credentials", u.ws),
        Some(
            json!({"venue": "kraken", "label": "k", "api_key": "KEY-logged-never-1234", "api_secret": "SECRET-logged-never"}),
        ),
    );
    assert_eq!(cred.status, 201, "{}", cred.body);
    // Failures log too: a wrong password, a bad token, a bad body.
    request(
        addr,
        "POST",
        "/api/auth/login",
        &[],
        Some(&json!({"email": "secretive@example.com", "password": "not the password 123"})),
    );
    request(
        addr,
        "GET",
        "/api/me",
        &[("Authorization", "Bearer skt_0123456789abcdef")],
        None,
    );
    call(
        addr,
        &u,
        "POST",
        &format!("/api/workspaces/{}/strategies", u.ws),
        Some(json!({"name": 5})),
    );
    let traced = request(
        addr,
        "GET",
        "/api/me",
        &[("Authorization", &u.bearer), ("X-Request-Id", "find-me-42")],
        None,
    );
    assert_eq!(traced.status, 200);
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        "a long password",
        "not the password 123",
        demo_password.as_str(),
        u.token.as_str(),
        api_token.as_str(),
        inv_token.as_str(),
        totp_secret.as_str(),
        "skt_0123456789abcdef",
        "KEY-logged-never-1234",
        "SECRET-logged-never",
    ] {
        assert!(!text.contains(secret), "the log holds a secret ({secret})");
    }
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["request_id"] == "find-me-42" || l["span"]["request_id"] == "find-me-42"),
        "no log line of the traced request:\n{text}"
    );
}

#[test]
fn the_platform_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), None);
    platform(&server.addr);
}

#[test]
fn the_platform_on_postgres() {
    let Some(pg) = PgDatabase::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Some(&pg.url));
    platform(&server.addr);
}
