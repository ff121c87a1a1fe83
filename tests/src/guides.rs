//! The guides under `docs/`, compiled (and, unless marked `no_run`, run) as
//! doctests by `cargo test --doc -p tokentrace-tests`: a guide whose code no
//! longer compiles fails the build. `docs/enrichment.md` is compiled the
//! same way next to the API it documents, in `tokentrace-subscriber`.

/// `docs/axum.md`.
#[doc = include_str!("../../docs/axum.md")]
pub struct AxumGuide;

/// `docs/budgets.md`.
#[doc = include_str!("../../docs/budgets.md")]
pub struct BudgetsGuide;

/// `docs/clients.md` (its blocks need optional client crates: `ignore`d, with the reason in the text).
#[doc = include_str!("../../docs/clients.md")]
pub struct ClientsGuide;

/// `docs/configuration.md`.
#[doc = include_str!("../../docs/configuration.md")]
pub struct ConfigurationGuide;

/// `docs/gateway.md`.
#[doc = include_str!("../../docs/gateway.md")]
pub struct GatewayGuide;

/// `docs/getting-started.md`.
#[doc = include_str!("../../docs/getting-started.md")]
pub struct GettingStartedGuide;

/// `docs/otlp.md`.
#[doc = include_str!("../../docs/otlp.md")]
pub struct OtlpGuide;

/// `docs/prompt-templates.md`.
#[doc = include_str!("../../docs/prompt-templates.md")]
pub struct PromptTemplatesGuide;

/// `docs/reqwest.md`.
#[doc = include_str!("../../docs/reqwest.md")]
pub struct ReqwestGuide;

/// `docs/workflows.md`.
#[doc = include_str!("../../docs/workflows.md")]
pub struct WorkflowsGuide;
