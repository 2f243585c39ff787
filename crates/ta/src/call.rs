//! The indicator call syntax shared by `skeet indicators` and the strategy language:
//!
//! ```text
//! call   := [alias "="] name "(" [arg ("," arg)*] ")" ["." output]
//! arg    := number | field | call | param "=" number
//! field  := open | high | low | close | volume | hl2 | hlc3 | ohlc4
//! ```
//!
//! Examples: `sma(close,10)`, `macd(close,12,26,9).signal`, `bbands(close, period=20)`,
//! `fast=ema(hlc3,8)`, `sma(rsi(close,14),5)`.
//!
//! This module only parses; [`crate::registry`] checks names, arity and values. Positions are
//! 1-based line:column into the text, so errors point at the offending token.

use crate::TaError;

/// A parsed call, before it is checked against the registry.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// Optional alias (`fast=` in `fast=sma(close,10)`), used as the output column name.
    pub alias: Option<String>,
    /// Indicator name as written (lowercased).
    pub name: String,
    /// Arguments in order.
    pub args: Vec<Arg>,
    /// Selected output (`.signal`), if any.
    pub output: Option<String>,
    /// Where the name starts.
    pub pos: Pos,
}

/// One argument of a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// A number.
    Number(f64, Pos),
    /// A bare identifier: a price field such as `close`.
    Ident(String, Pos),
    /// A nested call.
    Call(Box<Call>),
    /// `param=value`.
    Named(String, f64, Pos),
}

impl Arg {
    /// Where the argument starts.
    pub fn pos(&self) -> Pos {
        match self {
            Self::Number(_, p) | Self::Ident(_, p) | Self::Named(_, _, p) => *p,
            Self::Call(c) => c.pos,
        }
    }
}

/// A 1-based position in the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line.
    pub line: usize,
    /// Column (in characters).
    pub column: usize,
}

/// Parses one call; the whole text must be consumed.
pub fn parse_call(text: &str) -> Result<Call, TaError> {
    let mut p = Parser::new(text);
    p.skip_ws();
    let call = p.call(true)?;
    p.skip_ws();
    if let Some(c) = p.peek() {
        return Err(p.error(
            format!("unexpected '{c}' after the call"),
            Some("write one indicator call per argument, e.g. sma(close,10)"),
        ));
    }
    Ok(call)
}

/// A small cursor over the text that tracks line and column.
pub(crate) struct Parser<'a> {
    chars: Vec<char>,
    i: usize,
    _text: &'a str,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            chars: text.chars().collect(),
            i: 0,
            _text: text,
        }
    }

    pub(crate) fn pos(&self) -> Pos {
        let mut line = 1;
        let mut column = 1;
        for &c in &self.chars[..self.i.min(self.chars.len())] {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        Pos { line, column }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn error(&self, message: String, hint: Option<&str>) -> TaError {
        let pos = self.pos();
        TaError::Syntax {
            message,
            line: pos.line,
            column: pos.column,
            hint: hint.map(str::to_string),
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.i += 1;
        }
        (self.i > start && !self.chars[start].is_ascii_digit())
            .then(|| {
                self.chars[start..self.i]
                    .iter()
                    .collect::<String>()
                    .to_ascii_lowercase()
            })
            .or_else(|| {
                self.i = start;
                None
            })
    }

    fn number(&mut self) -> Result<f64, TaError> {
        let start = self.i;
        let pos = self.pos();
        if self.peek() == Some('-') || self.peek() == Some('+') {
            self.i += 1;
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E')
        {
            self.i += 1;
        }
        let s: String = self.chars[start..self.i].iter().collect();
        s.parse::<f64>().map_err(|_| TaError::Syntax {
            message: format!("'{s}' is not a number"),
            line: pos.line,
            column: pos.column,
            hint: None,
        })
    }

    fn expect(&mut self, c: char, hint: &str) -> Result<(), TaError> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            let found = self
                .peek()
                .map_or_else(|| "the end".to_string(), |f| format!("'{f}'"));
            Err(self.error(format!("expected '{c}' but found {found}"), Some(hint)))
        }
    }

    fn call(&mut self, allow_alias: bool) -> Result<Call, TaError> {
        let pos = self.pos();
        let Some(first) = self.ident() else {
            return Err(self.error(
                "expected an indicator name".into(),
                Some("a call looks like sma(close,10)"),
            ));
        };
        self.skip_ws();
        let (alias, name, pos) = if allow_alias && self.peek() == Some('=') {
            self.i += 1;
            self.skip_ws();
            let pos = self.pos();
            let Some(name) = self.ident() else {
                return Err(self.error(
                    "expected an indicator name after the alias".into(),
                    Some("e.g. fast=sma(close,10)"),
                ));
            };
            (Some(first), name, pos)
        } else {
            (None, first, pos)
        };
        self.expect(
            '(',
            "indicator calls take their arguments in parentheses, e.g. atr(14)",
        )?;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.i += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.i += 1,
                    Some(')') => {
                        self.i += 1;
                        break;
                    }
                    _ => {
                        return Err(self.error(
                            format!("expected ',' or ')' in the arguments of {name}"),
                            Some("separate arguments with commas and close with ')'"),
                        ));
                    }
                }
            }
        }
        let output = if self.peek() == Some('.') {
            self.i += 1;
            match self.ident() {
                Some(o) => Some(o),
                None => {
                    return Err(self.error(
                        "expected an output name after '.'".into(),
                        Some("e.g. macd(close,12,26,9).signal"),
                    ));
                }
            }
        } else {
            None
        };
        Ok(Call {
            alias,
            name,
            args,
            output,
            pos,
        })
    }

    fn arg(&mut self) -> Result<Arg, TaError> {
        let pos = self.pos();
        match self.peek() {
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                Ok(Arg::Number(self.number()?, pos))
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let save = self.i;
                let id = self.ident().unwrap_or_default();
                self.skip_ws();
                match self.peek() {
                    Some('(') => {
                        self.i = save;
                        Ok(Arg::Call(Box::new(self.call(false)?)))
                    }
                    Some('=') => {
                        self.i += 1;
                        self.skip_ws();
                        Ok(Arg::Named(id, self.number()?, pos))
                    }
                    _ => Ok(Arg::Ident(id, pos)),
                }
            }
            Some(c) => Err(self.error(
                format!("unexpected '{c}' in the arguments"),
                Some("arguments are numbers, price fields (open, high, low, close, volume, hl2, hlc3, ohlc4) or calls"),
            )),
            None => Err(self.error(
                "the call ends before its arguments are closed".into(),
                Some("close the argument list with ')'"),
            )),
        }
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_named_and_aliased_calls() {
        let c = parse_call(" fast = macd(close, 12, 26, signal=9).hist ").unwrap();
        assert_eq!(c.alias.as_deref(), Some("fast"));
        assert_eq!(c.name, "macd");
        assert_eq!(c.output.as_deref(), Some("hist"));
        assert_eq!(c.args.len(), 4);
        assert!(matches!(&c.args[3], Arg::Named(n, v, _) if n == "signal" && *v == 9.0));
        let n = parse_call("SMA(rsi(close,14),5)").unwrap();
        assert!(matches!(&n.args[0], Arg::Call(inner) if inner.name == "rsi"));
        assert_eq!(parse_call("obv()").unwrap().args.len(), 0);
    }

    #[test]
    fn syntax_errors_point_at_the_token() {
        let err = parse_call("sma(close,10").unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected ',' or ')' in the arguments of sma at 1:13; separate arguments with commas and close with ')'"
        );
        let err = parse_call("sma(close,1x0)").unwrap_err();
        assert!(err.to_string().starts_with("expected ',' or ')'"), "{err}");
        let err = parse_call("sma close").unwrap_err();
        assert!(
            err.to_string()
                .contains("expected '(' but found 'c' at 1:5"),
            "{err}"
        );
        let err = parse_call("sma(close,10) + 1").unwrap_err();
        assert!(
            err.to_string()
                .contains("unexpected '+' after the call at 1:15"),
            "{err}"
        );
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let names = ["sma", "ema", "rsi", "macd", "bbands"];
        assert_eq!(suggest("smaa", names).as_deref(), Some("sma"));
        assert_eq!(suggest("bband", names).as_deref(), Some("bbands"));
        assert_eq!(suggest("ichimoku", names), None);
    }
}
