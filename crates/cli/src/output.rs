//! Terminal output helpers shared by the subcommands: the one-line error format, tables and
//! progress bars that appear only when work takes long enough to need them.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Prints `error: outer: inner: root` on one line of stderr.
pub(crate) fn print_error(err: &anyhow::Error) {
    let msg = err
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    let mut stderr = std::io::stderr().lock();
    // Nothing useful can be done if stderr itself is gone.
    let _ = writeln!(stderr, "error: {}", msg.replace('\n', " "));
}

/// Set when stdout carries machine-readable output (`--output -`): the human summary then
/// goes to stderr so that `skeet optimize ... -o - | jq` sees JSON only.
static TEXT_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Sends every later [`line`] to stderr; stdout is kept for [`data`].
pub(crate) fn text_to_stderr() {
    TEXT_TO_STDERR.store(true, Ordering::Relaxed);
}

/// Writes a line of the human summary to stdout (stderr after [`text_to_stderr`]),
/// ignoring a closed pipe (`skeet data ls | head`).
pub(crate) fn line(text: impl AsRef<str>) {
    if TEXT_TO_STDERR.load(Ordering::Relaxed) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{}", text.as_ref());
    } else {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", text.as_ref());
    }
}

/// Writes machine-readable output (JSON) to stdout, ignoring a closed pipe.
pub(crate) fn data(text: impl AsRef<str>) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", text.as_ref());
}

/// A progress bar for `total` units that stays hidden unless the work runs longer than a
/// second and stderr is a terminal (so logs and tests see no control characters).
pub(crate) fn progress(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{msg:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    // Hidden until the first redraw after one second: short jobs print nothing.
    bar.set_draw_target(ProgressDrawTarget::hidden());
    let delayed = bar.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        if !delayed.is_finished() {
            delayed.set_draw_target(ProgressDrawTarget::stderr());
        }
    });
    bar
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then
/// renamed over the target, so a crash never leaves a half-written report.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write to {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
