//! The rule language: lexer, parser and syntax tree.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | cmp
//! cmp     := add (("<" | "<=" | ">" | ">=" | "==" | "!=") add)?
//! add     := mul (("+" | "-") mul)*
//! mul     := unary (("*" | "/" | "%") unary)*
//! unary   := "-" unary | postfix
//! postfix := primary ("[" ["-"] integer "]" | "@" timeframe | "." name)*
//! primary := number | "true" | "false" | "$" name | name | name "(" args ")" | "(" expr ")"
//! ```
//!
//! Names are price fields (`close`, `hl2`, ...), indicators declared in the spec, position
//! state (`position.pnl_pct`, `bars_in_trade`, ...) and functions (`crossover`, `abs`, and
//! every indicator of `skeet indicators --list`). `x[k]` is `x` as of `k` bars ago; `x@4h` is
//! `x` computed on 4-hour bars, as of the last completed 4-hour bar. Positions are 1-based
//! line:column, so every error points at its token.
//!
//! `x[-k]` (a negative lookback: `x` as of `k` bars in the future) parses, but it reads the
//! future: the compiler refuses it unless the spec sets `"allow_lookahead": true`, for
//! research labels only. [`Expr`]'s `Display` writes an expression back in canonical form
//! (`sma(close, $fast)[-1] > close`), which names sub-expressions in messages and reports.

use std::fmt;

use skeet_ta::call::Pos;

/// A syntax error with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub pos: Pos,
    /// How to fix it.
    pub hint: Option<String>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at {}:{}",
            self.message, self.pos.line, self.pos.column
        )?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%` (remainder)
    Rem,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `and`
    And,
    /// `or`
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Rem => "%",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::And => "and",
            Self::Or => "or",
        }
    }
}

/// A syntax tree node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The node.
    pub kind: ExprKind,
    /// Where it starts.
    pub pos: Pos,
}

/// Node kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number (`true`/`false` are 1 and 0).
    Number(f64),
    /// `$name`.
    Param(String),
    /// A bare or dotted name: `close`, `fast_ma`, `position.pnl_pct`.
    Name(String),
    /// `name(args)`.
    Call(String, Vec<Expr>),
    /// `-x`.
    Neg(Box<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `x[k]`: `x` as of `k` bars ago; a negative `k` reads `-k` bars into the future.
    Lookback(Box<Expr>, isize),
    /// `x@tf`.
    Timeframe(Box<Expr>, String),
    /// `x.output` on a call or indicator name.
    Output(Box<Expr>, String),
}

impl Expr {
    /// Binding strength when written back: loosest `or` (1) to postfix and atoms (8).
    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Binary(op, _, _) => match op {
                BinOp::Or => 1,
                BinOp::And => 2,
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 4,
                BinOp::Add | BinOp::Sub => 5,
                BinOp::Mul | BinOp::Div | BinOp::Rem => 6,
            },
            ExprKind::Not(_) => 3,
            ExprKind::Neg(_) => 7,
            ExprKind::Number(v) if *v < 0.0 => 7,
            _ => 8,
        }
    }

    /// Writes `self`, in parentheses when it binds looser than `min`.
    fn fmt_at(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

/// Canonical text: lowercase names, `", "` between arguments, single spaces around binary
/// operators and parentheses only where precedence needs them; it parses back to the same
/// tree (positions aside).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(v) => {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    write!(f, "{}", *v as i64)
                } else {
                    write!(f, "{v}")
                }
            }
            ExprKind::Param(p) => write!(f, "${p}"),
            ExprKind::Name(n) => f.write_str(n),
            ExprKind::Call(name, args) => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            ExprKind::Neg(a) => {
                f.write_str("-")?;
                a.fmt_at(f, 7)
            }
            ExprKind::Not(a) => {
                f.write_str("not ")?;
                a.fmt_at(f, 3)
            }
            ExprKind::Binary(op, a, b) => {
                let p = self.precedence();
                a.fmt_at(f, p)?;
                write!(f, " {} ", op.symbol())?;
                // Operators group to the left and comparisons do not chain, so an equally
                // binding right operand needs parentheses.
                b.fmt_at(f, p + 1)
            }
            ExprKind::Lookback(a, k) => {
                a.fmt_at(f, 8)?;
                write!(f, "[{k}]")
            }
            ExprKind::Timeframe(a, tf) => {
                a.fmt_at(f, 8)?;
                write!(f, "@{tf}")
            }
            ExprKind::Output(a, name) => {
                a.fmt_at(f, 8)?;
                write!(f, ".{name}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Param(String),
    Op(&'static str),
    End,
}

struct Lexer<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    _src: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            chars: src.chars().collect(),
            i: 0,
            line: 1,
            col: 1,
            _src: src,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.col,
        }
    }

    fn tokens(mut self) -> Result<Vec<(Tok, Pos)>, ParseError> {
        let mut out = Vec::new();
        loop {
            while self.peek().is_some_and(char::is_whitespace) {
                self.bump();
            }
            let pos = self.pos();
            let Some(c) = self.peek() else {
                out.push((Tok::End, pos));
                return Ok(out);
            };
            if c.is_ascii_digit()
                || (c == '.' && self.chars.get(self.i + 1).is_some_and(char::is_ascii_digit))
            {
                let mut s = String::new();
                while let Some(d) = self.peek() {
                    let exp_sign = (d == '-' || d == '+') && s.ends_with(['e', 'E']);
                    if d.is_ascii_digit() || d == '.' || d == 'e' || d == 'E' || exp_sign {
                        s.push(d);
                        self.bump();
                    } else {
                        break;
                    }
                }
                let v = s.parse::<f64>().map_err(|_| ParseError {
                    message: format!("'{s}' is not a number"),
                    pos,
                    hint: None,
                })?;
                out.push((Tok::Num(v), pos));
                continue;
            }
            if c.is_ascii_alphabetic() || c == '_' || c == '$' {
                let param = c == '$';
                if param {
                    self.bump();
                }
                let mut s = String::new();
                while let Some(d) = self.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        s.push(d.to_ascii_lowercase());
                        self.bump();
                    } else {
                        break;
                    }
                }
                if param {
                    if s.is_empty() {
                        return Err(ParseError {
                            message: "'$' must be followed by a parameter name".into(),
                            pos,
                            hint: Some("e.g. $fast".into()),
                        });
                    }
                    out.push((Tok::Param(s), pos));
                } else {
                    out.push((Tok::Ident(s), pos));
                }
                continue;
            }
            let two: String = self.chars[self.i..(self.i + 2).min(self.chars.len())]
                .iter()
                .collect();
            let op = match two.as_str() {
                "<=" => Some("<="),
                ">=" => Some(">="),
                "==" => Some("=="),
                "!=" => Some("!="),
                "&&" => Some("and"),
                "||" => Some("or"),
                _ => None,
            };
            if let Some(op) = op {
                self.bump();
                self.bump();
                out.push((Tok::Op(op), pos));
                continue;
            }
            let op = match c {
                '+' => "+",
                '-' => "-",
                '*' => "*",
                '/' => "/",
                '%' => "%",
                '<' => "<",
                '>' => ">",
                '(' => "(",
                ')' => ")",
                '[' => "[",
                ']' => "]",
                ',' => ",",
                '@' => "@",
                '.' => ".",
                '!' => "not",
                '=' => {
                    return Err(ParseError {
                        message: "single '=' is not an operator".into(),
                        pos,
                        hint: Some("compare with '=='".into()),
                    });
                }
                other => {
                    return Err(ParseError {
                        message: format!("unexpected character '{other}'"),
                        pos,
                        hint: None,
                    });
                }
            };
            self.bump();
            out.push((Tok::Op(op), pos));
        }
    }
}

/// Parses a rule expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = Lexer::new(src).tokens()?;
    let mut p = Parser { toks, i: 0 };
    let e = p.expr()?;
    match p.peek() {
        (Tok::End, _) => Ok(e),
        (t, pos) => Err(ParseError {
            message: format!("unexpected {} after the expression", describe(&t)),
            pos,
            hint: Some("combine conditions with 'and' / 'or'".into()),
        }),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(v) => format!("number {v}"),
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Param(s) => format!("'${s}'"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::End => "end of rule".into(),
    }
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> (Tok, Pos) {
        self.toks[self.i.min(self.toks.len() - 1)].clone()
    }

    fn next(&mut self) -> (Tok, Pos) {
        let t = self.peek();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(&self.peek().0, Tok::Op(o) if *o == op)
            || matches!(&self.peek().0, Tok::Ident(s) if s == op && matches!(op, "and" | "or" | "not"))
    }

    fn expect(&mut self, op: &'static str, hint: &str) -> Result<(), ParseError> {
        if self.is_op(op) {
            self.next();
            return Ok(());
        }
        let (t, pos) = self.peek();
        Err(ParseError {
            message: format!("expected '{op}' but found {}", describe(&t)),
            pos,
            hint: Some(hint.into()),
        })
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.and()?;
        while self.is_op("or") {
            let pos = self.next().1;
            let rhs = self.and()?;
            lhs = bin(BinOp::Or, lhs, rhs, pos);
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.not()?;
        while self.is_op("and") {
            let pos = self.next().1;
            let rhs = self.not()?;
            lhs = bin(BinOp::And, lhs, rhs, pos);
        }
        Ok(lhs)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.is_op("not") {
            let pos = self.next().1;
            let inner = self.not()?;
            return Ok(Expr {
                kind: ExprKind::Not(Box::new(inner)),
                pos,
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Expr, ParseError> {
        let lhs = self.add()?;
        let op = match &self.peek().0 {
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            Tok::Op("==") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            _ => return Ok(lhs),
        };
        let pos = self.next().1;
        let rhs = self.add()?;
        if matches!(
            &self.peek().0,
            Tok::Op("<" | "<=" | ">" | ">=" | "==" | "!=")
        ) {
            let pos = self.peek().1;
            return Err(ParseError {
                message: "comparisons cannot be chained".into(),
                pos,
                hint: Some("write 'a < b and b < c'".into()),
            });
        }
        Ok(bin(op, lhs, rhs, pos))
    }

    fn add(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.mul()?;
        loop {
            let op = match &self.peek().0 {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(lhs),
            };
            let pos = self.next().1;
            let rhs = self.mul()?;
            lhs = bin(op, lhs, rhs, pos);
        }
    }

    fn mul(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        loop {
            let op = match &self.peek().0 {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                Tok::Op("%") => BinOp::Rem,
                _ => return Ok(lhs),
            };
            let pos = self.next().1;
            let rhs = self.unary()?;
            lhs = bin(op, lhs, rhs, pos);
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.is_op("-") {
            let pos = self.next().1;
            let inner = self.unary()?;
            return Ok(Expr {
                kind: ExprKind::Neg(Box::new(inner)),
                pos,
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            if self.is_op("[") {
                self.next();
                let ahead = self.is_op("-");
                if ahead {
                    self.next();
                }
                let (t, pos) = self.next();
                let k = match t {
                    Tok::Num(v) if v >= 0.0 && v.fract() == 0.0 && v <= 100_000.0 => {
                        if ahead {
                            -(v as isize)
                        } else {
                            v as isize
                        }
                    }
                    other => {
                        return Err(ParseError {
                            message: format!(
                                "lookback must be a whole number of bars, found {}",
                                describe(&other)
                            ),
                            pos,
                            hint: Some("e.g. close[1] is the previous bar's close".into()),
                        });
                    }
                };
                self.expect("]", "close the lookback with ']'")?;
                let pos = e.pos;
                e = Expr {
                    kind: ExprKind::Lookback(Box::new(e), k),
                    pos,
                };
            } else if self.is_op("@") {
                self.next();
                let (t, pos) = self.next();
                let tf = match t {
                    Tok::Num(v) if v.fract() == 0.0 && v > 0.0 => match self.next() {
                        (Tok::Ident(unit), _) => format!("{v}{unit}"),
                        (other, pos) => {
                            return Err(ParseError {
                                message: format!(
                                    "expected a timeframe unit, found {}",
                                    describe(&other)
                                ),
                                pos,
                                hint: Some("e.g. close@4h".into()),
                            });
                        }
                    },
                    other => {
                        return Err(ParseError {
                            message: format!(
                                "expected a timeframe after '@', found {}",
                                describe(&other)
                            ),
                            pos,
                            hint: Some("e.g. sma(close,20)@1d".into()),
                        });
                    }
                };
                let pos = e.pos;
                e = Expr {
                    kind: ExprKind::Timeframe(Box::new(e), tf),
                    pos,
                };
            } else if self.is_op(".") {
                self.next();
                let (t, pos) = self.next();
                let Tok::Ident(name) = t else {
                    return Err(ParseError {
                        message: format!("expected a name after '.', found {}", describe(&t)),
                        pos,
                        hint: Some("e.g. macd(close,12,26,9).signal or position.pnl_pct".into()),
                    });
                };
                // `position.pnl_pct` is one name; `call(...).signal` selects an output.
                e = match e.kind {
                    ExprKind::Name(base) => Expr {
                        kind: ExprKind::Name(format!("{base}.{name}")),
                        pos: e.pos,
                    },
                    other => {
                        let pos = e.pos;
                        Expr {
                            kind: ExprKind::Output(Box::new(Expr { kind: other, pos }), name),
                            pos,
                        }
                    }
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let (t, pos) = self.next();
        match t {
            Tok::Num(v) => Ok(Expr {
                kind: ExprKind::Number(v),
                pos,
            }),
            Tok::Param(p) => Ok(Expr {
                kind: ExprKind::Param(p),
                pos,
            }),
            Tok::Ident(name) if name == "true" || name == "false" => Ok(Expr {
                kind: ExprKind::Number(if name == "true" { 1.0 } else { 0.0 }),
                pos,
            }),
            Tok::Ident(name) if matches!(name.as_str(), "and" | "or") => Err(ParseError {
                message: format!("'{name}' needs a condition on its left"),
                pos,
                hint: None,
            }),
            Tok::Ident(name) => {
                if self.is_op("(") {
                    self.next();
                    let mut args = Vec::new();
                    if !self.is_op(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.is_op(",") {
                                self.next();
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(")", &format!("close the arguments of {name} with ')'"))?;
                    Ok(Expr {
                        kind: ExprKind::Call(name, args),
                        pos,
                    })
                } else {
                    Ok(Expr {
                        kind: ExprKind::Name(name),
                        pos,
                    })
                }
            }
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")", "close the parenthesis")?;
                Ok(e)
            }
            other => Err(ParseError {
                message: format!("expected a value but found {}", describe(&other)),
                pos,
                hint: Some("a rule compares values, e.g. rsi(close,14) < 30".into()),
            }),
        }
    }
}

fn bin(op: BinOp, lhs: Expr, rhs: Expr, pos: Pos) -> Expr {
    let _ = pos;
    let start = lhs.pos;
    Expr {
        kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
        pos: start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Expr {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn precedence_and_postfix() {
        let e = ok(
            "crossover(sma(close,$fast), sma(close,$slow)) and rsi(close,14)[1] < 30 or not close@4h > 2 * open",
        );
        let ExprKind::Binary(BinOp::Or, lhs, rhs) = e.kind else {
            panic!()
        };
        assert!(matches!(lhs.kind, ExprKind::Binary(BinOp::And, _, _)));
        assert!(matches!(rhs.kind, ExprKind::Not(_)));
        let e = ok("macd(close,12,26,9).signal[2]");
        assert!(
            matches!(e.kind, ExprKind::Lookback(ref inner, 2) if matches!(inner.kind, ExprKind::Output(_, ref o) if o == "signal"))
        );
        assert!(matches!(
            ok("position.pnl_pct>5").kind,
            ExprKind::Binary(BinOp::Gt, ref a, _) if a.kind == ExprKind::Name("position.pnl_pct".into())
        ));
        assert!(matches!(ok("-close").kind, ExprKind::Neg(_)));
        assert!(matches!(
            ok("1e-3 < 2.5E+1").kind,
            ExprKind::Binary(BinOp::Lt, _, _)
        ));
    }

    #[test]
    fn negative_lookbacks_parse_as_future_offsets() {
        assert!(matches!(
            ok("close[-1]").kind,
            ExprKind::Lookback(ref inner, -1) if inner.kind == ExprKind::Name("close".into())
        ));
        assert!(matches!(ok("close[ - 3 ]").kind, ExprKind::Lookback(_, -3)));
        assert!(matches!(ok("close[-0]").kind, ExprKind::Lookback(_, 0)));
        assert_eq!(
            parse("close[-x]").unwrap_err().to_string(),
            "lookback must be a whole number of bars, found 'x' at 1:8; e.g. close[1] is the previous bar's close"
        );
    }

    #[test]
    fn display_writes_canonical_text_that_parses_back_to_the_same_tree() {
        fn shape(e: &Expr) -> Expr {
            // Positions differ between the source and the canonical text; compare trees.
            let b = |x: &Expr| Box::new(shape(x));
            let kind = match &e.kind {
                ExprKind::Call(n, args) => {
                    ExprKind::Call(n.clone(), args.iter().map(shape).collect())
                }
                ExprKind::Neg(a) => ExprKind::Neg(b(a)),
                ExprKind::Not(a) => ExprKind::Not(b(a)),
                ExprKind::Binary(op, x, y) => ExprKind::Binary(*op, b(x), b(y)),
                ExprKind::Lookback(a, k) => ExprKind::Lookback(b(a), *k),
                ExprKind::Timeframe(a, tf) => ExprKind::Timeframe(b(a), tf.clone()),
                ExprKind::Output(a, o) => ExprKind::Output(b(a), o.clone()),
                other => other.clone(),
            };
            Expr {
                kind,
                pos: Pos::default(),
            }
        }
        let cases = [
            ("SMA(Close,$Fast)", "sma(close, $fast)"),
            ("close[-1]>close", "close[-1] > close"),
            ("(a + b) * c - d / (e - f)", "(a + b) * c - d / (e - f)"),
            ("a - (b - c)", "a - (b - c)"),
            ("not (a or b) and c", "not (a or b) and c"),
            ("not a < b", "not a < b"),
            ("(not a) < b", "(not a) < b"),
            ("-(a + 1)", "-(a + 1)"),
            ("(a + b)[2]@4h", "(a + b)[2]@4h"),
            (
                "macd(close,12,26,9).signal[1]",
                "macd(close, 12, 26, 9).signal[1]",
            ),
            (
                "position.pnl_pct >= 2.5 or true",
                "position.pnl_pct >= 2.5 or 1",
            ),
            ("(a and b) and c", "a and b and c"),
            ("a and (b and c)", "a and (b and c)"),
            ("1e-3 < x", "0.001 < x"),
        ];
        for (src, text) in cases {
            let e = ok(src);
            assert_eq!(e.to_string(), text, "{src}");
            assert_eq!(shape(&ok(text)), shape(&e), "{src}");
        }
    }

    #[test]
    fn errors_point_at_the_token() {
        let cases = [
            (
                "close >",
                "expected a value but found end of rule at 1:8; a rule compares values, e.g. rsi(close,14) < 30",
            ),
            (
                "close = open",
                "single '=' is not an operator at 1:7; compare with '=='",
            ),
            (
                "sma(close,10",
                "expected ')' but found end of rule at 1:13; close the arguments of sma with ')'",
            ),
            (
                "close[1.5]",
                "lookback must be a whole number of bars, found number 1.5 at 1:7; e.g. close[1] is the previous bar's close",
            ),
            (
                "a < b < c",
                "comparisons cannot be chained at 1:7; write 'a < b and b < c'",
            ),
            ("close # 1", "unexpected character '#' at 1:7"),
            (
                "close open",
                "unexpected 'open' after the expression at 1:7; combine conditions with 'and' / 'or'",
            ),
            (
                "close@",
                "expected a timeframe after '@', found end of rule at 1:7; e.g. sma(close,20)@1d",
            ),
        ];
        for (src, msg) in cases {
            assert_eq!(parse(src).unwrap_err().to_string(), msg, "{src}");
        }
    }
}
