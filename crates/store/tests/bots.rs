//! Bots on SQLite and PostgreSQL: workspace isolation, one runner at a time through the
//! lease, the fencing token that silences a runner whose lease was taken over, events and
//! the order journal.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod common;

use serde_json::json;
use skeet_store::StoreError;
use skeet_store::accounts::Accounts;
use skeet_store::bots::{BotEvent, Bots, JournalEntry, Lease, NewBot};

async fn two_workspaces(t: &common::TestDb) -> (String, String, String) {
    let acc = Accounts::new(t.db.clone());
    let (a, ws_a) = acc.create_user("a@example.com", "h", false).await.unwrap();
    let (_, ws_b) = acc.create_user("b@example.com", "h", false).await.unwrap();
    (a.id, ws_a, ws_b)
}

fn new_bot<'a>(name: &'a str, config: &'a serde_json::Value) -> NewBot<'a> {
    NewBot {
        name,
        mode: "paper",
        venue: "replay",
        config,
        created_by: None,
    }
}

#[tokio::test]
async fn bots_belong_to_their_workspace() {
    for t in common::both().await {
        let (_, ws, other) = two_workspaces(&t).await;
        let bots = Bots::new(t.db.clone());
        let cfg = json!({"symbol": "BTC/USDT"});
        let b = bots.create(&ws, &new_bot("one", &cfg)).await.unwrap();
        assert_eq!(
            (b.state.as_str(), b.desired.as_str(), b.fence),
            ("stopped", "stopped", 0)
        );
        assert_eq!(b.config, cfg, "{}", t.name);
        assert!(matches!(
            bots.create(&ws, &new_bot("one", &cfg)).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            bots.get(&other, &b.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            bots.set_desired(&other, &b.id, "running").await,
            Err(StoreError::NotFound)
        ));
        assert!(bots.list(&other).await.unwrap().is_empty());
        assert_eq!(bots.list(&ws).await.unwrap().len(), 1);
        bots.set_desired(&ws, &b.id, "running").await.unwrap();
        assert!(matches!(
            bots.delete(&ws, &b.id).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(bots.stop_all(&ws).await.unwrap(), 1);
        bots.delete(&ws, &b.id).await.unwrap();
        assert!(matches!(
            bots.get(&ws, &b.id).await,
            Err(StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn one_runner_at_a_time_and_a_stale_runner_cannot_write() {
    for t in common::both().await {
        let (_, ws, _) = two_workspaces(&t).await;
        let bots = Bots::new(t.db.clone());
        let cfg = json!({});
        let b = bots.create(&ws, &new_bot("b", &cfg)).await.unwrap();
        assert!(
            bots.claim("w1", 60_000).await.unwrap().is_none(),
            "stopped bots are not claimed"
        );
        bots.set_desired(&ws, &b.id, "running").await.unwrap();
        let first = bots.claim("w1", 60_000).await.unwrap().unwrap();
        assert_eq!(first.fence, 1);
        assert!(
            bots.claim("w2", 60_000).await.unwrap().is_none(),
            "{}: held",
            t.name
        );
        assert_eq!(
            bots.heartbeat(&b.id, "w1", 1, 60_000).await.unwrap(),
            Lease::Held {
                desired: "running".into(),
                settings_rev: 0
            }
        );
        // Editing the settings raises the revision the runner sees at its next heartbeat.
        let edited = bots
            .update_config(&ws, &b.id, &json!({"risk": {"max_order_notional": 5}}))
            .await
            .unwrap();
        assert_eq!(edited.settings_rev, 1);
        assert_eq!(edited.config["risk"]["max_order_notional"], 5);
        assert_eq!(
            bots.heartbeat(&b.id, "w1", 1, 60_000).await.unwrap(),
            Lease::Held {
                desired: "running".into(),
                settings_rev: 1
            }
        );
        assert!(matches!(
            bots.update_config("other-ws", &b.id, &json!({})).await,
            Err(StoreError::NotFound)
        ));
        let ev = |seq| BotEvent {
            seq,
            ts: seq,
            kind: "log".into(),
            data: json!({"n": seq}),
        };
        assert_eq!(
            bots.append_events(&b.id, 1, &[ev(1), ev(2)]).await.unwrap(),
            2
        );
        assert_eq!(bots.events_of_kind(&b.id, "log").await.unwrap().len(), 2);
        assert!(
            bots.events_of_kind(&b.id, "settings")
                .await
                .unwrap()
                .is_empty()
        );

        // w1 goes silent; after its lease expires w2 takes over with a higher fence.
        bots.heartbeat(&b.id, "w1", 1, -1).await.unwrap();
        let second = bots.claim("w2", 60_000).await.unwrap().unwrap();
        assert_eq!(second.fence, 2);
        assert_eq!(second.lease_owner.as_deref(), Some("w2"));
        // Everything w1 still tries is refused.
        assert_eq!(
            bots.heartbeat(&b.id, "w1", 1, 60_000).await.unwrap(),
            Lease::Lost
        );
        assert_eq!(bots.append_events(&b.id, 1, &[ev(3)]).await.unwrap(), 0);
        assert!(
            !bots
                .set_state(&b.id, 1, "running", &json!({}), None, false)
                .await
                .unwrap()
        );
        // Events with the state in one transaction: all or nothing, fenced.
        assert!(
            !bots
                .append_with_state(
                    &b.id,
                    1,
                    &[ev(3)],
                    "running",
                    &json!({"bar": 9}),
                    None,
                    false
                )
                .await
                .unwrap()
        );
        assert_eq!(bots.last_seq(&b.id).await.unwrap(), 2, "nothing appended");
        assert!(
            bots.append_with_state(
                &b.id,
                2,
                &[ev(3)],
                "running",
                &json!({"bar": 3}),
                None,
                false
            )
            .await
            .unwrap()
        );
        assert_eq!(bots.last_seq(&b.id).await.unwrap(), 3);
        assert_eq!(bots.get(&ws, &b.id).await.unwrap().summary["bar"], 3);
        let entry = JournalEntry {
            client_order_id: "bot-1".into(),
            seq: 1,
            symbol: "BTC/USDT".into(),
            intent: json!({"side": "buy"}),
            state: "intent".into(),
            venue_order_id: None,
            filled: "0".into(),
            created_at: 0,
            updated_at: 0,
        };
        assert!(
            !bots.journal_intent(&b.id, 1, &entry).await.unwrap(),
            "{}",
            t.name
        );
        // w2 writes.
        assert!(bots.journal_intent(&b.id, 2, &entry).await.unwrap());
        assert!(
            bots.journal_update(&b.id, 2, "bot-1", "open", Some("V9"), "0")
                .await
                .unwrap()
        );
        assert!(
            !bots
                .journal_update(&b.id, 1, "bot-1", "filled", None, "1")
                .await
                .unwrap()
        );
        let j = bots.journal(&b.id).await.unwrap();
        assert_eq!(j.len(), 1);
        assert_eq!(
            (j[0].state.as_str(), j[0].venue_order_id.as_deref()),
            ("open", Some("V9"))
        );
        assert_eq!(bots.append_events(&b.id, 2, &[ev(4)]).await.unwrap(), 1);
        assert_eq!(bots.last_seq(&b.id).await.unwrap(), 4);
        let events = bots.events(&b.id, 1, 10).await.unwrap();
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        // Finishing releases the lease and leaves the bot stopped.
        assert!(
            bots.set_state(&b.id, 2, "finished", &json!({"equity": "1"}), None, true)
                .await
                .unwrap()
        );
        let done = bots.get(&ws, &b.id).await.unwrap();
        assert_eq!(
            (done.state.as_str(), done.desired.as_str()),
            ("finished", "stopped")
        );
        assert_eq!(done.summary, json!({"equity": "1"}));
        assert!(done.lease_owner.is_none());
        let counts = bots.counts().await.unwrap();
        assert!(
            counts.contains(&("finished".into(), "paper".into(), 1)),
            "{counts:?}"
        );
    }
}
