//! `tokentrace clear`: delete every stored span, after asking.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use crate::cli::ClearArgs;
use crate::commands::{emit, open_store_writable};

/// Runs `tokentrace clear`.
pub(crate) fn run(args: &ClearArgs) -> anyhow::Result<()> {
    let path = &args.store.store;
    let store = open_store_writable(path)?;
    let spans = store.span_count()?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "refusing to clear {} without --yes: stdin is not a terminal, so there is no one to ask",
                path.display()
            );
        }
        let mut err = std::io::stderr().lock();
        write!(
            err,
            "Delete all {spans} spans in {}? This cannot be undone. [y/N] ",
            path.display()
        )?;
        err.flush()?;
        drop(err);
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            eprintln!("nothing deleted");
            return Ok(());
        }
    }
    let deleted = store.clear()?;
    // Give the space back: without VACUUM the file keeps its size.
    store.vacuum().map_err(|e| {
        anyhow::anyhow!("deleted {deleted} spans but could not shrink the file: {e}")
    })?;
    emit(&format!(
        "deleted {deleted} spans from {}\n",
        path.display()
    ))
}
