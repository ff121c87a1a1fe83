//! `tokentrace`: the command line and web dashboard of tokentrace.
//!
//! `tokentrace demo` records a demo store; `tokentrace serve` shows any store in
//! the browser; `traces`, `show`, `stats`, `clear` and `prices` work in the
//! terminal (`--json` for scripts). See `docs/cli.md` and `docs/dashboard.md`.

use std::process::ExitCode;

use clap::Parser as _;

mod budget_state;
mod cli;
mod commands;
mod dashboard;
mod output;
mod timefmt;

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error (docs/cli.md); help and
    // version still print to stdout and exit 0.
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
            let _ = e.print();
            return code;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
