//! The credential vault on SQLite and PostgreSQL: secrets round-trip, only masked keys are
//! readable, a ciphertext moved to another workspace or credential does not open, rotation
//! re-wraps every data key and old credentials still open, and no plaintext secret or key
//! reaches the database.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use skeet_store::StoreError;
use skeet_store::accounts::Accounts;
use skeet_store::vault::{CredentialSecret, MasterKeys, Vault, mask};
use sqlx::Row;

const KEY1: &str = "1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn secret(tag: &str) -> CredentialSecret {
    CredentialSecret {
        api_key: format!("APIKEY-{tag}-0123456789"),
        api_secret: format!("SECRET-{tag}-abcdefghijklmnop"),
        passphrase: Some(format!("PASS-{tag}")),
    }
}

async fn two_workspaces(t: &common::TestDb) -> (String, String, String) {
    let acc = Accounts::new(t.db.clone());
    let (a, ws_a) = acc.create_user("a@example.com", "h", false).await.unwrap();
    let (_, ws_b) = acc.create_user("b@example.com", "h", false).await.unwrap();
    (a.id, ws_a, ws_b)
}

#[tokio::test]
async fn secrets_round_trip_and_only_the_masked_key_is_readable() {
    for t in common::both().await {
        let (user, ws, _) = two_workspaces(&t).await;
        let vault = Vault::new(t.db.clone(), MasterKeys::parse(KEY1).unwrap());
        let c = vault
            .put(&ws, "binance", "main", &secret("a"), &user)
            .await
            .unwrap();
        assert_eq!(c.api_key_masked, "APIK****6789", "{}", t.name);
        let listed = vault.list(&ws).await.unwrap();
        assert_eq!(listed, vec![c.clone()]);
        let opened = vault.open(&ws, &c.id).await.unwrap();
        assert_eq!(opened.api_secret, "SECRET-a-abcdefghijklmnop");
        assert_eq!(opened.passphrase.as_deref(), Some("PASS-a"));
        assert!(matches!(
            vault.put(&ws, "kraken", "main", &secret("b"), &user).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(
            format!("{opened:?}").contains("***"),
            "Debug never shows a secret"
        );
        vault.delete(&ws, &c.id).await.unwrap();
        assert!(matches!(
            vault.open(&ws, &c.id).await,
            Err(StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_workspace_or_credential_does_not_open() {
    for t in common::both().await {
        let (user, ws_a, ws_b) = two_workspaces(&t).await;
        let vault = Vault::new(t.db.clone(), MasterKeys::parse(KEY1).unwrap());
        let a1 = vault
            .put(&ws_a, "binance", "one", &secret("a1"), &user)
            .await
            .unwrap();
        let a2 = vault
            .put(&ws_a, "binance", "two", &secret("a2"), &user)
            .await
            .unwrap();
        let b1 = vault
            .put(&ws_b, "binance", "one", &secret("b1"), &user)
            .await
            .unwrap();
        let sealed_of = |id: String| {
            let db = t.db.clone();
            async move {
                let s: String = sqlx::query_scalar("SELECT sealed FROM credentials WHERE id = $1")
                    .bind(id)
                    .fetch_one(db.pool())
                    .await
                    .unwrap();
                s
            }
        };
        let set_sealed = |id: String, sealed: String| {
            let db = t.db.clone();
            async move {
                sqlx::query("UPDATE credentials SET sealed = $1 WHERE id = $2")
                    .bind(sealed)
                    .bind(id)
                    .execute(db.pool())
                    .await
                    .unwrap();
            }
        };
        // Another workspace's ciphertext (and data key) in B's row.
        set_sealed(b1.id.clone(), sealed_of(a1.id.clone()).await).await;
        assert!(
            matches!(vault.open(&ws_b, &b1.id).await, Err(StoreError::Vault(_))),
            "{}",
            t.name
        );
        // Another credential's ciphertext in the same workspace.
        set_sealed(a2.id.clone(), sealed_of(a1.id.clone()).await).await;
        assert!(matches!(
            vault.open(&ws_a, &a2.id).await,
            Err(StoreError::Vault(_))
        ));
        // The untouched one still opens.
        assert_eq!(
            vault.open(&ws_a, &a1.id).await.unwrap().api_key,
            secret("a1").api_key
        );
        // A wrong master key opens nothing.
        let other = Vault::new(
            t.db.clone(),
            MasterKeys::parse("1:ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
                .unwrap(),
        );
        assert!(matches!(
            other.open(&ws_a, &a1.id).await,
            Err(StoreError::Vault(_))
        ));
    }
}

#[tokio::test]
async fn rotation_rewraps_every_data_key_and_old_credentials_still_open() {
    for t in common::both().await {
        let (user, ws_a, ws_b) = two_workspaces(&t).await;
        let v1 = MasterKeys::parse(KEY1).unwrap();
        let vault = Vault::new(t.db.clone(), v1.clone());
        let a = vault
            .put(&ws_a, "binance", "one", &secret("a"), &user)
            .await
            .unwrap();
        let b = vault
            .put(&ws_b, "kraken", "one", &secret("b"), &user)
            .await
            .unwrap();
        let (v2, version) = v1.with_new_version();
        assert_eq!(version, 2);
        let rotated = Vault::new(t.db.clone(), v2.clone());
        assert_eq!(rotated.rotate().await.unwrap(), 2, "{}", t.name);
        assert_eq!(rotated.oldest_version_in_use().await.unwrap(), Some(2));
        // Only the new key is needed now: drop version 1 from the key file.
        let text = v2.to_file_text();
        let only_v2: String = text
            .lines()
            .filter(|l| !l.starts_with("1:"))
            .collect::<Vec<_>>()
            .join("\n");
        let v2_only = Vault::new(t.db.clone(), MasterKeys::parse(&only_v2).unwrap());
        assert_eq!(
            v2_only.open(&ws_a, &a.id).await.unwrap().api_secret,
            secret("a").api_secret
        );
        assert_eq!(
            v2_only.open(&ws_b, &b.id).await.unwrap().api_secret,
            secret("b").api_secret
        );
        // The old key alone no longer opens the re-wrapped data keys.
        assert!(matches!(
            vault.open(&ws_a, &a.id).await,
            Err(StoreError::Vault(_))
        ));
    }
}

#[tokio::test]
async fn no_plaintext_secret_or_key_reaches_the_database() {
    for t in common::both().await {
        let (user, ws, _) = two_workspaces(&t).await;
        let keys = MasterKeys::parse(KEY1).unwrap();
        let vault = Vault::new(t.db.clone(), keys);
        let s = secret("leak");
        vault.put(&ws, "coinbase", "desk", &s, &user).await.unwrap();
        let mut stored = String::new();
        for table in ["credentials", "workspace_keys"] {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                .fetch_all(t.db.pool())
                .await
                .unwrap();
            for r in &rows {
                for i in 0..r.len() {
                    if let Ok(Some(v)) = r.try_get::<Option<String>, _>(i) {
                        stored.push_str(&v);
                        stored.push('\n');
                    }
                }
            }
        }
        assert!(!stored.is_empty());
        for needle in [
            s.api_key.as_str(),
            s.api_secret.as_str(),
            "PASS-leak",
            "000102030405060708090a0b0c0d0e0f",
            &hex::encode(s.api_secret.as_bytes()),
        ] {
            assert!(
                !stored.contains(needle),
                "{}: the database holds {needle}",
                t.name
            );
        }
        assert!(stored.contains(&mask(&s.api_key)));
    }
}

#[test]
fn key_files_and_variables_are_parsed_strictly() {
    assert_eq!(MasterKeys::parse(KEY1).unwrap().current(), 1);
    let two = format!("# comment\n{KEY1}\n2:{}\n", "11".repeat(32));
    assert_eq!(MasterKeys::parse(&two).unwrap().current(), 2);
    let bare = "22".repeat(32);
    assert_eq!(MasterKeys::parse(&bare).unwrap().current(), 1);
    for bad in ["", "1:abcd", "x:00", &format!("0:{}", "00".repeat(32))] {
        assert!(MasterKeys::parse(bad).is_err(), "{bad:?}");
    }
    let generated = MasterKeys::generate_file_text();
    assert!(MasterKeys::parse(&generated).is_ok());
    assert!(
        !format!("{:?}", MasterKeys::parse(&generated).unwrap())
            .contains(&generated[generated.len() - 20..generated.len() - 1])
    );
}
