//! Compiling a [`StrategySpec`] against market data into a [`Program`]: parse every rule once,
//! resolve names, substitute parameters, compute every position-independent sub-expression as
//! a whole column in batch (indicators through `skeet-ta`, which is proven equal to its
//! streaming form), and keep only what depends on the position (`position.pnl_pct`,
//! `bars_in_trade`, ...) as a small tree evaluated per bar.
//!
//! Invariants:
//! - Causality: the value of any column at bar `t` depends only on bars `0..=t`. Lookbacks
//!   (`x[k]`) shift towards the past; higher timeframes (`x@4h`) use the last *completed*
//!   higher bar as of bar `t`'s close; indicators are causal by construction. The one
//!   exception is a negative lookback (`x[-k]`, the value `k` bars ahead, NaN past the end),
//!   refused unless the spec sets `allow_lookahead` (research labels only).
//! - [`compile_traced`] returns, besides the program, every base-timeframe column computed
//!   for a named indicator or a rule sub-expression, so a check can compare them between runs
//!   (the look-ahead check does). Tracing only copies columns out; the program is the same.
//! - Identical sub-expressions are computed once (structural hashing over column ids), so
//!   `sma(close,10)` written in three rules costs one SMA.
//! - Evaluating a rule at a bar allocates nothing and interprets no text.
//! - NaN (an indicator still warming up) makes every comparison false, like backtesting.py
//!   and TA-Lib-based tools, so no signal fires before its inputs exist.

use std::borrow::Cow;
use std::collections::HashMap;

use skeet_core::Timeframe;
use skeet_ta::call::{Arg, Call, Pos, suggest};
use skeet_ta::{Columns, registry};

use crate::api::{DistanceRule, EntryOrder, ExecSettings, PositionState, SizingRule};
use crate::error::SpecError;
use crate::expr::{self, BinOp, Expr, ExprKind};
use crate::params::ParamValues;
use crate::spec::{Distance, Num, OrderType, Sizing, StrategySpec};

/// Bars to compile against: one instrument, one timeframe, columns of equal length.
#[derive(Clone, Copy, Debug)]
pub struct SeriesData<'a> {
    /// Bar open times, ns.
    pub ts: &'a [i64],
    /// Opens.
    pub open: &'a [f64],
    /// Highs.
    pub high: &'a [f64],
    /// Lows.
    pub low: &'a [f64],
    /// Closes.
    pub close: &'a [f64],
    /// Volumes.
    pub volume: &'a [f64],
    /// The bars' timeframe.
    pub timeframe: Timeframe,
}

impl SeriesData<'_> {
    fn len(&self) -> usize {
        self.close.len()
    }
}

type ColId = usize;

/// A lowered expression: a constant, a whole column of numbers, a whole column of booleans
/// (one bit per bar: comparisons, `and`/`or`/`not`, crossovers), or a per-bar tree.
#[derive(Clone, Copy, Debug)]
enum Val {
    Const(f64),
    Col(ColId),
    Mask(usize),
    Dyn(usize),
}

/// Position-dependent values available to rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StateVar {
    PnlPct,
    Size,
    Side,
    EntryPrice,
    BarsInTrade,
    Equity,
}

const STATE_NAMES: &[(&str, StateVar)] = &[
    ("position.pnl_pct", StateVar::PnlPct),
    ("position.size", StateVar::Size),
    ("position.side", StateVar::Side),
    ("position.entry_price", StateVar::EntryPrice),
    ("bars_in_trade", StateVar::BarsInTrade),
    ("equity", StateVar::Equity),
];

const FIELDS: &[&str] = &[
    "open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4",
];
const FUNCTIONS: &[&str] = &[
    "crossover",
    "crossunder",
    "abs",
    "min",
    "max",
    "highest",
    "lowest",
];

#[derive(Clone, Debug)]
enum DynNode {
    Const(f64),
    Col(ColId),
    Bit(usize),
    State(StateVar),
    Neg(usize),
    Not(usize),
    Abs(usize),
    Bin(BinOp, usize, usize),
    Min(usize, usize),
    Max(usize, usize),
}

/// A compiled rule.
#[derive(Clone, Debug)]
enum Rule {
    Const(bool),
    /// One bit per bar.
    Static(Vec<u64>),
    Dynamic(usize),
}

/// The first set bit at or after `from` in `bits` (of `len` valid bits).
fn next_set(bits: &[u64], from: usize, len: usize) -> Option<usize> {
    if from >= len {
        return None;
    }
    let mut w = from / 64;
    let mut word = bits[w] & (u64::MAX << (from % 64));
    loop {
        if word != 0 {
            let i = w * 64 + word.trailing_zeros() as usize;
            return (i < len).then_some(i);
        }
        w += 1;
        if w >= bits.len() {
            return None;
        }
        word = bits[w];
    }
}

/// A strategy compiled against one series: rule columns plus the per-bar remainder.
#[derive(Clone, Debug)]
pub struct Program {
    indicator_warmup: usize,
    cols: Vec<Vec<f64>>,
    masks: Vec<Vec<u64>>,
    nodes: Vec<DynNode>,
    rules: [Rule; 4],
    exec: ExecSettings,
    warmup: usize,
    len: usize,
}

/// Which rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// `entry.long`
    EntryLong = 0,
    /// `entry.short`
    EntryShort = 1,
    /// `exit.long`
    ExitLong = 2,
    /// `exit.short`
    ExitShort = 3,
}

impl Program {
    /// Evaluates one rule at bar `t`.
    #[inline]
    pub fn rule(&self, kind: RuleKind, t: usize, st: &PositionState) -> bool {
        match &self.rules[kind as usize] {
            Rule::Const(b) => *b,
            Rule::Static(bits) => bits[t / 64] >> (t % 64) & 1 == 1,
            Rule::Dynamic(id) => truthy(self.eval(*id, t, st)),
        }
    }

    fn eval(&self, id: usize, t: usize, st: &PositionState) -> f64 {
        match &self.nodes[id] {
            DynNode::Const(v) => *v,
            DynNode::Col(c) => self.cols[*c][t],
            DynNode::Bit(m) => bool_f(self.masks[*m][t / 64] >> (t % 64) & 1 == 1),
            DynNode::State(s) => match s {
                StateVar::PnlPct => st.pnl_pct,
                StateVar::Size => st.size,
                StateVar::Side => {
                    if st.size > 0.0 {
                        1.0
                    } else if st.size < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                }
                StateVar::EntryPrice => st.entry_price,
                StateVar::BarsInTrade => st.bars_in_trade as f64,
                StateVar::Equity => st.equity,
            },
            DynNode::Neg(a) => -self.eval(*a, t, st),
            DynNode::Not(a) => bool_f(!truthy(self.eval(*a, t, st))),
            DynNode::Abs(a) => self.eval(*a, t, st).abs(),
            DynNode::Min(a, b) => self.eval(*a, t, st).min(self.eval(*b, t, st)),
            DynNode::Max(a, b) => self.eval(*a, t, st).max(self.eval(*b, t, st)),
            DynNode::Bin(op, a, b) => {
                let x = self.eval(*a, t, st);
                // Short-circuit the logical operators.
                match op {
                    BinOp::And if !truthy(x) => return 0.0,
                    BinOp::Or if truthy(x) => return 1.0,
                    _ => {}
                }
                apply(*op, x, self.eval(*b, t, st))
            }
        }
    }

    /// The first bar at or after `from` where rule `kind` may be true: exact for static
    /// rules, `Some(from)` for position-dependent ones, `None` for a rule that is never true.
    pub fn next_possible(&self, kind: RuleKind, from: usize) -> Option<usize> {
        match &self.rules[kind as usize] {
            Rule::Const(false) => None,
            Rule::Const(true) | Rule::Dynamic(_) => (from < self.len).then_some(from),
            Rule::Static(bits) => next_set(bits, from, self.len),
        }
    }

    /// The execution settings with parameters substituted.
    pub fn execution(&self) -> &ExecSettings {
        &self.exec
    }

    /// First bar at which a rule can fire: every rule input has a value there (a crossover
    /// needs one bar more than its inputs).
    pub fn warmup(&self) -> usize {
        self.warmup
    }

    /// The largest index at which one of the spec's indicators (on the base timeframe) gets
    /// its first value: backtesting.py's "first trading bar", from which its buy-and-hold
    /// return is measured (a crossover needs one bar more, see [`Program::warmup`]).
    pub fn indicator_warmup(&self) -> usize {
        self.indicator_warmup
    }

    /// Number of bars compiled against.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when compiled against no bars.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[inline]
fn truthy(v: f64) -> bool {
    v != 0.0 && !v.is_nan()
}

#[inline]
fn bool_f(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[inline]
fn apply(op: BinOp, x: f64, y: f64) -> f64 {
    match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => x / y,
        BinOp::Rem => x % y,
        BinOp::Lt => bool_f(x < y),
        BinOp::Le => bool_f(x <= y),
        BinOp::Gt => bool_f(x > y),
        BinOp::Ge => bool_f(x >= y),
        BinOp::Eq => bool_f(x == y),
        BinOp::Ne => bool_f(x != y && !x.is_nan() && !y.is_nan()),
        BinOp::And => bool_f(truthy(x) && truthy(y)),
        BinOp::Or => bool_f(truthy(x) || truthy(y)),
    }
}

/// One timeframe's bars inside the compiler (the base frame borrows the caller's columns).
struct Frame<'a> {
    tf: Timeframe,
    ts: Cow<'a, [i64]>,
    ohlcv: [Cow<'a, [f64]>; 5],
    /// For a higher frame: for each base bar, the index of the last completed bar of this
    /// frame (`usize::MAX` when none yet).
    align: Option<Vec<usize>>,
}

impl<'a> Frame<'a> {
    fn columns(&self) -> Columns<'_> {
        Columns {
            ts: &self.ts,
            open: &self.ohlcv[0],
            high: &self.ohlcv[1],
            low: &self.ohlcv[2],
            close: &self.ohlcv[3],
            volume: &self.ohlcv[4],
        }
    }

    fn len(&self) -> usize {
        self.ts.len()
    }

    /// Aggregates base bars into `tf` buckets and maps every base bar to the last bucket that
    /// had closed by the base bar's own close.
    fn resample(base: &SeriesData<'_>, tf: Timeframe) -> Self {
        let mut ts = Vec::new();
        let mut o = Vec::new();
        let mut h = Vec::new();
        let mut l = Vec::new();
        let mut c = Vec::new();
        let mut v = Vec::new();
        for i in 0..base.len() {
            let bucket = tf
                .bucket_start(skeet_core::UnixNanos::new(base.ts[i]))
                .as_nanos();
            if ts.last() != Some(&bucket) {
                ts.push(bucket);
                o.push(base.open[i]);
                h.push(base.high[i]);
                l.push(base.low[i]);
                c.push(base.close[i]);
                v.push(base.volume[i]);
            } else if let (Some(hh), Some(ll), Some(cc), Some(vv)) =
                (h.last_mut(), l.last_mut(), c.last_mut(), v.last_mut())
            {
                *hh = f64::max(*hh, base.high[i]);
                *ll = f64::min(*ll, base.low[i]);
                *cc = base.close[i];
                *vv += base.volume[i];
            }
        }
        let base_len = base.timeframe.as_nanos();
        let len = tf.as_nanos();
        let mut align = Vec::with_capacity(base.len());
        let mut j = 0usize; // number of higher bars closed so far
        for i in 0..base.len() {
            let close_time = base.ts[i] + base_len;
            while j < ts.len() && ts[j] + len <= close_time {
                j += 1;
            }
            align.push(if j == 0 { usize::MAX } else { j - 1 });
        }
        Self {
            tf,
            ts: Cow::Owned(ts),
            ohlcv: [
                Cow::Owned(o),
                Cow::Owned(h),
                Cow::Owned(l),
                Cow::Owned(c),
                Cow::Owned(v),
            ],
            align: Some(align),
        }
    }
}

struct Compiler<'a> {
    spec: &'a StrategySpec,
    params: &'a ParamValues,
    frames: Vec<Frame<'a>>,
    cols: Vec<Cow<'a, [f64]>>,
    col_frame: Vec<usize>,
    cache: HashMap<String, ColId>,
    masks: Vec<Vec<u64>>,
    /// First bar at which each mask's inputs all have values.
    mask_valid: Vec<usize>,
    mask_cache: HashMap<String, usize>,
    col_valid: HashMap<ColId, usize>,
    indicator_warmup: usize,
    nodes: Vec<DynNode>,
    /// Named indicators being lowered (cycle detection), per frame.
    stack: Vec<String>,
    /// The JSON path of the rule being compiled (for errors).
    path: String,
    /// Base-frame values of sub-expressions with their labels, when tracing.
    trace: Option<Vec<(String, String, Val)>>,
    /// Keys (see `key_of`) of the traced values.
    traced: std::collections::HashSet<String>,
}

/// A column the compiler computed in batch for a named indicator or a rule sub-expression,
/// kept by [`compile_traced`].
#[derive(Clone, Debug, PartialEq)]
pub struct TracedColumn {
    /// JSON path of the indicator or rule that first computes it (`indicators.fast_ma`,
    /// `entry.long`): identical sub-expressions are computed once and traced once.
    pub path: String,
    /// The sub-expression in canonical form (`sma(close, $fast)`, see [`Expr`]'s `Display`).
    pub expr: String,
    /// One value per bar of the base timeframe (a higher-timeframe expression as aligned to
    /// the base bars); conditions are 1 (true) or 0 (false).
    pub values: Vec<f64>,
    /// Whether the column is a condition (0/1).
    pub boolean: bool,
}

impl TracedColumn {
    /// `path: expr`, the column's name in reports.
    pub fn name(&self) -> String {
        format!("{}: {}", self.path, self.expr)
    }
}

/// Compiles `spec` with `params` against `data`.
///
/// # Errors
/// Any rule, parameter, name or setting that cannot be used, with its JSON path, the position
/// inside the rule, and a hint.
pub fn compile<'a>(
    spec: &'a StrategySpec,
    params: &'a ParamValues,
    data: &SeriesData<'a>,
) -> Result<Program, SpecError> {
    compile_inner(spec, params, data, false).map(|(p, _)| p)
}

/// [`compile`], also returning every base-timeframe column computed for a named indicator or
/// a rule sub-expression, in the order they were first computed (indicators first, then
/// `entry.long`, `entry.short`, `exit.long`, `exit.short`; inner expressions before outer
/// ones). Price fields, `bar_index`, constants and position-dependent parts are left out.
/// Costs one copy of each traced column.
///
/// # Errors
/// As [`compile`].
pub fn compile_traced<'a>(
    spec: &'a StrategySpec,
    params: &'a ParamValues,
    data: &SeriesData<'a>,
) -> Result<(Program, Vec<TracedColumn>), SpecError> {
    compile_inner(spec, params, data, true)
}

fn compile_inner<'a>(
    spec: &'a StrategySpec,
    params: &'a ParamValues,
    data: &SeriesData<'a>,
    trace: bool,
) -> Result<(Program, Vec<TracedColumn>), SpecError> {
    let n = data.len();
    for (name, len) in [
        ("ts", data.ts.len()),
        ("open", data.open.len()),
        ("high", data.high.len()),
        ("low", data.low.len()),
        ("volume", data.volume.len()),
    ] {
        if len != n {
            return Err(SpecError::at(
                "data",
                format!("column {name} has {len} values, close has {n}"),
            ));
        }
    }
    let base = Frame {
        tf: data.timeframe,
        ts: Cow::Borrowed(data.ts),
        ohlcv: [
            Cow::Borrowed(data.open),
            Cow::Borrowed(data.high),
            Cow::Borrowed(data.low),
            Cow::Borrowed(data.close),
            Cow::Borrowed(data.volume),
        ],
        align: None,
    };
    let mut c = Compiler {
        spec,
        params,
        frames: vec![base],
        cols: Vec::new(),
        col_frame: Vec::new(),
        cache: HashMap::new(),
        masks: Vec::new(),
        mask_valid: Vec::new(),
        mask_cache: HashMap::new(),
        col_valid: HashMap::new(),
        indicator_warmup: 0,
        nodes: Vec::new(),
        stack: Vec::new(),
        path: String::new(),
        trace: trace.then(Vec::new),
        traced: std::collections::HashSet::new(),
    };
    for tf_text in &spec.universe.extra_timeframes {
        let tf: Timeframe = tf_text.parse().map_err(|e: skeet_core::ValidationError| {
            SpecError::at("universe.extra_timeframes", e.to_string())
        })?;
        if tf <= data.timeframe || !tf.is_multiple_of(data.timeframe) {
            return Err(SpecError::at(
                "universe.extra_timeframes",
                format!(
                    "{tf} cannot be built from {} bars; extra timeframes must be whole multiples of the data's timeframe",
                    data.timeframe
                ),
            ));
        }
        c.frames.push(Frame::resample(data, tf));
    }

    // Every declared indicator is checked (and computed once, cached for the rules), so a
    // mistake in an unused one is still reported.
    for name in spec.indicators.keys() {
        c.path = format!("indicators.{name}");
        c.named(name, Pos { line: 1, column: 1 }, 0)?;
    }

    let sides = [
        ("entry.long", &spec.entry.long),
        ("entry.short", &spec.entry.short),
        ("exit.long", &spec.exit.long),
        ("exit.short", &spec.exit.short),
    ];
    let mut rules: [Rule; 4] = std::array::from_fn(|_| Rule::Const(false));
    let mut warmup = 0;
    for (k, (path, text)) in sides.iter().enumerate() {
        let Some(text) = text else { continue };
        c.path = (*path).to_string();
        let e =
            expr::parse(text).map_err(|e| SpecError::in_rule(*path, e.pos, e.message, e.hint))?;
        let v = c.lower(&e, 0)?;
        rules[k] = match v {
            Val::Const(x) => Rule::Const(truthy(x)),
            Val::Mask(m) => {
                warmup = warmup.max(c.mask_valid[m]);
                Rule::Static(c.masks[m].clone())
            }
            Val::Col(id) => {
                let col = &c.cols[id];
                warmup = warmup.max(first_true_or_len(col));
                let mut bits = vec![0u64; col.len().div_ceil(64)];
                for (t, &x) in col.iter().enumerate() {
                    if truthy(x) {
                        bits[t / 64] |= 1 << (t % 64);
                    }
                }
                Rule::Static(bits)
            }
            Val::Dyn(id) => Rule::Dynamic(id),
        };
    }
    let exec = c.execution()?;
    for (i, constraint) in spec.constraints.iter().enumerate() {
        c.path = format!("constraints[{i}]");
        let e = expr::parse(constraint)
            .map_err(|e| SpecError::in_rule(c.path.clone(), e.pos, e.message, e.hint))?;
        match c.lower(&e, 0)? {
            Val::Const(x) if truthy(x) => {}
            Val::Const(_) => {
                return Err(SpecError::at(
                    c.path.clone(),
                    format!("constraint '{constraint}' does not hold for {params}"),
                ));
            }
            _ => {
                return Err(SpecError::at(
                    c.path.clone(),
                    format!("constraint '{constraint}' must use only parameters and numbers"),
                ));
            }
        }
    }
    let traced = c
        .trace
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|(path, expr, v)| {
            let (values, boolean) = match v {
                Val::Mask(m) => {
                    let bits = &c.masks[m];
                    let col = (0..n)
                        .map(|t| bool_f(bits[t / 64] >> (t % 64) & 1 == 1))
                        .collect();
                    (col, true)
                }
                Val::Col(id) => (c.cols[id].to_vec(), false),
                // Only columns and masks are traced.
                Val::Const(_) | Val::Dyn(_) => (Vec::new(), false),
            };
            TracedColumn {
                path,
                expr,
                values,
                boolean,
            }
        })
        .collect();
    // Keep only the columns the per-bar trees read; the rest (indicators behind static
    // rules, borrowed price columns) are no longer needed.
    let mut keep: HashMap<ColId, ColId> = HashMap::new();
    let mut keep_masks: HashMap<usize, usize> = HashMap::new();
    let mut cols = Vec::new();
    let mut masks = Vec::new();
    let mut nodes = c.nodes;
    for node in &mut nodes {
        match node {
            DynNode::Col(id) => {
                let new = *keep.entry(*id).or_insert_with(|| {
                    cols.push(c.cols[*id].to_vec());
                    cols.len() - 1
                });
                *id = new;
            }
            DynNode::Bit(id) => {
                let new = *keep_masks.entry(*id).or_insert_with(|| {
                    masks.push(c.masks[*id].clone());
                    masks.len() - 1
                });
                *id = new;
            }
            _ => {}
        }
    }
    let program = Program {
        indicator_warmup: c.indicator_warmup.min(n.saturating_sub(1)),
        cols,
        masks,
        nodes,
        rules,
        exec,
        warmup,
        len: n,
    };
    Ok((program, traced))
}

fn first_true_or_len(col: &[f64]) -> usize {
    // The first index where the rule's value is not NaN: where its inputs exist.
    col.iter().position(|x| !x.is_nan()).unwrap_or(col.len())
}

impl<'a> Compiler<'a> {
    fn err(&self, pos: Pos, message: impl Into<String>, hint: Option<String>) -> SpecError {
        SpecError::in_rule(self.path.clone(), pos, message, hint)
    }

    fn push_col(&mut self, key: String, frame: usize, col: impl Into<Cow<'a, [f64]>>) -> ColId {
        if let Some(&id) = self.cache.get(&key) {
            return id;
        }
        let id = self.cols.len();
        self.cols.push(col.into());
        self.col_frame.push(frame);
        self.cache.insert(key, id);
        id
    }

    fn frame_len(&self, frame: usize) -> usize {
        self.frames[frame].len()
    }

    fn field(&mut self, name: &str, frame: usize) -> ColId {
        let key = format!("f{frame}:{name}");
        if let Some(&id) = self.cache.get(&key) {
            return id;
        }
        let f = &self.frames[frame];
        let [o, h, l, c, v] = &f.ohlcv;
        // Price fields of the base frame are borrowed from the caller: no copy.
        let col: Cow<'a, [f64]> = match name {
            "open" => o.clone(),
            "high" => h.clone(),
            "low" => l.clone(),
            "close" => c.clone(),
            "volume" => v.clone(),
            "hl2" => Cow::Owned(h.iter().zip(l.iter()).map(|(h, l)| (h + l) / 2.0).collect()),
            "hlc3" => Cow::Owned((0..f.len()).map(|i| (h[i] + l[i] + c[i]) / 3.0).collect()),
            _ => Cow::Owned(
                (0..f.len())
                    .map(|i| (o[i] + h[i] + l[i] + c[i]) / 4.0)
                    .collect(),
            ),
        };
        self.push_col(key, frame, col)
    }

    fn dyn_node(&mut self, node: DynNode) -> Val {
        self.nodes.push(node);
        Val::Dyn(self.nodes.len() - 1)
    }

    fn as_dyn(&mut self, v: Val) -> usize {
        match v {
            Val::Dyn(id) => id,
            Val::Const(x) => {
                self.nodes.push(DynNode::Const(x));
                self.nodes.len() - 1
            }
            Val::Col(c) => {
                self.nodes.push(DynNode::Col(c));
                self.nodes.len() - 1
            }
            Val::Mask(m) => {
                self.nodes.push(DynNode::Bit(m));
                self.nodes.len() - 1
            }
        }
    }

    /// A mask as a numeric column (0/1); other values unchanged.
    fn numeric(&mut self, v: Val, frame: usize) -> Val {
        match v {
            Val::Mask(m) => {
                let len = self.frame_len(frame);
                let bits = &self.masks[m];
                let col: Vec<f64> = (0..len)
                    .map(|t| bool_f(bits[t / 64] >> (t % 64) & 1 == 1))
                    .collect();
                Val::Col(self.push_col(format!("num:m{m}"), frame, col))
            }
            other => other,
        }
    }

    /// First bar at which `v` has a value (NaN before: indicators warming up).
    fn valid_from(&mut self, v: Val) -> usize {
        match v {
            Val::Const(_) | Val::Dyn(_) => 0,
            Val::Mask(m) => self.mask_valid[m],
            Val::Col(c) => {
                if let Some(&f) = self.col_valid.get(&c) {
                    return f;
                }
                let f = first_true_or_len(&self.cols[c]);
                self.col_valid.insert(c, f);
                f
            }
        }
    }

    fn push_mask(&mut self, key: String, bits: Vec<u64>, valid: usize) -> Val {
        if let Some(&id) = self.mask_cache.get(&key) {
            return Val::Mask(id);
        }
        let id = self.masks.len();
        self.masks.push(bits);
        self.mask_valid.push(valid);
        self.mask_cache.insert(key, id);
        Val::Mask(id)
    }

    /// A mask from a per-bar predicate.
    fn mask_from(&self, len: usize, f: impl Fn(usize) -> bool) -> Vec<u64> {
        pack(len, f)
    }

    /// Column of `v` in `frame`: borrowed for columns, materialised for constants.
    fn col_of(&self, v: Val, frame: usize) -> Cow<'_, [f64]> {
        match v {
            Val::Const(x) => Cow::Owned(vec![x; self.frame_len(frame)]),
            Val::Col(c) => Cow::Borrowed(&self.cols[c]),
            Val::Mask(m) => {
                let bits = &self.masks[m];
                Cow::Owned(
                    (0..self.frame_len(frame))
                        .map(|t| bool_f(bits[t / 64] >> (t % 64) & 1 == 1))
                        .collect(),
                )
            }
            Val::Dyn(_) => Cow::Owned(Vec::new()),
        }
    }

    /// Element access to `v` without materialising constants.
    fn view(&self, v: Val) -> View<'_> {
        match v {
            Val::Col(c) => View::Col(&self.cols[c]),
            Val::Mask(m) => View::Mask(&self.masks[m]),
            Val::Const(x) => View::Const(x),
            Val::Dyn(_) => View::Const(f64::NAN),
        }
    }

    fn static_only(&self, v: Val, pos: Pos, what: &str) -> Result<Val, SpecError> {
        if matches!(v, Val::Dyn(_)) {
            return Err(self.err(
                pos,
                format!("{what} cannot use position state"),
                Some("position.* and bars_in_trade are only known bar by bar; use them outside indicators, lookbacks and crossovers".into()),
            ));
        }
        Ok(v)
    }

    fn lower(&mut self, e: &Expr, frame: usize) -> Result<Val, SpecError> {
        let v = self.lower_node(e, frame)?;
        if frame == 0
            && matches!(v, Val::Col(_) | Val::Mask(_))
            && !matches!(&e.kind, ExprKind::Name(n) if FIELDS.contains(&n.as_str()) || n == "bar_index")
            && let Some(trace) = &mut self.trace
            && self.traced.insert(key_of(v))
        {
            trace.push((self.path.clone(), e.to_string(), v));
        }
        Ok(v)
    }

    fn lower_node(&mut self, e: &Expr, frame: usize) -> Result<Val, SpecError> {
        match &e.kind {
            ExprKind::Number(v) => Ok(Val::Const(*v)),
            ExprKind::Param(p) => match self.params.get(p) {
                Some(v) => Ok(Val::Const(v)),
                None => {
                    let names = self.spec.parameters.keys().map(String::as_str);
                    let hint = suggest(p, names)
                        .map(|s| format!("did you mean '${s}'?"))
                        .or_else(|| Some("declare it under \"parameters\"".into()));
                    Err(self.err(e.pos, format!("unknown parameter '${p}'"), hint))
                }
            },
            ExprKind::Name(name) => self.name(name, e.pos, frame),
            ExprKind::Neg(a) => {
                let v = self.lower(a, frame)?;
                let v = self.numeric(v, frame);
                Ok(match v {
                    // Masks were turned into numeric columns just above.
                    Val::Mask(_) => Val::Const(f64::NAN),
                    Val::Const(x) => Val::Const(-x),
                    Val::Col(c) => {
                        let col: Vec<f64> = self.cols[c].iter().map(|x| -x).collect();
                        Val::Col(self.push_col(format!("neg:{c}"), frame, col))
                    }
                    Val::Dyn(id) => self.dyn_node(DynNode::Neg(id)),
                })
            }
            ExprKind::Not(a) => {
                let v = self.lower(a, frame)?;
                Ok(match v {
                    Val::Const(x) => Val::Const(bool_f(!truthy(x))),
                    Val::Mask(m) => {
                        let len = self.frame_len(frame);
                        let mut bits: Vec<u64> = self.masks[m].iter().map(|w| !w).collect();
                        if !len.is_multiple_of(64)
                            && let Some(last) = bits.last_mut()
                        {
                            *last &= (1u64 << (len % 64)) - 1;
                        }
                        let valid = self.mask_valid[m];
                        self.push_mask(format!("not:m{m}"), bits, valid)
                    }
                    Val::Col(c) => {
                        let col: Vec<f64> =
                            self.cols[c].iter().map(|&x| bool_f(!truthy(x))).collect();
                        Val::Col(self.push_col(format!("not:{c}"), frame, col))
                    }
                    Val::Dyn(id) => self.dyn_node(DynNode::Not(id)),
                })
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.lower(a, frame)?;
                let y = self.lower(b, frame)?;
                Ok(self.binary(*op, x, y, frame))
            }
            ExprKind::Lookback(a, k) => {
                if *k < 0 && !self.spec.allow_lookahead {
                    return Err(self.err(
                        e.pos,
                        format!("{e} reads a future bar"),
                        Some("negative lookbacks are for research labels only: set \"allow_lookahead\": true at the top of the spec, and check the strategy with --check-bias".into()),
                    ));
                }
                let v = self.lower(a, frame)?;
                let v = self.static_only(v, e.pos, "a lookback")?;
                let v = self.numeric(v, frame);
                Ok(match v {
                    // Masks were turned into numeric columns just above.
                    Val::Mask(_) => Val::Const(f64::NAN),
                    Val::Const(x) => Val::Const(x),
                    Val::Col(c) => {
                        let src = &self.cols[c];
                        let n = src.len();
                        let mut col = vec![f64::NAN; n];
                        let shift = k.unsigned_abs();
                        if shift < n {
                            if *k >= 0 {
                                col[shift..].copy_from_slice(&src[..n - shift]);
                            } else {
                                // Research only (allow_lookahead): the value `shift` bars ahead.
                                col[..n - shift].copy_from_slice(&src[shift..]);
                            }
                        }
                        Val::Col(self.push_col(format!("lb:{c}:{k}"), frame, col))
                    }
                    Val::Dyn(_) => unreachable_dyn(),
                })
            }
            ExprKind::Timeframe(a, tf_text) => self.timeframe(a, tf_text, e.pos, frame),
            ExprKind::Output(inner, out) => match &inner.kind {
                ExprKind::Call(name, args) => self.call(name, args, Some(out), inner.pos, frame),
                _ => Err(self.err(
                    e.pos,
                    format!("'.{out}' can only follow an indicator call"),
                    Some("e.g. macd(close,12,26,9).signal".into()),
                )),
            },
            ExprKind::Call(name, args) => self.call(name, args, None, e.pos, frame),
        }
    }

    fn binary(&mut self, op: BinOp, x: Val, y: Val, frame: usize) -> Val {
        let logical = matches!(op, BinOp::And | BinOp::Or);
        let comparison = matches!(
            op,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        );
        match (x, y) {
            (Val::Const(a), Val::Const(b)) => Val::Const(apply(op, a, b)),
            (Val::Dyn(_), _) | (_, Val::Dyn(_)) => {
                let (a, b) = (self.as_dyn(x), self.as_dyn(y));
                self.dyn_node(DynNode::Bin(op, a, b))
            }
            (Val::Mask(a), Val::Mask(b)) if logical => {
                let key = format!("bin:{}:m{a}:m{b}", op.symbol());
                let bits: Vec<u64> = self.masks[a]
                    .iter()
                    .zip(&self.masks[b])
                    .map(|(p, q)| if op == BinOp::And { p & q } else { p | q })
                    .collect();
                let valid = self.mask_valid[a].max(self.mask_valid[b]);
                self.push_mask(key, bits, valid)
            }
            _ if logical || comparison => {
                let key = format!("bin:{}:{}:{}", op.symbol(), key_of(x), key_of(y));
                if let Some(&id) = self.mask_cache.get(&key) {
                    return Val::Mask(id);
                }
                let valid = self.valid_from(x).max(self.valid_from(y));
                let bits = {
                    let (a, b) = (self.view(x), self.view(y));
                    compare(op, a, b, self.frame_len(frame))
                };
                self.push_mask(key, bits, valid)
            }
            _ => {
                let key = format!("bin:{}:{}:{}", op.symbol(), key_of(x), key_of(y));
                if let Some(&id) = self.cache.get(&key) {
                    return Val::Col(id);
                }
                let (a, b) = (self.view(x), self.view(y));
                let col: Vec<f64> = (0..self.frame_len(frame))
                    .map(|i| apply(op, a.get(i), b.get(i)))
                    .collect();
                Val::Col(self.push_col(key, frame, col))
            }
        }
    }

    fn name(&mut self, name: &str, pos: Pos, frame: usize) -> Result<Val, SpecError> {
        if FIELDS.contains(&name) {
            return Ok(Val::Col(self.field(name, frame)));
        }
        if name == "bar_index" {
            let n = self.frame_len(frame);
            let col: Vec<f64> = (0..n).map(|i| i as f64).collect();
            return Ok(Val::Col(self.push_col(
                format!("f{frame}:bar_index"),
                frame,
                col,
            )));
        }
        if let Some(&(_, var)) = STATE_NAMES.iter().find(|(n, _)| *n == name) {
            if frame != 0 {
                return Err(self.err(
                    pos,
                    format!("{name} cannot be used on another timeframe"),
                    None,
                ));
            }
            return Ok(self.dyn_node(DynNode::State(var)));
        }
        if self.spec.indicators.contains_key(name) {
            return self.named(name, pos, frame);
        }
        if registry::find(name).is_some() || FUNCTIONS.contains(&name) {
            return Err(self.err(
                pos,
                format!("'{name}' is a function and needs arguments"),
                Some(format!("e.g. {name}(close, 14)")),
            ));
        }
        let candidates = FIELDS
            .iter()
            .copied()
            .chain(STATE_NAMES.iter().map(|(n, _)| *n))
            .chain(std::iter::once("bar_index"))
            .chain(self.spec.indicators.keys().map(String::as_str));
        let hint = suggest(name, candidates)
            .map(|s| format!("did you mean '{s}'?"))
            .unwrap_or_else(|| "use a price field (open, high, low, close, volume, hl2, hlc3, ohlc4), an indicator declared under \"indicators\", or position.pnl_pct / bars_in_trade".into());
        Err(self.err(pos, format!("unknown name '{name}'"), Some(hint)))
    }

    /// The indicators being lowered, as the user wrote them (the stack's keys carry the frame).
    fn cycle_names(&self) -> String {
        self.stack
            .iter()
            .map(|k| k.split_once(':').map_or(k.as_str(), |(_, n)| n))
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    fn named(&mut self, name: &str, pos: Pos, frame: usize) -> Result<Val, SpecError> {
        let key = format!("{frame}:{name}");
        if self.stack.contains(&key) {
            return Err(self.err(
                pos,
                format!("indicator '{name}' refers to itself"),
                Some(format!("cycle: {} -> {name}", self.cycle_names())),
            ));
        }
        let Some(text) = self.spec.indicators.get(name) else {
            return Err(self.err(pos, format!("unknown indicator '{name}'"), None));
        };
        let parsed = expr::parse(text).map_err(|e| {
            SpecError::in_rule(format!("indicators.{name}"), e.pos, e.message, e.hint)
        })?;
        self.stack.push(key);
        let saved = std::mem::replace(&mut self.path, format!("indicators.{name}"));
        let v = self.lower(&parsed, frame);
        self.path = saved;
        self.stack.pop();
        v
    }

    fn timeframe(
        &mut self,
        a: &Expr,
        tf_text: &str,
        pos: Pos,
        frame: usize,
    ) -> Result<Val, SpecError> {
        if frame != 0 {
            return Err(self.err(pos, "timeframes cannot be nested", None));
        }
        let tf: Timeframe = tf_text
            .parse()
            .map_err(|e: skeet_core::ValidationError| self.err(pos, e.to_string(), None))?;
        let Some(fi) = self
            .frames
            .iter()
            .position(|f| f.tf == tf && f.align.is_some())
        else {
            let declared = &self.spec.universe.extra_timeframes;
            return Err(self.err(
                pos,
                format!("timeframe {tf} is not declared"),
                Some(if declared.is_empty() {
                    format!("add \"extra_timeframes\": [\"{tf}\"] to \"universe\"")
                } else {
                    format!(
                        "declared: {}; add {tf} to universe.extra_timeframes",
                        declared.join(", ")
                    )
                }),
            ));
        };
        let v = self.lower(a, fi)?;
        let v = self.static_only(v, pos, "another timeframe")?;
        let v = self.numeric(v, fi);
        Ok(match v {
            // Masks were turned into numeric columns just above.
            Val::Mask(_) => Val::Const(f64::NAN),
            Val::Const(x) => Val::Const(x),
            Val::Col(c) => {
                let key = format!("tf:{fi}:{c}");
                if let Some(&id) = self.cache.get(&key) {
                    return Ok(Val::Col(id));
                }
                let src = &self.cols[c];
                let align = self.frames[fi].align.as_deref().unwrap_or(&[]);
                let col: Vec<f64> = align
                    .iter()
                    .map(|&j| if j == usize::MAX { f64::NAN } else { src[j] })
                    .collect();
                Val::Col(self.push_col(key, frame, col))
            }
            Val::Dyn(_) => unreachable_dyn(),
        })
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        output: Option<&str>,
        pos: Pos,
        frame: usize,
    ) -> Result<Val, SpecError> {
        match name {
            "crossover" | "crossunder" => {
                let [a, b] = args else {
                    return Err(self.err(
                        pos,
                        format!("{name} takes two series"),
                        Some(format!("e.g. {name}(sma(close,10), sma(close,20))")),
                    ));
                };
                let x = self.lower(a, frame)?;
                let x = self.static_only(x, a.pos, name)?;
                let y = self.lower(b, frame)?;
                let y = self.static_only(y, b.pos, name)?;
                let key = format!("{name}:{}:{}", key_of(x), key_of(y));
                if let Some(&id) = self.mask_cache.get(&key) {
                    return Ok(Val::Mask(id));
                }
                let valid = self.valid_from(x).max(self.valid_from(y)) + 1;
                let up = name == "crossover";
                let bits = {
                    let (p, q) = (self.view(x), self.view(y));
                    let len = self.frame_len(frame);
                    // backtesting.py's definition: strictly below, then strictly above.
                    match (p, q, up) {
                        (View::Col(p), View::Col(q), true) => {
                            pack(len, |t| t > 0 && p[t - 1] < q[t - 1] && p[t] > q[t])
                        }
                        (View::Col(p), View::Col(q), false) => {
                            pack(len, |t| t > 0 && p[t - 1] > q[t - 1] && p[t] < q[t])
                        }
                        _ => self.mask_from(len, |t| {
                            if t == 0 {
                                return false;
                            }
                            let (p0, q0, p1, q1) = (p.get(t - 1), q.get(t - 1), p.get(t), q.get(t));
                            if up {
                                p0 < q0 && p1 > q1
                            } else {
                                p0 > q0 && p1 < q1
                            }
                        }),
                    }
                };
                Ok(self.push_mask(key, bits, valid))
            }
            "abs" => {
                let [a] = args else {
                    return Err(self.err(pos, "abs takes one value", None));
                };
                let v = self.lower(a, frame)?;
                let v = self.numeric(v, frame);
                Ok(match v {
                    // Masks were turned into numeric columns just above.
                    Val::Mask(_) => Val::Const(f64::NAN),
                    Val::Const(x) => Val::Const(x.abs()),
                    Val::Col(c) => {
                        let col: Vec<f64> = self.cols[c].iter().map(|x| x.abs()).collect();
                        Val::Col(self.push_col(format!("abs:{c}"), frame, col))
                    }
                    Val::Dyn(id) => self.dyn_node(DynNode::Abs(id)),
                })
            }
            "min" | "max" => {
                let [a, b] = args else {
                    return Err(self.err(pos, format!("{name} takes two values"), None));
                };
                let x = self.lower(a, frame)?;
                let y = self.lower(b, frame)?;
                let is_min = name == "min";
                Ok(match (x, y) {
                    (Val::Const(p), Val::Const(q)) => {
                        Val::Const(if is_min { p.min(q) } else { p.max(q) })
                    }
                    (Val::Dyn(_), _) | (_, Val::Dyn(_)) => {
                        let (p, q) = (self.as_dyn(x), self.as_dyn(y));
                        self.dyn_node(if is_min {
                            DynNode::Min(p, q)
                        } else {
                            DynNode::Max(p, q)
                        })
                    }
                    _ => {
                        let (p, q) = (self.view(x), self.view(y));
                        let col: Vec<f64> = (0..self.frame_len(frame))
                            .map(|i| {
                                let (a, b) = (p.get(i), q.get(i));
                                if is_min { a.min(b) } else { a.max(b) }
                            })
                            .collect();
                        Val::Col(self.push_col(
                            format!("{name}:{}:{}", key_of(x), key_of(y)),
                            frame,
                            col,
                        ))
                    }
                })
            }
            "highest" | "lowest" => {
                let [a, n] = args else {
                    return Err(self.err(
                        pos,
                        format!("{name} takes a series and a number of bars"),
                        Some(format!("e.g. {name}(high, 20)")),
                    ));
                };
                let x = self.lower(a, frame)?;
                let x = self.static_only(x, a.pos, name)?;
                let Val::Const(nv) = self.lower(n, frame)? else {
                    return Err(self.err(
                        n.pos,
                        format!("the length of {name} must be a number or $parameter"),
                        None,
                    ));
                };
                if nv < 1.0 || nv.fract() != 0.0 {
                    return Err(self.err(
                        n.pos,
                        format!("{name} needs a whole number of bars >= 1, got {nv}"),
                        None,
                    ));
                }
                let w = nv as usize;
                let key = format!("{name}:{}:{w}", key_of(x));
                if let Some(&id) = self.cache.get(&key) {
                    return Ok(Val::Col(id));
                }
                let col = rolling_extreme(&self.col_of(x, frame), w, name == "highest");
                Ok(Val::Col(self.push_col(key, frame, col)))
            }
            _ => self.indicator(name, args, output, pos, frame),
        }
    }

    fn indicator(
        &mut self,
        name: &str,
        args: &[Expr],
        output: Option<&str>,
        pos: Pos,
        frame: usize,
    ) -> Result<Val, SpecError> {
        let Some(def) = registry::find(name) else {
            let names = skeet_ta::INDICATORS
                .iter()
                .map(|d| d.name)
                .chain(FUNCTIONS.iter().copied());
            let hint = suggest(name, names).map(|s| format!("did you mean '{s}'?"));
            return Err(self.err(
                pos,
                format!("unknown indicator '{name}'"),
                hint.or_else(|| Some("see skeet indicators --list".into())),
            ));
        };
        let mut rest = args;
        let mut src = None;
        if def.source {
            let Some(first) = args.first() else {
                return Err(self.err(
                    pos,
                    format!("{} needs a price series first", def.name),
                    Some(format!("signature: {}", registry::signature(def))),
                ));
            };
            let v = self.lower(first, frame)?;
            let v = self.static_only(v, first.pos, "an indicator's input")?;
            src = Some(v);
            rest = &args[1..];
        }
        let mut call_args = Vec::new();
        if def.source {
            call_args.push(Arg::Ident("close".into(), Pos::default()));
        }
        for a in rest {
            match self.lower(a, frame)? {
                Val::Const(v) => call_args.push(Arg::Number(v, a.pos)),
                _ => {
                    return Err(self.err(
                        a.pos,
                        format!("parameters of {} must be numbers or $parameters", def.name),
                        Some(format!("signature: {}", registry::signature(def))),
                    ));
                }
            }
        }
        let call = Call {
            alias: None,
            name: def.name.to_string(),
            args: call_args,
            output: output.map(str::to_string),
            pos,
        };
        let spec = registry::resolve(&call).map_err(|e| match e {
            skeet_ta::TaError::Syntax {
                message,
                line,
                column,
                hint,
            } => {
                // Positions of numeric arguments are the rule's own; others point at the call.
                let p = if line == 0 { pos } else { Pos { line, column } };
                self.err(p, message, hint)
            }
            other => self.err(pos, other.to_string(), None),
        })?;
        let out_idx = spec.output.unwrap_or(0);
        let src_key = src.map_or_else(String::new, key_of);
        let base_key = format!("ind:{frame}:{}:{src_key}", spec.canonical());
        let key = format!("{base_key}:{out_idx}");
        if let Some(&id) = self.cache.get(&key) {
            return Ok(Val::Col(id));
        }
        let src_col = src.map(|v| self.col_of(v, frame));
        let cols = self.frames[frame].columns();
        // Every output is computed and cached, so `.signal` and `.macd` of the same MACD cost
        // one pass.
        let full = registry::IndicatorSpec {
            output: None,
            ..spec
        };
        let outputs = match &src_col {
            Some(s) => full.compute_on(s, &cols),
            None => full.compute(&cols),
        }
        .map_err(|e| self.err(pos, e.to_string(), None))?;
        let mut result = None;
        for (i, col) in outputs.into_iter().enumerate() {
            if i == out_idx && frame == 0 {
                self.indicator_warmup = self.indicator_warmup.max(first_true_or_len(&col));
            }
            let id = self.push_col(format!("{base_key}:{i}"), frame, col);
            if i == out_idx {
                result = Some(id);
            }
        }
        result
            .map(Val::Col)
            .ok_or_else(|| self.err(pos, format!("{} produced no output", def.name), None))
    }

    fn num(&self, n: &Num, path: &str) -> Result<f64, SpecError> {
        match n {
            Num::Value(v) => Ok(*v),
            Num::Param(p) => self.params.get(p).ok_or_else(|| {
                let hint = suggest(p, self.spec.parameters.keys().map(String::as_str))
                    .map(|s| format!("did you mean \"${s}\"?"))
                    .unwrap_or_else(|| "declare it under \"parameters\"".into());
                SpecError::Invalid(crate::error::Located {
                    path: path.to_string(),
                    pos: None,
                    message: format!("unknown parameter '${p}'"),
                    hint: Some(hint),
                })
            }),
        }
    }

    fn positive(&self, n: &Num, path: &str, max: f64) -> Result<f64, SpecError> {
        let v = self.num(n, path)?;
        if !(v > 0.0 && v <= max && v.is_finite()) {
            return Err(SpecError::at(
                path,
                format!("{v} is out of range; use a number above 0 and at most {max}"),
            ));
        }
        Ok(v)
    }

    fn whole(&self, n: &Num, path: &str) -> Result<usize, SpecError> {
        let v = self.num(n, path)?;
        if !(v >= 1.0 && v.fract() == 0.0 && v <= 1e6) {
            return Err(SpecError::at(
                path,
                format!("{v} must be a whole number of at least 1"),
            ));
        }
        Ok(v as usize)
    }

    fn distance(
        &self,
        d: &Distance,
        path: &str,
        allow_rr: bool,
    ) -> Result<DistanceRule, SpecError> {
        let Distance {
            pct,
            atr_period,
            atr_mult,
            rr,
        } = d;
        match (pct, atr_period, atr_mult, rr) {
            (Some(p), None, None, None) => Ok(DistanceRule::Pct {
                pct: self.positive(p, &format!("{path}.pct"), 1000.0)?,
            }),
            (None, Some(n), Some(m), None) => Ok(DistanceRule::Atr {
                period: self.whole(n, &format!("{path}.atr_period"))?,
                mult: self.positive(m, &format!("{path}.atr_mult"), 1000.0)?,
            }),
            (None, None, None, Some(r)) if allow_rr => Ok(DistanceRule::RewardRisk {
                rr: self.positive(r, &format!("{path}.rr"), 1000.0)?,
            }),
            _ => Err(SpecError::at(
                path,
                if allow_rr {
                    "give exactly one of {\"pct\": N}, {\"atr_period\": N, \"atr_mult\": M} or {\"rr\": R}"
                } else {
                    "give exactly one of {\"pct\": N} or {\"atr_period\": N, \"atr_mult\": M}"
                },
            )),
        }
    }

    fn execution(&self) -> Result<ExecSettings, SpecError> {
        let x = &self.spec.execution;
        let entry_order = match &x.order {
            OrderType::Market => EntryOrder::Market,
            OrderType::Limit {
                offset_pct,
                valid_bars,
            } => EntryOrder::Limit {
                offset_pct: self.non_negative(offset_pct, "execution.order.offset_pct")?,
                valid_bars: valid_bars
                    .as_ref()
                    .map_or(Ok(1), |v| self.whole(v, "execution.order.valid_bars"))?,
            },
            OrderType::Stop {
                offset_pct,
                valid_bars,
            } => EntryOrder::Stop {
                offset_pct: self.non_negative(offset_pct, "execution.order.offset_pct")?,
                valid_bars: valid_bars
                    .as_ref()
                    .map_or(Ok(1), |v| self.whole(v, "execution.order.valid_bars"))?,
            },
        };
        let sizing = match &x.sizing {
            Sizing::AllIn => SizingRule::AllIn,
            Sizing::PctEquity { pct } => SizingRule::PctEquity {
                pct: self.positive(pct, "execution.sizing.pct", 100.0)?,
            },
            Sizing::Quote { amount } => SizingRule::Quote {
                amount: self.positive(amount, "execution.sizing.amount", 1e15)?,
            },
            Sizing::Units { quantity } => SizingRule::Units {
                quantity: self.positive(quantity, "execution.sizing.quantity", 1e15)?,
            },
            Sizing::Risk { risk_pct } => SizingRule::Risk {
                risk_pct: self.positive(risk_pct, "execution.sizing.risk_pct", 100.0)?,
            },
        };
        let stop_loss = x
            .stop_loss
            .as_ref()
            .map(|d| self.distance(d, "execution.stop_loss", false))
            .transpose()?;
        if matches!(sizing, SizingRule::Risk { .. }) && stop_loss.is_none() {
            return Err(SpecError::at(
                "execution.sizing",
                "risk sizing needs a stop loss to measure the risk; add \"stop_loss\"",
            ));
        }
        let take_profit = x
            .take_profit
            .as_ref()
            .map(|d| self.distance(d, "execution.take_profit", true))
            .transpose()?;
        if matches!(take_profit, Some(DistanceRule::RewardRisk { .. })) && stop_loss.is_none() {
            return Err(SpecError::at(
                "execution.take_profit.rr",
                "a reward:risk target needs a stop loss; add \"stop_loss\"",
            ));
        }
        let trailing_stop = x
            .trailing_stop
            .as_ref()
            .map(|d| self.distance(d, "execution.trailing_stop", false))
            .transpose()?;
        let max_entries = x
            .max_entries
            .as_ref()
            .map_or(Ok(1), |n| self.whole(n, "execution.max_entries"))?;
        let time_stop = x
            .time_stop
            .as_ref()
            .map(|t| self.whole(&t.bars, "execution.time_stop.bars"))
            .transpose()?;
        let p = &x.protections;
        let cooldown = p
            .cooldown
            .as_ref()
            .map(|c| -> Result<_, SpecError> {
                Ok((
                    self.whole(&c.losses, "execution.protections.cooldown.losses")?,
                    self.whole(&c.bars, "execution.protections.cooldown.bars")?,
                ))
            })
            .transpose()?;
        let drawdown_pause = p
            .drawdown_pause
            .as_ref()
            .map(|d| -> Result<_, SpecError> {
                Ok((
                    self.positive(&d.pct, "execution.protections.drawdown_pause.pct", 100.0)?,
                    self.whole(&d.bars, "execution.protections.drawdown_pause.bars")?,
                ))
            })
            .transpose()?;
        Ok(ExecSettings {
            entry_order,
            sizing,
            allow_short: x.allow_short,
            stop_loss,
            take_profit,
            trailing_stop,
            time_stop,
            max_entries,
            cooldown,
            drawdown_pause,
        })
    }

    fn non_negative(&self, n: &Num, path: &str) -> Result<f64, SpecError> {
        let v = self.num(n, path)?;
        if !(0.0..100.0).contains(&v) {
            return Err(SpecError::at(
                path,
                format!("{v} is out of range; use a percentage from 0 to below 100"),
            ));
        }
        Ok(v)
    }
}

/// A value readable by index: a column or a broadcast constant.
#[derive(Clone, Copy)]
enum View<'s> {
    Col(&'s [f64]),
    Mask(&'s [u64]),
    Const(f64),
}

impl View<'_> {
    #[inline]
    fn get(&self, i: usize) -> f64 {
        match self {
            Self::Col(c) => c[i],
            Self::Mask(m) => bool_f(m[i / 64] >> (i % 64) & 1 == 1),
            Self::Const(x) => *x,
        }
    }
}

/// Packs a per-bar predicate into bits, 64 bars per word (the compiler keeps the inner loop
/// branch-free).
#[inline]
fn pack(len: usize, f: impl Fn(usize) -> bool) -> Vec<u64> {
    let mut bits = vec![0u64; len.div_ceil(64)];
    for (w, word) in bits.iter_mut().enumerate() {
        let base = w * 64;
        let end = (base + 64).min(len);
        let mut acc = 0u64;
        for t in base..end {
            acc |= u64::from(f(t)) << (t - base);
        }
        *word = acc;
    }
    bits
}

/// A comparison or logical operator applied bar by bar, specialised on the operand shapes
/// so the common column-versus-column and column-versus-constant cases run without dispatch.
fn compare(op: BinOp, a: View<'_>, b: View<'_>, len: usize) -> Vec<u64> {
    fn by<F: Fn(f64, f64) -> bool + Copy>(a: View<'_>, b: View<'_>, len: usize, f: F) -> Vec<u64> {
        match (a, b) {
            (View::Col(x), View::Col(y)) => pack(len, |t| f(x[t], y[t])),
            (View::Col(x), View::Const(c)) => pack(len, |t| f(x[t], c)),
            (View::Const(c), View::Col(y)) => pack(len, |t| f(c, y[t])),
            _ => pack(len, |t| f(a.get(t), b.get(t))),
        }
    }
    match op {
        BinOp::Lt => by(a, b, len, |x, y| x < y),
        BinOp::Le => by(a, b, len, |x, y| x <= y),
        BinOp::Gt => by(a, b, len, |x, y| x > y),
        BinOp::Ge => by(a, b, len, |x, y| x >= y),
        BinOp::Eq => by(a, b, len, |x, y| x == y),
        BinOp::Ne => by(a, b, len, |x, y| x != y && !x.is_nan() && !y.is_nan()),
        BinOp::And => by(a, b, len, |x, y| truthy(x) && truthy(y)),
        BinOp::Or => by(a, b, len, |x, y| truthy(x) || truthy(y)),
        _ => by(a, b, len, move |x, y| truthy(apply(op, x, y))),
    }
}

fn key_of(v: Val) -> String {
    match v {
        Val::Const(x) => format!("k{}", x.to_bits()),
        Val::Col(c) => format!("c{c}"),
        Val::Mask(m) => format!("m{m}"),
        Val::Dyn(d) => format!("d{d}"),
    }
}

fn unreachable_dyn() -> Val {
    // `static_only` rejected dynamic values before this point.
    Val::Const(f64::NAN)
}

/// Maximum (or minimum) of the last `w` values including the current one; NaN until `w`
/// values exist.
fn rolling_extreme(src: &[f64], w: usize, max: bool) -> Vec<f64> {
    let mut out = vec![f64::NAN; src.len()];
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    for (i, &x) in src.iter().enumerate() {
        while let Some(&j) = dq.back() {
            let dominated = if max { src[j] <= x } else { src[j] >= x };
            if dominated {
                dq.pop_back();
            } else {
                break;
            }
        }
        dq.push_back(i);
        while dq.front().is_some_and(|&j| j + w <= i) {
            dq.pop_front();
        }
        if i + 1 >= w {
            out[i] = dq.front().map_or(f64::NAN, |&j| src[j]);
        }
    }
    out
}
