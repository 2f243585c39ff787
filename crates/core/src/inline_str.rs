//! A fixed-capacity ASCII string that is `Copy`, used for short identifiers (currencies,
//! venues, symbols) so that the hot paths never allocate or reference-count them.
//!
//! Invariant: `bytes[..len]` is ASCII and `bytes[len..]` is zero, so derived equality,
//! ordering and hashing agree with the string contents.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct InlineStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineStr<N> {
    /// Returns `None` when `s` is longer than `N` bytes or not ASCII.
    pub(crate) fn new(s: &str) -> Option<Self> {
        if s.len() > N || !s.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; N];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Some(Self {
            len: u8::try_from(s.len()).ok()?,
            bytes,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        // Invariant: constructed from a `&str` that was checked to be ASCII.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
