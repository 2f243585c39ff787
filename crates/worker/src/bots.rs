//! The bot supervisor: claims bots that should run, runs each under a lease with a fencing
//! token, and follows what users ask (run, pause, stop) at every heartbeat.
//!
//! A **paper bot on the replay venue** steps the backtest engine ([`Stepper`]) through a
//! stored series at a chosen speed: the same strategy, engine, fill and fee models as
//! `skeet backtest`, so the paper run and its backtest agree bar for bar (tested). Every bar
//! publishes its events (bar, orders, fills, equity, risk) to the bot's event log, which the
//! server pushes to `bot:{id}` websocket subscribers.
//!
//! Invariants:
//! - A bot runs in one worker at a time (the store's lease); every write names the fence the
//!   runner holds, so a runner that lost its lease writes nothing more, and stops at its next
//!   heartbeat.
//! - A runner that takes a bot over rebuilds the engine by replaying the bars already
//!   processed (deterministic), without publishing them again, and continues from there:
//!   events are neither lost nor duplicated across a takeover.
//! - Pausing stops stepping but keeps the lease; stopping releases it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use skeet_backtest::stepper::{Step, Stepper};
use skeet_engine::EventKind;
use skeet_store::bots::{Bot, BotEvent, Bots, Lease};
use tokio::sync::watch;

use crate::BacktestRequest;

/// A paper bot's settings (stored as the bot's `config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperConfig {
    /// What to run and on which data: a backtest request (the API resolves saved strategies
    /// and datasets into it, as for backtests).
    pub run: BacktestRequest,
    /// Replay speed in bars per second (0.1 to 1000).
    pub speed: f64,
    /// Bars before this index are replayed instantly (warm-up and history), so the bot
    /// starts trading near the end of the series; default: the last 500 bars are paced.
    #[serde(default)]
    pub paced_bars: Option<usize>,
    /// Risk limits checked before every order.
    #[serde(default)]
    pub risk: RiskSettings,
    /// Webhook and Telegram notifications.
    #[serde(default)]
    pub notify: crate::notify::NotifySettings,
}

/// A bot's risk limits (all optional). Refusals are published as `risk` events with the
/// reason; reaching `max_drawdown_pct` flattens the position and stops the bot (`killed`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskSettings {
    /// Largest order value (quote currency).
    #[serde(default)]
    pub max_order_notional: Option<f64>,
    /// Largest position value (quote currency).
    #[serde(default)]
    pub max_position_notional: Option<f64>,
    /// Most working orders at once.
    #[serde(default)]
    pub max_open_orders: Option<usize>,
    /// Drawdown from the equity peak, percent, that flattens and stops the bot.
    #[serde(default)]
    pub max_drawdown_pct: Option<f64>,
    /// Live data: a loss (quote currency) since the start of the UTC day that stops new
    /// entries until the next day.
    #[serde(default)]
    pub max_daily_loss: Option<f64>,
    /// Live data: refuse an entry when the venue's last price is more than this many percent
    /// from the close the strategy decided on (a stale bar, a flash move).
    #[serde(default)]
    pub price_band_pct: Option<f64>,
    /// Live data: the most the workspace's bots may hold together (quote currency, positions
    /// valued at their last price, this entry included); an entry that would pass it is
    /// refused.
    #[serde(default)]
    pub max_total_exposure: Option<f64>,
}

impl RiskSettings {
    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("max_order_notional", self.max_order_notional),
            ("max_position_notional", self.max_position_notional),
            ("max_daily_loss", self.max_daily_loss),
            ("price_band_pct", self.price_band_pct),
            ("max_total_exposure", self.max_total_exposure),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(format!("risk.{name} must be a positive amount"));
            }
        }
        if let Some(d) = self.max_drawdown_pct
            && !(d.is_finite() && d > 0.0 && d <= 100.0)
        {
            return Err("risk.max_drawdown_pct must be from 0 to 100 (percent)".into());
        }
        if self.max_open_orders == Some(0) {
            return Err("risk.max_open_orders must be at least 1".into());
        }
        Ok(())
    }

    pub(crate) fn limits(&self) -> skeet_engine::RiskLimits {
        let d = skeet_engine::RiskLimits::default();
        skeet_engine::RiskLimits {
            max_order_notional: self.max_order_notional,
            max_position_notional: self.max_position_notional,
            max_open_orders: self.max_open_orders.unwrap_or(d.max_open_orders),
            max_drawdown_pct: self.max_drawdown_pct,
        }
    }
}

impl PaperConfig {
    /// Checks the settings against the workspace directory `dir` (the data must exist).
    ///
    /// # Errors
    /// What is wrong, in one sentence.
    pub fn validate(&self, dir: &std::path::Path) -> Result<(), String> {
        if !(self.speed.is_finite() && (0.1..=1000.0).contains(&self.speed)) {
            return Err("speed must be from 0.1 to 1000 bars per second".into());
        }
        self.risk.check()?;
        // Refused rather than ignored: these need a venue's live prices.
        for (name, set) in [
            ("max_daily_loss", self.risk.max_daily_loss.is_some()),
            ("price_band_pct", self.risk.price_band_pct.is_some()),
            ("max_total_exposure", self.risk.max_total_exposure.is_some()),
        ] {
            if set {
                return Err(format!(
                    "risk.{name} applies to bots on a venue's live data; a replay bot takes max_order_notional, max_position_notional, max_open_orders and max_drawdown_pct"
                ));
            }
        }
        self.notify.check()?;
        self.run.validate(dir).map_err(|e| e.to_string())
    }
}

/// Supervisor settings.
#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// Worker name in leases (unique per process).
    pub id: String,
    /// Data directory (workspace stores under it).
    pub data_dir: PathBuf,
    /// Lease length in ms; heartbeats come every third of it (at most every second).
    pub lease_ms: i64,
    /// How often to look for bots to run.
    pub poll: Duration,
    /// Most bots this process runs at once.
    pub max_bots: usize,
    /// The vault, to open live bots' exchange credentials (none: live bots fail to start
    /// with a message saying the key is missing).
    pub vault: Option<skeet_store::vault::Vault>,
    /// Operator endpoint overrides per venue (testnets, sandboxes, test servers).
    pub venue_urls: std::collections::BTreeMap<String, String>,
    /// The Telegram Bot API root (`https://api.telegram.org`).
    pub telegram_api: String,
    /// Notified after bots publish events (so `skeet serve` pushes them to websocket
    /// subscribers at once).
    pub changed: Option<Arc<tokio::sync::Notify>>,
}

/// Opens the notification secrets of `settings` and starts a notifier (none when nothing is
/// configured).
///
/// # Errors
/// A named credential that does not exist or cannot be opened.
pub(crate) async fn notifier_for(
    cfg: &SupervisorConfig,
    bot: &Bot,
    settings: &crate::notify::NotifySettings,
) -> Result<Option<crate::notify::Notifier>, String> {
    let open = |id: String| async move {
        let vault = cfg
            .vault
            .as_ref()
            .ok_or("this worker has no vault key to open notification secrets")?;
        vault
            .open(&bot.workspace_id, &id)
            .await
            .map(|s| zeroize::Zeroizing::new(s.api_secret.clone()))
            .map_err(|e| format!("notification credential {id}: {e}"))
    };
    let webhook = match (&settings.webhook_url, &settings.webhook_credential_id) {
        (Some(url), Some(id)) => Some((url.clone(), open(id.clone()).await?)),
        _ => None,
    };
    let telegram = match (&settings.telegram_credential_id, &settings.telegram_chat_id) {
        (Some(id), Some(chat)) => Some((
            cfg.telegram_api.clone(),
            open(id.clone()).await?,
            chat.clone(),
        )),
        _ => None,
    };
    if webhook.is_none() && telegram.is_none() {
        return Ok(None);
    }
    Ok(Some(crate::notify::Notifier::start(
        settings.clone(),
        crate::notify::Targets { webhook, telegram },
        bot.id.clone(),
        bot.name.clone(),
    )))
}

/// Runs bots until `shutdown` turns true; running bots then give their lease back (they
/// stay `running` for another worker to take over at once).
pub async fn supervise(bots: Bots, cfg: SupervisorConfig, mut shutdown: watch::Receiver<bool>) {
    let cfg = Arc::new(cfg);
    let mut running: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        running.retain(|h| !h.is_finished());
        if *shutdown.borrow() {
            break;
        }
        if running.len() < cfg.max_bots {
            match bots.claim(&cfg.id, cfg.lease_ms).await {
                Ok(Some(bot)) => {
                    tracing::info!(worker = %cfg.id, bot = %bot.id, fence = bot.fence, "bot claimed");
                    running.push(tokio::spawn(run_bot(
                        bots.clone(),
                        cfg.clone(),
                        bot,
                        shutdown.clone(),
                    )));
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(worker = %cfg.id, error = %e, "bot claim failed"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(cfg.poll) => {}
            _ = shutdown.changed() => {}
        }
    }
    for h in running {
        let _ = h.await;
    }
}

/// What the runner tells the store about the bot.
fn summary(
    bot_start: i64,
    s: &Stepper,
    last: Option<&Step>,
    orders: u64,
    fills: u64,
) -> serde_json::Value {
    let cash0 = s.engine().account().initial_cash();
    let (equity, cash, position, fees, price) = last
        .map_or((0.0, cash0, Decimal::ZERO, Decimal::ZERO, 0.0), |st| {
            (st.equity, st.cash, st.position, st.fees, st.bar.close)
        });
    let cash0_f = skeet_engine::account::to_f64(cash0);
    serde_json::json!({
        "bar": s.position(),
        "bars": s.len(),
        "equity": equity,
        "pnl": if last.is_some() { equity - cash0_f } else { 0.0 },
        "initial_cash": cash0.normalize().to_string(),
        "cash": cash.normalize().to_string(),
        "position": position.normalize().to_string(),
        "fees": fees.normalize().to_string(),
        "last_price": price,
        "orders": orders,
        "fills": fills,
        "symbol": s.market().instrument.id.symbol.to_string(),
        "timeframe": s.market().timeframe.to_string(),
        "started_at": bot_start,
    })
}

/// The events one bar publishes.
fn events_of(step: &Step, next_seq: &mut i64, orders: &mut u64, fills: &mut u64) -> Vec<BotEvent> {
    let ts = step.bar.ts.as_millis();
    // Wall-clock creation time of the events (`at`, ms): what latency is measured from.
    let at = skeet_store::now_ms();
    let mut out = Vec::with_capacity(step.events.len() + 2);
    let mut push = |kind: &str, mut data: serde_json::Value| {
        data["at"] = serde_json::json!(at);
        *next_seq += 1;
        out.push(BotEvent {
            seq: *next_seq,
            ts,
            kind: kind.to_string(),
            data,
        });
    };
    let b = &step.bar;
    push(
        "bar",
        serde_json::json!({"t": ts, "o": b.open, "h": b.high, "l": b.low, "c": b.close, "v": b.volume}),
    );
    for e in &step.events {
        let kind = match &e.kind {
            EventKind::Submitted { .. } | EventKind::Closed { .. } => {
                *orders += u64::from(matches!(e.kind, EventKind::Submitted { .. }));
                "order"
            }
            EventKind::Filled { .. } => {
                *fills += 1;
                "fill"
            }
            EventKind::Refused { .. } => {
                metrics::counter!("skeet_bot_risk_refusals_total", "check" => "engine")
                    .increment(1);
                "risk"
            }
            EventKind::Paused { .. } => "risk",
        };
        let mut data = serde_json::to_value(e).unwrap_or_default();
        // Engine times are ns; the API speaks ms.
        data["ts"] = serde_json::json!(e.ts / 1_000_000);
        push(kind, data);
    }
    push(
        "equity",
        serde_json::json!({
            "t": ts,
            "equity": step.equity,
            "cash": step.cash.normalize().to_string(),
            "position": step.position.normalize().to_string(),
        }),
    );
    out
}

/// The event counters a runner keeps.
struct Counters {
    next_seq: i64,
    orders: u64,
    fills: u64,
}

/// True when this bar tripped the drawdown kill switch.
fn tripped(step: &Step) -> bool {
    step.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Paused { protection, .. } if protection.contains("kill switch"))
    })
}

/// The drawdown kill switch: flatten at the last close, publish why, and stop for good
/// (`killed`; users must start the bot again deliberately).
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per place the switch can trip"
)]
async fn kill_switch(
    bots: &Bots,
    id: &str,
    fence: i64,
    stepper: &mut Stepper,
    step: &Step,
    mut events: Vec<BotEvent>,
    c: &mut Counters,
    started_at: i64,
    limit: Option<f64>,
    notifier: Option<&crate::notify::Notifier>,
) {
    let mut flat = step.clone();
    flat.events = stepper.flatten();
    let account = stepper.engine().account();
    flat.cash = account.cash();
    flat.position = account.position(0).quantity;
    flat.fees = account.fees();
    flat.equity = stepper.engine().equity_f();
    let mut more = events_of(&flat, &mut c.next_seq, &mut c.orders, &mut c.fills);
    more.retain(|e| e.kind != "bar");
    events.extend(more);
    let msg = format!(
        "the drawdown reached the {}% limit: position flattened and bot stopped",
        limit.unwrap_or_default()
    );
    c.next_seq += 1;
    events.push(BotEvent {
        seq: c.next_seq,
        ts: skeet_store::now_ms(),
        kind: "risk".into(),
        data: serde_json::json!({"event": "killed", "message": msg}),
    });
    metrics::counter!("skeet_bot_risk_stops_total").increment(1);
    let s = summary(started_at, stepper, Some(&flat), c.orders, c.fills);
    if let Ok(true) = bots
        .append_with_state(id, fence, &events, "killed", &s, Some(&msg), true)
        .await
        && let Some(n) = notifier
    {
        n.notify(&events);
    }
    tracing::warn!(bot = %id, "{msg}");
}

/// A settings edit as the runner records it: from bar `bar` on (the bar about to be stepped
/// when it was applied), revision `rev`, these limits. The log of these lets a runner that
/// takes a replay bot over replay its history under the limits that were in force.
pub(crate) fn settings_event(
    seq: i64,
    ts: i64,
    bar: usize,
    rev: i64,
    risk: &RiskSettings,
) -> BotEvent {
    BotEvent {
        seq,
        ts,
        kind: "settings".into(),
        data: serde_json::json!({"bar": bar, "rev": rev, "risk": risk, "at": skeet_store::now_ms()}),
    }
}

/// The recorded settings edits: `(bar, rev, limits)`, oldest first.
fn settings_changes(events: &[BotEvent]) -> Vec<(usize, i64, RiskSettings)> {
    events
        .iter()
        .filter_map(|e| {
            Some((
                usize::try_from(e.data["bar"].as_u64()?).ok()?,
                e.data["rev"].as_i64()?,
                serde_json::from_value(e.data["risk"].clone()).ok()?,
            ))
        })
        .collect()
}

async fn run_bot(
    bots: Bots,
    cfg: Arc<SupervisorConfig>,
    bot: Bot,
    shutdown: watch::Receiver<bool>,
) {
    let (id, fence) = (bot.id.clone(), bot.fence);
    let fail = |msg: String| {
        let bots = bots.clone();
        let id = id.clone();
        async move {
            tracing::warn!(bot = %id, error = %msg, "bot stopped on an error");
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
    if bot.mode == "live" || (bot.mode == "paper" && bot.venue != "replay") {
        return crate::live::run_live(bots, cfg, bot, shutdown).await;
    }
    if bot.mode != "paper" || bot.venue != "replay" {
        fail(format!(
            "this worker runs paper bots on the replay venue; {} bots on {} are not available yet",
            bot.mode, bot.venue
        ))
        .await;
        return;
    }
    let config: PaperConfig = match serde_json::from_value(bot.config.clone()) {
        Ok(c) => c,
        Err(e) => return fail(format!("settings: {e}")).await,
    };
    let Ok(dir) = skeet_store::workspace_dir(&cfg.data_dir, &bot.workspace_id) else {
        return fail("the bot's workspace id is not valid".into()).await;
    };
    let prepared = {
        let run = config.run.clone();
        tokio::task::spawn_blocking(move || run.prepare(&dir)).await
    };
    let prepared = match prepared {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return fail(e.to_string()).await,
        Err(e) => return fail(format!("preparing the data failed: {e}")).await,
    };
    let (spec, market, run_cfg) = prepared.parts();
    // Limits edited while the bot ran apply from the bar they were applied at: replaying the
    // history under them rebuilds exactly the engine that was published.
    let changes = match bots.events_of_kind(&id, "settings").await {
        Ok(e) => settings_changes(&e),
        Err(e) => return fail(e.to_string()).await,
    };
    let mut risk = changes
        .first()
        .map_or_else(|| config.risk.clone(), |c| c.2.clone());
    let mut rev = changes.last().map_or(-1, |c| c.1);
    let run_cfg = skeet_backtest::RunConfig {
        skip_quiet_bars: false,
        risk: risk.limits(),
        ..run_cfg.clone()
    };
    let mut stepper = match Stepper::new(spec, prepared.params(), market.clone(), &run_cfg) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()).await,
    };
    let mut notifier = match notifier_for(&cfg, &bot, &config.notify).await {
        Ok(n) => n,
        Err(e) => return fail(e).await,
    };
    let notify = |notifier: &Option<crate::notify::Notifier>, events: &[BotEvent]| {
        if let Some(n) = notifier {
            n.notify(events);
        }
    };
    // Resume where the previous holder stopped: replay the processed bars silently.
    let done_bars = bot.summary["bar"]
        .as_u64()
        .map_or(0, |b| usize::try_from(b).unwrap_or(0));
    let (mut orders, mut fills) = (
        bot.summary["orders"].as_u64().unwrap_or(0),
        bot.summary["fills"].as_u64().unwrap_or(0),
    );
    let started_at = bot.summary["started_at"]
        .as_i64()
        .unwrap_or_else(skeet_store::now_ms);
    let paced_from = stepper
        .len()
        .saturating_sub(config.paced_bars.unwrap_or(500))
        .max(stepper.warmup());
    let mut next_seq = match bots.last_seq(&id).await {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()).await,
    };
    let mut last: Option<Step> = None;
    let fast_until = done_bars.max(paced_from);
    let mut history = Vec::new();
    let mut killed_in_history = None;
    let apply_recorded = |stepper: &mut Stepper, risk: &mut RiskSettings| {
        for (bar, _, r) in &changes {
            if *bar == stepper.position() {
                stepper.set_risk(r.limits());
                *risk = r.clone();
            }
        }
    };
    // The daily summary follows every bar, also those replayed silently (their orders and
    // fills counted from the engine's events), so the day a takeover lands in is summarised
    // whole.
    let mut daily = crate::notify::Daily::default();
    let (mut all_orders, mut all_fills) = (0_u64, 0_u64);
    let mut day_end = |step: &Step, seq: i64| {
        for e in &step.events {
            all_orders += u64::from(matches!(e.kind, EventKind::Submitted { .. }));
            all_fills += u64::from(matches!(e.kind, EventKind::Filled { .. }));
        }
        daily
            .observe(step.bar.ts.as_millis(), step.equity, all_fills, all_orders)
            .map(|data| BotEvent {
                seq,
                ts: step.bar.ts.as_millis(),
                kind: "summary".into(),
                data,
            })
    };
    while stepper.position() < fast_until {
        apply_recorded(&mut stepper, &mut risk);
        let Some(step) = stepper.step() else { break };
        if tripped(&step) && stepper.position() > done_bars {
            killed_in_history = Some(step);
            break;
        }
        let summary_event = day_end(&step, 0);
        if stepper.position() > done_bars
            && let Some(e) = summary_event
        {
            history.push(e);
        }
        if stepper.position() > done_bars {
            // History before the paced part, not published before: its orders, fills and
            // risk events go out in one batch (bars and equity points of the history are
            // read over HTTP), numbered after what is already in the log.
            let mut scratch = 0;
            history.extend(
                events_of(&step, &mut scratch, &mut orders, &mut fills)
                    .into_iter()
                    .filter(|e| e.kind != "bar" && e.kind != "equity"),
            );
        }
        last = Some(step);
    }
    for e in &mut history {
        next_seq += 1;
        e.seq = next_seq;
    }
    apply_recorded(&mut stepper, &mut risk);
    // The settings in force from here: the first run records its starting limits; settings
    // edited while no runner held the bot take effect now.
    if rev < bot.settings_rev || changes.is_empty() {
        risk = config.risk.clone();
        stepper.set_risk(risk.limits());
        rev = bot.settings_rev;
        next_seq += 1;
        history.push(settings_event(
            next_seq,
            skeet_store::now_ms(),
            stepper.position(),
            rev,
            &risk,
        ));
    }
    // The history's events and the summary that counts them, together (see
    // `Bots::append_with_state`): a successor resumes exactly after them.
    let s = summary(started_at, &stepper, last.as_ref(), orders, fills);
    match bots
        .append_with_state(&id, fence, &history, "starting", &s, None, false)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => return fail(format!("could not write the bot's events: {e}")).await,
    }
    if let Some(step) = killed_in_history {
        let mut scratch = 0;
        let mut events = events_of(&step, &mut scratch, &mut orders, &mut fills);
        events.retain(|e| e.kind != "bar" && e.kind != "equity");
        for e in &mut events {
            next_seq += 1;
            e.seq = next_seq;
        }
        let mut c = Counters {
            next_seq,
            orders,
            fills,
        };
        kill_switch(
            &bots,
            &id,
            fence,
            &mut stepper,
            &step,
            events,
            &mut c,
            started_at,
            risk.max_drawdown_pct,
            notifier.as_ref(),
        )
        .await;
        return;
    }
    let state_event = |seq: i64, state: &str| BotEvent {
        seq,
        ts: skeet_store::now_ms(),
        kind: "state".into(),
        data: serde_json::json!({"state": state, "at": skeet_store::now_ms()}),
    };
    let beat_every =
        Duration::from_millis(u64::try_from((cfg.lease_ms / 3).clamp(50, 1000)).unwrap_or(1000));
    let mut beat = tokio::time::interval(beat_every);
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / config.speed));
    let mut shutdown = shutdown;
    let mut state = String::new();
    let mut desired = bot.desired.clone();
    loop {
        if desired == "flatten" {
            // Close the position at the last processed close (a market order: taker fee and
            // slippage, as the engine fills it), then stop.
            if let Some(mut flat) = last.clone() {
                flat.events = stepper.flatten();
                let account = stepper.engine().account();
                flat.cash = account.cash();
                flat.position = account.position(0).quantity;
                flat.fees = account.fees();
                flat.equity = stepper.engine().equity_f();
                let mut events = events_of(&flat, &mut next_seq, &mut orders, &mut fills);
                events.retain(|e| e.kind != "bar");
                // The flatten's events and the stop in one transaction: a successor never
                // finds the flatten published but still asked for (it would flatten again).
                next_seq += 1;
                events.push(state_event(next_seq, "stopped"));
                let s = summary(started_at, &stepper, Some(&flat), orders, fills);
                if let Ok(true) = bots
                    .append_with_state(&id, fence, &events, "stopped", &s, None, true)
                    .await
                {
                    notify(&notifier, &events);
                }
                tracing::info!(bot = %id, "bot flattened and stopped");
                return;
            }
            desired = "stopped".into();
        }
        let want = match desired.as_str() {
            "running" => "running",
            "paused" => "paused",
            _ => "stopped",
        };
        if want != state {
            next_seq += 1;
            let s = summary(started_at, &stepper, last.as_ref(), orders, fills);
            let release = want == "stopped";
            match bots
                .append_with_state(
                    &id,
                    fence,
                    &[state_event(next_seq, want)],
                    want,
                    &s,
                    None,
                    release,
                )
                .await
            {
                Ok(true) => {}
                _ => return,
            }
            if release {
                tracing::info!(bot = %id, "bot stopped");
                return;
            }
            state = want.to_string();
        }
        tokio::select! {
            _ = beat.tick() => {
                match bots.heartbeat(&id, &cfg.id, fence, cfg.lease_ms).await {
                    Ok(Lease::Held { desired: d, settings_rev }) => {
                        desired = d;
                        if settings_rev != rev {
                            // Edited while running: the new limits apply from the next bar.
                            rev = settings_rev;
                            let edited = bots.get_any(&id).await.ok().and_then(|b| serde_json::from_value::<PaperConfig>(b.config).ok());
                            if let Some(edited) = edited {
                                risk = edited.risk.clone();
                                stepper.set_risk(risk.limits());
                                match notifier_for(&cfg, &bot, &edited.notify).await {
                                    Ok(n) => notifier = n,
                                    Err(e) => tracing::warn!(bot = %id, error = %e, "notifications unchanged"),
                                }
                                next_seq += 1;
                                let e = settings_event(next_seq, skeet_store::now_ms(), stepper.position(), rev, &risk);
                                if bots.append_events(&id, fence, std::slice::from_ref(&e)).await.is_ok()
                                    && let Some(c) = &cfg.changed
                                {
                                    c.notify_one();
                                }
                            }
                        }
                    }
                    Ok(Lease::Lost) => {
                        tracing::warn!(bot = %id, "bot lease lost; another worker has it");
                        return;
                    }
                    Err(e) => tracing::warn!(bot = %id, error = %e, "bot heartbeat failed"),
                }
            }
            _ = pace.tick(), if state == "running" => {
                let Some(step) = stepper.step() else {
                    next_seq += 1;
                    let e = state_event(next_seq, "finished");
                    let s = summary(started_at, &stepper, last.as_ref(), orders, fills);
                    if let Ok(true) = bots.append_with_state(&id, fence, std::slice::from_ref(&e), "finished", &s, None, true).await {
                        notify(&notifier, std::slice::from_ref(&e));
                    }
                    tracing::info!(bot = %id, "bot finished its replay");
                    return;
                };
                let mut events = events_of(&step, &mut next_seq, &mut orders, &mut fills);
                if let Some(e) = day_end(&step, next_seq + 1) {
                    next_seq += 1;
                    events.push(e);
                }
                if tripped(&step) {
                    let mut c = Counters { next_seq, orders, fills };
                    kill_switch(&bots, &id, fence, &mut stepper, &step, events, &mut c, started_at, risk.max_drawdown_pct, notifier.as_ref()).await;
                    return;
                }
                last = Some(step);
                // The bar's events and the summary counting them, in one transaction.
                let s = summary(started_at, &stepper, last.as_ref(), orders, fills);
                match bots.append_with_state(&id, fence, &events, "running", &s, None, false).await {
                    Ok(true) => {
                        notify(&notifier, &events);
                        if let Some(c) = &cfg.changed {
                            c.notify_one();
                        }
                    }
                    Ok(false) => return,
                    Err(e) => return fail(format!("could not write the bot's events: {e}")).await,
                }
            }
            _ = shutdown.changed() => {
                // Hand the bot to another worker at once: it stays wanted.
                let s = summary(started_at, &stepper, last.as_ref(), orders, fills);
                let _ = bots.set_state(&id, fence, "starting", &s, None, true).await;
                return;
            }
        }
    }
}
