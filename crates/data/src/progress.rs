//! [`Progress`]: how long-running work (imports, generation) reports how far it got, without
//! this crate knowing about terminals. The CLI passes an indicatif bar; everything else passes
//! [`NoProgress`].

/// A sink for progress updates. Units are whatever the caller announced with
/// [`Progress::set_len`] (bytes for imports, bars for generation).
pub trait Progress {
    /// Announces the total amount of work.
    fn set_len(&self, len: u64);
    /// Records `delta` more units done.
    fn inc(&self, delta: u64);
}

/// Ignores every update.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_len(&self, _len: u64) {}
    fn inc(&self, _delta: u64) {}
}
