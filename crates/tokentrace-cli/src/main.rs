//! `tokentrace`: the command line and web dashboard of tokentrace.
//!
//! `tokentrace demo` records a demo store; `tokentrace serve` shows any store in
//! the browser; `traces`, `show`, `stats`, `clear` and `prices` work in the
//! terminal (`--json` for scripts). See `docs/cli.md` and `docs/dashboard.md`.

use std::process::ExitCode;

use clap::Parser as _;

mod cli;
mod commands;
mod dashboard;
mod output;
#[cfg(test)]
mod test_support;
mod timefmt;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
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
