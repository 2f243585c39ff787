//! The indicator catalogue and the bridge from a parsed [`Call`] to a running indicator.
//!
//! [`INDICATORS`] lists every indicator with its parameters, defaults, outputs and the
//! reference it is checked against. [`resolve`] checks a call against it (unknown names get a
//! "did you mean" hint; wrong arity, wrong types and out-of-range values get messages naming
//! the parameter) and returns an [`IndicatorSpec`], which can:
//! - compute whole columns at once ([`IndicatorSpec::compute`]) for backtests and the CLI, or
//! - produce a [`Stream`] that takes one bar at a time for live trading.
//!
//! Both paths drive the same [`Indicator`] implementation, so they agree exactly.
//!
//! Column names are predictable: the indicator name followed by its arguments with defaults
//! filled in, joined by `_` (`sma(close,10)` → `sma_close_10`, `rsi(close)` → `rsi_close_14`,
//! `sma(rsi(close,14),5)` → `sma_rsi_close_14_5`); multi-output indicators append the output
//! (`macd_close_12_26_9_signal`); an alias replaces the whole prefix (`fast=sma(close,10)` →
//! `fast`).

use std::fmt;

use crate::TaError;
use crate::call::{Arg, Call, Pos, parse_call, suggest};
use crate::indicator::{
    Candle, Columns, Indicator, batch_candles_into, batch_candles1_into, batch_into,
    batch_multi_into,
};
use crate::ma::{Dema, Ema, Sma, Tema, Wma};
use crate::momentum::{Cci, Macd, Mfi, Mom, Roc, Rsi, Stoch, StochRsi, Willr};
use crate::trend::{Adx, Di, Ichimoku, LinRegSlope, Sar, SuperTrend};
use crate::volatility::{Atr, Bbands, Donchian, Keltner, Natr, StdDev, TrueRange};
use crate::volume::{Obv, Vwap};
use std::borrow::Cow;

/// One parameter of an indicator.
#[derive(Debug)]
pub struct ParamDef {
    /// Name, usable as `name=value` in calls.
    pub name: &'static str,
    /// Whole numbers only.
    pub int: bool,
    /// Value when omitted; `None` means required.
    pub default: Option<f64>,
}

/// A catalogue entry.
#[derive(Debug)]
pub struct IndicatorDef {
    /// Canonical name.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// One line for `skeet indicators --list`.
    pub summary: &'static str,
    /// Takes a price series (`close`, `hl2`, a nested call) as its first argument.
    pub source: bool,
    /// Parameters after the source.
    pub params: &'static [ParamDef],
    /// Output names; the first is the default in expressions.
    pub outputs: &'static [&'static str],
    /// What its values are checked against.
    pub reference: &'static str,
}

impl PartialEq for IndicatorDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

const fn p(name: &'static str, default: Option<f64>) -> ParamDef {
    ParamDef {
        name,
        int: true,
        default,
    }
}

const fn r(name: &'static str, default: f64) -> ParamDef {
    ParamDef {
        name,
        int: false,
        default: Some(default),
    }
}

const VALUE: &[&str] = &["value"];
const BANDS: &[&str] = &["upper", "middle", "lower"];
const KD: &[&str] = &["k", "d"];
const PERIOD: &[ParamDef] = &[p("period", None)];
const PERIOD14: &[ParamDef] = &[p("period", Some(14.0))];

/// Every indicator SKEET knows.
pub static INDICATORS: &[IndicatorDef] = &[
    IndicatorDef {
        name: "sma",
        aliases: &[],
        summary: "simple moving average",
        source: true,
        params: PERIOD,
        outputs: VALUE,
        reference: "TA-Lib SMA",
    },
    IndicatorDef {
        name: "ema",
        aliases: &[],
        summary: "exponential moving average (SMA-seeded)",
        source: true,
        params: PERIOD,
        outputs: VALUE,
        reference: "TA-Lib EMA",
    },
    IndicatorDef {
        name: "wma",
        aliases: &[],
        summary: "linearly weighted moving average",
        source: true,
        params: PERIOD,
        outputs: VALUE,
        reference: "TA-Lib WMA",
    },
    IndicatorDef {
        name: "dema",
        aliases: &[],
        summary: "double exponential moving average",
        source: true,
        params: PERIOD,
        outputs: VALUE,
        reference: "TA-Lib DEMA",
    },
    IndicatorDef {
        name: "tema",
        aliases: &[],
        summary: "triple exponential moving average",
        source: true,
        params: PERIOD,
        outputs: VALUE,
        reference: "TA-Lib TEMA",
    },
    IndicatorDef {
        name: "rsi",
        aliases: &[],
        summary: "Wilder's relative strength index",
        source: true,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib RSI",
    },
    IndicatorDef {
        name: "macd",
        aliases: &[],
        summary: "MACD line, signal and histogram",
        source: true,
        params: &[
            p("fast", Some(12.0)),
            p("slow", Some(26.0)),
            p("signal", Some(9.0)),
        ],
        outputs: &["macd", "signal", "hist"],
        reference: "TA-Lib MACD",
    },
    IndicatorDef {
        name: "bbands",
        aliases: &["bb", "bollinger"],
        summary: "Bollinger Bands around an SMA",
        source: true,
        params: &[
            p("period", Some(20.0)),
            r("nbdevup", 2.0),
            r("nbdevdn", 2.0),
        ],
        outputs: BANDS,
        reference: "TA-Lib BBANDS",
    },
    IndicatorDef {
        name: "stddev",
        aliases: &["std"],
        summary: "population standard deviation",
        source: true,
        params: &[p("period", Some(20.0)), r("nbdev", 1.0)],
        outputs: VALUE,
        reference: "TA-Lib STDDEV",
    },
    IndicatorDef {
        name: "trange",
        aliases: &["tr"],
        summary: "true range",
        source: false,
        params: &[],
        outputs: VALUE,
        reference: "TA-Lib TRANGE",
    },
    IndicatorDef {
        name: "atr",
        aliases: &[],
        summary: "average true range (Wilder)",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib ATR",
    },
    IndicatorDef {
        name: "natr",
        aliases: &[],
        summary: "ATR as a percentage of close",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib NATR",
    },
    IndicatorDef {
        name: "stoch",
        aliases: &[],
        summary: "slow stochastic %K and %D",
        source: false,
        params: &[
            p("fastk", Some(14.0)),
            p("slowk", Some(3.0)),
            p("slowd", Some(3.0)),
        ],
        outputs: KD,
        reference: "TA-Lib STOCH",
    },
    IndicatorDef {
        name: "stochrsi",
        aliases: &[],
        summary: "fast stochastic of RSI",
        source: true,
        params: &[
            p("period", Some(14.0)),
            p("fastk", Some(5.0)),
            p("fastd", Some(3.0)),
        ],
        outputs: KD,
        reference: "TA-Lib STOCHRSI",
    },
    IndicatorDef {
        name: "adx",
        aliases: &[],
        summary: "average directional index",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib ADX",
    },
    IndicatorDef {
        name: "plus_di",
        aliases: &["pdi"],
        summary: "plus directional indicator (+DI)",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib PLUS_DI",
    },
    IndicatorDef {
        name: "minus_di",
        aliases: &["mdi"],
        summary: "minus directional indicator (-DI)",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib MINUS_DI",
    },
    IndicatorDef {
        name: "cci",
        aliases: &[],
        summary: "commodity channel index",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib CCI",
    },
    IndicatorDef {
        name: "obv",
        aliases: &[],
        summary: "on-balance volume of close",
        source: false,
        params: &[],
        outputs: VALUE,
        reference: "TA-Lib OBV",
    },
    IndicatorDef {
        name: "mfi",
        aliases: &[],
        summary: "money flow index",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib MFI",
    },
    IndicatorDef {
        name: "willr",
        aliases: &["williams_r"],
        summary: "Williams %R",
        source: false,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib WILLR",
    },
    IndicatorDef {
        name: "roc",
        aliases: &[],
        summary: "rate of change, percent",
        source: true,
        params: &[p("period", Some(10.0))],
        outputs: VALUE,
        reference: "TA-Lib ROC",
    },
    IndicatorDef {
        name: "mom",
        aliases: &["momentum"],
        summary: "momentum (difference over n bars)",
        source: true,
        params: &[p("period", Some(10.0))],
        outputs: VALUE,
        reference: "TA-Lib MOM",
    },
    IndicatorDef {
        name: "linreg_slope",
        aliases: &["linearreg_slope", "slope"],
        summary: "slope of the least-squares line",
        source: true,
        params: PERIOD14,
        outputs: VALUE,
        reference: "TA-Lib LINEARREG_SLOPE",
    },
    IndicatorDef {
        name: "sar",
        aliases: &["psar"],
        summary: "parabolic stop and reverse",
        source: false,
        params: &[r("accel", 0.02), r("max", 0.2)],
        outputs: VALUE,
        reference: "TA-Lib SAR",
    },
    IndicatorDef {
        name: "vwap",
        aliases: &[],
        summary: "VWAP of typical price: per UTC day (period 0) or rolling over n bars",
        source: false,
        params: &[p("period", Some(0.0))],
        outputs: VALUE,
        reference: "pandas-ta vwap(anchor='D')",
    },
    IndicatorDef {
        name: "donchian",
        aliases: &["dc"],
        summary: "Donchian channel",
        source: false,
        params: &[p("period", Some(20.0))],
        outputs: BANDS,
        reference: "pandas-ta donchian",
    },
    IndicatorDef {
        name: "keltner",
        aliases: &["kc"],
        summary: "Keltner channel: EMA ± mult × EMA(true range)",
        source: false,
        params: &[p("period", Some(20.0)), r("mult", 2.0)],
        outputs: BANDS,
        reference: "pandas-ta kc",
    },
    IndicatorDef {
        name: "supertrend",
        aliases: &[],
        summary: "SuperTrend line and direction (+1/-1)",
        source: false,
        params: &[p("period", Some(7.0)), r("mult", 3.0)],
        outputs: &["value", "direction"],
        reference: "pandas-ta supertrend",
    },
    IndicatorDef {
        name: "ichimoku",
        aliases: &[],
        summary: "Ichimoku lines and displaced spans (no lagging span: it reads the future)",
        source: false,
        params: &[
            p("tenkan", Some(9.0)),
            p("kijun", Some(26.0)),
            p("senkou", Some(52.0)),
        ],
        outputs: &["tenkan", "kijun", "senkou_a", "senkou_b"],
        reference: "pandas-ta ichimoku",
    },
];

/// Finds a catalogue entry by name or alias.
pub fn find(name: &str) -> Option<&'static IndicatorDef> {
    let name = name.to_ascii_lowercase();
    INDICATORS
        .iter()
        .find(|d| d.name == name || d.aliases.contains(&name.as_str()))
}

/// A price field usable as an indicator source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Open.
    Open,
    /// High.
    High,
    /// Low.
    Low,
    /// Close.
    Close,
    /// Volume.
    Volume,
    /// (high + low) / 2.
    Hl2,
    /// (high + low + close) / 3.
    Hlc3,
    /// (open + high + low + close) / 4.
    Ohlc4,
}

const FIELDS: &[(&str, Field)] = &[
    ("open", Field::Open),
    ("high", Field::High),
    ("low", Field::Low),
    ("close", Field::Close),
    ("volume", Field::Volume),
    ("hl2", Field::Hl2),
    ("hlc3", Field::Hlc3),
    ("ohlc4", Field::Ohlc4),
];

impl Field {
    /// Parses a field name.
    pub fn parse(name: &str) -> Option<Self> {
        FIELDS.iter().find(|(n, _)| *n == name).map(|&(_, f)| f)
    }

    /// The field's name.
    pub fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("close", |(n, _)| n)
    }

    /// The field's value in a bar.
    #[inline]
    pub fn of(self, c: &Candle) -> f64 {
        match self {
            Self::Open => c.open,
            Self::High => c.high,
            Self::Low => c.low,
            Self::Close => c.close,
            Self::Volume => c.volume,
            Self::Hl2 => (c.high + c.low) / 2.0,
            Self::Hlc3 => (c.high + c.low + c.close) / 3.0,
            Self::Ohlc4 => (c.open + c.high + c.low + c.close) / 4.0,
        }
    }

    /// The field as a column (borrowed when it is one of the bar's own columns).
    pub fn column<'a>(self, cols: &Columns<'a>) -> Cow<'a, [f64]> {
        match self {
            Self::Open => Cow::Borrowed(cols.open),
            Self::High => Cow::Borrowed(cols.high),
            Self::Low => Cow::Borrowed(cols.low),
            Self::Close => Cow::Borrowed(cols.close),
            Self::Volume => Cow::Borrowed(cols.volume),
            _ => Cow::Owned((0..cols.len()).map(|i| self.of(&cols.candle(i))).collect()),
        }
    }
}

/// Where a source-taking indicator reads its input.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A price field.
    Field(Field),
    /// One output of another indicator.
    Indicator(Box<IndicatorSpec>, usize),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(field) => f.write_str(field.name()),
            Self::Indicator(spec, out) => {
                write!(f, "{}", spec.canonical())?;
                if spec.def.outputs.len() > 1 {
                    write!(f, ".{}", spec.def.outputs[*out])?;
                }
                Ok(())
            }
        }
    }
}

/// A checked indicator call: catalogue entry, source and parameter values.
#[derive(Clone, Debug, PartialEq)]
pub struct IndicatorSpec {
    /// The catalogue entry.
    pub def: &'static IndicatorDef,
    /// Input series, for source-taking indicators.
    pub source: Option<Source>,
    /// Parameter values in catalogue order, defaults filled in.
    pub params: Vec<f64>,
    /// Alias for column naming.
    pub alias: Option<String>,
    /// Selected output (index into `def.outputs`), if the call named one.
    pub output: Option<usize>,
}

fn fmt_num(x: f64) -> String {
    format!("{x}")
}

impl IndicatorSpec {
    /// `name(source,p1,p2,...)` with every default filled in: a stable identity, so two
    /// spellings of the same indicator are computed once.
    pub fn canonical(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(s) = &self.source {
            parts.push(s.to_string());
        }
        parts.extend(self.params.iter().map(|&v| fmt_num(v)));
        format!("{}({})", self.def.name, parts.join(","))
    }

    fn column_base(&self) -> String {
        let mut parts = vec![self.def.name.to_string()];
        match &self.source {
            Some(Source::Field(f)) => parts.push(f.name().to_string()),
            Some(Source::Indicator(spec, out)) => {
                parts.push(spec.column_base());
                if spec.def.outputs.len() > 1 {
                    parts.push(spec.def.outputs[*out].to_string());
                }
            }
            None => {}
        }
        parts.extend(self.params.iter().map(|&v| fmt_num(v)));
        parts.join("_")
    }

    /// Output column names, in the order [`IndicatorSpec::compute`] returns them.
    pub fn column_names(&self) -> Vec<String> {
        let base = self.alias.clone().unwrap_or_else(|| self.column_base());
        let outputs = self.def.outputs;
        match self.output {
            Some(_) if self.alias.is_some() => vec![base],
            Some(i) => vec![format!("{base}_{}", outputs[i])],
            None if outputs.len() == 1 => vec![base],
            None => outputs.iter().map(|o| format!("{base}_{o}")).collect(),
        }
    }

    /// Bars before the first value (of the default or selected output).
    pub fn lookback(&self) -> usize {
        let own = self.kernel().map_or(0, |k| k.lookback());
        own + match &self.source {
            Some(Source::Indicator(spec, _)) => spec.lookback(),
            _ => 0,
        }
    }

    fn kernel(&self) -> Result<Box<dyn Kernel>, TaError> {
        build_kernel(self.def.name, &self.params)
    }

    /// Computes every output column (or only the selected one) over `cols`.
    pub fn compute(&self, cols: &Columns<'_>) -> Result<Vec<Vec<f64>>, TaError> {
        let mut out = Vec::new();
        self.compute_into(cols, &mut out)?;
        Ok(out)
    }

    /// Like [`IndicatorSpec::compute`], reusing the vectors in `out` (resized as needed), so
    /// repeated runs (optimisation trials) allocate nothing.
    pub fn compute_into(&self, cols: &Columns<'_>, out: &mut Vec<Vec<f64>>) -> Result<(), TaError> {
        cols.check()?;
        let kernel = self.kernel()?;
        let src: Cow<'_, [f64]> = match &self.source {
            None => Cow::Borrowed(&[]),
            Some(Source::Field(f)) => f.column(cols),
            Some(Source::Indicator(spec, k)) => {
                let mut all = Vec::new();
                spec.compute_all_into(cols, &mut all)?;
                Cow::Owned(all.swap_remove(*k))
            }
        };
        let n = self.def.outputs.len();
        out.resize_with(n, Vec::new);
        out.truncate(n);
        for col in out.iter_mut() {
            col.resize(cols.len(), f64::NAN);
        }
        kernel.batch_into(&src, cols, out);
        if let Some(i) = self.output {
            out.swap(0, i);
            out.truncate(1);
        }
        Ok(())
    }

    /// Computes this indicator over an explicit source column (for source-taking indicators
    /// whose input is an arbitrary expression, as in strategy rules: `sma(close - open, 10)`);
    /// `self.source` is ignored. All outputs are returned.
    pub fn compute_on(&self, src: &[f64], cols: &Columns<'_>) -> Result<Vec<Vec<f64>>, TaError> {
        cols.check()?;
        if src.len() != cols.len() {
            return Err(TaError::LengthMismatch(cols.len(), src.len()));
        }
        let kernel = self.kernel()?;
        let mut out = vec![vec![f64::NAN; cols.len()]; self.def.outputs.len()];
        kernel.batch_into(src, cols, &mut out);
        Ok(out)
    }

    fn compute_all_into(&self, cols: &Columns<'_>, out: &mut Vec<Vec<f64>>) -> Result<(), TaError> {
        let spec = Self {
            output: None,
            ..self.clone()
        };
        spec.compute_into(cols, out)
    }

    /// A streaming instance that takes one bar per update.
    pub fn stream(&self) -> Result<Stream, TaError> {
        let source = match &self.source {
            None => None,
            Some(Source::Field(f)) => Some(StreamSource::Field(*f)),
            Some(Source::Indicator(spec, out)) => {
                let inner = Self {
                    output: None,
                    ..(**spec).clone()
                };
                Some(StreamSource::Nested(Box::new(inner.stream()?), *out))
            }
        };
        let kernel = self.kernel()?;
        let n = self.def.outputs.len();
        Ok(Stream {
            kernel,
            source,
            started: false,
            all: vec![f64::NAN; n],
            selected: self.output,
        })
    }
}

impl fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())?;
        if let Some(o) = self.output {
            write!(f, ".{}", self.def.outputs[o])?;
        }
        Ok(())
    }
}

enum StreamSource {
    Field(Field),
    Nested(Box<Stream>, usize),
}

/// A running indicator fed one bar at a time.
pub struct Stream {
    kernel: Box<dyn Kernel>,
    source: Option<StreamSource>,
    started: bool,
    all: Vec<f64>,
    selected: Option<usize>,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("started", &self.started)
            .finish()
    }
}

impl Stream {
    /// Feeds the next closed bar and returns the outputs (all of them, or the selected one);
    /// `NaN` while warming up.
    pub fn update(&mut self, c: &Candle) -> &[f64] {
        let x = match &mut self.source {
            None => f64::NAN,
            Some(StreamSource::Field(f)) => f.of(c),
            Some(StreamSource::Nested(inner, k)) => inner.update_all(c)[*k],
        };
        if self.source.is_some() && !self.started {
            if x.is_nan() {
                self.all.fill(f64::NAN);
                return self.view();
            }
            self.started = true;
        }
        if !self.kernel.update(x, c, &mut self.all) {
            self.all.fill(f64::NAN);
        }
        self.view()
    }

    fn update_all(&mut self, c: &Candle) -> &[f64] {
        self.update(c);
        &self.all
    }

    fn view(&self) -> &[f64] {
        match self.selected {
            Some(i) => &self.all[i..=i],
            None => &self.all,
        }
    }

    /// Feeds the next bar with an explicit source value (see [`IndicatorSpec::compute_on`]);
    /// returns all outputs.
    pub fn update_with_source(&mut self, x: f64, c: &Candle) -> &[f64] {
        if !self.started {
            if x.is_nan() {
                self.all.fill(f64::NAN);
                return &self.all;
            }
            self.started = true;
        }
        if !self.kernel.update(x, c, &mut self.all) {
            self.all.fill(f64::NAN);
        }
        &self.all
    }

    /// Forgets all bars.
    pub fn reset(&mut self) {
        self.kernel.reset();
        self.started = false;
        self.all.fill(f64::NAN);
        if let Some(StreamSource::Nested(inner, _)) = &mut self.source {
            inner.reset();
        }
    }
}

/// Object-safe view of an [`Indicator`], so the catalogue can hold any of them.
trait Kernel: Send {
    fn update(&mut self, x: f64, c: &Candle, out: &mut [f64]) -> bool;
    fn batch_into(&self, src: &[f64], cols: &Columns<'_>, out: &mut [Vec<f64>]);
    fn lookback(&self) -> usize;
    fn reset(&mut self);
}

struct Src1<I>(I);
struct SrcN<I, const N: usize>(I);
struct Bar1<I>(I);
struct BarN<I, const N: usize>(I);

impl<I: Indicator<Input = f64, Output = f64> + Clone + Send> Kernel for Src1<I> {
    fn update(&mut self, x: f64, _: &Candle, out: &mut [f64]) -> bool {
        self.0.update(x).map(|v| out[0] = v).is_some()
    }
    fn batch_into(&self, src: &[f64], _: &Columns<'_>, out: &mut [Vec<f64>]) {
        batch_into(self.0.clone(), src, &mut out[0]);
    }
    fn lookback(&self) -> usize {
        self.0.lookback()
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

impl<const N: usize, I: Indicator<Input = f64, Output = [f64; N]> + Clone + Send> Kernel
    for SrcN<I, N>
{
    fn update(&mut self, x: f64, _: &Candle, out: &mut [f64]) -> bool {
        self.0.update(x).map(|v| out.copy_from_slice(&v)).is_some()
    }
    fn batch_into(&self, src: &[f64], _: &Columns<'_>, out: &mut [Vec<f64>]) {
        batch_multi_into(self.0.clone(), src, out);
    }
    fn lookback(&self) -> usize {
        self.0.lookback()
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

impl<I: Indicator<Input = Candle, Output = f64> + Clone + Send> Kernel for Bar1<I> {
    fn update(&mut self, _: f64, c: &Candle, out: &mut [f64]) -> bool {
        self.0.update(*c).map(|v| out[0] = v).is_some()
    }
    fn batch_into(&self, _: &[f64], cols: &Columns<'_>, out: &mut [Vec<f64>]) {
        batch_candles1_into(self.0.clone(), cols, &mut out[0]);
    }
    fn lookback(&self) -> usize {
        self.0.lookback()
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

impl<const N: usize, I: Indicator<Input = Candle, Output = [f64; N]> + Clone + Send> Kernel
    for BarN<I, N>
{
    fn update(&mut self, _: f64, c: &Candle, out: &mut [f64]) -> bool {
        self.0.update(*c).map(|v| out.copy_from_slice(&v)).is_some()
    }
    fn batch_into(&self, _: &[f64], cols: &Columns<'_>, out: &mut [Vec<f64>]) {
        batch_candles_into(self.0.clone(), cols, out);
    }
    fn lookback(&self) -> usize {
        self.0.lookback()
    }
    fn reset(&mut self) {
        self.0.reset();
    }
}

fn build_kernel(name: &str, p: &[f64]) -> Result<Box<dyn Kernel>, TaError> {
    // Parameters were checked to be whole and non-negative where the catalogue says `int`.
    let n = |i: usize| p[i] as usize;
    Ok(match name {
        "sma" => Box::new(Src1(Sma::new(n(0))?)),
        "ema" => Box::new(Src1(Ema::new(n(0))?)),
        "wma" => Box::new(Src1(Wma::new(n(0))?)),
        "dema" => Box::new(Src1(Dema::new(n(0))?)),
        "tema" => Box::new(Src1(Tema::new(n(0))?)),
        "rsi" => Box::new(Src1(Rsi::new(n(0))?)),
        "macd" => Box::new(SrcN(Macd::new(n(0), n(1), n(2))?)),
        "bbands" => Box::new(SrcN(Bbands::new(n(0), p[1], p[2])?)),
        "stddev" => Box::new(Src1(StdDev::new(n(0), p[1])?)),
        "trange" => Box::new(Bar1(TrueRange::new())),
        "atr" => Box::new(Bar1(Atr::new(n(0))?)),
        "natr" => Box::new(Bar1(Natr::new(n(0))?)),
        "stoch" => Box::new(BarN(Stoch::new(n(0), n(1), n(2))?)),
        "stochrsi" => Box::new(SrcN(StochRsi::new(n(0), n(1), n(2))?)),
        "adx" => Box::new(Bar1(Adx::new(n(0))?)),
        "plus_di" => Box::new(Bar1(Di::plus(n(0))?)),
        "minus_di" => Box::new(Bar1(Di::minus(n(0))?)),
        "cci" => Box::new(Bar1(Cci::new(n(0))?)),
        "obv" => Box::new(Bar1(Obv::new())),
        "mfi" => Box::new(Bar1(Mfi::new(n(0))?)),
        "willr" => Box::new(Bar1(Willr::new(n(0))?)),
        "roc" => Box::new(Src1(Roc::new(n(0))?)),
        "mom" => Box::new(Src1(Mom::new(n(0))?)),
        "linreg_slope" => Box::new(Src1(LinRegSlope::new(n(0))?)),
        "sar" => Box::new(Bar1(Sar::new(p[0], p[1])?)),
        "vwap" if n(0) == 0 => Box::new(Bar1(Vwap::session())),
        "vwap" => Box::new(Bar1(Vwap::rolling(n(0))?)),
        "donchian" => Box::new(BarN(Donchian::new(n(0))?)),
        "keltner" => Box::new(BarN(Keltner::new(n(0), p[1])?)),
        "supertrend" => Box::new(BarN(SuperTrend::new(n(0), p[1])?)),
        "ichimoku" => Box::new(BarN(Ichimoku::new(n(0), n(1), n(2))?)),
        other => {
            return Err(TaError::UnknownIndicator {
                name: other.to_string(),
                line: 1,
                column: 1,
                suggestion: None,
            });
        }
    })
}

fn syntax(pos: Pos, message: String, hint: Option<String>) -> TaError {
    TaError::Syntax {
        message,
        line: pos.line,
        column: pos.column,
        hint,
    }
}

/// Parses and checks one call such as `macd(close,12,26,9).signal`.
pub fn parse(text: &str) -> Result<IndicatorSpec, TaError> {
    resolve(&parse_call(text)?)
}

/// Checks a parsed call against the catalogue.
pub fn resolve(call: &Call) -> Result<IndicatorSpec, TaError> {
    let Some(def) = find(&call.name) else {
        let names = INDICATORS
            .iter()
            .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()));
        return Err(TaError::UnknownIndicator {
            name: call.name.clone(),
            line: call.pos.line,
            column: call.pos.column,
            suggestion: suggest(&call.name, names),
        });
    };
    let signature = signature(def);
    let mut args = call.args.iter().peekable();
    let source = if def.source {
        match args.next() {
            Some(Arg::Ident(name, pos)) => match Field::parse(name) {
                Some(f) => Some(Source::Field(f)),
                None => {
                    let hint = suggest(name, FIELDS.iter().map(|(n, _)| *n))
                        .map(|s| format!("did you mean '{s}'?"))
                        .unwrap_or_else(|| {
                            "use open, high, low, close, volume, hl2, hlc3 or ohlc4".into()
                        });
                    return Err(syntax(
                        *pos,
                        format!("unknown price field '{name}'"),
                        Some(hint),
                    ));
                }
            },
            Some(Arg::Call(inner)) => {
                let spec = resolve(inner)?;
                let out = spec.output.unwrap_or(0);
                let spec = IndicatorSpec {
                    output: None,
                    alias: None,
                    ..spec
                };
                Some(Source::Indicator(Box::new(spec), out))
            }
            Some(other) => {
                return Err(syntax(
                    other.pos(),
                    format!(
                        "{} needs a price series first, e.g. {}",
                        def.name,
                        example(def)
                    ),
                    Some(format!("signature: {signature}")),
                ));
            }
            None => {
                return Err(syntax(
                    call.pos,
                    format!(
                        "{} needs a price series first, e.g. {}",
                        def.name,
                        example(def)
                    ),
                    Some(format!("signature: {signature}")),
                ));
            }
        }
    } else {
        None
    };
    let mut values: Vec<Option<f64>> = vec![None; def.params.len()];
    let mut next_positional = 0;
    for arg in args {
        match arg {
            Arg::Number(v, pos) => {
                if next_positional >= def.params.len() {
                    return Err(syntax(
                        *pos,
                        format!(
                            "{} takes at most {} parameter(s)",
                            def.name,
                            def.params.len()
                        ),
                        Some(format!("signature: {signature}")),
                    ));
                }
                values[next_positional] = Some(*v);
                next_positional += 1;
            }
            Arg::Named(name, v, pos) => {
                let Some(i) = def.params.iter().position(|p| p.name == name) else {
                    let hint = suggest(name, def.params.iter().map(|p| p.name))
                        .map(|s| format!("did you mean '{s}'? signature: {signature}"))
                        .unwrap_or_else(|| format!("signature: {signature}"));
                    return Err(syntax(
                        *pos,
                        format!("{} has no parameter '{name}'", def.name),
                        Some(hint),
                    ));
                };
                values[i] = Some(*v);
            }
            Arg::Ident(name, pos) => {
                let what = if def.source {
                    format!("'{name}' is not a number")
                } else {
                    format!(
                        "{} reads high, low, close and volume itself; '{name}' is not accepted",
                        def.name
                    )
                };
                return Err(syntax(*pos, what, Some(format!("signature: {signature}"))));
            }
            Arg::Call(inner) => {
                return Err(syntax(
                    inner.pos,
                    format!("{} does not take an indicator here", def.name),
                    Some(format!("signature: {signature}")),
                ));
            }
        }
    }
    let mut params = Vec::with_capacity(def.params.len());
    for (pd, v) in def.params.iter().zip(values) {
        let Some(v) = v.or(pd.default) else {
            return Err(syntax(
                call.pos,
                format!(
                    "{} needs its '{}' parameter, e.g. {}",
                    def.name,
                    pd.name,
                    example(def)
                ),
                Some(format!("signature: {signature}")),
            ));
        };
        if pd.int && (v.fract() != 0.0 || v < 0.0) {
            return Err(TaError::InvalidParameter {
                indicator: def.name,
                param: pd.name,
                value: v,
                reason: "must be a whole number".into(),
            });
        }
        params.push(v);
    }
    let output = match &call.output {
        None => None,
        Some(o) => match def.outputs.iter().position(|x| x == o) {
            Some(i) if def.outputs.len() > 1 => Some(i),
            _ => {
                return Err(syntax(
                    call.pos,
                    format!("{} has no output '{o}'", def.name),
                    Some(if def.outputs.len() > 1 {
                        format!("outputs: {}", def.outputs.join(", "))
                    } else {
                        format!("{} has a single output; drop '.{o}'", def.name)
                    }),
                ));
            }
        },
    };
    let spec = IndicatorSpec {
        def,
        source,
        params,
        alias: call.alias.clone(),
        output,
    };
    // Construct once so range errors (period 0, negative widths) surface now.
    spec.kernel()?;
    Ok(spec)
}

/// `sma(source, period)` style signature with defaults.
pub fn signature(def: &IndicatorDef) -> String {
    let mut parts = Vec::new();
    if def.source {
        parts.push("source".to_string());
    }
    for p in def.params {
        parts.push(match p.default {
            Some(d) => format!("{}={}", p.name, fmt_num(d)),
            None => p.name.to_string(),
        });
    }
    format!("{}({})", def.name, parts.join(", "))
}

fn example(def: &IndicatorDef) -> String {
    let mut parts = Vec::new();
    if def.source {
        parts.push("close".to_string());
    }
    for p in def.params {
        parts.push(fmt_num(p.default.unwrap_or(14.0)));
    }
    format!("{}({})", def.name, parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_columns_predictably() {
        assert_eq!(
            parse("sma(close,10)").unwrap().column_names(),
            ["sma_close_10"]
        );
        assert_eq!(
            parse("rsi(close)").unwrap().column_names(),
            ["rsi_close_14"]
        );
        assert_eq!(
            parse("macd(close,12,26,9)").unwrap().column_names(),
            [
                "macd_close_12_26_9_macd",
                "macd_close_12_26_9_signal",
                "macd_close_12_26_9_hist"
            ]
        );
        assert_eq!(
            parse("bbands(close,20,2,2).upper").unwrap().column_names(),
            ["bbands_close_20_2_2_upper"]
        );
        assert_eq!(parse("atr(14)").unwrap().column_names(), ["atr_14"]);
        assert_eq!(parse("sar()").unwrap().column_names(), ["sar_0.02_0.2"]);
        assert_eq!(
            parse("sma(rsi(close,14),5)").unwrap().column_names(),
            ["sma_rsi_close_14_5"]
        );
        assert_eq!(parse("fast=ema(hlc3,8)").unwrap().column_names(), ["fast"]);
        assert_eq!(
            parse("stoch(14,3,3)").unwrap().column_names(),
            ["stoch_14_3_3_k", "stoch_14_3_3_d"]
        );
        assert_eq!(
            parse("BB(close, period=10)").unwrap().canonical(),
            "bbands(close,10,2,2)"
        );
    }

    #[test]
    fn bad_calls_explain_themselves() {
        let cases = [
            (
                "smaa(close,10)",
                "unknown indicator 'smaa' at 1:1; did you mean 'sma'?",
            ),
            (
                "sma(close)",
                "sma needs its 'period' parameter, e.g. sma(close,14) at 1:1; signature: sma(source, period)",
            ),
            (
                "sma(10)",
                "sma needs a price series first, e.g. sma(close,14) at 1:5; signature: sma(source, period)",
            ),
            (
                "sma(clse,10)",
                "unknown price field 'clse' at 1:5; did you mean 'close'?",
            ),
            (
                "sma(close,10,3)",
                "sma takes at most 1 parameter(s) at 1:14; signature: sma(source, period)",
            ),
            (
                "sma(close,0)",
                "sma: parameter 'period' = 0 is invalid: must be a whole number from 1 to 100000",
            ),
            (
                "sma(close,2.5)",
                "sma: parameter 'period' = 2.5 is invalid: must be a whole number",
            ),
            (
                "atr(close,14)",
                "atr reads high, low, close and volume itself; 'close' is not accepted at 1:5; signature: atr(period=14)",
            ),
            (
                "macd(close).sig",
                "macd has no output 'sig' at 1:1; outputs: macd, signal, hist",
            ),
            (
                "bbands(close, width=3)",
                "bbands has no parameter 'width' at 1:15; signature: bbands(source, period=20, nbdevup=2, nbdevdn=2)",
            ),
            (
                "rsi(close,1)",
                "rsi: parameter 'period' = 1 is invalid: must be a whole number from 2 to 100000",
            ),
        ];
        for (text, msg) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), msg, "{text}");
        }
    }

    #[test]
    fn every_catalogue_entry_builds_with_defaults_or_a_period() {
        for def in INDICATORS {
            let call = if def.params.iter().any(|p| p.default.is_none()) {
                format!("{}(close,10)", def.name)
            } else if def.source {
                format!("{}(close)", def.name)
            } else {
                format!("{}()", def.name)
            };
            let spec = parse(&call).unwrap_or_else(|e| panic!("{call}: {e}"));
            assert_eq!(spec.column_names().len(), def.outputs.len(), "{call}");
        }
    }
}
