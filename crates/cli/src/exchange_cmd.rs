//! `skeet exchange ...`: a ccxt-like command line for operators, on the same adapters the bots
//! use. Credentials come from `SKEET_<VENUE>_API_KEY` / `SKEET_<VENUE>_API_SECRET`; public
//! commands need none. `--base-url` points a venue at a testnet, a sandbox or a local test
//! server. Output is a table, or JSON with `--json`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use skeet_core::{ClientOrderId, OrderKind, Price, Side, TimeInForce, Timeframe, UnixNanos};
use skeet_exchange::{Credentials, Exchange, NewOrder, OrderInfo, OrderRef, VenueConfig, submit};

use crate::output;

/// Options every `skeet exchange` command takes.
#[derive(Debug, Args)]
pub(crate) struct VenueArgs {
    /// Venue: binance, kraken, coinbase or alpaca.
    #[arg(long)]
    venue: String,
    /// Endpoint override (testnet, sandbox or a local test server), e.g. http://127.0.0.1:9000.
    #[arg(long)]
    base_url: Option<String>,
    /// Alpaca: use the paper-trading account endpoints.
    #[arg(long)]
    paper: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Use a credential stored in a server's vault instead of environment keys (balance,
    /// orders and permissions only: the secret never leaves the server). Needs --workspace,
    /// --server and an API token in SKEET_TOKEN.
    #[arg(long, requires = "workspace")]
    credential: Option<String>,
    /// Workspace of --credential.
    #[arg(long)]
    workspace: Option<String>,
    /// The SKEET server holding the vault.
    #[arg(long, env = "SKEET_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
}

/// A read through the server with a vault credential: `GET {server}/api/workspaces/{ws}/
/// credentials/{id}/{what}`.
async fn via_server(
    v: &VenueArgs,
    what: &str,
    query: &[(&str, &str)],
) -> anyhow::Result<serde_json::Value> {
    let (Some(id), Some(ws)) = (&v.credential, &v.workspace) else {
        bail!("--credential needs --workspace");
    };
    let token = std::env::var("SKEET_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .context("set SKEET_TOKEN to an API token of the server (with the read scope) to use a vault credential")?;
    skeet_exchange::http::install_tls_provider();
    let url = format!(
        "{}/api/workspaces/{ws}/credentials/{id}/{what}",
        v.server.trim_end_matches('/')
    );
    let resp = reqwest::Client::new()
        .get(&url)
        .query(query)
        .bearer_auth(token)
        .timeout(std::time::Duration::from_secs_f64(v.timeout.max(1.0) * 2.0))
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", v.server))?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        bail!(
            "the server answered {}: {}",
            status.as_u16(),
            body["message"].as_str().unwrap_or("no message")
        );
    }
    Ok(body)
}

/// The `skeet exchange` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ExchangeCommand {
    /// List markets with their trading rules.
    Markets {
        #[command(flatten)]
        venue: VenueArgs,
        /// Only markets whose symbol contains this text (e.g. USDT).
        #[arg(long)]
        filter: Option<String>,
    },
    /// Best bid, ask and last price of a symbol.
    Ticker {
        #[command(flatten)]
        venue: VenueArgs,
        /// Unified symbol, e.g. BTC/USDT.
        #[arg(long)]
        symbol: String,
    },
    /// The top of the order book.
    Book {
        #[command(flatten)]
        venue: VenueArgs,
        /// Unified symbol.
        #[arg(long)]
        symbol: String,
        /// Levels per side.
        #[arg(long, default_value_t = 10)]
        depth: u32,
    },
    /// Closed candles from a time on (one page; `skeet data download` stores whole ranges).
    Candles {
        #[command(flatten)]
        venue: VenueArgs,
        /// Unified symbol.
        #[arg(long)]
        symbol: String,
        /// Timeframe, e.g. 1m, 1h, 1d.
        #[arg(long, default_value = "1h")]
        timeframe: String,
        /// First candle's open time (date or RFC 3339).
        #[arg(long)]
        since: String,
        /// Most candles to show.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Account balances (needs a key).
    Balance {
        #[command(flatten)]
        venue: VenueArgs,
    },
    /// Open orders (needs a key).
    Orders {
        #[command(flatten)]
        venue: VenueArgs,
        /// Only this symbol.
        #[arg(long)]
        symbol: Option<String>,
    },
    /// Place an order (with --side and --quantity) or look one up (with --id or --client-id).
    Order {
        #[command(flatten)]
        venue: VenueArgs,
        /// Unified symbol.
        #[arg(long)]
        symbol: String,
        /// buy or sell: places an order.
        #[arg(long)]
        side: Option<String>,
        /// Base quantity of the order to place.
        #[arg(long)]
        quantity: Option<Decimal>,
        /// Limit price (a market order without it).
        #[arg(long)]
        price: Option<Decimal>,
        /// Time in force: gtc, ioc, fok or post_only.
        #[arg(long, default_value = "gtc")]
        tif: String,
        /// Venue order id to look up.
        #[arg(long, conflicts_with = "side")]
        id: Option<String>,
        /// Client order id: the idempotency key when placing (generated when absent), or the
        /// order to look up.
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Cancel an order by venue id or client id.
    Cancel {
        #[command(flatten)]
        venue: VenueArgs,
        /// Unified symbol.
        #[arg(long)]
        symbol: String,
        /// Venue order id.
        #[arg(long, required_unless_present = "client_id")]
        id: Option<String>,
        /// Client order id.
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Our fills on a symbol since a time.
    Trades {
        #[command(flatten)]
        venue: VenueArgs,
        /// Unified symbol.
        #[arg(long)]
        symbol: String,
        /// From (date or RFC 3339).
        #[arg(long, default_value = "1970-01-01")]
        since: String,
    },
    /// What the key may do; warns when it can withdraw.
    Permissions {
        #[command(flatten)]
        venue: VenueArgs,
    },
}

/// Credentials for `venue` from the environment, when both variables are set.
pub(crate) fn env_credentials(venue: &str) -> anyhow::Result<Option<Credentials>> {
    let up = venue.to_ascii_uppercase();
    let key = std::env::var(format!("SKEET_{up}_API_KEY")).ok();
    let secret = std::env::var(format!("SKEET_{up}_API_SECRET")).ok();
    match (key, secret) {
        (Some(k), Some(s)) if !k.is_empty() && !s.is_empty() => Ok(Some(Credentials::new(&k, &s))),
        (None, None) => Ok(None),
        _ => bail!("set both SKEET_{up}_API_KEY and SKEET_{up}_API_SECRET (only one is set)"),
    }
}

/// "Test connection" of a vault credential through the server.
async fn via_server_post_test(v: &VenueArgs) -> anyhow::Result<serde_json::Value> {
    let (Some(id), Some(ws)) = (&v.credential, &v.workspace) else {
        bail!("--credential needs --workspace");
    };
    let token = std::env::var("SKEET_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .context("set SKEET_TOKEN to an API token of the server to use a vault credential")?;
    skeet_exchange::http::install_tls_provider();
    let url = format!(
        "{}/api/workspaces/{ws}/credentials/{id}/test",
        v.server.trim_end_matches('/')
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {}", v.server))?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        bail!(
            "the server answered {}: {}",
            status.as_u16(),
            body["message"].as_str().unwrap_or("no message")
        );
    }
    Ok(body)
}

/// Builds the venue client from the common options.
pub(crate) fn connect(v: &VenueArgs) -> anyhow::Result<Box<dyn Exchange>> {
    if v.credential.is_some() {
        bail!(
            "--credential works for balance, orders and permissions only: orders are placed by bots, and market data needs no key"
        );
    }
    if !(v.timeout.is_finite() && v.timeout > 0.0 && v.timeout <= 600.0) {
        bail!("--timeout must be between 0 and 600 seconds");
    }
    let cfg = VenueConfig {
        base_url: v
            .base_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_string()),
        credentials: env_credentials(&v.venue)?,
        timeout: std::time::Duration::from_secs_f64(v.timeout),
        paper: v.paper,
        ..VenueConfig::default()
    };
    Ok(skeet_exchange::connect(&v.venue, cfg)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    output::data(serde_json::to_string_pretty(v)?);
    Ok(())
}

fn ms(ts: i64) -> String {
    if ts <= 0 {
        return "-".into();
    }
    UnixNanos::from_millis(ts).map_or_else(|| ts.to_string(), UnixNanos::to_rfc3339)
}

fn opt(d: Option<Decimal>) -> String {
    d.map_or_else(|| "-".into(), |d| d.normalize().to_string())
}

fn parse_ms(what: &str, s: &str) -> anyhow::Result<i64> {
    let t: UnixNanos = s
        .parse()
        .with_context(|| format!("--{what} '{s}' is not a date (2024-01-31) or RFC 3339 time"))?;
    Ok(t.as_millis())
}

fn order_ref(id: Option<&String>, client: Option<&String>) -> anyhow::Result<OrderRef> {
    match (id, client) {
        (Some(i), _) => Ok(OrderRef::Venue(i.clone())),
        (None, Some(c)) => Ok(OrderRef::Client(c.clone())),
        (None, None) => bail!("give --id (venue order id) or --client-id"),
    }
}

fn print_orders(orders: &[OrderInfo]) {
    output::line(format!(
        "{:<20} {:<24} {:<10} {:<5} {:>14} {:>14} {:>14} {:<17}",
        "id", "client id", "symbol", "side", "price", "quantity", "filled", "state"
    ));
    for o in orders {
        output::line(format!(
            "{:<20} {:<24} {:<10} {:<5} {:>14} {:>14} {:>14} {:<17}",
            o.venue_order_id,
            o.client_order_id.as_deref().unwrap_or("-"),
            o.symbol,
            o.side.to_string(),
            opt(o.price),
            o.quantity.normalize(),
            o.filled.normalize(),
            format!("{:?}", o.state).to_lowercase()
        ));
    }
}

/// Runs a `skeet exchange` command.
pub(crate) fn run(cmd: &ExchangeCommand) -> anyhow::Result<()> {
    runtime()?.block_on(run_async(cmd))
}

async fn run_async(cmd: &ExchangeCommand) -> anyhow::Result<()> {
    match cmd {
        ExchangeCommand::Markets { venue, filter } => {
            let ex = connect(venue)?;
            let mut markets = ex.markets().await?;
            if let Some(f) = filter {
                let f = f.to_ascii_uppercase();
                markets.retain(|m| m.symbol.contains(&f));
            }
            if venue.json {
                return json(&markets);
            }
            output::line(format!(
                "{:<14} {:<12} {:<8} {:>12} {:>12} {:>12} {:>12}",
                "symbol", "venue name", "status", "tick", "step", "min qty", "min value"
            ));
            for m in &markets {
                output::line(format!(
                    "{:<14} {:<12} {:<8} {:>12} {:>12} {:>12} {:>12}",
                    m.symbol,
                    m.venue_symbol,
                    format!("{:?}", m.status).to_lowercase(),
                    m.tick_size.normalize(),
                    m.step_size.normalize(),
                    m.min_qty.normalize(),
                    m.min_notional.normalize()
                ));
            }
            output::line(format!("{} markets", markets.len()));
        }
        ExchangeCommand::Ticker { venue, symbol } => {
            let t = connect(venue)?.ticker(symbol).await?;
            if venue.json {
                return json(&t);
            }
            output::line(format!(
                "{}  bid {}  ask {}  last {}  24h volume {}  at {}",
                t.symbol,
                opt(t.bid),
                opt(t.ask),
                opt(t.last),
                opt(t.volume_24h),
                ms(t.ts_ms)
            ));
        }
        ExchangeCommand::Book {
            venue,
            symbol,
            depth,
        } => {
            let b = connect(venue)?.order_book(symbol, *depth).await?;
            if venue.json {
                return json(&b);
            }
            output::line(format!(
                "{:>16} {:>16} | {:<16} {:<16}",
                "bid qty", "bid", "ask", "ask qty"
            ));
            for i in 0..b.bids.len().max(b.asks.len()) {
                let bid = b.bids.get(i);
                let ask = b.asks.get(i);
                output::line(format!(
                    "{:>16} {:>16} | {:<16} {:<16}",
                    opt(bid.map(|l| l.1)),
                    opt(bid.map(|l| l.0)),
                    opt(ask.map(|l| l.0)),
                    opt(ask.map(|l| l.1))
                ));
            }
        }
        ExchangeCommand::Candles {
            venue,
            symbol,
            timeframe,
            since,
            limit,
        } => {
            let tf: Timeframe = timeframe.parse()?;
            let bars = connect(venue)?
                .candles(symbol, tf, parse_ms("since", since)?, *limit)
                .await?;
            if venue.json {
                return json(&bars);
            }
            output::line(format!(
                "{:<25} {:>14} {:>14} {:>14} {:>14} {:>16}",
                "open time", "open", "high", "low", "close", "volume"
            ));
            for b in &bars {
                output::line(format!(
                    "{:<25} {:>14} {:>14} {:>14} {:>14} {:>16}",
                    b.ts.to_rfc3339(),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume
                ));
            }
            output::line(format!("{} candles", bars.len()));
        }
        ExchangeCommand::Balance { venue } if venue.credential.is_some() => {
            let balances = via_server(venue, "balances", &[]).await?;
            if venue.json {
                return json(&balances);
            }
            output::line(format!("{:<10} {:>20} {:>20}", "asset", "free", "locked"));
            for b in balances.as_array().into_iter().flatten() {
                output::line(format!(
                    "{:<10} {:>20} {:>20}",
                    b["asset"].as_str().unwrap_or("?"),
                    b["free"].as_str().unwrap_or("?"),
                    b["locked"].as_str().unwrap_or("?")
                ));
            }
        }
        ExchangeCommand::Orders { venue, symbol } if venue.credential.is_some() => {
            let q: Vec<(&str, &str)> = symbol.iter().map(|s| ("symbol", s.as_str())).collect();
            let orders = via_server(venue, "orders", &q).await?;
            if venue.json {
                return json(&orders);
            }
            let orders: Vec<serde_json::Value> = orders.as_array().cloned().unwrap_or_default();
            for o in &orders {
                output::line(format!(
                    "{:<20} {:<24} {:<10} {:<5} {:>14} {:>14} {:>14} {}",
                    o["venue_order_id"].as_str().unwrap_or("?"),
                    o["client_order_id"].as_str().unwrap_or("-"),
                    o["symbol"].as_str().unwrap_or("?"),
                    o["side"].as_str().unwrap_or("?"),
                    o["price"].as_str().unwrap_or("-"),
                    o["quantity"].as_str().unwrap_or("?"),
                    o["filled"].as_str().unwrap_or("?"),
                    o["state"].as_str().unwrap_or("?")
                ));
            }
            output::line(format!("{} open orders", orders.len()));
        }
        ExchangeCommand::Permissions { venue } if venue.credential.is_some() => {
            let r = via_server_post_test(venue).await?;
            if venue.json {
                return json(&r);
            }
            if r["ok"] != true {
                bail!(
                    "{}",
                    r["error"].as_str().unwrap_or("the venue refused the key")
                );
            }
            let p = &r["permissions"];
            output::line(format!(
                "read: {}  trade: {}  withdraw: {}  ip restricted: {}",
                p["read"],
                p["trade"],
                p["withdraw"],
                if p["ip_restricted"].is_null() {
                    "unknown".to_string()
                } else {
                    p["ip_restricted"].to_string()
                }
            ));
            for w in r["warnings"].as_array().into_iter().flatten() {
                output::line(format!("warning: {}", w.as_str().unwrap_or_default()));
            }
        }
        ExchangeCommand::Balance { venue } => {
            let balances = connect(venue)?.balances().await?;
            if venue.json {
                return json(&balances);
            }
            output::line(format!("{:<10} {:>20} {:>20}", "asset", "free", "locked"));
            for b in &balances {
                output::line(format!(
                    "{:<10} {:>20} {:>20}",
                    b.asset,
                    b.free.normalize(),
                    b.locked.normalize()
                ));
            }
        }
        ExchangeCommand::Orders { venue, symbol } => {
            let orders = connect(venue)?.open_orders(symbol.as_deref()).await?;
            if venue.json {
                return json(&orders);
            }
            print_orders(&orders);
            output::line(format!("{} open orders", orders.len()));
        }
        ExchangeCommand::Order {
            venue,
            symbol,
            side,
            quantity,
            price,
            tif,
            id,
            client_id,
        } => {
            let ex = connect(venue)?;
            let info = if let Some(side) = side {
                let side = match side.to_ascii_lowercase().as_str() {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    other => bail!("--side '{other}': use buy or sell"),
                };
                let quantity = quantity.context("placing an order needs --quantity")?;
                let time_in_force = match tif.to_ascii_lowercase().as_str() {
                    "gtc" => TimeInForce::Gtc,
                    "ioc" => TimeInForce::Ioc,
                    "fok" => TimeInForce::Fok,
                    "post_only" | "post-only" => TimeInForce::PostOnly,
                    other => bail!("--tif '{other}': use gtc, ioc, fok or post_only"),
                };
                let client = match client_id {
                    Some(c) => ClientOrderId::new(c)?,
                    None => ClientOrderId::new(&format!("skeet-cli-{}", skeet_exchange::now_ms()))?,
                };
                let order = NewOrder {
                    symbol: symbol.clone(),
                    side,
                    kind: price.map_or(OrderKind::Market, |p| OrderKind::Limit {
                        price: Price::new(p),
                    }),
                    quantity,
                    time_in_force,
                    client_order_id: client,
                };
                submit(&*ex, &order, 3).await?
            } else {
                ex.fetch_order(symbol, &order_ref(id.as_ref(), client_id.as_ref())?)
                    .await?
            };
            if venue.json {
                return json(&info);
            }
            print_orders(std::slice::from_ref(&info));
        }
        ExchangeCommand::Cancel {
            venue,
            symbol,
            id,
            client_id,
        } => {
            let info = connect(venue)?
                .cancel_order(symbol, &order_ref(id.as_ref(), client_id.as_ref())?)
                .await?;
            if venue.json {
                return json(&info);
            }
            print_orders(std::slice::from_ref(&info));
        }
        ExchangeCommand::Trades {
            venue,
            symbol,
            since,
        } => {
            let fills = connect(venue)?
                .my_trades(symbol, parse_ms("since", since)?)
                .await?;
            if venue.json {
                return json(&fills);
            }
            output::line(format!(
                "{:<25} {:<14} {:<20} {:<5} {:>14} {:>14} {:>12} {:<6}",
                "time", "trade id", "order id", "side", "price", "quantity", "fee", "maker"
            ));
            for f in &fills {
                output::line(format!(
                    "{:<25} {:<14} {:<20} {:<5} {:>14} {:>14} {:>12} {:<6}",
                    ms(f.ts_ms),
                    f.trade_id,
                    f.venue_order_id,
                    f.side.to_string(),
                    f.price.normalize(),
                    f.quantity.normalize(),
                    format!("{} {}", f.fee.normalize(), f.fee_asset),
                    f.maker
                ));
            }
            output::line(format!("{} fills", fills.len()));
        }
        ExchangeCommand::Permissions { venue } => {
            let p = connect(venue)?.permissions().await?;
            if venue.json {
                return json(&p);
            }
            output::line(format!(
                "read: {}  trade: {}  withdraw: {}  ip restricted: {}",
                p.read,
                p.trade,
                p.withdraw,
                p.ip_restricted.map_or("unknown".into(), |b| b.to_string())
            ));
            if p.withdraw {
                output::line(
                    "warning: this key can withdraw funds; a trading bot's key should not (see docs/venues.md)",
                );
            }
        }
    }
    Ok(())
}
