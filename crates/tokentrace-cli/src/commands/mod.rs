//! One module per subcommand (the sqlx-cli layout), plus what they share:
//! opening the store with friendly errors and writing to stdout.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use tokentrace_store::{Store, StoreError, StoreErrorKind};

use crate::cli::{Cli, Command};

pub(crate) mod budgets;
pub(crate) mod clear;
pub(crate) mod demo;
pub(crate) mod gateway;
pub(crate) mod prices;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod stats;
pub(crate) mod traces;

/// Runs the parsed command line.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Traces(args) => traces::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Stats(args) => stats::run(&args),
        Command::Clear(args) => clear::run(&args),
        Command::Prices(args) => prices::run(&args),
        Command::Gateway(args) => gateway::run(args).await,
        Command::Budgets(args) => budgets::run(&args).await,
        Command::Demo(args) => demo::run(args).await,
    }
}

/// Opens an existing store for reading; a missing file is an error that says
/// how to make one. The file is opened read-only and checked first: a file
/// that is not a tokentrace store (an empty file, another application's
/// SQLite database) is refused and left byte for byte unchanged.
pub(crate) fn open_store(path: &Path) -> anyhow::Result<Store> {
    check_path(path)?;
    Store::open_read_only(path).map_err(|e| store_error(path, e))
}

/// Opens an existing store for writing (`clear`), after the same checks as
/// [`open_store`], so a foreign file is never written.
pub(crate) fn open_store_writable(path: &Path) -> anyhow::Result<Store> {
    drop(open_store(path)?);
    Store::open(path).map_err(|e| store_error(path, e))
}

fn check_path(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        anyhow::bail!(
            "no trace store at {}\n  hint: run `tokentrace demo` to record some traces, \
             or point --store (or TOKENTRACE_STORE) at an existing store",
            path.display()
        );
    }
    if path.is_dir() {
        anyhow::bail!(
            "{} is a directory, not a trace store (try {})",
            path.display(),
            path.join("traces.db").display()
        );
    }
    Ok(())
}

/// One readable line per kind of failure.
fn store_error(path: &Path, e: StoreError) -> anyhow::Error {
    let shown = path.display();
    match e.kind() {
        StoreErrorKind::NotAStore => anyhow::anyhow!(
            "{e}\n  hint: point --store (or TOKENTRACE_STORE) at a store tokentrace wrote"
        ),
        StoreErrorKind::Corrupt => {
            anyhow::anyhow!("cannot open the trace store at {shown}: {e}")
        }
        _ => anyhow::Error::new(e).context(format!("cannot open the trace store at {shown}")),
    }
}

/// Writes `text` to stdout. A closed pipe (`tokentrace traces | head`) is not an error.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub(crate) fn emit_json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("cannot serialise JSON output")?;
    text.push('\n');
    emit(&text)
}
