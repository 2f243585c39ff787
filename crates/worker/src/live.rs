//! Live bots: a strategy trading a real venue through its adapter, with an order journal and
//! reconciliation.
//!
//! The loop: warm up from the venue's recent candles; at every newly closed bar, evaluate the
//! strategy (the same compiled spec as backtests) on the bars so far with the bot's own
//! position, and turn its signals into market orders (spot, long only): enter with
//! `quote_per_trade` of the quote asset, exit the whole position. The spec's protective
//! exits (stop loss, take profit, trailing stop, time stop) are the engine's, checked at each
//! closed bar (`protective_exit`, tested against the engine's brackets) and closed with a
//! market order; their levels are recomputed from the bars each time, so they survive a
//! restart. Every order carries its reason (`signal`, `stop_loss`, ..., `flatten`).
//!
//! Invariants (what makes a restart or takeover safe):
//! - **Intent before sending.** Every order is written to the journal (fenced) before it is
//!   sent; its client order id is derived from the bot and the journal sequence number, so
//!   the venue knows it under a name the journal knows.
//! - **Idempotent sending.** Orders go through [`skeet_exchange::submit`]: a retry first looks
//!   the order up by its client id and never places it twice.
//! - **Reconcile before trading.** On every start (restart, takeover) the journal is checked
//!   against the venue: each unfinished entry is looked up by client id (found: its state and
//!   fills are recorded; unknown: it never reached the venue and is marked `not_sent`, not
//!   resent, because the bar it was meant for has passed); fills the bot missed are recovered
//!   from the venue's trade history; venue orders carrying this bot's prefix that the journal
//!   does not know, and balance drift, are published as `mismatch` events. Nothing is guessed
//!   or cancelled on the bot's behalf.
//! - **Fills once.** Fills are keyed by the venue's trade id; the ledger (position, quote
//!   spent, fees) is rebuilt from the fill events in the log, so it survives restarts exactly.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_core::{Bar, BarSeries, ClientOrderId, OrderKind, Side, TimeInForce, Timeframe};
use skeet_exchange::{
    Credentials, ErrorKind, Exchange, Market, NewOrder, OrderRef, OrderState, VenueConfig,
};
use skeet_store::bots::{Bot, BotEvent, Bots, JournalEntry, Lease};
use skeet_strategy::{
    BarContext, BarsView, DistanceRule, EntryOrder, ExecSettings, PositionState, SeriesData,
    SpecStrategy, Strategy, StrategySpec, compile,
};
use skeet_ta::Indicator;
use tokio::sync::watch;

use crate::bots::{RiskSettings, SupervisorConfig};

/// A live bot's settings (stored as the bot's `config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveConfig {
    /// The strategy spec (saved strategies and templates are resolved into it by the API).
    pub spec: serde_json::Value,
    /// Parameter values.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// Unified symbol, e.g. `BTC/USDT`.
    pub symbol: String,
    /// Bar timeframe, e.g. `1m`, `1h`.
    pub timeframe: String,
    /// The workspace credential the bot trades with (live bots; paper bots need none).
    #[serde(default)]
    pub credential_id: Option<String>,
    /// Paper bots on live data: the starting quote balance of the paper account (decimal
    /// string; default 10000).
    #[serde(default)]
    pub paper_cash: Option<String>,
    /// Quote amount each entry spends (decimal string).
    pub quote_per_trade: String,
    /// Recent bars loaded at start for the indicators (default 300).
    #[serde(default)]
    pub warmup_bars: Option<u32>,
    /// Risk limits.
    #[serde(default)]
    pub risk: RiskSettings,
    /// Webhook and Telegram notifications.
    #[serde(default)]
    pub notify: crate::notify::NotifySettings,
}

impl LiveConfig {
    /// The spec, its parameters, the timeframe and the quote per trade, checked.
    ///
    /// # Errors
    /// What is wrong, in one sentence.
    pub fn parts(
        &self,
    ) -> Result<
        (
            StrategySpec,
            skeet_strategy::ParamValues,
            Timeframe,
            Decimal,
        ),
        String,
    > {
        let spec =
            StrategySpec::from_json(&self.spec.to_string()).map_err(|e| format!("spec: {e}"))?;
        let overrides: Vec<(String, f64)> =
            self.params.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let params = spec
            .resolve_params(&overrides)
            .map_err(|e| format!("params: {e}"))?;
        let tf: Timeframe = self
            .timeframe
            .parse()
            .map_err(|e| format!("timeframe: {e}"))?;
        let q: Decimal = self.quote_per_trade.parse().map_err(|_| {
            format!(
                "quote_per_trade: '{}' is not a number",
                self.quote_per_trade
            )
        })?;
        if q <= Decimal::ZERO {
            return Err("quote_per_trade must be above 0".into());
        }
        if self.symbol.split_once('/').is_none() {
            return Err(format!("symbol '{}' is not BASE/QUOTE", self.symbol));
        }
        if self.warmup_bars.is_some_and(|w| !(10..=5000).contains(&w)) {
            return Err("warmup_bars must be from 10 to 5000".into());
        }
        Ok((spec, params, tf, q))
    }

    /// Checks the settings (not the venue: that happens when the bot starts).
    ///
    /// # Errors
    /// What is wrong, in one sentence.
    pub fn validate(&self) -> Result<(), String> {
        self.notify.check()?;
        self.risk.check()?;
        self.parts().map(|_| ())
    }
}

/// Test-only crash points: with `SKEET_FAILPOINTS=bot-after-intent` (or `bot-after-send`)
/// the process aborts at that point of the order path, once per data directory (a marker
/// file remembers it), so fault tests can kill a worker exactly between journaling and
/// sending, or between sending and recording the venue's answer. Unset in production.
fn failpoint(data_dir: &std::path::Path, name: &str) {
    let armed =
        std::env::var("SKEET_FAILPOINTS").is_ok_and(|v| v.split(',').any(|f| f.trim() == name));
    if !armed {
        return;
    }
    let marker = data_dir.join(format!("failpoint-{name}.done"));
    if marker.exists() {
        return;
    }
    let _ = std::fs::write(&marker, b"hit");
    tracing::error!(failpoint = name, "failpoint: aborting the process");
    std::process::abort();
}

/// Position and money from the bot's own fills.
#[derive(Debug, Default)]
struct Ledger {
    position: Decimal,
    /// Quote received minus quote paid.
    quote: Decimal,
    fees: Decimal,
    cost: Decimal,
    entry_ts: i64,
    trade_ids: HashSet<String>,
    fills: u64,
}

impl Ledger {
    fn apply(&mut self, side: &str, qty: Decimal, price: Decimal, fee: Decimal, ts: i64) {
        if side == "buy" {
            if self.position.is_zero() {
                self.entry_ts = ts;
                self.cost = Decimal::ZERO;
            }
            self.position += qty;
            self.quote -= qty * price;
            self.cost += qty * price;
        } else {
            self.position -= qty;
            self.quote += qty * price;
            if self.position <= Decimal::ZERO {
                self.cost = Decimal::ZERO;
            }
        }
        self.fees += fee;
        self.fills += 1;
    }

    fn avg_entry(&self) -> Decimal {
        if self.position > Decimal::ZERO {
            self.cost / self.position
        } else {
            Decimal::ZERO
        }
    }
}

fn d(v: &serde_json::Value) -> Decimal {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

fn f64_of(x: Decimal) -> f64 {
    x.to_string().parse().unwrap_or(0.0)
}

/// The runner's view of one live bot.
struct Live {
    bots: Bots,
    id: String,
    workspace_id: String,
    /// `paper` or `live`.
    mode: String,
    /// The last close seen (values this bot's own position).
    last_price: f64,
    /// The drawdown kill switch's base: the capital the bot trades with (a paper bot's
    /// starting cash; a live bot's quote per trade), and the highest equity seen.
    capital: f64,
    peak: f64,
    fence: i64,
    next_seq: i64,
    prefix: String,
    ex: Arc<dyn Exchange>,
    market: Market,
    ledger: Ledger,
    journal: Vec<JournalEntry>,
    orders: u64,
    mismatches: u64,
    data_dir: std::path::PathBuf,
    notifier: Option<crate::notify::Notifier>,
    changed: Option<Arc<tokio::sync::Notify>>,
    /// Paper bots: a tag for this process's trade ids (see `sync_fills`).
    trade_tag: Option<String>,
}

impl Live {
    async fn publish(&mut self, kind: &str, ts: i64, mut data: serde_json::Value) -> bool {
        // Wall-clock creation time (ms): what latency is measured from.
        data["at"] = serde_json::json!(skeet_store::now_ms());
        self.next_seq += 1;
        let e = BotEvent {
            seq: self.next_seq,
            ts,
            kind: kind.to_string(),
            data,
        };
        let ok = matches!(
            self.bots
                .append_events(&self.id, self.fence, std::slice::from_ref(&e))
                .await,
            Ok(1)
        );
        if ok && let Some(n) = &self.notifier {
            n.notify(std::slice::from_ref(&e));
        }
        if let Some(c) = &self.changed {
            c.notify_one();
        }
        ok
    }

    async fn mismatch(&mut self, kind: &str, message: String, extra: serde_json::Value) {
        self.mismatches += 1;
        metrics::counter!("skeet_reconciliation_mismatches_total", "kind" => kind.to_string())
            .increment(1);
        tracing::warn!(bot = %self.id, kind, "{message}");
        let mut data = serde_json::json!({"kind": kind, "message": message});
        if let (Some(d), Some(x)) = (data.as_object_mut(), extra.as_object()) {
            d.extend(x.clone());
        }
        self.publish("mismatch", skeet_store::now_ms(), data).await;
    }

    fn ours(&self, cid: Option<&str>) -> bool {
        cid.is_some_and(|c| c.starts_with(&self.prefix))
    }

    /// Records fills of our orders not seen before (from the venue's trade history).
    async fn sync_fills(
        &mut self,
        since_ms: i64,
        recovered: bool,
    ) -> Result<(), skeet_exchange::ExchangeError> {
        let trades = skeet_exchange::http::retry_read(3, || {
            self.ex.my_trades(&self.market.symbol, since_ms)
        })
        .await?;
        for mut t in trades {
            // A paper venue numbers its trades from 1 in every process: tag them with the
            // fence so a restarted paper bot's fills are not taken for old ones.
            if let Some(tag) = &self.trade_tag {
                t.trade_id = format!("{tag}-{}", t.trade_id);
            }
            if self.ledger.trade_ids.contains(&t.trade_id) {
                continue;
            }
            let entry = self.journal.iter().find(|e| {
                t.client_order_id.as_deref() == Some(e.client_order_id.as_str())
                    || (self.trade_tag.is_none()
                        && e.venue_order_id.as_deref() == Some(t.venue_order_id.as_str()))
            });
            let Some(entry) = entry.cloned() else {
                if self.ours(t.client_order_id.as_deref()) {
                    self.mismatch("unknown_fill", format!("the venue reports a fill (trade {}) of an order this bot's journal does not hold", t.trade_id), serde_json::json!({"trade_id": t.trade_id})).await;
                }
                continue;
            };
            let side = t.side.to_string();
            self.ledger.trade_ids.insert(t.trade_id.clone());
            self.ledger
                .apply(&side, t.quantity, t.price, t.fee, t.ts_ms);
            let data = serde_json::json!({
                "trade_id": t.trade_id, "client_order_id": entry.client_order_id, "venue_order_id": t.venue_order_id,
                "side": side, "quantity": t.quantity.normalize().to_string(), "price": t.price.normalize().to_string(),
                "fee": t.fee.normalize().to_string(), "fee_asset": t.fee_asset, "ts": t.ts_ms, "recovered": recovered,
            });
            self.publish("fill", t.ts_ms, data).await;
            if recovered {
                self.mismatch("fill_recovered", format!("fill {} of {} happened while the bot was down; recorded from the venue's history", t.trade_id, entry.client_order_id), serde_json::json!({"trade_id": t.trade_id})).await;
            }
            metrics::counter!("skeet_bot_fills_total", "venue" => self.ex.venue()).increment(1);
        }
        Ok(())
    }

    /// Checks the journal against the venue before trading (see the module docs).
    async fn reconcile(
        &mut self,
        since_ms: i64,
        baseline: Option<Decimal>,
    ) -> Result<Decimal, skeet_exchange::ExchangeError> {
        for entry in self.journal.clone() {
            if !matches!(
                entry.state.as_str(),
                "intent" | "sent" | "open" | "partially_filled"
            ) {
                continue;
            }
            match self
                .ex
                .fetch_order(
                    &entry.symbol,
                    &OrderRef::Client(entry.client_order_id.clone()),
                )
                .await
            {
                Ok(info) => {
                    let state = state_name(info.state);
                    self.set_order_state(&entry.client_order_id, &info).await;
                    self.publish("order", skeet_store::now_ms(), serde_json::json!({"client_order_id": entry.client_order_id, "venue_order_id": info.venue_order_id, "state": state, "reconciled": true})).await;
                }
                Err(e) if e.kind == ErrorKind::UnknownOrder => {
                    let _ = self
                        .bots
                        .journal_update(
                            &self.id,
                            self.fence,
                            &entry.client_order_id,
                            "not_sent",
                            None,
                            "0",
                        )
                        .await;
                    if let Some(j) = self
                        .journal
                        .iter_mut()
                        .find(|j| j.client_order_id == entry.client_order_id)
                    {
                        j.state = "not_sent".into();
                    }
                    self.mismatch("intent_not_sent", format!("order {} was journaled but never reached the venue (the bot stopped before sending it); it is not resent, because the bar it was meant for has passed", entry.client_order_id), serde_json::json!({"client_order_id": entry.client_order_id})).await;
                }
                Err(e) => return Err(e),
            }
        }
        let open =
            skeet_exchange::http::retry_read(3, || self.ex.open_orders(Some(&self.market.symbol)))
                .await?;
        for o in open {
            let known = self
                .journal
                .iter()
                .any(|e| Some(e.client_order_id.as_str()) == o.client_order_id.as_deref());
            if self.ours(o.client_order_id.as_deref()) && !known {
                self.mismatch("unknown_order", format!("the venue holds order {} with this bot's prefix that the journal does not know; it is left alone", o.venue_order_id), serde_json::json!({"venue_order_id": o.venue_order_id})).await;
            }
        }
        self.sync_fills(since_ms, true).await?;
        let balances = skeet_exchange::http::retry_read(3, || self.ex.balances()).await?;
        let held: Decimal = balances
            .iter()
            .filter(|b| b.asset == self.market.base)
            .map(|b| b.free + b.locked)
            .sum();
        let baseline = baseline.unwrap_or(held - self.ledger.position);
        let expected = baseline + self.ledger.position;
        if held != expected {
            self.mismatch("balance_drift", format!("the venue holds {} {} where the bot's fills account for {}: something else trades this account, or a fill is missing", held.normalize(), self.market.base, expected.normalize()), serde_json::json!({"venue": held.normalize().to_string(), "expected": expected.normalize().to_string()})).await;
        }
        Ok(baseline)
    }

    /// Orders sent (or about to be) that have not ended, by the journal.
    fn working(&self) -> Vec<JournalEntry> {
        self.journal
            .iter()
            .filter(|e| {
                matches!(
                    e.state.as_str(),
                    "intent" | "sent" | "open" | "partially_filled"
                )
            })
            .cloned()
            .collect()
    }

    /// Writes an order's state as the venue reports it to the journal (fenced) and to the
    /// runner's copy. False when the fence moved on.
    async fn set_order_state(&mut self, cid: &str, info: &skeet_exchange::OrderInfo) -> bool {
        let state = state_name(info.state);
        if let Some(e) = self.journal.iter_mut().find(|e| e.client_order_id == cid) {
            e.state = state.to_string();
            e.venue_order_id = Some(info.venue_order_id.clone());
        }
        matches!(
            self.bots
                .journal_update(
                    &self.id,
                    self.fence,
                    cid,
                    state,
                    Some(&info.venue_order_id),
                    &info.filled.normalize().to_string()
                )
                .await,
            Ok(true)
        )
    }

    /// Records an order's state as the venue reports it (journal and event, when it changed).
    async fn record(&mut self, cid: &str, info: &skeet_exchange::OrderInfo, why: &str) -> bool {
        let state = state_name(info.state);
        let Some(e) = self.journal.iter_mut().find(|e| e.client_order_id == cid) else {
            return true;
        };
        if e.state == state {
            return true;
        }
        if !self.set_order_state(cid, info).await {
            return false;
        }
        self.publish(
            "order",
            skeet_store::now_ms(),
            serde_json::json!({"client_order_id": cid, "venue_order_id": info.venue_order_id, "state": state, "filled": info.filled.normalize().to_string(), "reason": why}),
        )
        .await
    }

    /// Follows the working orders: their state from the venue; entry orders past the bars
    /// their spec gives them (`valid_bars`, counted from the bar they were decided on) are
    /// cancelled, as the engine expires them. False when the fence moved on.
    async fn follow_working(&mut self, bars: &[Bar], valid_bars: Option<usize>) -> bool {
        for e in self.working() {
            let r = OrderRef::Client(e.client_order_id.clone());
            let info = match self.ex.fetch_order(&e.symbol, &r).await {
                Ok(i) => i,
                Err(err) => {
                    tracing::warn!(bot = %self.id, error = %err, "order state");
                    continue;
                }
            };
            if !self.record(&e.client_order_id, &info, "venue").await {
                return false;
            }
            // Only entry orders with a price expire; a market order is the venue's to fill.
            let open = matches!(info.state, OrderState::Open | OrderState::PartiallyFilled)
                && e.intent["reason"] == "signal"
                && e.intent["kind"]["type"] != "market";
            let decided = e.intent["bar_ts"].as_i64().unwrap_or(i64::MAX);
            let age = bars.iter().filter(|b| b.ts.as_millis() > decided).count();
            if open
                && let Some(n) = valid_bars
                && age >= n
                && !self.cancel(&e, "expired").await
            {
                return false;
            }
        }
        true
    }

    /// Cancels one working order at the venue and records the outcome.
    async fn cancel(&mut self, e: &JournalEntry, why: &str) -> bool {
        let r = OrderRef::Client(e.client_order_id.clone());
        match self.ex.cancel_order(&e.symbol, &r).await {
            Ok(info) => self.record(&e.client_order_id, &info, why).await,
            Err(err) => {
                // Filled or gone meanwhile: the venue's word decides.
                tracing::info!(bot = %self.id, error = %err, "cancel");
                match self.ex.fetch_order(&e.symbol, &r).await {
                    Ok(info) => self.record(&e.client_order_id, &info, why).await,
                    Err(_) => true,
                }
            }
        }
    }

    /// What the workspace's bots of this bot's mode (paper money and real money apart) hold,
    /// this one included, valued at their last prices (from
    /// each bot's latest summary; bots that are stopped hold nothing the limit counts).
    async fn workspace_exposure(&self) -> f64 {
        let Ok(all) = self.bots.list(&self.workspace_id).await else {
            // Unknown exposure: count it as full, so the entry is refused rather than guessed.
            return f64::INFINITY;
        };
        all.iter()
            .filter(|b| {
                b.id != self.id
                    && b.mode == self.mode
                    && matches!(b.state.as_str(), "running" | "paused" | "starting")
            })
            .map(|b| {
                let pos = b.summary["position"]
                    .as_str()
                    .and_then(|p| p.parse::<f64>().ok())
                    .unwrap_or(0.0);
                (pos * b.summary["last_price"].as_f64().unwrap_or(0.0)).abs()
            })
            .sum::<f64>()
            + f64_of(self.ledger.position) * self.last_price
    }

    /// Journals, sends and records one market order.
    #[expect(
        clippy::too_many_arguments,
        reason = "one order's whole description; a struct would only be built to be taken apart here"
    )]
    async fn order(
        &mut self,
        side: Side,
        kind: OrderKind,
        quantity: Decimal,
        price: Decimal,
        risk: &RiskSettings,
        ts: i64,
        reason: &str,
    ) -> bool {
        let seq = self.journal.iter().map(|e| e.seq).max().unwrap_or(0) + 1;
        let Ok(cid) = ClientOrderId::new(&format!("{}{seq}", self.prefix)) else {
            return true;
        };
        let order = NewOrder {
            symbol: self.market.symbol.clone(),
            side,
            kind,
            quantity,
            time_in_force: TimeInForce::Gtc,
            client_order_id: cid,
        };
        let refuse = |check: &'static str, why: String| {
            metrics::counter!("skeet_bot_risk_refusals_total", "check" => check).increment(1);
            serde_json::json!({"event": "refused", "side": side.to_string(), "quantity": quantity.normalize().to_string(), "check": check, "reason": why})
        };
        if let Err(e) = self.market.check(self.ex.venue(), &order, Some(price)) {
            return self
                .publish("risk", ts, refuse("venue_rules", e.message))
                .await;
        }
        if side == Side::Buy
            && let Some(band) = risk.price_band_pct
        {
            // Against the close the strategy decided on (a limit or stop entry's own price is
            // meant to be away from the market).
            let close: Decimal = format!("{}", self.last_price).parse().unwrap_or(price);
            let close = if close.is_zero() { price } else { close };
            match self.ex.ticker(&self.market.symbol).await {
                Ok(t) => {
                    let last = t.last.or(t.bid).unwrap_or(close);
                    let off = if close.is_zero() {
                        0.0
                    } else {
                        f64_of(((last - close) / close).abs()) * 100.0
                    };
                    if off > band {
                        return self
                            .publish(
                                "risk",
                                ts,
                                refuse("price_band", format!(
                                    "price band: the venue's last price {} is {off:.3}% from the close {} (limit {band}%)",
                                    last.normalize(),
                                    close.normalize()
                                )),
                            )
                            .await;
                    }
                }
                Err(e) => {
                    return self
                        .publish(
                            "risk",
                            ts,
                            refuse("price_band", format!("price band: no ticker ({e})")),
                        )
                        .await;
                }
            }
        }
        if let Some(max) = risk.max_open_orders
            && self.working().len() >= max
        {
            return self
                .publish(
                    "risk",
                    ts,
                    refuse(
                        "max_open_orders",
                        format!("{} orders are working (limit {max})", self.working().len()),
                    ),
                )
                .await;
        }
        if side == Side::Buy
            && let Some(max) = risk.max_total_exposure
        {
            let held = self.workspace_exposure().await;
            let total = held + f64_of(quantity * price);
            if total > max {
                return self
                    .publish(
                        "risk",
                        ts,
                        refuse(
                            "max_total_exposure",
                            format!(
                                "the workspace's bots would hold {total:.2} (their positions {held:.2} and this entry) where the limit is {max}"
                            ),
                        ),
                    )
                    .await;
            }
        }
        if side == Side::Buy
            && let Some(max) = risk.max_order_notional
            && f64_of(quantity * price) > max
        {
            return self
                .publish(
                    "risk",
                    ts,
                    refuse(
                        "max_order_notional",
                        format!(
                            "order value {} is above the {max} limit",
                            (quantity * price).round_dp(2)
                        ),
                    ),
                )
                .await;
        }
        let mut intent = serde_json::to_value(&order).unwrap_or_default();
        intent["reason"] = serde_json::json!(reason);
        // The bar it was decided on: entry orders expire so many bars after it.
        intent["bar_ts"] = serde_json::json!(ts);
        let entry = JournalEntry {
            client_order_id: cid.as_str().to_string(),
            seq,
            symbol: self.market.symbol.clone(),
            intent,
            state: "intent".into(),
            venue_order_id: None,
            filled: "0".into(),
            created_at: 0,
            updated_at: 0,
        };
        match self.bots.journal_intent(&self.id, self.fence, &entry).await {
            Ok(true) => self.journal.push(entry),
            _ => return false,
        }
        failpoint(&self.data_dir, "bot-after-intent");
        let sending = std::time::Instant::now();
        let sent = skeet_exchange::submit(&*self.ex, &order, 3).await;
        // Round trip: from sending to the venue's answer, retries and lookups included.
        metrics::histogram!("skeet_bot_order_round_trip_seconds", "venue" => self.ex.venue())
            .record(sending.elapsed().as_secs_f64());
        failpoint(&self.data_dir, "bot-after-send");
        self.orders += 1;
        metrics::counter!("skeet_bot_orders_total", "venue" => self.ex.venue(), "outcome" => if sent.is_ok() { "accepted" } else { "failed" }).increment(1);
        match sent {
            Ok(info) => {
                let state = state_name(info.state);
                if !self.set_order_state(cid.as_str(), &info).await {
                    return false;
                }
                self.publish("order", ts, serde_json::json!({"client_order_id": cid.as_str(), "venue_order_id": info.venue_order_id, "side": side.to_string(), "quantity": quantity.normalize().to_string(), "state": state, "reason": reason})).await
            }
            Err(e) => {
                // A refusal is final; anything else is left `sent` for the next reconciliation.
                let state = if e.retryable() { "sent" } else { "rejected" };
                let _ = self
                    .bots
                    .journal_update(&self.id, self.fence, cid.as_str(), state, None, "0")
                    .await;
                self.publish("risk", ts, serde_json::json!({"event": "venue_refused", "client_order_id": cid.as_str(), "reason": e.to_string()})).await
            }
        }
    }
}

fn state_name(s: OrderState) -> &'static str {
    match s {
        OrderState::Open => "open",
        OrderState::PartiallyFilled => "partially_filled",
        OrderState::Filled => "filled",
        OrderState::Cancelled => "cancelled",
        OrderState::Rejected => "rejected",
        OrderState::Expired => "expired",
    }
}

/// Runs a live bot until it is stopped, loses its lease or fails.
pub(crate) async fn run_live(
    bots: Bots,
    cfg: Arc<SupervisorConfig>,
    bot: Bot,
    mut shutdown: watch::Receiver<bool>,
) {
    let (id, fence) = (bot.id.clone(), bot.fence);
    let fail = |msg: String| {
        let bots = bots.clone();
        let id = id.clone();
        async move {
            tracing::warn!(bot = %id, error = %msg, "live bot stopped on an error");
            let _ = bots
                .set_state(
                    &id,
                    fence,
                    "error",
                    &serde_json::json!({}),
                    Some(&msg),
                    true,
                )
                .await;
        }
    };
    let mut lc: LiveConfig = match serde_json::from_value(bot.config.clone()) {
        Ok(c) => c,
        Err(e) => return fail(format!("settings: {e}")).await,
    };
    let (spec, params, tf, quote_per_trade) = match lc.parts() {
        Ok(p) => p,
        Err(e) => return fail(e).await,
    };
    // The ledger from the fills already recorded.
    let mut ledger = Ledger::default();
    let mut after = 0;
    while let Ok(page) = bots.events(&id, after, 5000).await {
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page.iter().filter(|e| e.kind == "fill") {
            if let Some(t) = e.data["trade_id"].as_str() {
                ledger.trade_ids.insert(t.to_string());
            }
            ledger.apply(
                e.data["side"].as_str().unwrap_or("buy"),
                d(&e.data["quantity"]),
                d(&e.data["price"]),
                d(&e.data["fee"]),
                e.ts,
            );
        }
    }
    let paper_bot = bot.mode == "paper";
    let creds = if paper_bot {
        None
    } else {
        let Some(vault) = &cfg.vault else {
            return fail("this worker has no vault key (SKEET_MASTER_KEY or the data directory's key file) to open exchange credentials".into()).await;
        };
        let Some(cred_id) = &lc.credential_id else {
            return fail("a live bot needs credential_id".into()).await;
        };
        let secret = match vault.open(&bot.workspace_id, cred_id).await {
            Ok(s) => s,
            Err(e) => return fail(format!("credential: {e}")).await,
        };
        let creds = Credentials::new(&secret.api_key, &secret.api_secret);
        drop(secret);
        Some(creds)
    };
    let vc = VenueConfig {
        base_url: cfg.venue_urls.get(&bot.venue).cloned(),
        credentials: creds,
        ..VenueConfig::default()
    };
    let venue: Arc<dyn Exchange> = match skeet_exchange::connect(&bot.venue, vc) {
        Ok(e) => Arc::from(e),
        Err(e) => return fail(e.to_string()).await,
    };
    // Paper bots on live data: the venue's market data, fills by the backtest engine's rules
    // (next bar's open, taker fee) on a paper account that carries over what the recorded
    // fills left (orders working when the bot stopped did not survive it).
    let paper = if paper_bot {
        let (quote, base) = match lc.symbol.split_once('/') {
            Some((b, q)) => (q.to_string(), b.to_string()),
            None => return fail(format!("symbol '{}' is not BASE/QUOTE", lc.symbol)).await,
        };
        let cash: Decimal = lc
            .paper_cash
            .as_deref()
            .unwrap_or("10000")
            .parse()
            .unwrap_or(Decimal::from(10_000));
        let mut balances = BTreeMap::new();
        balances.insert(quote, cash + ledger.quote - ledger.fees);
        balances.insert(base, ledger.position);
        Some(Arc::new(skeet_exchange::venues::paper::Paper::new(
            skeet_exchange::venues::paper::PaperConfig {
                markets: Vec::new(),
                balances,
                maker_fee: Decimal::new(1, 3),
                taker_fee: Decimal::new(1, 3),
                slippage_bps: Decimal::ZERO,
                fill: skeet_exchange::venues::paper::PaperFill::NextOpen,
                source: Some(venue.clone()),
            },
        )))
    } else {
        None
    };
    let ex: Arc<dyn Exchange> = match &paper {
        Some(p) => p.clone(),
        None => venue,
    };
    let market = match ex.markets().await {
        Ok(ms) => match ms.into_iter().find(|m| m.symbol == lc.symbol) {
            Some(m) => m,
            None => return fail(format!("{} is not a market of {}", lc.symbol, bot.venue)).await,
        },
        Err(e) => return fail(format!("markets: {e}")).await,
    };
    let notifier = match crate::bots::notifier_for(&cfg, &bot, &lc.notify).await {
        Ok(n) => n,
        Err(e) => return fail(e).await,
    };
    let short: String = bot
        .id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let capital = if paper_bot {
        lc.paper_cash
            .as_deref()
            .and_then(|c| c.parse::<f64>().ok())
            .unwrap_or(10_000.0)
    } else {
        f64_of(quote_per_trade)
    };
    let mut live = Live {
        bots: bots.clone(),
        id: id.clone(),
        workspace_id: bot.workspace_id.clone(),
        mode: bot.mode.clone(),
        last_price: 0.0,
        capital,
        peak: bot.summary["peak_equity"].as_f64().unwrap_or(capital),
        fence,
        next_seq: bots.last_seq(&id).await.unwrap_or(0),
        prefix: format!("sk{short}x"),
        ex,
        market,
        ledger,
        journal: bots.journal(&id).await.unwrap_or_default(),
        orders: bot.summary["orders"].as_u64().unwrap_or(0),
        mismatches: bot.summary["mismatches"].as_u64().unwrap_or(0),
        data_dir: cfg.data_dir.clone(),
        notifier,
        changed: cfg.changed.clone(),
        trade_tag: paper.as_ref().map(|_| format!("f{fence}")),
    };
    let started_at = bot.summary["started_at"]
        .as_i64()
        .unwrap_or_else(skeet_store::now_ms);
    let since = bot.created_at - 60_000;
    let baseline = bot.summary["baseline_base"]
        .as_str()
        .and_then(|s| s.parse().ok());
    let baseline = match live.reconcile(since, baseline).await {
        Ok(b) => b,
        Err(e) => return fail(format!("reconciliation with {} failed: {e}; the bot will not trade until it succeeds (start it again)", bot.venue)).await,
    };
    // Warm-up bars.
    let tf_ms = i64::from(tf.as_secs()) * 1000;
    let warm = i64::from(lc.warmup_bars.unwrap_or(300));
    // The strategy is compiled over the bars kept at every new bar: keep a window (twice the
    // warm-up, at least 1,000 bars) so that cost stays flat however long the bot runs.
    let keep = usize::try_from(warm.saturating_mul(2))
        .unwrap_or(usize::MAX)
        .max(1_000);
    let mut bars: Vec<Bar> = Vec::new();
    let mut cursor = skeet_store::now_ms() - warm * tf_ms;
    for _ in 0..20 {
        match skeet_exchange::http::retry_read(3, || live.ex.candles(&lc.symbol, tf, cursor, 1000))
            .await
        {
            Ok(page) if !page.is_empty() => {
                cursor = page.last().map_or(cursor, |b| b.ts.as_millis() + tf_ms);
                for b in page {
                    if bars.last().is_none_or(|l: &Bar| b.ts > l.ts) {
                        bars.push(b);
                    }
                }
            }
            Ok(_) => break,
            Err(e) => return fail(format!("warm-up candles: {e}")).await,
        }
    }
    let summary = |live: &Live, bars: &[Bar]| {
        let last = bars.last().map_or(0.0, |b| b.close);
        let value = f64_of(live.ledger.quote) + f64_of(live.ledger.position) * last
            - f64_of(live.ledger.fees);
        serde_json::json!({
            "bar": bars.len(), "bars": bars.len(), "last_price": last,
            "position": live.ledger.position.normalize().to_string(),
            "cash": live.ledger.quote.normalize().to_string(),
            "fees": live.ledger.fees.normalize().to_string(),
            "pnl": value, "equity": value,
            "orders": live.orders, "fills": live.ledger.fills, "mismatches": live.mismatches,
            "symbol": lc.symbol, "timeframe": lc.timeframe, "started_at": started_at,
            "baseline_base": baseline.normalize().to_string(), "peak_equity": live.peak,
        })
    };
    let beat_every =
        Duration::from_millis(u64::try_from((cfg.lease_ms / 3).clamp(50, 1000)).unwrap_or(1000));
    let mut beat = tokio::time::interval(beat_every);
    // New bars: the venue's candle stream says when a bar has closed, and its closed bar is
    // then read over REST at once (the REST candle is the record, as in backtests); polling
    // remains as the fallback, slow while the stream is up (one request every half bar, at
    // least 1 s, at most 1 min: rate limits are shared by every bot of the account), quick
    // without it.
    let mut candles = match live
        .ex
        .market_stream(vec![skeet_exchange::Subscription::Candles {
            symbol: lc.symbol.clone(),
            timeframe: lc.timeframe.clone(),
        }])
        .await
    {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(bot = %id, error = %e, "no candle stream; polling for bars");
            None
        }
    };
    let poll_every = |streaming: bool| {
        let ms = if streaming {
            (tf_ms / 2).clamp(1_000, 60_000)
        } else {
            (tf_ms / 4).clamp(200, 5_000)
        };
        Duration::from_millis(u64::try_from(ms).unwrap_or(1000))
    };
    let mut poll = tokio::time::interval(poll_every(candles.is_some()));
    // The newest bar open the stream has shown (a later one means the one before closed).
    let mut streamed_open = 0_i64;
    let mut state = String::new();
    // The daily loss limit: the bot's value at the first bar of the UTC day, and whether
    // entries are blocked for the rest of it.
    let mut day: (i64, f64, bool) = (-1, 0.0, false);
    // The daily summary (at the first bar of each UTC day, for the day before).
    let mut daily = crate::notify::Daily::default();
    // The venue's user stream (orders and fills as they happen): a fill or a reconnect
    // triggers a sync with the venue's trade history at once, so fills are recorded without
    // waiting for the next bar, and whatever happened while the stream was down is recovered
    // (the trade history is the record; the stream only says when to look).
    let mut stream = match live.ex.user_stream(vec![lc.symbol.clone()]).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(bot = %id, error = %e, "no user stream; fills are synced after every bar");
            None
        }
    };
    let mut desired = bot.desired.clone();
    let mut rev = bot.settings_rev;
    // Why the drawdown kill switch stopped the bot, once it has.
    let mut killed: Option<String> = None;
    // Whether the stop loss rests at the venue (until the venue refuses a stop order).
    let mut resting_stops = true;
    // Flatten: one sell of the whole position, then stop once the bot holds nothing (a live
    // market order fills at once; a paper one at the next bar's open).
    let mut flatten_sent = false;
    loop {
        if desired == "flatten" && !flatten_sent {
            flatten_sent = true;
            // Working orders first (an entry filling after the sell would reopen; one working
            // while the bot holds nothing would outlive the stop), then what they filled.
            for e in live.working() {
                if !live.cancel(&e, "flatten").await {
                    return;
                }
            }
            if let Err(e) = live.sync_fills(since, false).await {
                tracing::warn!(bot = %id, error = %e, "fills");
            }
            if live.ledger.position > Decimal::ZERO {
                let pos = live.ledger.position;
                let price: Decimal = bars
                    .last()
                    .and_then(|b| format!("{}", b.close).parse().ok())
                    .unwrap_or_default();
                if !live
                    .order(
                        Side::Sell,
                        OrderKind::Market,
                        pos,
                        price,
                        &RiskSettings::default(),
                        skeet_store::now_ms(),
                        "flatten",
                    )
                    .await
                {
                    return;
                }
                if let Err(e) = live.sync_fills(since, false).await {
                    tracing::warn!(bot = %id, error = %e, "fills");
                }
                continue;
            }
        }
        if desired == "flatten" && live.ledger.position.is_zero() {
            desired = "stopped".into();
        }
        if desired == "cancel" {
            // Stopping with its orders cancelled (the default of a stop on a venue).
            for e in live.working() {
                if !live.cancel(&e, "stopped").await {
                    return;
                }
            }
            desired = "stopped".into();
        }
        let want = match desired.as_str() {
            "flatten" => "running",
            "running" => "running",
            "paused" => "paused",
            // The drawdown kill switch flattened the bot: it ends `killed`, with the reason.
            _ if killed.is_some() => "killed",
            _ => "stopped",
        };
        if want != state {
            live.publish(
                "state",
                skeet_store::now_ms(),
                serde_json::json!({"state": want}),
            )
            .await;
            let release = want == "stopped" || want == "killed";
            if !matches!(
                bots.set_state(
                    &id,
                    fence,
                    want,
                    &summary(&live, &bars),
                    killed.as_deref(),
                    release
                )
                .await,
                Ok(true)
            ) || release
            {
                return;
            }
            state = want.to_string();
        }
        tokio::select! {
            ev = async {
                match stream.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            } => {
                match ev {
                    Some(Ok(skeet_exchange::StreamEvent::Reconnected { gap_ms })) => {
                        live.publish("stream", skeet_store::now_ms(), serde_json::json!({"event": "reconnected", "gap_ms": gap_ms})).await;
                        if let Err(e) = live.sync_fills(since, true).await {
                            tracing::warn!(bot = %id, error = %e, "fills after a reconnect");
                        }
                    }
                    Some(Ok(skeet_exchange::StreamEvent::Fill(_))) => {
                        if let Err(e) = live.sync_fills(since, false).await {
                            tracing::warn!(bot = %id, error = %e, "fills");
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(bot = %id, error = %e, "user stream ended; fills are synced after every bar");
                        stream = None;
                    }
                    None => stream = None,
                }
            }
            _ = beat.tick() => match bots.heartbeat(&id, &cfg.id, fence, cfg.lease_ms).await {
                Ok(Lease::Held { desired: d, settings_rev }) => {
                    // A tripped kill switch finishes its flatten whatever is asked meanwhile.
                    if killed.is_none() {
                        desired = d;
                    }
                    if settings_rev != rev {
                        // Limits and notifications edited while running: in force from the
                        // next order on.
                        rev = settings_rev;
                        let edited = bots.get_any(&id).await.ok().and_then(|b| serde_json::from_value::<LiveConfig>(b.config).ok());
                        if let Some(edited) = edited {
                            lc.risk = edited.risk;
                            match crate::bots::notifier_for(&cfg, &bot, &edited.notify).await {
                                Ok(n) => live.notifier = n,
                                Err(e) => tracing::warn!(bot = %id, error = %e, "notifications unchanged"),
                            }
                            let e = crate::bots::settings_event(0, skeet_store::now_ms(), bars.len(), rev, &lc.risk);
                            live.publish("settings", e.ts, e.data).await;
                        }
                    }
                }
                Ok(Lease::Lost) => return,
                Err(e) => tracing::warn!(bot = %id, error = %e, "bot heartbeat failed"),
            },
            ev = async {
                match candles.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            } => {
                match ev {
                    Some(Ok(skeet_exchange::StreamEvent::Candle { bar, closed, .. })) => {
                        let open = bar.ts.as_millis();
                        let last = bars.last().map_or(0, |b| b.ts.as_millis());
                        // A closed bar we lack, or a bar opening after the one after ours.
                        let new = (closed && open > last) || open > last + tf_ms;
                        if new && open > streamed_open {
                            streamed_open = open;
                            poll.reset_immediately();
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(bot = %id, error = %e, "candle stream ended; polling for bars");
                        candles = None;
                        poll = tokio::time::interval(poll_every(false));
                    }
                    None => {
                        candles = None;
                        poll = tokio::time::interval(poll_every(false));
                    }
                }
            }
            _ = poll.tick() => {
                let from = bars.last().map_or(cursor, |b| b.ts.as_millis() + tf_ms);
                let fresh = match live.ex.candles(&lc.symbol, tf, from, 1000).await {
                    Ok(p) => p,
                    Err(e) => { tracing::warn!(bot = %id, error = %e, "candles"); continue; }
                };
                for bar in fresh {
                    if bars.last().is_some_and(|l| bar.ts <= l.ts) { continue; }
                    bars.push(bar);
                    if bars.len() > keep {
                        bars.drain(..bars.len() - keep);
                    }
                    let ts = bar.ts.as_millis();
                    // Staleness: from the bar's close to the bot seeing it.
                    metrics::histogram!("skeet_bot_bar_delay_seconds", "venue" => bot.venue.clone())
                        .record(((skeet_store::now_ms() - ts - tf_ms).max(0) as f64) / 1000.0);
                    live.publish("bar", ts, serde_json::json!({"t": ts, "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close, "v": bar.volume})).await;
                    if let Some(p) = &paper {
                        // The paper venue fills what was ordered at the last close at this
                        // bar's open, as the backtest engine does.
                        p.on_bar(&lc.symbol, bar);
                        if let Err(e) = live.sync_fills(since, false).await {
                            tracing::warn!(bot = %id, error = %e, "paper fills");
                        }
                    }
                    if state != "running" { continue; }
                    let (signals, exec) = match decide(&spec, &params, tf, &bars, &live.ledger) {
                        Ok(s) => s,
                        Err(e) => return fail(format!("strategy: {e}")).await,
                    };
                    let price: Decimal = format!("{}", bar.close).parse().unwrap_or_default();
                    live.last_price = bar.close;
                    let value = f64_of(live.ledger.quote) + f64_of(live.ledger.position) * bar.close - f64_of(live.ledger.fees);
                    // The drawdown kill switch: equity is the capital traded plus the PnL.
                    let equity = live.capital + value;
                    live.peak = live.peak.max(equity);
                    if let Some(max) = lc.risk.max_drawdown_pct
                        && killed.is_none()
                        && live.peak > 0.0
                        && (live.peak - equity) / live.peak * 100.0 >= max
                    {
                        let msg = format!(
                            "drawdown {:.2}% from the equity peak {:.2} reached the {max}% limit: the position was flattened and the bot stopped",
                            (live.peak - equity) / live.peak * 100.0,
                            live.peak
                        );
                        metrics::counter!("skeet_bot_risk_stops_total").increment(1);
                        live.publish("risk", ts, serde_json::json!({"event": "killed", "message": msg})).await;
                        killed = Some(msg);
                        desired = "flatten".into();
                        flatten_sent = false;
                        break;
                    }
                    if let Some(max) = lc.risk.max_daily_loss
                        && daily_loss_reached(&mut day, ts, value, max)
                    {
                        metrics::counter!("skeet_bot_risk_stops_total").increment(1);
                        live.publish("risk", ts, serde_json::json!({"event": "daily_loss", "message": format!("the loss since the start of the UTC day reached {:.2} (limit {max}): no new entries until tomorrow", day.1 - value)})).await;
                    }
                    // Working orders: their state; entries past their bars expire.
                    let valid_bars = match exec.entry_order {
                        EntryOrder::Market => None,
                        EntryOrder::Limit { valid_bars, .. } | EntryOrder::Stop { valid_bars, .. } => Some(valid_bars),
                    };
                    if !live.follow_working(&bars, valid_bars).await {
                        return;
                    }
                    if let Err(e) = live.sync_fills(since, false).await {
                        tracing::warn!(bot = %id, error = %e, "fills");
                    }
                    let protective = if live.ledger.position > Decimal::ZERO {
                        protective_exit(&exec, &bars, f64_of(live.ledger.avg_entry()), live.ledger.entry_ts, tf_ms)
                    } else {
                        None
                    };
                    // The stop loss also rests at the venue as a stop order: the position stays
                    // protected while no worker runs, and a paper venue fills it at its level
                    // inside the bar, as the engine does. A venue that does not take it leaves
                    // the check at each closed bar (below) on its own.
                    if resting_stops
                        && protective.is_none()
                        && !signals.exit_long
                        && live.ledger.position > Decimal::ZERO
                        && !live.working().iter().any(|e| e.intent["reason"] == "stop_loss_order")
                        && let Some(level) = stop_loss_level(&exec, &bars, f64_of(live.ledger.avg_entry()), live.ledger.entry_ts, tf_ms)
                    {
                        let tick = live.market.tick_size;
                        let mut trigger = Decimal::try_from(level).unwrap_or_default();
                        if !tick.is_zero() {
                            trigger = (trigger / tick).floor() * tick;
                        }
                        let trigger = trigger.normalize();
                        if trigger > Decimal::ZERO {
                            let before = live.journal.len();
                            let pos = live.ledger.position;
                            let kind = OrderKind::Stop { trigger: skeet_core::Price::new(trigger) };
                            if !live.order(Side::Sell, kind, pos, trigger, &RiskSettings::default(), ts, "stop_loss_order").await { return; }
                            let placed = live.journal.len() > before
                                && live.journal.last().is_some_and(|e| matches!(e.state.as_str(), "open" | "sent" | "partially_filled" | "filled"));
                            if !placed {
                                resting_stops = false;
                                live.publish("log", ts, serde_json::json!({"message": "the venue did not take the stop-loss order: the stop is checked at each closed bar instead"})).await;
                            }
                        }
                    }
                    if let Some((reason, level)) = protective {
                        // The spec's stop, target or time stop: close the whole position.
                        live.publish("log", ts, serde_json::json!({"message": format!("{reason} reached (level {level:.8}): selling the position at market"), "reason": reason, "level": level})).await;
                        for e in live.working() {
                            if !live.cancel(&e, reason).await { return; }
                        }
                        let pos = live.ledger.position;
                        if !live.order(Side::Sell, OrderKind::Market, pos, price, &lc.risk, ts, reason).await { return; }
                    } else if live.ledger.position.is_zero() && live.working().is_empty() && signals.enter_long && price > Decimal::ZERO && !day.2 {
                        let (kind, at) = entry_order(&exec.entry_order, price, live.market.tick_size);
                        let q = entry_quantity(quote_per_trade, at, live.market.step_size, &lc.risk);
                        if !live.order(Side::Buy, kind, q, at, &lc.risk, ts, "signal").await { return; }
                    } else if live.ledger.position > Decimal::ZERO && signals.exit_long {
                        for e in live.working() {
                            if !live.cancel(&e, "exit").await { return; }
                        }
                        let pos = live.ledger.position;
                        if !live.order(Side::Sell, OrderKind::Market, pos, price, &lc.risk, ts, "signal").await { return; }
                    }
                    if let Err(e) = live.sync_fills(since, false).await {
                        tracing::warn!(bot = %id, error = %e, "fills");
                    }
                    if let Some(s) = daily.observe(ts, value, live.ledger.fills, live.orders) {
                        live.publish("summary", ts, s).await;
                    }
                }
                if !matches!(bots.set_state(&id, fence, &state, &summary(&live, &bars), None, false).await, Ok(true)) {
                    return;
                }
            }
            _ = shutdown.changed() => {
                let _ = bots.set_state(&id, fence, "starting", &summary(&live, &bars), None, true).await;
                return;
            }
        }
    }
}

/// An entry's quantity: `quote` worth at `price`, sized down to the order and position value
/// limits (an entry opens the position, so both cap the same order), rounded down to the
/// venue's lot `step`. Zero when nothing fits (the order is then refused with the reason).
fn entry_quantity(quote: Decimal, price: Decimal, step: Decimal, risk: &RiskSettings) -> Decimal {
    if price <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let mut value = quote;
    for cap in [risk.max_order_notional, risk.max_position_notional]
        .into_iter()
        .flatten()
    {
        if let Ok(cap) = Decimal::try_from(cap) {
            value = value.min(cap);
        }
    }
    let mut q = value / price;
    if !step.is_zero() {
        q = (q / step).floor() * step;
    }
    q.max(Decimal::ZERO).normalize()
}

/// The entry order the spec asks for at the signal close `close`, and its price: a market
/// order; a limit `offset_pct` below the close (rounded down to the tick: never worse); a
/// stop `offset_pct` above it (rounded up: never earlier), as the engine places them.
fn entry_order(order: &EntryOrder, close: Decimal, tick: Decimal) -> (OrderKind, Decimal) {
    let pct = |p: f64| Decimal::try_from(p).unwrap_or_default() / Decimal::ONE_HUNDRED;
    let on_tick = |x: Decimal, up: bool| {
        if tick.is_zero() {
            x
        } else if up {
            (x / tick).ceil() * tick
        } else {
            (x / tick).floor() * tick
        }
    };
    let price = |x: Decimal| (x > Decimal::ZERO).then(|| skeet_core::Price::new(x.normalize()));
    match *order {
        EntryOrder::Market => (OrderKind::Market, close),
        EntryOrder::Limit { offset_pct, .. } => {
            let at = on_tick(close * (Decimal::ONE - pct(offset_pct)), false);
            match price(at) {
                Some(p) => (OrderKind::Limit { price: p }, at),
                None => (OrderKind::Market, close),
            }
        }
        EntryOrder::Stop { offset_pct, .. } => {
            let at = on_tick(close * (Decimal::ONE + pct(offset_pct)), true);
            match price(at) {
                Some(p) => (OrderKind::Stop { trigger: p }, at),
                None => (OrderKind::Market, close),
            }
        }
    }
}

/// The daily loss limit: `day` holds the UTC day, the bot's value at its first bar and
/// whether the limit was reached that day. True only on the bar that reaches it.
fn daily_loss_reached(day: &mut (i64, f64, bool), ts_ms: i64, value: f64, max: f64) -> bool {
    let today = ts_ms.div_euclid(86_400_000);
    if today != day.0 {
        *day = (today, value, false);
    }
    if !day.2 && day.1 - value > max {
        day.2 = true;
        return true;
    }
    false
}

/// What a live bot decides at the close of the last of `bars` while flat: its signals. The
/// same work as a bot's every bar (the strategy compiled over the bars kept), for
/// benchmarks.
///
/// # Errors
/// A spec that does not compile over these bars.
pub fn decide_flat(
    spec: &StrategySpec,
    params: &skeet_strategy::ParamValues,
    tf: Timeframe,
    bars: &[Bar],
) -> Result<skeet_strategy::Signals, String> {
    decide(spec, params, tf, bars, &Ledger::default()).map(|(s, _)| s)
}

/// The strategy's signals at the last bar, with the bot's position, and its execution
/// settings (protective exits).
fn decide(
    spec: &StrategySpec,
    params: &skeet_strategy::ParamValues,
    tf: Timeframe,
    bars: &[Bar],
    ledger: &Ledger,
) -> Result<(skeet_strategy::Signals, ExecSettings), String> {
    let series = BarSeries::from_bars(bars.iter().copied()).map_err(|e| e.to_string())?;
    let program = compile(
        spec,
        params,
        &SeriesData {
            ts: series.ts(),
            open: series.open(),
            high: series.high(),
            low: series.low(),
            close: series.close(),
            volume: series.volume(),
            timeframe: tf,
        },
    )
    .map_err(|e| e.to_string())?;
    let mut strategy = SpecStrategy::new(program, false);
    let t = series.len() - 1;
    let close = series.close()[t];
    let size = f64_of(ledger.position);
    let entry = f64_of(ledger.avg_entry());
    let tf_ms = i64::from(tf.as_secs()) * 1000;
    let state = PositionState {
        size,
        entry_price: entry,
        pnl_pct: if size > 0.0 && entry > 0.0 {
            (close / entry - 1.0) * 100.0
        } else {
            0.0
        },
        bars_in_trade: if size > 0.0 {
            bars_in_trade(bars, ledger.entry_ts, tf_ms)
        } else {
            0
        },
        equity: f64_of(ledger.quote) + size * close,
    };
    let view = BarsView::new(
        t,
        series.ts(),
        series.open(),
        series.high(),
        series.low(),
        series.close(),
        series.volume(),
    );
    let signals = strategy.on_bar(&BarContext {
        index: t,
        bars: view,
        position: state,
    });
    Ok((signals, strategy.execution().clone()))
}

/// Bars since the one an entry filled in (0 at its own close), counted in bars as the
/// engine counts them (markets that close, weekends: bars, not hours). Bars are aligned to
/// the timeframe, so the fill's bar opens at `entry_ts` rounded down; a fill older than the
/// bars kept is counted in timeframes.
fn bars_in_trade(bars: &[Bar], entry_ts_ms: i64, tf_ms: i64) -> usize {
    let tf_ms = tf_ms.max(1);
    let fill_bar = entry_ts_ms - entry_ts_ms.rem_euclid(tf_ms);
    let Some(last) = bars.last() else { return 0 };
    if bars[0].ts.as_millis() <= fill_bar {
        let from = bars.partition_point(|b| b.ts.as_millis() < fill_bar);
        return (bars.len() - 1).saturating_sub(from);
    }
    usize::try_from((last.ts.as_millis() - fill_bar).max(0) / tf_ms).unwrap_or(0)
}

/// A distance rule's price distance, as the engine resolves it: percent of `reference`, a
/// multiple of the ATR known when the entry was decided, or a multiple of the stop distance.
fn exit_distance(rule: DistanceRule, reference: f64, atr: f64, stop: Option<f64>) -> Option<f64> {
    let d = match rule {
        DistanceRule::Pct { pct } => reference * pct / 100.0,
        DistanceRule::Atr { mult, .. } => atr * mult,
        DistanceRule::RewardRisk { rr } => stop? * rr,
    };
    (d.is_finite() && d > 0.0).then_some(d)
}

/// The spec's protective exit a long position (entered at `entry`, filled at `entry_ts_ms`)
/// reaches on the last of `bars`, with the level it reached: the engine's brackets, checked
/// in its order (stop loss, trailing stop, take profit, then the time stop).
///
/// The levels are recomputed from the bars at every call (nothing is kept between bars), so
/// a bot restarted or taken over mid-trade protects its position exactly as before: the
/// ATR is the one at the bar before the fill's (where the entry was decided), the trailing
/// stop follows the highest high of the bars closed since the fill, before this one.
/// Live, the exit is a market order at this bar's close, where the engine would fill the
/// stop at its level inside the bar: the difference shows as slippage in the divergence
/// report.
fn protective_exit(
    exec: &ExecSettings,
    bars: &[Bar],
    entry: f64,
    entry_ts_ms: i64,
    tf_ms: i64,
) -> Option<(&'static str, f64)> {
    let last = bars.last()?;
    if !(entry.is_finite() && entry > 0.0) {
        return None;
    }
    let held_from = held_from(bars, entry_ts_ms, tf_ms);
    let atr = entry_atr(exec, bars, held_from);
    let stop_d = exec
        .stop_loss
        .and_then(|r| exit_distance(r, entry, atr, None));
    if let Some(d) = stop_d
        && last.low <= entry - d
    {
        return Some(("stop_loss", entry - d));
    }
    if let Some(rule) = exec.trailing_stop {
        let n = bars.len() - 1;
        let extreme = bars[held_from.min(n)..n]
            .iter()
            .map(|b| b.high)
            .fold(entry, f64::max);
        if let Some(d) = exit_distance(rule, extreme, atr, None)
            && last.low <= extreme - d
        {
            return Some(("trailing_stop", extreme - d));
        }
    }
    if let Some(d) = exec
        .take_profit
        .and_then(|r| exit_distance(r, entry, atr, stop_d))
        && last.high >= entry + d
    {
        return Some(("take_profit", entry + d));
    }
    if let Some(n) = exec.time_stop
        && bars_in_trade(bars, entry_ts_ms, tf_ms) >= n
    {
        return Some(("time_stop", last.close));
    }
    None
}

/// The index of the bar the entry filled in (bars aligned to the timeframe).
fn held_from(bars: &[Bar], entry_ts_ms: i64, tf_ms: i64) -> usize {
    let fill_bar = entry_ts_ms - entry_ts_ms.rem_euclid(tf_ms.max(1));
    bars.partition_point(|b| b.ts.as_millis() < fill_bar)
}

/// The spec's fixed stop-loss level for a long position entered at `entry` (filled at
/// `entry_ts_ms`), as the engine places it; `None` without one (or before its ATR is known).
fn stop_loss_level(
    exec: &ExecSettings,
    bars: &[Bar],
    entry: f64,
    entry_ts_ms: i64,
    tf_ms: i64,
) -> Option<f64> {
    let atr = entry_atr(exec, bars, held_from(bars, entry_ts_ms, tf_ms));
    let d = exit_distance(exec.stop_loss?, entry, atr, None)?;
    (entry - d > 0.0).then_some(entry - d)
}

/// The ATR the engine sizes ATR exits with: at the bar before the entry's fill bar.
fn entry_atr(exec: &ExecSettings, bars: &[Bar], held_from: usize) -> f64 {
    [exec.stop_loss, exec.take_profit, exec.trailing_stop]
        .into_iter()
        .flatten()
        .find_map(|r| match r {
            DistanceRule::Atr { period, .. } => Some(period),
            _ => None,
        })
        .and_then(|period| {
            let mut atr = skeet_ta::volatility::Atr::new(period).ok()?;
            let mut value = f64::NAN;
            for b in &bars[..held_from] {
                value = atr
                    .update(skeet_ta::Candle {
                        ts: b.ts.as_nanos(),
                        open: b.open,
                        high: b.high,
                        low: b.low,
                        close: b.close,
                        volume: b.volume,
                    })
                    .unwrap_or(f64::NAN);
            }
            Some(value)
        })
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::{daily_loss_reached, entry_quantity, protective_exit};

    #[test]
    fn entries_are_sized_down_to_the_value_limits_and_the_lot_step() {
        use crate::bots::RiskSettings;
        let d = |s: &str| s.parse::<Decimal>().expect("decimal");
        let none = RiskSettings::default();
        assert_eq!(
            entry_quantity(d("300"), d("30000"), d("0.0001"), &none),
            d("0.01")
        );
        let capped = RiskSettings {
            max_order_notional: Some(150.0),
            max_position_notional: Some(200.0),
            ..RiskSettings::default()
        };
        assert_eq!(
            entry_quantity(d("300"), d("30000"), d("0.0001"), &capped),
            d("0.005")
        );
        let position = RiskSettings {
            max_position_notional: Some(100.0),
            ..RiskSettings::default()
        };
        // 100 / 30,000 = 0.00333..., down to the 0.001 step.
        assert_eq!(
            entry_quantity(d("300"), d("30000"), d("0.001"), &position),
            d("0.003")
        );
        let tiny = RiskSettings {
            max_order_notional: Some(1.0),
            ..RiskSettings::default()
        };
        assert_eq!(
            entry_quantity(d("300"), d("30000"), d("0.001"), &tiny),
            Decimal::ZERO
        );
        assert_eq!(
            entry_quantity(d("300"), Decimal::ZERO, d("0.001"), &none),
            Decimal::ZERO
        );
    }

    use rust_decimal::Decimal;
    use skeet_backtest::{Market, RunConfig, run_spec};
    use skeet_core::{Bar, Instrument, InstrumentId};
    use skeet_data::import::{ImportOptions, read_csv};
    use skeet_data::{NoProgress, series_hash};
    use skeet_strategy::StrategySpec;

    /// The live bot's protective exits agree with the engine's brackets and time stop: on
    /// real daily data, for every trade a backtest closes by a stop, target, trailing stop or
    /// time stop, the live check stays quiet while the engine holds and names the same exit,
    /// at the same level, on the bar the engine exits in (a time stop: the bar before, as
    /// the engine decides it at that close and fills at the next open).
    #[test]
    fn protective_exits_match_the_engines_brackets_and_time_stop() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let bars = read_csv(
            &root.join("test_data/golden/goog_daily_500.csv"),
            &ImportOptions::default(),
            &NoProgress,
        )
        .expect("committed fixture")
        .bars;
        let mut instrument =
            Instrument::unrestricted("local:GOOG".parse::<InstrumentId>().expect("id"));
        instrument.lot_size = Decimal::ONE;
        let market = Market {
            instrument,
            timeframe: "1d".parse().expect("tf"),
            data_hash: series_hash(&bars),
            bars,
        };
        let all: Vec<Bar> = market.bars.iter().collect();
        let tf_ms = 86_400_000;
        let mut checked = std::collections::BTreeMap::<String, usize>::new();
        for exits in [
            r#"{"stop_loss": {"pct": 2}, "take_profit": {"pct": 4}}"#,
            r#"{"stop_loss": {"atr_period": 14, "atr_mult": 1.5}, "take_profit": {"rr": 2}}"#,
            r#"{"trailing_stop": {"atr_period": 10, "atr_mult": 2}}"#,
            r#"{"trailing_stop": {"pct": 3}, "time_stop": {"bars": 12}}"#,
            r#"{"time_stop": {"bars": 4}}"#,
        ] {
            let mut execution: serde_json::Value = serde_json::from_str(exits).expect("json");
            execution["order"] = serde_json::json!({"type": "market"});
            execution["sizing"] = serde_json::json!({"type": "all_in"});
            let json = serde_json::json!({
                "version": 1, "name": "exits",
                "indicators": {"f": "sma(close, 5)", "s": "sma(close, 20)"},
                "entry": {"long": "crossover(f, s)"}, "exit": {"long": "close < 0"},
                "execution": execution,
            });
            let spec = StrategySpec::from_json(&json.to_string()).expect("spec");
            let params = spec.resolve_params(&[]).expect("params");
            let out = run_spec(&spec, &params, &market, &RunConfig::default()).expect("backtest");
            let (_, exec) = super::decide(
                &spec,
                &params,
                market.timeframe,
                &all,
                &super::Ledger::default(),
            )
            .expect("compiles");
            for trade in &out.report.trades {
                let reason = trade.exit_reason.as_str();
                if !matches!(
                    reason,
                    "stop_loss" | "take_profit" | "trailing_stop" | "time_stop"
                ) {
                    continue;
                }
                let entry: f64 = trade.entry_price.to_string().parse().expect("price");
                let entry_ts = all[trade.entry_bar].ts.as_millis();
                let exit_at = if reason == "time_stop" {
                    trade.exit_bar - 1
                } else {
                    trade.exit_bar
                };
                for j in trade.entry_bar..exit_at {
                    assert_eq!(
                        protective_exit(&exec, &all[..=j], entry, entry_ts, tf_ms),
                        None,
                        "{exits}: quiet at bar {j} of a trade the engine held until {}",
                        trade.exit_bar
                    );
                }
                let (live_reason, level) =
                    protective_exit(&exec, &all[..=exit_at], entry, entry_ts, tf_ms)
                        .unwrap_or_else(|| panic!("{exits}: no exit at bar {exit_at}: {trade:?}"));
                assert_eq!(live_reason, reason, "{exits}: {trade:?}");
                if reason != "time_stop" {
                    // The engine fills at the level, or at the open when the bar gapped past it.
                    let exit: f64 = trade.exit_price.to_string().parse().expect("price");
                    let open = all[trade.exit_bar].open;
                    assert!(
                        (exit - level).abs() < 1e-6 * level || (exit - open).abs() < 1e-9,
                        "{exits}: level {level} vs the engine's exit {exit} (open {open})"
                    );
                }
                *checked.entry(reason.to_string()).or_default() += 1;
            }
        }
        for reason in ["stop_loss", "take_profit", "trailing_stop", "time_stop"] {
            assert!(
                checked.get(reason).copied().unwrap_or(0) >= 2,
                "too few {reason} exits to compare: {checked:?}"
            );
        }
    }

    #[test]
    fn the_daily_loss_limit_trips_once_a_day_and_resets_at_midnight() {
        let day_ms = 86_400_000;
        let mut day = (-1, 0.0, false);
        // The first bar of the day sets the reference value (100).
        assert!(!daily_loss_reached(&mut day, 5 * day_ms, 100.0, 10.0));
        assert!(
            !daily_loss_reached(&mut day, 5 * day_ms + 60_000, 95.0, 10.0),
            "a 5 loss is within 10"
        );
        assert!(
            daily_loss_reached(&mut day, 5 * day_ms + 120_000, 89.0, 10.0),
            "an 11 loss reaches it"
        );
        assert!(day.2, "entries blocked");
        assert!(
            !daily_loss_reached(&mut day, 5 * day_ms + 180_000, 80.0, 10.0),
            "reported once"
        );
        assert!(day.2, "still blocked the same day");
        // The next UTC day starts from its own first value.
        assert!(!daily_loss_reached(&mut day, 6 * day_ms, 80.0, 10.0));
        assert!(!day.2, "a new day allows entries again");
        assert_eq!(day.1, 80.0);
    }
}
