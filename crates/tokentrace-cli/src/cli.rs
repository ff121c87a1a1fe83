//! Command-line arguments (clap derive). Each field's doc comment is its `--help` text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// See what the LLM work of your services cost: traces, stats, prices and a web dashboard.
#[derive(Debug, Parser)]
#[command(name = "tokentrace", version, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the web dashboard over a trace store.
    Serve(ServeArgs),
    /// List traces, newest first.
    Traces(TracesArgs),
    /// Show one trace as a span tree with latency, tokens and cost per span.
    Show(ShowArgs),
    /// Aggregate cost, tokens, latency and errors by workflow, model, provider, user, session or day.
    Stats(StatsArgs),
    /// Delete every stored span.
    Clear(ClearArgs),
    /// Look up what a model costs, or check the store for models without a price.
    Prices(PricesArgs),
    /// Run the LLM gateway: point a client's base URL at it and every call becomes a priced trace.
    Gateway(GatewayArgs),
    /// Show spend against each budget limit, and refusals, from the shared Redis state.
    Budgets(BudgetsArgs),
    /// Run a self-contained demo: mock providers, an example agent service, traffic, the dashboard.
    Demo(DemoArgs),
}

/// Where the trace store is.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Path of the SQLite trace store.
    #[arg(
        long,
        value_name = "PATH",
        env = "TOKENTRACE_STORE",
        default_value = ".tokentrace/traces.db"
    )]
    pub(crate) store: PathBuf,
}

/// `tokentrace serve`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Address to listen on (`127.0.0.1:7070`, `localhost:8080`). Anything but a loopback address requires --token.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7070", value_parser = parse_bind)]
    pub(crate) bind: SocketAddr,
    /// Access token every request must carry (`Authorization: Bearer <T>` or `?token=<T>`).
    #[arg(
        long,
        value_name = "T",
        env = "TOKENTRACE_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
    /// A budget file (TOML, see docs/budgets.md): the Budgets page shows each of its limits.
    #[arg(long, value_name = "FILE", env = "TOKENTRACE_BUDGETS")]
    pub(crate) budgets: Option<PathBuf>,
    /// Redis (`host:port`) the services keep budget state in: the Budgets page shows spend, reservations and refusals from it.
    #[arg(
        long,
        value_name = "ADDR",
        env = "TOKENTRACE_BUDGETS_REDIS",
        requires = "budgets"
    )]
    pub(crate) redis: Option<String>,
    /// Key prefix the services use in Redis.
    #[arg(long, value_name = "P", default_value = "tokentrace:budget:")]
    pub(crate) budgets_prefix: String,
}

/// `tokentrace gateway`.
#[derive(Debug, Clone, Args)]
pub(crate) struct GatewayArgs {
    /// TOML configuration: upstreams, header names, keys, limits (see docs/gateway.md).
    #[arg(long, value_name = "FILE", env = "TOKENTRACE_GATEWAY_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Address to listen on (`127.0.0.1:4000`, `localhost:4000`; default: the file's `listen`, else 127.0.0.1:4000).
    #[arg(long, value_name = "ADDR", value_parser = parse_bind)]
    pub(crate) bind: Option<SocketAddr>,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Record to OTLP only (OTEL_EXPORTER_OTLP_ENDPOINT), not to the SQLite store.
    #[arg(long)]
    pub(crate) no_store: bool,
    /// Print a new random client key and exit (add it to `client_keys`).
    #[arg(long)]
    pub(crate) issue_key: bool,
    /// Enforce the spend caps of this budget file (overrides the file's `[budgets] file`; see docs/budgets.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) budgets: Option<PathBuf>,
    /// Keep budget state in Redis at host:port, shared by every replica (overrides `[budgets] redis`).
    #[arg(long, value_name = "ADDR", requires = "budgets")]
    pub(crate) redis: Option<String>,
}

/// `tokentrace traces`.
#[derive(Debug, Clone, Args)]
pub(crate) struct TracesArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Only traces of this workflow.
    #[arg(long, value_name = "NAME")]
    pub(crate) workflow: Option<String>,
    /// Only traces of this user (`user.id`).
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<String>,
    /// Only traces of this session (`session.id`).
    #[arg(long, value_name = "ID")]
    pub(crate) session: Option<String>,
    /// Only traces with a call to this model.
    #[arg(long, value_name = "MODEL")]
    pub(crate) model: Option<String>,
    /// Only traces with a call to this provider (`gen_ai.provider.name`).
    #[arg(long, value_name = "PROVIDER")]
    pub(crate) provider: Option<String>,
    /// Only traces that started in the last duration (`30m`, `1h`, `7d`) or since a UTC date (`2026-11-01`, `2026-11-01T09:30:00Z`).
    #[arg(long, value_name = "WHEN")]
    pub(crate) since: Option<String>,
    /// Only traces that started before this time (a duration back from now, or a UTC date).
    #[arg(long, value_name = "WHEN")]
    pub(crate) until: Option<String>,
    /// Only traces with at least one error.
    #[arg(long)]
    pub(crate) errors: bool,
    /// Only traces whose span names or attributes contain this text.
    #[arg(long, value_name = "TEXT")]
    pub(crate) search: Option<String>,
    /// Rows to show (at most 1000).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub(crate) limit: u32,
    /// Rows to skip, newest first.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) offset: u64,
    /// Print JSON (one page object with `items` and `total`) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tokentrace show`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The trace id: 32 hex digits, or a unique prefix of at least 4 (the dashboard shows 12).
    #[arg(value_name = "TRACE_ID")]
    pub(crate) trace_id: String,
    /// Print the trace with every span and attribute as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// What `tokentrace stats` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum By {
    /// Per workflow (counts traces).
    Workflow,
    /// Per model (counts LLM calls).
    Model,
    /// Per provider (counts LLM calls).
    Provider,
    /// Per user (counts traces).
    User,
    /// Per session (counts traces).
    Session,
    /// Per UTC day (counts traces).
    Day,
    /// Per workflow step: the root and every nested `#[workflow]` span (counts runs).
    Step,
}

/// `tokentrace stats`.
#[derive(Debug, Clone, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// What to group by. Rows are sorted by cost, most expensive first (days by date).
    #[arg(long, value_enum, default_value_t = By::Workflow)]
    pub(crate) by: By,
    /// Only traces that started in the last duration (`30m`, `1h`, `7d`) or since a UTC date (`2026-11-01`, `2026-11-01T09:30:00Z`).
    #[arg(long, value_name = "WHEN")]
    pub(crate) since: Option<String>,
    /// Only traces that started before this time (a duration back from now, or a UTC date).
    #[arg(long, value_name = "WHEN")]
    pub(crate) until: Option<String>,
    /// Only traces of this workflow (or with a nested step of that name).
    #[arg(long, value_name = "NAME")]
    pub(crate) workflow: Option<String>,
    /// Only traces of this user (`user.id`).
    #[arg(long, value_name = "ID")]
    pub(crate) user: Option<String>,
    /// Only traces of this session (`session.id`).
    #[arg(long, value_name = "ID")]
    pub(crate) session: Option<String>,
    /// Only traces with a call to this model (`gpt-4o` also matches its dated versions).
    #[arg(long, value_name = "MODEL")]
    pub(crate) model: Option<String>,
    /// Only traces with a call to this provider.
    #[arg(long, value_name = "PROVIDER")]
    pub(crate) provider: Option<String>,
    /// Print JSON rows instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tokentrace budgets`.
#[derive(Debug, Clone, Args)]
pub(crate) struct BudgetsArgs {
    /// The budget file (TOML, see docs/budgets.md) the services use.
    #[arg(long, value_name = "PATH", env = "TOKENTRACE_BUDGETS")]
    pub(crate) config: PathBuf,
    /// Redis address (`host:port`) the services keep budget state in. Without it, only
    /// the limits are listed: in-process state lives inside each service.
    #[arg(long, value_name = "ADDR", env = "TOKENTRACE_BUDGETS_REDIS")]
    pub(crate) redis: Option<String>,
    /// Key prefix the services use in Redis.
    #[arg(long, value_name = "P", default_value = "tokentrace:budget:")]
    pub(crate) prefix: String,
    /// Print JSON rows instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Parses `--bind`: a socket address, or `localhost:PORT` (IPv4 loopback).
fn parse_bind(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    match s.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => port
            .parse::<u16>()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .map_err(|e| format!("invalid port {port:?}: {e}")),
        _ => Err(format!(
            "{s:?} is not an address: expected IP:PORT (127.0.0.1:7070) or localhost:PORT"
        )),
    }
}

/// `tokentrace clear`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClearArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

/// The local price catalogue (`tokentrace prices update` writes it; every
/// command and the library read it when it exists).
#[derive(Debug, Clone, Args)]
pub(crate) struct CatalogueArgs {
    /// Path of the local price catalogue, layered over the built-in prices.
    #[arg(
        long,
        value_name = "PATH",
        env = "TOKENTRACE_PRICES_CATALOGUE",
        default_value = tokentrace_core::price::update::DEFAULT_LOCAL_CATALOGUE
    )]
    pub(crate) catalogue: PathBuf,
}

/// `tokentrace prices`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct PricesArgs {
    /// `check`: list models seen in the store that have no price; `update`:
    /// refresh prices from a LiteLLM or genai-prices table.
    #[command(subcommand)]
    pub(crate) command: Option<PricesCommand>,
    /// The model to look up, as the provider reports it (`gpt-4o-mini-2024-07-18`).
    /// Without one, shows where the prices come from (sources, dates, counts).
    #[arg(value_name = "MODEL")]
    pub(crate) model: Option<String>,
    /// The provider the model is called through (`openai`, `azure`, `anthropic`, `aws.bedrock`, ...).
    #[arg(long, value_name = "P")]
    pub(crate) provider: Option<String>,
    #[command(flatten)]
    pub(crate) catalogue: CatalogueArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tokentrace prices check` / `update`.
#[derive(Debug, Clone, Subcommand)]
pub(crate) enum PricesCommand {
    /// List models seen in the store that have no price in the catalogue.
    Check(PricesCheckArgs),
    /// Refresh prices without a new tokentrace release: convert a LiteLLM
    /// `model_prices_and_context_window.json` or a genai-prices `data.json`
    /// into the local catalogue.
    Update(PricesUpdateArgs),
}

/// `tokentrace prices update`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PricesUpdateArgs {
    /// The price table to read (LiteLLM or genai-prices JSON, or a tokentrace catalogue).
    #[arg(long, value_name = "FILE")]
    pub(crate) from: PathBuf,
    #[command(flatten)]
    pub(crate) catalogue: CatalogueArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tokentrace prices check`.
#[derive(Debug, Clone, Args)]
pub(crate) struct PricesCheckArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    #[command(flatten)]
    pub(crate) catalogue: CatalogueArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn prices_check_is_a_subcommand_and_a_model_is_a_lookup() {
        let cli = Cli::try_parse_from(["tokentrace", "prices", "check"]).unwrap();
        let Command::Prices(p) = cli.command else {
            panic!("expected prices")
        };
        assert!(matches!(p.command, Some(PricesCommand::Check(_))));
        let cli = Cli::try_parse_from(["tokentrace", "prices", "gpt-4o", "--provider", "openai"])
            .unwrap();
        let Command::Prices(p) = cli.command else {
            panic!("expected prices")
        };
        assert_eq!(p.model.as_deref(), Some("gpt-4o"));
        assert_eq!(p.provider.as_deref(), Some("openai"));
        let cli = Cli::try_parse_from(["tokentrace", "prices"]).unwrap();
        let Command::Prices(p) = cli.command else {
            panic!("expected prices")
        };
        assert!(p.model.is_none() && p.command.is_none(), "the summary");
        let cli =
            Cli::try_parse_from(["tokentrace", "prices", "update", "--from", "t.json"]).unwrap();
        let Command::Prices(p) = cli.command else {
            panic!("expected prices")
        };
        let Some(PricesCommand::Update(u)) = p.command else {
            panic!("expected update")
        };
        assert_eq!(u.from, std::path::Path::new("t.json"));
        assert!(Cli::try_parse_from(["tokentrace", "prices", "update"]).is_err());
    }

    #[test]
    fn bind_must_be_a_socket_address() {
        assert!(Cli::try_parse_from(["tokentrace", "serve", "--bind", "nonsense"]).is_err());
        assert!(Cli::try_parse_from(["tokentrace", "serve", "--bind", "localhost:x"]).is_err());
        assert!(Cli::try_parse_from(["tokentrace", "serve", "--bind", "example.com:80"]).is_err());
        for (arg, want) in [
            ("localhost:8080", "127.0.0.1:8080"),
            ("LOCALHOST:1", "127.0.0.1:1"),
            ("[::1]:7070", "[::1]:7070"),
        ] {
            let cli = Cli::try_parse_from(["tokentrace", "serve", "--bind", arg]).unwrap();
            let Command::Serve(s) = cli.command else {
                panic!("expected serve")
            };
            assert_eq!(s.bind.to_string(), want);
        }
    }

    #[test]
    fn gateway_bind_takes_localhost_like_serve() {
        for (arg, want) in [
            ("localhost:4000", "127.0.0.1:4000"),
            ("Localhost:4001", "127.0.0.1:4001"),
            ("127.0.0.1:4002", "127.0.0.1:4002"),
            ("[::1]:4003", "[::1]:4003"),
        ] {
            let cli = Cli::try_parse_from(["tokentrace", "gateway", "--bind", arg]).unwrap();
            let Command::Gateway(g) = cli.command else {
                panic!("expected gateway")
            };
            assert_eq!(g.bind.map(|b| b.to_string()).as_deref(), Some(want));
        }
        let cli = Cli::try_parse_from(["tokentrace", "gateway"]).unwrap();
        let Command::Gateway(g) = cli.command else {
            panic!("expected gateway")
        };
        assert!(
            g.bind.is_none(),
            "no --bind: the file's `listen` or the default"
        );
        for bad in [
            "localhost",
            "localhost:x",
            "localhost:70000",
            "example.com:80",
            "4000",
        ] {
            assert!(
                Cli::try_parse_from(["tokentrace", "gateway", "--bind", bad]).is_err(),
                "{bad} accepted"
            );
        }
    }
}
