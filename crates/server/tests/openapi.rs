//! The committed OpenAPI document (`docs/openapi.json`, what clients and the dashboard's
//! generated types are built from) must equal the one generated from the handlers. After
//! changing the API, regenerate it with
//! `SKEET_UPDATE_OPENAPI=1 cargo test -p skeet-server --test openapi`.

#![allow(clippy::unwrap_used, reason = "test")]

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = skeet_server::openapi().to_pretty_json().unwrap() + "\n";
    let path = committed_path();
    if std::env::var_os("SKEET_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date with the API; regenerate it with \
         SKEET_UPDATE_OPENAPI=1 cargo test -p skeet-server --test openapi"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_describes_every_endpoint_with_errors() {
    let doc: serde_json::Value =
        serde_json::from_str(&skeet_server::openapi().to_json().unwrap()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/auth/login",
        "/api/workspaces/{ws}/datasets/upload",
        "/api/workspaces/{ws}/datasets/{id}/candles",
        "/api/strategies/validate",
        "/api/workspaces/{ws}/backtests/{id}/trades",
        "/api/workspaces/{ws}/optimizations",
        "/api/workspaces/{ws}/invitations",
        "/api/ws",
    ] {
        assert!(paths.contains_key(p), "{p} is missing");
    }
    // Every operation except health, readiness and the websocket documents an error body.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if ["/healthz", "/readyz"].contains(&path.as_str()) {
                continue;
            }
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.iter().any(|(code, r)| code.starts_with('4')
                    && r["content"]["application/json"]["schema"]["$ref"]
                        == "#/components/schemas/ErrorBody"),
                "{method} {path} documents no error"
            );
        }
    }
}
