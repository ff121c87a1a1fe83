//! Serde-serialisable types the queries return (the dashboard serves them as JSON).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One span as stored, with its place in the trace tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRow {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id; `None` for a root.
    pub parent_span_id: Option<String>,
    /// Depth in the trace tree (roots are 0).
    pub depth: u32,
    /// The span name.
    pub name: String,
    /// `internal`, `server`, `client`, `producer` or `consumer`.
    pub kind: String,
    /// `unset`, `ok` or `error`.
    pub status_code: String,
    /// The error description, if any.
    pub status_message: Option<String>,
    /// Start, Unix epoch nanoseconds.
    pub start_ns: i64,
    /// End, Unix epoch nanoseconds.
    pub end_ns: i64,
    /// `end - start` in milliseconds.
    pub duration_ms: f64,
    /// `service.name` of the resource that produced the span.
    pub service_name: Option<String>,
    /// Every attribute, as a JSON object (integers stay integers).
    pub attributes: serde_json::Value,
    /// Span events, as a JSON array of `{name, time_ns, attributes}`.
    pub events: serde_json::Value,
    /// The workflow the span belongs to.
    pub workflow: Option<String>,
    /// `tokentrace.span.type` (`workflow`, `llm`, `vector`, `http`).
    pub span_type: Option<String>,
    /// `gen_ai.provider.name`.
    pub provider: Option<String>,
    /// Response model, else request model.
    pub model: Option<String>,
    /// Input tokens of an LLM span.
    pub input_tokens: Option<u64>,
    /// Output tokens of an LLM span.
    pub output_tokens: Option<u64>,
    /// Total tokens of an LLM span.
    pub total_tokens: Option<u64>,
    /// Cost in USD of an LLM span.
    pub cost_usd: Option<f64>,
}

/// A whole trace: totals and the span tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The root span's name.
    pub name: String,
    /// The workflow (root's `gen_ai.workflow.name`, else its name).
    pub workflow: Option<String>,
    /// Earliest span start, Unix epoch nanoseconds.
    pub start_ns: i64,
    /// Latest span end minus earliest start, in milliseconds.
    pub latency_ms: f64,
    /// Sum of the LLM spans' total tokens.
    pub total_tokens: u64,
    /// Sum of the LLM spans' cost in USD.
    pub cost_usd: f64,
    /// Number of spans with error status.
    pub error_count: u64,
    /// Spans in tree order (depth first, siblings by start time).
    pub spans: Vec<SpanRow>,
}

/// One line of the trace listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The root span's name.
    pub name: String,
    /// The workflow name.
    pub workflow: Option<String>,
    /// `service.name`.
    pub service_name: Option<String>,
    /// Earliest span start, Unix epoch nanoseconds.
    pub start_ns: i64,
    /// Trace latency in milliseconds.
    pub latency_ms: f64,
    /// Number of spans.
    pub span_count: u64,
    /// Number of spans with error status.
    pub error_count: u64,
    /// Sum of input tokens.
    pub input_tokens: u64,
    /// Sum of output tokens.
    pub output_tokens: u64,
    /// Sum of total tokens.
    pub total_tokens: u64,
    /// Sum of cost in USD.
    pub cost_usd: f64,
    /// `user.id` seen on the trace.
    pub user_id: Option<String>,
    /// `session.id` seen on the trace.
    pub session_id: Option<String>,
    /// The trace's main model: the one its LLM calls spent most on (ties:
    /// most calls, then name); `None` without LLM calls.
    pub model: Option<String>,
    /// A provider used in the trace.
    pub provider: Option<String>,
    /// Every model the trace called, main model first (by cost, then calls).
    #[serde(default)]
    pub models: Vec<String>,
}

/// Filters for [`Store::traces`](crate::Store::traces). All set filters must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TraceFilter {
    /// Only traces of this workflow, or with a nested workflow step of that
    /// name (a `#[workflow]` span beneath the root).
    pub workflow: Option<String>,
    /// Only traces of this user.
    pub user_id: Option<String>,
    /// Only traces of this session.
    pub session_id: Option<String>,
    /// Only traces with a span using this model, or a dated version of it
    /// (`gpt-4o` matches `gpt-4o-2024-08-06`, not `gpt-4o-mini`).
    pub model: Option<String>,
    /// Only traces with a span calling this provider.
    pub provider: Option<String>,
    /// Only traces with at least one error span.
    pub errors_only: bool,
    /// Only traces starting at or after this time (Unix epoch ns).
    pub since_ns: Option<i64>,
    /// Only traces starting before this time (Unix epoch ns).
    pub until_ns: Option<i64>,
    /// Substring (case-insensitive for ASCII) of a span name or of the attributes JSON.
    pub text: Option<String>,
    /// Page size; 0 means the default of 50, at most 1000.
    pub limit: u32,
    /// Rows to skip (in `sort` order).
    pub offset: u64,
    /// Order of [`Store::traces`](crate::Store::traces) (newest first by default).
    pub sort: TraceSort,
}

/// The order of a trace listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TraceSort {
    /// Newest first.
    #[default]
    Newest,
    /// Oldest first.
    Oldest,
    /// Most expensive first.
    CostDesc,
    /// Cheapest first.
    CostAsc,
    /// Slowest first.
    LatencyDesc,
    /// Fastest first.
    LatencyAsc,
    /// Most tokens first.
    TokensDesc,
    /// Fewest tokens first.
    TokensAsc,
}

impl TraceSort {
    /// Every sort order.
    pub const ALL: [Self; 8] = [
        Self::Newest,
        Self::Oldest,
        Self::CostDesc,
        Self::CostAsc,
        Self::LatencyDesc,
        Self::LatencyAsc,
        Self::TokensDesc,
        Self::TokensAsc,
    ];

    /// The name used in URLs and JSON (`newest`, `cost_desc`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::CostDesc => "cost_desc",
            Self::CostAsc => "cost_asc",
            Self::LatencyDesc => "latency_desc",
            Self::LatencyAsc => "latency_asc",
            Self::TokensDesc => "tokens_desc",
            Self::TokensAsc => "tokens_asc",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The `ORDER BY` of the `traces t` table for this order.
    pub(crate) fn order_sql(self) -> &'static str {
        match self {
            Self::Newest => "t.start_ns DESC, t.trace_id DESC",
            Self::Oldest => "t.start_ns, t.trace_id",
            Self::CostDesc => "t.cost_usd DESC, t.trace_id DESC",
            Self::CostAsc => "t.cost_usd, t.trace_id",
            Self::LatencyDesc => "t.duration_ms DESC, t.trace_id DESC",
            Self::LatencyAsc => "t.duration_ms, t.trace_id",
            Self::TokensDesc => "t.total_tokens DESC, t.trace_id DESC",
            Self::TokensAsc => "t.total_tokens, t.trace_id",
        }
    }
}

/// Totals over the traces a [`TraceFilter`] selects (see
/// [`Store::trace_totals`](crate::Store::trace_totals)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceTotals {
    /// Traces.
    pub traces: u64,
    /// Traces with at least one error.
    pub errors: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Total tokens.
    pub total_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Median trace latency in milliseconds.
    pub latency_p50_ms: f64,
    /// 95th percentile trace latency in milliseconds.
    pub latency_p95_ms: f64,
}

/// The width of a [`Store::timeseries`](crate::Store::timeseries) bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Interval {
    /// UTC hours.
    Hour,
    /// UTC days.
    #[default]
    Day,
}

impl Interval {
    /// The bucket width in nanoseconds.
    #[must_use]
    pub fn nanos(self) -> i64 {
        match self {
            Self::Hour => 3_600_000_000_000,
            Self::Day => 86_400_000_000_000,
        }
    }
}

/// One time bucket of [`Store::timeseries`](crate::Store::timeseries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeBucket {
    /// Bucket start, Unix epoch ns (a whole UTC hour or day).
    pub start_ns: i64,
    /// Traces started in the bucket.
    pub traces: u64,
    /// Of those, traces with an error.
    pub errors: u64,
    /// Total tokens.
    pub total_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Median trace latency, ms.
    pub latency_p50_ms: f64,
    /// 95th percentile trace latency, ms.
    pub latency_p95_ms: f64,
    /// Cost per key of the stacking dimension (model, user, workflow, ...),
    /// most expensive first; empty without one.
    pub stack: Vec<(String, f64)>,
}

/// One turn of a session's conversation (see
/// [`Store::conversation`](crate::Store::conversation)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// The turn's trace.
    pub trace: TraceSummary,
    /// The captured input (`input.value`, else `gen_ai.input.messages`) of
    /// the trace's first span that has one; `None` when content capture is off.
    pub input: Option<String>,
    /// The captured output of the trace's last span that has one.
    pub output: Option<String>,
}

impl TraceFilter {
    /// A filter matching every trace (first page of 50).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
    /// Only this workflow.
    #[must_use]
    pub fn workflow(mut self, v: impl Into<String>) -> Self {
        self.workflow = Some(v.into());
        self
    }
    /// Only this user.
    #[must_use]
    pub fn user_id(mut self, v: impl Into<String>) -> Self {
        self.user_id = Some(v.into());
        self
    }
    /// Only this session.
    #[must_use]
    pub fn session_id(mut self, v: impl Into<String>) -> Self {
        self.session_id = Some(v.into());
        self
    }
    /// Only traces using this model.
    #[must_use]
    pub fn model(mut self, v: impl Into<String>) -> Self {
        self.model = Some(v.into());
        self
    }
    /// Only traces calling this provider.
    #[must_use]
    pub fn provider(mut self, v: impl Into<String>) -> Self {
        self.provider = Some(v.into());
        self
    }
    /// Only traces with an error.
    #[must_use]
    pub fn errors_only(mut self, v: bool) -> Self {
        self.errors_only = v;
        self
    }
    /// Only traces starting in `[since_ns, until_ns)`.
    #[must_use]
    pub fn time_range(mut self, since_ns: Option<i64>, until_ns: Option<i64>) -> Self {
        self.since_ns = since_ns;
        self.until_ns = until_ns;
        self
    }
    /// Text search over span names and attributes.
    #[must_use]
    pub fn text(mut self, v: impl Into<String>) -> Self {
        self.text = Some(v.into());
        self
    }
    /// The listing order.
    #[must_use]
    pub fn sort(mut self, v: TraceSort) -> Self {
        self.sort = v;
        self
    }
    /// Page size and offset.
    #[must_use]
    pub fn page(mut self, limit: u32, offset: u64) -> Self {
        self.limit = limit;
        self.offset = offset;
        self
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows matching the filter in total.
    pub total: u64,
    /// Page size used.
    pub limit: u32,
    /// Rows skipped.
    pub offset: u64,
}

/// What [`Store::stats`](crate::Store::stats) groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupBy {
    /// Per workflow (trace level).
    Workflow,
    /// Per model (LLM span level).
    Model,
    /// Per provider (LLM span level).
    Provider,
    /// Per user (trace level).
    User,
    /// Per session (trace level).
    Session,
    /// Per UTC day of the trace start, `YYYY-MM-DD` (trace level).
    Day,
    /// Per workflow step: every `#[workflow]` span, the root and the nested
    /// ones, by workflow name (counts runs; tokens and cost are the span's
    /// roll-ups of the LLM calls beneath it).
    Step,
}

impl GroupBy {
    /// Every grouping.
    pub const ALL: [Self; 7] = [
        Self::Workflow,
        Self::Step,
        Self::Model,
        Self::Provider,
        Self::User,
        Self::Session,
        Self::Day,
    ];

    /// The name used in URLs, JSON and the CLI (`workflow`, `model`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Model => "model",
            Self::Provider => "provider",
            Self::User => "user",
            Self::Session => "session",
            Self::Day => "day",
            Self::Step => "step",
        }
    }

    /// Parses [`as_str`](Self::as_str)'s names.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Aggregates for one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsRow {
    /// The group's key (workflow name, model, ..., or day).
    pub key: String,
    /// Traces (or LLM spans for model/provider) in the group.
    pub count: u64,
    /// Those with an error.
    pub errors: u64,
    /// `errors / count`.
    pub error_rate: f64,
    /// Median latency in milliseconds.
    pub latency_p50_ms: f64,
    /// 95th percentile latency in milliseconds.
    pub latency_p95_ms: f64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Total tokens.
    pub total_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
}

/// A session: traces sharing a `session.id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The session id.
    pub session_id: String,
    /// A user seen in the session.
    pub user_id: Option<String>,
    /// Traces in the session.
    pub trace_count: u64,
    /// First trace start, Unix epoch ns.
    pub first_start_ns: i64,
    /// Last trace start, Unix epoch ns.
    pub last_start_ns: i64,
    /// Total tokens.
    pub total_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
}

/// A model seen in stored spans (for `prices check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSeen {
    /// `gen_ai.provider.name`, if recorded.
    pub provider: Option<String>,
    /// The model name.
    pub model: String,
    /// LLM spans with that model.
    pub spans: u64,
    /// Of those, spans recorded with `cost.unknown_model = true`.
    pub unpriced_spans: u64,
}

/// One metric series summarised in the `metrics` table (see
/// [`StoreMetricExporter`](crate::StoreMetricExporter)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    /// Instrument name (`gen_ai.client.token.usage`, ...).
    pub name: String,
    /// The series' attributes as a JSON object.
    pub attributes: serde_json::Value,
    /// `histogram`, `sum` or `gauge`.
    pub kind: String,
    /// Histograms: measurements recorded.
    pub count: u64,
    /// Histograms and sums: their total; gauges: the last value.
    pub sum: f64,
}

/// Exporter counters, as persisted in the `meta` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStats {
    /// Spans written.
    pub written_spans: u64,
    /// Spans dropped because the store's queue was full.
    pub dropped_spans: u64,
    /// Spans lost because their batch failed to commit (locked, disk full, ...).
    pub failed_spans: u64,
    /// Batches that failed to commit.
    pub failed_batches: u64,
    /// Spans dropped upstream of the store (the facade's span queue), as reported to it.
    pub upstream_dropped_spans: u64,
    /// Spans deleted by retention.
    pub retention_deleted_spans: u64,
}

/// Retention rules the writer applies in the background.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retention {
    /// Delete traces that ended longer ago than this.
    pub max_age: Option<Duration>,
    /// Keep at most about this many spans, deleting the oldest traces first.
    pub max_spans: Option<u64>,
}

impl Retention {
    /// No retention: keep everything.
    #[must_use]
    pub fn keep_all() -> Self {
        Self::default()
    }
    /// Delete traces older than `max_age`.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
    /// Keep at most `max_spans` spans.
    #[must_use]
    pub fn max_spans(mut self, max_spans: u64) -> Self {
        self.max_spans = Some(max_spans);
        self
    }
}
