//! The pieces behind `tokentrace demo`, usable on their own: offline mock
//! LLM and vector-database servers speaking the providers' real wire
//! formats ([`mocks`]), and an axum "support agent" service instrumented
//! with tokentrace that calls them ([`service`]).
//!
//! The `tokentrace` command runs both in-process; the crates under
//! `examples/` and the workspace's end-to-end tests use them as a library.
//! Nothing here talks to the network beyond 127.0.0.1 unless a real
//! provider key is configured (see [`service::Config::with_env`]).
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use tokentrace_demo::{mocks::MockProviders, service};
//!
//! let mocks = MockProviders::start().await?;
//! let app = service::app(service::Config::mock(&mocks));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

pub mod mocks;
pub mod service;
