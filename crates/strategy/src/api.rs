//! The interface between strategies and the engine.
//!
//! A strategy is a pure decision function: each closed bar it sees the bars up to and
//! including that bar ([`BarsView`] cannot reach further) and its position, and answers with
//! [`Signals`]. It performs no I/O and places no orders itself: the engine turns signals into
//! orders with the strategy's [`ExecSettings`] (order type, sizing, stops, protections) after
//! the risk checks. The same strategy value therefore runs unchanged in a backtest, a paper bot
//! and a live bot.

use serde::{Deserialize, Serialize};

/// The bars a strategy may see at bar `t`: indexes `0..=t`, nothing later.
#[derive(Clone, Copy, Debug)]
pub struct BarsView<'a> {
    ts: &'a [i64],
    open: &'a [f64],
    high: &'a [f64],
    low: &'a [f64],
    close: &'a [f64],
    volume: &'a [f64],
}

impl<'a> BarsView<'a> {
    /// The first `upto + 1` bars of full-length columns (all of equal length > `upto`).
    ///
    /// # Panics
    /// If a column is shorter than `upto + 1` (an engine bug, not a data condition).
    #[inline]
    pub fn new(
        upto: usize,
        ts: &'a [i64],
        open: &'a [f64],
        high: &'a [f64],
        low: &'a [f64],
        close: &'a [f64],
        volume: &'a [f64],
    ) -> Self {
        let n = upto + 1;
        Self {
            ts: &ts[..n],
            open: &open[..n],
            high: &high[..n],
            low: &low[..n],
            close: &close[..n],
            volume: &volume[..n],
        }
    }

    /// Number of visible bars (`t + 1`).
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Never true: a view always holds the current bar.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// Open times.
    pub fn ts(&self) -> &'a [i64] {
        self.ts
    }
    /// Opens.
    pub fn open(&self) -> &'a [f64] {
        self.open
    }
    /// Highs.
    pub fn high(&self) -> &'a [f64] {
        self.high
    }
    /// Lows.
    pub fn low(&self) -> &'a [f64] {
        self.low
    }
    /// Closes.
    pub fn close(&self) -> &'a [f64] {
        self.close
    }
    /// Volumes.
    pub fn volume(&self) -> &'a [f64] {
        self.volume
    }
}

/// A strategy's position in one instrument, as the engine reports it before each decision.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PositionState {
    /// Signed units: positive long, negative short, 0 flat.
    pub size: f64,
    /// Average entry price (0 when flat).
    pub entry_price: f64,
    /// Unrealised return of the position at the current close, percent (0 when flat).
    pub pnl_pct: f64,
    /// Bars since the position was opened (0 on the entry bar and when flat).
    pub bars_in_trade: usize,
    /// Account equity at the current close.
    pub equity: f64,
}

/// Everything a strategy sees at one bar.
#[derive(Clone, Copy, Debug)]
pub struct BarContext<'a> {
    /// Index of the current (just closed) bar.
    pub index: usize,
    /// Bars up to and including the current one.
    pub bars: BarsView<'a>,
    /// The strategy's position.
    pub position: PositionState,
}

/// A strategy's answer for one bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Open (or reverse into) a long position.
    pub enter_long: bool,
    /// Open (or reverse into) a short position.
    pub enter_short: bool,
    /// Close a long position.
    pub exit_long: bool,
    /// Close a short position.
    pub exit_short: bool,
}

/// Entry order type, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EntryOrder {
    /// Market.
    Market,
    /// Limit `offset_pct` better than the signal close, working `valid_bars` bars.
    Limit {
        /// Percent.
        offset_pct: f64,
        /// Bars.
        valid_bars: usize,
    },
    /// Stop `offset_pct` beyond the signal close, working `valid_bars` bars.
    Stop {
        /// Percent.
        offset_pct: f64,
        /// Bars.
        valid_bars: usize,
    },
}

/// Position sizing, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SizingRule {
    /// All equity, fees included, whole lots.
    AllIn,
    /// Percent of equity.
    PctEquity {
        /// Percent.
        pct: f64,
    },
    /// Quote currency amount.
    Quote {
        /// Amount.
        amount: f64,
    },
    /// Base units.
    Units {
        /// Quantity.
        quantity: f64,
    },
    /// Percent of equity at risk between entry and stop loss.
    Risk {
        /// Percent.
        risk_pct: f64,
    },
}

/// A distance from the entry price, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DistanceRule {
    /// Percent of the entry price.
    Pct {
        /// Percent.
        pct: f64,
    },
    /// Multiple of the ATR at the signal bar.
    Atr {
        /// ATR period.
        period: usize,
        /// Multiple.
        mult: f64,
    },
    /// Multiple of the stop-loss distance (targets only).
    RewardRisk {
        /// Multiple.
        rr: f64,
    },
}

/// How the engine executes a strategy's signals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecSettings {
    /// Entry order type.
    pub entry_order: EntryOrder,
    /// Position size.
    pub sizing: SizingRule,
    /// Take short entries.
    pub allow_short: bool,
    /// Protective stop.
    pub stop_loss: Option<DistanceRule>,
    /// Profit target.
    pub take_profit: Option<DistanceRule>,
    /// Trailing stop.
    pub trailing_stop: Option<DistanceRule>,
    /// Exit after this many bars.
    pub time_stop: Option<usize>,
    /// Entries allowed into one position (1 = no scaling in).
    pub max_entries: usize,
    /// `(losses, bars)`: after this many consecutive losses, no entries for this many bars.
    pub cooldown: Option<(usize, usize)>,
    /// `(pct, bars)`: at this drawdown from the equity peak, no entries for this many bars.
    pub drawdown_pause: Option<(f64, usize)>,
}

impl Default for ExecSettings {
    fn default() -> Self {
        Self {
            entry_order: EntryOrder::Market,
            sizing: SizingRule::AllIn,
            allow_short: false,
            stop_loss: None,
            take_profit: None,
            trailing_stop: None,
            time_stop: None,
            max_entries: 1,
            cooldown: None,
            drawdown_pause: None,
        }
    }
}

/// A trading strategy. Implementations decide from closed bars only; see the module docs.
pub trait Strategy {
    /// How the engine should execute this strategy's signals.
    fn execution(&self) -> &ExecSettings;

    /// Bars before the strategy's decisions are meaningful (indicator warm-up). Informational:
    /// the engine calls [`Strategy::on_bar`] on every bar regardless.
    fn warmup(&self) -> usize {
        0
    }

    /// Decides on the bar that just closed.
    fn on_bar(&mut self, ctx: &BarContext<'_>) -> Signals;

    /// The first bar at or after `from` at which this strategy could return a signal, if its
    /// position (`side`: +1 long, −1 short, 0 flat) stays as it is; `None` if never. Lets a
    /// driver skip stretches in which nothing can happen. The default, `Some(from)`, means
    /// "ask me every bar", which is what a strategy with its own per-bar state needs.
    fn next_decision(&self, from: usize, side: i8) -> Option<usize> {
        let _ = side;
        Some(from)
    }
}
