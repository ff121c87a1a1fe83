//! Integration tests of the `tokentrace` binary: every subcommand against a
//! seeded store, `--json` parsed back, help snapshots (and `docs/cli.md`),
//! store errors, the dashboard's token check on a live socket, and the
//! dashboard in headless Chromium.

mod browser;
mod budgets;
mod commands;
mod demo;
mod double_count;
mod errors;
mod help;
mod serve;
mod support;
