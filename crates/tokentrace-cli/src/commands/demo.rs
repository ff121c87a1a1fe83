//! `tokentrace demo`: mock providers, the example agent service, traffic, a
//! summary and the dashboard. The work happens in `src/demo/`.

use std::path::PathBuf;

use clap::Args;

// `src/demo/` holds the demo's parts (mocks wiring, traffic, summary); it is
// reached from here so the binary's module list stays the CLI's own.
#[path = "../demo/mod.rs"]
mod imp;

/// `tokentrace demo`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// End after printing the summary instead of serving the dashboard.
    #[arg(long)]
    pub(crate) no_serve: bool,
    /// Number of requests to drive through the example agent service.
    #[arg(long, value_name = "N", default_value_t = 36)]
    pub(crate) requests: u32,
    /// Path of the SQLite trace store to write.
    #[arg(
        long,
        value_name = "PATH",
        env = "TOKENTRACE_STORE",
        default_value = ".tokentrace/traces.db"
    )]
    pub(crate) store: PathBuf,
    /// Port the dashboard listens on (127.0.0.1).
    #[arg(long, value_name = "PORT", default_value_t = 7070)]
    pub(crate) port: u16,
    /// Print the summary as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs the demo.
pub(crate) async fn run(args: DemoArgs) -> anyhow::Result<()> {
    imp::run(args).await
}
