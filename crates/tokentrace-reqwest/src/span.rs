//! Span creation and recording: the shapes in `docs/architecture.md`
//! ("The span contract between crates").

use opentelemetry::{Array, StringValue, Value};
use tokentrace_core::price::Cost;
use tokentrace_core::request::RequestInfo;
use tokentrace_core::semconv::{self, values};
use tokentrace_core::{Operation, Provider, ResponseInfo, Usage};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `error.type` when reqwest gave up waiting (a client timeout).
pub(crate) const ERROR_TIMEOUT: &str = "timeout";
/// `error.type` when no connection could be made.
pub(crate) const ERROR_CONNECT: &str = "connection_error";
/// `error.type` when the response body failed mid-way (reset, decode error).
pub(crate) const ERROR_BODY: &str = "body_error";
/// `error.type` when the request could not be sent (I/O after connecting).
pub(crate) const ERROR_REQUEST: &str = "request_error";
/// `otel.status_code` of a failed call.
const STATUS_ERROR: &str = "error";

/// Creates a span with every field tokentrace may ever record on an LLM or
/// vector call declared up front.
///
/// A macro rather than a function because `tracing` needs the field set at
/// the call site (callsite metadata is static), and we want one callsite so
/// every LLM span shares one `Metadata`. Fields that are only known later are
/// `Empty` here and filled with `Span::record`; tracing silently ignores a
/// `record` for an undeclared field, so forgetting one here loses it.
macro_rules! llm_span {
    (parent: $parent:expr, $($field:tt)*) => {
        tracing::info_span!(
            target: "tokentrace::llm",
            parent: $parent,
            "llm",
            $($field)*
            { semconv::OTEL_STATUS_CODE } = tracing::field::Empty,
            { semconv::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
            { semconv::ERROR_TYPE } = tracing::field::Empty,
            { semconv::EXCEPTION_MESSAGE } = tracing::field::Empty,
            { semconv::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
            { semconv::GEN_AI_RESPONSE_MODEL } = tracing::field::Empty,
            { semconv::GEN_AI_RESPONSE_ID } = tracing::field::Empty,
            { semconv::LLM_FINISH_REASON } = tracing::field::Empty,
            { semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK } = tracing::field::Empty,
            { semconv::OPENAI_RESPONSE_SERVICE_TIER } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_TOTAL_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_COST } = tracing::field::Empty,
            { semconv::LLM_TOKEN_COUNT_PROMPT } = tracing::field::Empty,
            { semconv::LLM_TOKEN_COUNT_COMPLETION } = tracing::field::Empty,
            { semconv::LLM_TOKEN_COUNT_TOTAL } = tracing::field::Empty,
            { semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ } = tracing::field::Empty,
            { semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE } = tracing::field::Empty,
            { semconv::LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING } = tracing::field::Empty,
            { semconv::LLM_COST_PROMPT } = tracing::field::Empty,
            { semconv::LLM_COST_COMPLETION } = tracing::field::Empty,
            { semconv::LLM_COST_TOTAL } = tracing::field::Empty,
            { semconv::LLM_COST_PROMPT_DETAILS_INPUT } = tracing::field::Empty,
            { semconv::LLM_COST_PROMPT_DETAILS_CACHE_READ } = tracing::field::Empty,
            { semconv::LLM_COST_PROMPT_DETAILS_CACHE_WRITE } = tracing::field::Empty,
            { semconv::LLM_COST_COMPLETION_DETAILS_OUTPUT } = tracing::field::Empty,
            { semconv::LLM_COST_COMPLETION_DETAILS_REASONING } = tracing::field::Empty,
            { semconv::COST_TOTAL_USD } = tracing::field::Empty,
            { semconv::COST_INPUT_COST_USD } = tracing::field::Empty,
            { semconv::COST_OUTPUT_COST_USD } = tracing::field::Empty,
            { semconv::COST_CACHE_READ_COST_USD } = tracing::field::Empty,
            { semconv::COST_CACHE_WRITE_COST_USD } = tracing::field::Empty,
            { semconv::COST_REASONING_COST_USD } = tracing::field::Empty,
            { semconv::COST_MODEL_NAME } = tracing::field::Empty,
            { semconv::COST_PROMPT_TOKENS } = tracing::field::Empty,
            { semconv::COST_COMPLETION_TOKENS } = tracing::field::Empty,
            { semconv::COST_TOTAL_TOKENS } = tracing::field::Empty,
            { semconv::COST_SOURCE } = tracing::field::Empty,
            { semconv::COST_UNKNOWN_MODEL } = tracing::field::Empty,
            { semconv::DB_RESPONSE_RETURNED_ROWS } = tracing::field::Empty,
            { semconv::DB_VECTOR_QUERY_RESULT_COUNT } = tracing::field::Empty,
            { semconv::PINECONE_USAGE_READ_UNITS } = tracing::field::Empty,
            { semconv::PINECONE_USAGE_WRITE_UNITS } = tracing::field::Empty,
            { semconv::QDRANT_TIME_SECONDS } = tracing::field::Empty,
            { semconv::MILVUS_COST } = tracing::field::Empty,
            { semconv::COHERE_SEARCH_UNITS } = tracing::field::Empty,
            { semconv::TOKENTRACE_STREAM_INCOMPLETE } = tracing::field::Empty,
            { semconv::TOKENTRACE_STREAM_EVENTS } = tracing::field::Empty,
            { semconv::TOKENTRACE_PARSE_ERROR } = tracing::field::Empty,
            { semconv::TOKENTRACE_RESPONSE_BYTES } = tracing::field::Empty,
            { semconv::PERFORMANCE_LATENCY_MS } = tracing::field::Empty,
            { semconv::GEN_AI_INPUT_MESSAGES } = tracing::field::Empty,
            { semconv::GEN_AI_SYSTEM_INSTRUCTIONS } = tracing::field::Empty,
            { semconv::GEN_AI_TOOL_DEFINITIONS } = tracing::field::Empty,
            { semconv::GEN_AI_OUTPUT_MESSAGES } = tracing::field::Empty,
            { semconv::INPUT_VALUE } = tracing::field::Empty,
            { semconv::INPUT_MIME_TYPE } = tracing::field::Empty,
            { semconv::OUTPUT_VALUE } = tracing::field::Empty,
            { semconv::OUTPUT_MIME_TYPE } = tracing::field::Empty,
            { semconv::TOKENTRACE_CONTENT_TRUNCATED } = tracing::field::Empty,
        )
    };
}

/// What is known about a call before it is sent.
#[derive(Debug)]
pub(crate) struct CallStart<'a> {
    pub(crate) name: &'a str,
    pub(crate) provider: Provider,
    pub(crate) operation: Operation,
    pub(crate) request_model: Option<&'a str>,
    pub(crate) collection: Option<&'a str>,
    pub(crate) method: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: Option<u16>,
    pub(crate) url: &'a str,
    pub(crate) stream: Option<bool>,
    pub(crate) usage_injected: bool,
    /// Parameters read from the request body.
    pub(crate) request: &'a RequestInfo,
}

/// Open the LLM (or vector) client span, child of `parent` (the current span
/// when `None`).
pub(crate) fn llm_span(start: &CallStart<'_>, parent: Option<&Span>) -> Span {
    let vector = start.provider.is_vector_db() || start.operation.is_vector();
    let span_type = if vector {
        values::SPAN_TYPE_VECTOR
    } else {
        values::SPAN_TYPE_LLM
    };
    // GenAI attributes describe model calls; db.* ones describe vector-store
    // calls (https://opentelemetry.io/docs/specs/semconv/database/database-spans/).
    let (gen_ai_op, db_op, db_system) = if vector {
        (
            None,
            Some(start.operation.name()),
            Some(start.provider.otel_name()),
        )
    } else {
        (Some(start.operation.name()), None, None)
    };
    let gen_ai_provider = (!vector).then(|| start.provider.otel_name());
    let llm_provider = (!vector).then(|| start.provider.openinference_provider());
    let llm_system = if vector {
        None
    } else {
        start.provider.openinference_system()
    };
    let r = start.request;
    let parent = parent.cloned().unwrap_or_else(Span::current);
    let span = llm_span!(
        parent: &parent,
        { semconv::OTEL_NAME } = start.name,
        { semconv::OTEL_KIND } = "client",
        { semconv::TOKENTRACE_SPAN_TYPE } = span_type,
        { semconv::OPENINFERENCE_SPAN_KIND } = start.operation.openinference_kind(),
        { semconv::GEN_AI_OPERATION_NAME } = gen_ai_op,
        { semconv::GEN_AI_PROVIDER_NAME } = gen_ai_provider,
        { semconv::LLM_PROVIDER } = llm_provider,
        { semconv::LLM_SYSTEM } = llm_system,
        { semconv::GEN_AI_REQUEST_MODEL } = start.request_model,
        // Recorded once, at the end: the response model when the provider
        // names one, else the request model (OTel SDKs keep duplicate keys).
        { semconv::LLM_MODEL_NAME } = tracing::field::Empty,
        { semconv::DB_SYSTEM_NAME } = db_system,
        { semconv::DB_OPERATION_NAME } = db_op,
        { semconv::DB_COLLECTION_NAME } = start.collection,
        { semconv::GEN_AI_DATA_SOURCE_ID } = start.collection,
        { semconv::DB_NAMESPACE } = r.namespace.as_deref(),
        { semconv::DB_OPERATION_BATCH_SIZE } = r.batch_size.map(int),
        { semconv::DB_VECTOR_QUERY_TOP_K } = r.vector_top_k.map(int),
        { semconv::SERVER_ADDRESS } = start.host,
        { semconv::SERVER_PORT } = start.port.map(i64::from),
        { semconv::HTTP_REQUEST_METHOD } = start.method,
        { semconv::URL_FULL } = start.url,
        { semconv::GEN_AI_REQUEST_STREAM } = start.stream,
        { semconv::TOKENTRACE_STREAM_USAGE_INJECTED } = start.usage_injected.then_some(true),
        { semconv::GEN_AI_REQUEST_MAX_TOKENS } = r.max_tokens.map(int),
        { semconv::GEN_AI_REQUEST_TEMPERATURE } = r.temperature,
        { semconv::GEN_AI_REQUEST_TOP_P } = r.top_p,
        { semconv::GEN_AI_REQUEST_TOP_K } = r.top_k,
        { semconv::GEN_AI_REQUEST_FREQUENCY_PENALTY } = r.frequency_penalty,
        { semconv::GEN_AI_REQUEST_PRESENCE_PENALTY } = r.presence_penalty,
        { semconv::GEN_AI_REQUEST_SEED } = r.seed,
        { semconv::GEN_AI_REQUEST_CHOICE_COUNT } = r.choice_count.filter(|n| *n != 1).map(int),
        { semconv::GEN_AI_EMBEDDINGS_DIMENSION_COUNT } = r.dimensions.map(int),
        { semconv::OPENAI_REQUEST_SERVICE_TIER } = r.service_tier.as_deref(),
    );
    // String arrays cannot be tracing fields; they go onto the OTel span.
    if !r.stop_sequences.is_empty() {
        span.set_attribute(
            semconv::GEN_AI_REQUEST_STOP_SEQUENCES,
            string_array(&r.stop_sequences),
        );
    }
    if !r.encoding_formats.is_empty() {
        span.set_attribute(
            semconv::GEN_AI_REQUEST_ENCODING_FORMATS,
            string_array(&r.encoding_formats),
        );
    }
    span
}

fn string_array(items: &[String]) -> Value {
    Value::Array(Array::String(
        items.iter().map(|s| StringValue::from(s.clone())).collect(),
    ))
}

/// The `auto.workflow.{provider}` root opened for a call made outside any
/// span, shaped as a workflow span so `EnrichLayer` rolls the call up into it.
pub(crate) fn auto_root(provider: Provider) -> Span {
    let name = format!(
        "{}{}",
        semconv::span_names::AUTO_WORKFLOW_PREFIX,
        provider.slug()
    );
    tracing::info_span!(
        target: "tokentrace::llm",
        parent: None,
        "auto.workflow",
        { semconv::OTEL_NAME } = name.as_str(),
        { semconv::OTEL_KIND } = "internal",
        { semconv::OTEL_STATUS_CODE } = tracing::field::Empty,
        { semconv::OTEL_STATUS_DESCRIPTION } = tracing::field::Empty,
        { semconv::TOKENTRACE_SPAN_TYPE } = values::SPAN_TYPE_WORKFLOW,
        { semconv::GEN_AI_OPERATION_NAME } = values::OPERATION_INVOKE_WORKFLOW,
        { semconv::GEN_AI_WORKFLOW_NAME } = name.as_str(),
        { semconv::OPENINFERENCE_SPAN_KIND } = values::SPAN_KIND_CHAIN,
        { semconv::TOKENTRACE_AUTO_ROOT } = true,
    )
}

/// A plain HTTP client span for calls that are not LLM calls (opt-in).
pub(crate) fn http_span(method: &str, host: &str, port: Option<u16>, url: &str) -> Span {
    let name = method.to_owned();
    tracing::info_span!(
        target: "tokentrace::http",
        "http",
        { semconv::OTEL_NAME } = name.as_str(),
        { semconv::OTEL_KIND } = "client",
        { semconv::OTEL_STATUS_CODE } = tracing::field::Empty,
        { semconv::TOKENTRACE_SPAN_TYPE } = values::SPAN_TYPE_HTTP,
        { semconv::HTTP_REQUEST_METHOD } = method,
        { semconv::SERVER_ADDRESS } = host,
        { semconv::SERVER_PORT } = port.map(i64::from),
        { semconv::URL_FULL } = url,
        { semconv::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
        { semconv::ERROR_TYPE } = tracing::field::Empty,
    )
}

/// Integers go to tracing as `i64`: tracing-opentelemetry 0.34's visitor
/// has no `record_u64`, so a `u64` would export as its Debug string, not as
/// an OTLP int.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Mark a span failed with a low-cardinality `error.type`.
pub(crate) fn record_error(span: &Span, error_type: &str) {
    span.record(semconv::OTEL_STATUS_CODE, STATUS_ERROR);
    span.record(semconv::ERROR_TYPE, error_type);
}

/// Classify a transport error into an `error.type` value.
pub(crate) fn classify_reqwest(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        ERROR_TIMEOUT
    } else if err.is_connect() {
        ERROR_CONNECT
    } else if err.is_body() || err.is_decode() {
        ERROR_BODY
    } else if err.is_request() {
        ERROR_REQUEST
    } else {
        values::ERROR_OTHER
    }
}

/// Classify a middleware-stack error into an `error.type` value.
pub(crate) fn classify_middleware(err: &reqwest_middleware::Error) -> &'static str {
    match err {
        reqwest_middleware::Error::Reqwest(e) => classify_reqwest(e),
        reqwest_middleware::Error::Middleware(_) => values::ERROR_OTHER,
    }
}

/// Record usage in GenAI and OpenInference names.
///
/// One `record_all!` per group rather than one `record` per field: every
/// `Span::record` is a full dispatch (subscriber lookup, extensions lock,
/// attribute vector), and these groups are recorded on every call.
pub(crate) fn record_usage(span: &Span, usage: &Usage) {
    let input = usage.input_tokens.map(int);
    let output = usage.output_tokens.map(int);
    let cache_read = usage.cache_read_tokens.map(int);
    let cache_write = usage.cache_write_tokens.map(int);
    let reasoning = usage.reasoning_tokens.map(int);
    let total = usage.total_tokens.map(int);
    tracing::record_all!(
        span,
        { semconv::GEN_AI_USAGE_INPUT_TOKENS } = input,
        { semconv::LLM_TOKEN_COUNT_PROMPT } = input,
        { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = output,
        { semconv::LLM_TOKEN_COUNT_COMPLETION } = output,
        { semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS } = cache_read,
        { semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ } = cache_read,
        { semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS } = cache_write,
        { semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE } = cache_write,
        { semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS } = reasoning,
        { semconv::LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING } = reasoning,
        { semconv::GEN_AI_USAGE_TOTAL_TOKENS } = total,
        { semconv::LLM_TOKEN_COUNT_TOTAL } = total,
    );
}

/// Record a cost breakdown under `cost.*`, `llm.cost.*` and `gen_ai.usage.cost`.
pub(crate) fn record_cost(span: &Span, cost: &Cost, usage: &Usage, source: &str) {
    let prompt = cost.prompt_usd();
    let completion = cost.completion_usd();
    tracing::record_all!(
        span,
        { semconv::COST_TOTAL_USD } = cost.total_usd,
        { semconv::COST_INPUT_COST_USD } = prompt,
        { semconv::COST_OUTPUT_COST_USD } = completion,
        { semconv::COST_CACHE_READ_COST_USD } = cost.cache_read_usd,
        { semconv::COST_CACHE_WRITE_COST_USD } = cost.cache_write_usd,
        { semconv::COST_REASONING_COST_USD } = cost.reasoning_usd,
        { semconv::COST_MODEL_NAME } = cost.model_key.as_str(),
        { semconv::COST_SOURCE } = source,
        { semconv::GEN_AI_USAGE_COST } = cost.total_usd,
        { semconv::LLM_COST_TOTAL } = cost.total_usd,
        { semconv::LLM_COST_PROMPT } = prompt,
        { semconv::LLM_COST_COMPLETION } = completion,
        { semconv::LLM_COST_PROMPT_DETAILS_INPUT } = cost.input_usd,
        { semconv::LLM_COST_PROMPT_DETAILS_CACHE_READ } = cost.cache_read_usd,
        { semconv::LLM_COST_PROMPT_DETAILS_CACHE_WRITE } = cost.cache_write_usd,
        { semconv::LLM_COST_COMPLETION_DETAILS_OUTPUT } = cost.output_usd,
        { semconv::LLM_COST_COMPLETION_DETAILS_REASONING } = cost.reasoning_usd,
    );
    record_cost_tokens(span, usage);
}

/// Record a provider-reported total (OpenRouter): no breakdown is known.
pub(crate) fn record_provider_cost(span: &Span, total_usd: f64, usage: &Usage, source: &str) {
    tracing::record_all!(
        span,
        { semconv::COST_TOTAL_USD } = total_usd,
        { semconv::COST_SOURCE } = source,
        { semconv::GEN_AI_USAGE_COST } = total_usd,
        { semconv::LLM_COST_TOTAL } = total_usd,
    );
    record_cost_tokens(span, usage);
}

fn record_cost_tokens(span: &Span, usage: &Usage) {
    tracing::record_all!(
        span,
        { semconv::COST_PROMPT_TOKENS } = usage.input_tokens.map(int),
        { semconv::COST_COMPLETION_TOKENS } = usage.output_tokens.map(int),
        { semconv::COST_TOTAL_TOKENS } = usage.total_tokens.map(int),
    );
}

/// Record what the response parser extracted, except usage and cost.
pub(crate) fn record_response(span: &Span, info: &ResponseInfo) {
    let first = info.finish_reasons.first();
    let events = (info.events > 0).then(|| int(info.events));
    tracing::record_all!(
        span,
        { semconv::GEN_AI_RESPONSE_MODEL } = info.response_model.as_deref(),
        { semconv::GEN_AI_RESPONSE_ID } = info.response_id.as_deref(),
        { semconv::OPENAI_RESPONSE_SERVICE_TIER } = info.service_tier.as_deref(),
        { semconv::LLM_FINISH_REASON } = first.map(String::as_str),
        { semconv::TOKENTRACE_STREAM_EVENTS } = events,
    );
    if first.is_some() {
        // `gen_ai.response.finish_reasons` is a string array
        // (https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/):
        // tracing fields cannot hold arrays, so it goes onto the OTel span directly.
        span.set_attribute(
            semconv::GEN_AI_RESPONSE_FINISH_REASONS,
            string_array(&info.finish_reasons),
        );
    }
    let v = &info.vector;
    if let Some(n) = v.result_count {
        span.record(semconv::DB_RESPONSE_RETURNED_ROWS, int(n));
        span.record(semconv::DB_VECTOR_QUERY_RESULT_COUNT, int(n));
    }
    if let Some(n) = v.read_units {
        span.record(semconv::PINECONE_USAGE_READ_UNITS, int(n));
    }
    if let Some(n) = v.write_units {
        span.record(semconv::PINECONE_USAGE_WRITE_UNITS, int(n));
    }
    if let Some(t) = v.server_time_seconds {
        span.record(semconv::QDRANT_TIME_SECONDS, t);
    }
    if let Some(c) = v.cost_units {
        span.record(semconv::MILVUS_COST, c);
    }
    if let Some(n) = v.search_units {
        span.record(semconv::COHERE_SEARCH_UNITS, int(n));
    }
    if let Some(err) = &info.parse_error {
        span.record(
            semconv::TOKENTRACE_PARSE_ERROR,
            tokentrace_core::bound::truncate_utf8(err, 256),
        );
    }
}
