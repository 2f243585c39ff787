//! # skeet-strategy
//!
//! Strategies for SKEET: what a strategy is ([`Strategy`], pure decisions from closed bars),
//! the declarative [`StrategySpec`] (JSON) with its rule language ([`expr`]), the compiler
//! that turns a spec into a fast [`Program`], parameter spaces ([`params`]) and built-in
//! [`templates`].
//!
//! A spec compiles once per run: indicators and every position-independent sub-expression are
//! computed in batch over the whole series (causal by construction, see [`compile`]), rules
//! become boolean columns, and only position-dependent parts are evaluated bar by bar. No text
//! is interpreted and nothing is allocated per bar.

pub mod api;
pub mod compile;
mod error;
pub mod expr;
pub mod params;
pub mod spec;
pub mod templates;

pub use api::{
    BarContext, BarsView, DistanceRule, EntryOrder, ExecSettings, PositionState, Signals,
    SizingRule, Strategy,
};
pub use compile::{Program, RuleKind, SeriesData, TracedColumn, compile, compile_traced};
pub use error::{Located, SpecError};
pub use params::{ParamDef, ParamValues};
pub use spec::StrategySpec;

/// A compiled [`StrategySpec`] run as a [`Strategy`].
#[derive(Clone, Debug)]
pub struct SpecStrategy {
    program: Program,
    exec: ExecSettings,
}

impl SpecStrategy {
    /// Wraps a compiled program; `allow_short` enables short entries in addition to the
    /// spec's own `execution.allow_short`.
    pub fn new(program: Program, allow_short: bool) -> Self {
        let mut exec = program.execution().clone();
        exec.allow_short |= allow_short;
        Self { program, exec }
    }

    /// The compiled program.
    pub fn program(&self) -> &Program {
        &self.program
    }
}

impl Strategy for SpecStrategy {
    fn execution(&self) -> &ExecSettings {
        &self.exec
    }

    fn next_decision(&self, from: usize, side: i8) -> Option<usize> {
        let p = &self.program;
        let scale_in = self.exec.max_entries > 1;
        let short = self.exec.allow_short;
        let rules: &[(RuleKind, bool)] = match side {
            1 => &[
                (RuleKind::ExitLong, true),
                (RuleKind::EntryShort, short),
                (RuleKind::EntryLong, scale_in),
            ],
            -1 => &[
                (RuleKind::ExitShort, true),
                (RuleKind::EntryLong, true),
                (RuleKind::EntryShort, scale_in),
            ],
            _ => &[(RuleKind::EntryLong, true), (RuleKind::EntryShort, short)],
        };
        rules
            .iter()
            .filter(|(_, on)| *on)
            .filter_map(|(k, _)| p.next_possible(*k, from))
            .min()
    }

    fn warmup(&self) -> usize {
        self.program.warmup()
    }

    #[inline]
    fn on_bar(&mut self, ctx: &BarContext<'_>) -> Signals {
        let t = ctx.index;
        let st = &ctx.position;
        let p = &self.program;
        // Evaluate only the rules that can matter in the current position.
        let scale_in = self.exec.max_entries > 1;
        if st.size > 0.0 {
            Signals {
                exit_long: p.rule(RuleKind::ExitLong, t, st),
                enter_short: self.exec.allow_short && p.rule(RuleKind::EntryShort, t, st),
                enter_long: scale_in && p.rule(RuleKind::EntryLong, t, st),
                ..Signals::default()
            }
        } else if st.size < 0.0 {
            Signals {
                exit_short: p.rule(RuleKind::ExitShort, t, st),
                enter_long: p.rule(RuleKind::EntryLong, t, st),
                enter_short: scale_in && p.rule(RuleKind::EntryShort, t, st),
                ..Signals::default()
            }
        } else {
            Signals {
                enter_long: p.rule(RuleKind::EntryLong, t, st),
                enter_short: self.exec.allow_short && p.rule(RuleKind::EntryShort, t, st),
                ..Signals::default()
            }
        }
    }
}
