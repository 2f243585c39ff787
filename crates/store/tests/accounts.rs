//! Accounts on SQLite and PostgreSQL: users with personal workspaces, unique emails, roles
//! and the last-owner rule, sessions (hashed, expiring), API tokens (scoped, revocable), and
//! password changes ending sessions.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use skeet_store::StoreError;
use skeet_store::accounts::{Accounts, Role, token_hash};

#[tokio::test]
async fn users_own_a_personal_workspace_and_emails_are_unique() {
    for t in common::both().await {
        let acc = Accounts::new(t.db.clone());
        let (alice, ws) = acc
            .create_user(" Alice@Example.com ", "hash-a", false)
            .await
            .unwrap();
        assert_eq!(alice.email, "alice@example.com", "{}", t.name);
        assert!(!alice.is_admin);
        let m = acc.memberships(&alice.id).await.unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].workspace_id.as_str(), m[0].role, m[0].personal),
            (ws.as_str(), Role::Owner, true)
        );
        let (found, hash) = acc.find_by_email("ALICE@example.com").await.unwrap();
        assert_eq!(
            (found.id.as_str(), hash.as_str()),
            (alice.id.as_str(), "hash-a")
        );
        assert!(matches!(
            acc.create_user("alice@EXAMPLE.com", "x", false).await,
            Err(StoreError::Conflict(m)) if m == "an account with the email alice@example.com already exists"
        ));
        assert!(matches!(
            acc.find_by_email("bob@example.com").await,
            Err(StoreError::NotFound)
        ));
        let (admin, _) = acc
            .create_user("root@example.com", "h", true)
            .await
            .unwrap();
        assert!(acc.user(&admin.id).await.unwrap().is_admin);
    }
}

#[tokio::test]
async fn roles_and_the_last_owner() {
    for t in common::both().await {
        let acc = Accounts::new(t.db.clone());
        let (alice, _) = acc
            .create_user("alice@example.com", "h", false)
            .await
            .unwrap();
        let (bob, bob_ws) = acc
            .create_user("bob@example.com", "h", false)
            .await
            .unwrap();
        let team = acc.create_workspace(&alice.id, "Team").await.unwrap();
        assert_eq!(acc.role(&alice.id, &team).await.unwrap(), Some(Role::Owner));
        assert_eq!(acc.role(&bob.id, &team).await.unwrap(), None, "{}", t.name);
        assert_eq!(acc.role(&alice.id, &bob_ws).await.unwrap(), None);
        acc.set_role(&team, &bob.id, Role::Analyst).await.unwrap();
        assert_eq!(acc.role(&bob.id, &team).await.unwrap(), Some(Role::Analyst));
        let names: Vec<String> = acc
            .memberships(&bob.id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["bob@example.com", "Team"]);
        assert!(matches!(
            acc.set_role(&team, &alice.id, Role::Viewer).await,
            Err(StoreError::Conflict(_))
        ));
        acc.set_role(&team, &bob.id, Role::Owner).await.unwrap();
        acc.set_role(&team, &alice.id, Role::Viewer).await.unwrap();
        assert_eq!(
            acc.role(&alice.id, &team).await.unwrap(),
            Some(Role::Viewer)
        );
    }
    assert!(!Role::Viewer.can_write() && Role::Analyst.can_write());
    assert!(!Role::Analyst.can_trade_live() && Role::Trader.can_trade_live());
    assert!(Role::Owner.can_manage() && !Role::Trader.can_manage());
}

#[tokio::test]
async fn sessions_and_api_tokens_are_stored_hashed() {
    for t in common::both().await {
        let acc = Accounts::new(t.db.clone());
        let (alice, _) = acc
            .create_user("alice@example.com", "h", false)
            .await
            .unwrap();
        acc.create_session(&alice.id, "session-secret", "csrf-1", 60_000)
            .await
            .unwrap();
        let (u, csrf) = acc.session("session-secret").await.unwrap();
        assert_eq!(
            (u.id.as_str(), csrf.as_str()),
            (alice.id.as_str(), "csrf-1")
        );
        // The database holds only the hash.
        let stored: String = sqlx::query_scalar("SELECT token_hash FROM sessions")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
        assert_eq!(stored, token_hash("session-secret"));
        assert_ne!(stored, "session-secret");
        // Expired sessions do not count.
        acc.create_session(&alice.id, "old", "c", -1).await.unwrap();
        assert!(
            matches!(acc.session("old").await, Err(StoreError::NotFound)),
            "{}",
            t.name
        );
        acc.delete_session("session-secret").await.unwrap();
        assert!(matches!(
            acc.session("session-secret").await,
            Err(StoreError::NotFound)
        ));

        let id = acc
            .create_api_token(&alice.id, "ci", "api-secret", &["read", "trade"])
            .await
            .unwrap();
        let (u, scopes) = acc.api_token("api-secret").await.unwrap();
        assert_eq!(
            (u.id, scopes),
            (
                alice.id.clone(),
                vec!["read".to_string(), "trade".to_string()]
            )
        );
        // Using the token records it (to the minute); a second use within the minute does not
        // write again.
        let used = acc.api_tokens(&alice.id).await.unwrap()[0]
            .last_used_at
            .unwrap();
        acc.api_token("api-secret").await.unwrap();
        assert_eq!(
            acc.api_tokens(&alice.id).await.unwrap()[0].last_used_at,
            Some(used)
        );
        acc.revoke_api_token(&alice.id, &id).await.unwrap();
        assert!(matches!(
            acc.api_token("api-secret").await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            acc.revoke_api_token(&alice.id, &id).await,
            Err(StoreError::NotFound)
        ));

        // A new password ends every session.
        acc.create_session(&alice.id, "s2", "c", 60_000)
            .await
            .unwrap();
        acc.set_password(&alice.id, "new-hash").await.unwrap();
        assert!(matches!(acc.session("s2").await, Err(StoreError::NotFound)));
        assert_eq!(
            acc.find_by_email("alice@example.com").await.unwrap().1,
            "new-hash"
        );
    }
}

#[tokio::test]
async fn repeated_failures_lock_a_key_out_until_the_lock_ends() {
    for t in common::both().await {
        let acc = Accounts::new(t.db.clone());
        for _ in 0..2 {
            acc.record_failure("email:a@b.co", 3, 60_000, 60_000)
                .await
                .unwrap();
        }
        assert_eq!(
            acc.throttled("email:a@b.co").await.unwrap(),
            None,
            "{}",
            t.name
        );
        acc.record_failure("email:a@b.co", 3, 60_000, 60_000)
            .await
            .unwrap();
        let left = acc.throttled("email:a@b.co").await.unwrap().unwrap();
        assert!(left > 50_000 && left <= 60_000, "{left}");
        assert_eq!(acc.throttled("email:other@b.co").await.unwrap(), None);
        acc.clear_failures("email:a@b.co").await.unwrap();
        assert_eq!(acc.throttled("email:a@b.co").await.unwrap(), None);
        // Failures outside the window start a new count.
        acc.record_failure("ip:1", 2, 0, 60_000).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        acc.record_failure("ip:1", 2, 0, 60_000).await.unwrap();
        assert_eq!(acc.throttled("ip:1").await.unwrap(), None, "{}", t.name);
    }
}
