//! Span creation and recording: the shapes in `docs/architecture.md`
//! ("The span contract between crates").

use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use tokentrace_core::price::Cost;
use tokentrace_core::request::RequestInfo;
use tokentrace_core::semconv::{self, values};
use tokentrace_core::{Operation, Provider, ResponseInfo};
use tracing::Span;
use tracing::field::Field;
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
            { semconv::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
            { semconv::GEN_AI_RESPONSE_MODEL } = tracing::field::Empty,
            { semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_TOTAL_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_TEXT_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_IMAGE_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_AUDIO_INPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS } = tracing::field::Empty,
            { semconv::COST_TOTAL_USD } = tracing::field::Empty,
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
    // On the callsite: what `EnrichLayer` (and tracing-opentelemetry's
    // special `otel.*` fields) read. The rest is export-only and goes straight
    // onto the OpenTelemetry span below, static strings without a copy.
    let span = llm_span!(
        parent: &parent,
        { semconv::OTEL_NAME } = start.name,
        { semconv::OTEL_KIND } = "client",
        { semconv::TOKENTRACE_SPAN_TYPE } = span_type,
        { semconv::GEN_AI_OPERATION_NAME } = gen_ai_op,
        { semconv::GEN_AI_PROVIDER_NAME } = gen_ai_provider,
        { semconv::GEN_AI_REQUEST_MODEL } = start.request_model,
        { semconv::SERVER_ADDRESS } = start.host,
        { semconv::SERVER_PORT } = start.port.map(i64::from),
    );
    if span.is_disabled() {
        return span;
    }
    let mut kv = Attrs::new();
    kv.push(
        semconv::OPENINFERENCE_SPAN_KIND,
        start.operation.openinference_kind(),
    );
    kv.opt(semconv::LLM_PROVIDER, llm_provider.map(Value::from));
    kv.opt(semconv::LLM_SYSTEM, llm_system.map(Value::from));
    kv.opt(semconv::DB_SYSTEM_NAME, db_system.map(Value::from));
    kv.opt(semconv::DB_OPERATION_NAME, db_op.map(Value::from));
    kv.opt(semconv::DB_COLLECTION_NAME, start.collection.map(owned));
    kv.opt(semconv::GEN_AI_DATA_SOURCE_ID, start.collection.map(owned));
    kv.opt(semconv::DB_NAMESPACE, r.namespace.as_deref().map(owned));
    kv.opt(
        semconv::DB_OPERATION_BATCH_SIZE,
        r.batch_size.map(int_value),
    );
    kv.opt(
        semconv::DB_VECTOR_QUERY_TOP_K,
        r.vector_top_k.map(int_value),
    );
    kv.push(semconv::HTTP_REQUEST_METHOD, method_value(start.method));
    kv.push(semconv::URL_FULL, owned(start.url));
    kv.opt(
        semconv::GEN_AI_REQUEST_STREAM,
        start.stream.map(Value::from),
    );
    kv.opt(
        semconv::TOKENTRACE_STREAM_USAGE_INJECTED,
        start.usage_injected.then_some(Value::Bool(true)),
    );
    kv.opt(
        semconv::GEN_AI_REQUEST_MAX_TOKENS,
        r.max_tokens.map(int_value),
    );
    kv.opt(
        semconv::GEN_AI_REQUEST_TEMPERATURE,
        r.temperature.map(Value::from),
    );
    kv.opt(semconv::GEN_AI_REQUEST_TOP_P, r.top_p.map(Value::from));
    kv.opt(semconv::GEN_AI_REQUEST_TOP_K, r.top_k.map(Value::from));
    kv.opt(
        semconv::GEN_AI_REQUEST_FREQUENCY_PENALTY,
        r.frequency_penalty.map(Value::from),
    );
    kv.opt(
        semconv::GEN_AI_REQUEST_PRESENCE_PENALTY,
        r.presence_penalty.map(Value::from),
    );
    kv.opt(semconv::GEN_AI_REQUEST_SEED, r.seed.map(Value::from));
    kv.opt(
        semconv::GEN_AI_REQUEST_CHOICE_COUNT,
        r.choice_count.filter(|n| *n != 1).map(int_value),
    );
    kv.opt(
        semconv::GEN_AI_EMBEDDINGS_DIMENSION_COUNT,
        r.dimensions.map(int_value),
    );
    kv.opt(
        semconv::OPENAI_REQUEST_SERVICE_TIER,
        r.service_tier.as_deref().map(owned),
    );
    // String arrays cannot be tracing fields either.
    if !r.stop_sequences.is_empty() {
        kv.push(
            semconv::GEN_AI_REQUEST_STOP_SEQUENCES,
            string_array(&r.stop_sequences),
        );
    }
    if !r.encoding_formats.is_empty() {
        kv.push(
            semconv::GEN_AI_REQUEST_ENCODING_FORMATS,
            string_array(&r.encoding_formats),
        );
    }
    kv.write(&span);
    span
}

/// Up to [`Attrs::CAP`] attributes collected on the stack and written onto
/// a span's OpenTelemetry span in one batch: one lookup of the span's
/// OpenTelemetry data, no `Vec` (a 40-attribute `Vec` is a large allocation
/// on every call), and no visit by the `tracing` layers that do not read them.
pub(crate) struct Attrs {
    items: [Option<KeyValue>; Self::CAP],
    len: usize,
}

impl Attrs {
    const CAP: usize = 48;

    #[inline]
    pub(crate) fn new() -> Self {
        Self {
            items: [const { None }; Self::CAP],
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = Some(KeyValue::new(key, value));
            self.len += 1;
        } else {
            debug_assert!(false, "more than {} attributes", Self::CAP);
        }
    }

    pub(crate) fn opt(&mut self, key: &'static str, value: Option<Value>) {
        if let Some(value) = value {
            self.push(key, value);
        }
    }

    /// Writes the batch onto `span`'s OpenTelemetry span (nothing when no
    /// OpenTelemetry layer is installed or the span is not recorded).
    pub(crate) fn write(mut self, span: &Span) {
        if self.len == 0 {
            return;
        }
        let cx = span.context();
        let otel = cx.span();
        if otel.is_recording() {
            // Taken out one by one: moving the whole array would copy it.
            otel.set_attributes(self.items[..self.len].iter_mut().filter_map(Option::take));
        }
    }
}

/// An owned string value (the `&str` borrows from the request).
fn owned(s: &str) -> Value {
    Value::from(s.to_owned())
}

fn int_value(v: u64) -> Value {
    Value::I64(int(v))
}

/// `http.request.method`: the standard methods as static strings, others copied.
fn method_value(method: &str) -> Value {
    values::standard_method(method).map_or_else(|| owned(method), Value::from)
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
    tokentrace_core::status::SpanError::new()
        .error_type(error_type)
        .record(|k, v| {
            span.record(k, v);
        });
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

/// Handles of the LLM callsite's fields that are recorded on every call,
/// looked up by name once: `Span::record(name, ..)` searches the callsite's
/// field names on every call, a `Field` goes straight to its slot.
#[derive(Debug)]
pub(crate) struct LlmFields {
    input: Field,
    output: Field,
    cache_read: Field,
    cache_write: Field,
    reasoning: Field,
    total: Field,
    /// `gen_ai.usage.{text,image,audio}.input_tokens`, then the output three.
    modal: [Field; 6],
    cost_total: Field,
    response_model: Field,
    latency: Field,
    status_code: Field,
    error_type: Field,
    pub(crate) http_status: Field,
    pub(crate) ttfc: Field,
}

static LLM_FIELDS: OnceLock<Option<LlmFields>> = OnceLock::new();

/// The field handles of `span`, an LLM span (`None` for a disabled span).
pub(crate) fn llm_fields(span: &Span) -> Option<&'static LlmFields> {
    let meta = span.metadata()?;
    let fields = LLM_FIELDS
        .get_or_init(|| {
            let f = meta.fields();
            Some(LlmFields {
                input: f.field(semconv::GEN_AI_USAGE_INPUT_TOKENS)?,
                output: f.field(semconv::GEN_AI_USAGE_OUTPUT_TOKENS)?,
                cache_read: f.field(semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)?,
                cache_write: f.field(semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)?,
                reasoning: f.field(semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)?,
                total: f.field(semconv::GEN_AI_USAGE_TOTAL_TOKENS)?,
                modal: [
                    f.field(semconv::GEN_AI_USAGE_TEXT_INPUT_TOKENS)?,
                    f.field(semconv::GEN_AI_USAGE_IMAGE_INPUT_TOKENS)?,
                    f.field(semconv::GEN_AI_USAGE_AUDIO_INPUT_TOKENS)?,
                    f.field(semconv::GEN_AI_USAGE_TEXT_OUTPUT_TOKENS)?,
                    f.field(semconv::GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS)?,
                    f.field(semconv::GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS)?,
                ],
                cost_total: f.field(semconv::COST_TOTAL_USD)?,
                response_model: f.field(semconv::GEN_AI_RESPONSE_MODEL)?,
                latency: f.field(semconv::PERFORMANCE_LATENCY_MS)?,
                status_code: f.field(semconv::OTEL_STATUS_CODE)?,
                error_type: f.field(semconv::ERROR_TYPE)?,
                http_status: f.field(semconv::HTTP_RESPONSE_STATUS_CODE)?,
                ttfc: f.field(semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)?,
            })
        })
        .as_ref()?;
    // One `llm_span!` callsite makes every LLM span; a handle from another
    // callsite would be ignored by `record`, so check rather than lose values.
    (fields.input.callsite() == meta.callsite()).then_some(fields)
}

/// How a call was priced.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Priced<'a> {
    /// No usage arrived: nothing to price.
    Nothing,
    /// Usage arrived but no price is known for the model.
    UnknownModel,
    /// Priced from the catalogue; the `&str` is `cost.source`.
    Catalogue(&'a Cost, &'static str),
    /// The provider reported the total (OpenRouter); no breakdown is known.
    Provider(f64, &'static str),
}

/// Everything recorded when a call ends (body end, error or drop).
#[derive(Debug)]
pub(crate) struct Outcome<'a> {
    pub(crate) info: &'a ResponseInfo,
    /// `llm.model_name`: the response model, else the request model.
    pub(crate) model: Option<&'a str>,
    pub(crate) priced: Priced<'a>,
    pub(crate) bytes: u64,
    pub(crate) incomplete: bool,
    /// Why the body was not parsed (`tokentrace.response.unparsed`).
    pub(crate) unparsed: Option<&'a str>,
    /// Why no usage was recorded (`tokentrace.usage.missing`).
    pub(crate) usage_missing: Option<&'static str>,
    /// A short readable message when the call failed
    /// (`otel.status_description`, `exception.message`).
    pub(crate) error_message: Option<&'a str>,
    pub(crate) error_type: Option<&'a str>,
    pub(crate) latency_ms: f64,
}

/// Record a call's outcome.
///
/// Two writes, whatever the number of attributes. The values `EnrichLayer`
/// and other `tracing` layers read (GenAI usage, `cost.total_usd`, response
/// model and id, latency, error) are one `record_all` through the cached
/// field handles. Their OpenInference mirrors (`llm.token_count.*`,
/// `llm.cost.*`), the cost breakdown (`cost.*`), `gen_ai.usage.cost`, finish
/// reasons and the call's own counters are export-only and go onto the
/// OpenTelemetry span in one batch: going through `tracing` they would cost a
/// field lookup, a visit by every layer and an attribute write each.
pub(crate) fn record_outcome(span: &Span, o: &Outcome<'_>) {
    let info = o.info;
    let usage = &info.usage;
    let input = usage.input_tokens.map(int);
    let output = usage.output_tokens.map(int);
    let cache_read = usage.cache_read_tokens.map(int);
    let cache_write = usage.cache_write_tokens.map(int);
    let reasoning = usage.reasoning_tokens.map(int);
    let total = usage.total_tokens.map(int);
    let m = &info.modalities;
    let modal = [
        m.text_input_tokens,
        m.image_input_tokens,
        m.audio_input_tokens,
        m.text_output_tokens,
        m.image_output_tokens,
        m.audio_output_tokens,
    ]
    .map(|c| c.map(int));
    let cost_total = match o.priced {
        Priced::Catalogue(c, _) => Some(c.total_usd),
        Priced::Provider(t, _) => Some(t),
        Priced::Nothing | Priced::UnknownModel => None,
    };
    let status = o.error_type.map(|_| STATUS_ERROR);
    let response_model = info.response_model.as_deref();
    let response_id = info.response_id.as_deref();

    if let (Some(f), Some(meta)) = (llm_fields(span), span.metadata()) {
        fn v<T: tracing::Value>(x: &Option<T>) -> Option<&dyn tracing::Value> {
            x.as_ref().map(|x| x as &dyn tracing::Value)
        }
        let latency = Some(o.latency_ms);
        span.record_all(&meta.fields().value_set(&[
            (&f.input, v(&input)),
            (&f.output, v(&output)),
            (&f.cache_read, v(&cache_read)),
            (&f.cache_write, v(&cache_write)),
            (&f.reasoning, v(&reasoning)),
            (&f.total, v(&total)),
            (&f.modal[0], v(&modal[0])),
            (&f.modal[1], v(&modal[1])),
            (&f.modal[2], v(&modal[2])),
            (&f.modal[3], v(&modal[3])),
            (&f.modal[4], v(&modal[4])),
            (&f.modal[5], v(&modal[5])),
            (&f.cost_total, v(&cost_total)),
            (&f.response_model, v(&response_model)),
            (&f.latency, v(&latency)),
            (&f.status_code, v(&status)),
            (&f.error_type, v(&o.error_type)),
        ]));
    }

    let mut kv = Attrs::new();
    kv.opt(semconv::GEN_AI_RESPONSE_ID, response_id.map(owned));
    let mut int_kv = |key: &'static str, value: Option<i64>| {
        if let Some(value) = value {
            kv.push(key, value);
        }
    };
    int_kv(semconv::LLM_TOKEN_COUNT_PROMPT, input);
    int_kv(semconv::LLM_TOKEN_COUNT_COMPLETION, output);
    int_kv(
        semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ,
        cache_read,
    );
    int_kv(
        semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
        cache_write,
    );
    int_kv(
        semconv::LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING,
        reasoning,
    );
    int_kv(semconv::LLM_TOKEN_COUNT_TOTAL, total);
    int_kv(semconv::LLM_TOKEN_COUNT_PROMPT_DETAILS_AUDIO, modal[2]);
    int_kv(semconv::LLM_TOKEN_COUNT_COMPLETION_DETAILS_AUDIO, modal[5]);
    match o.priced {
        Priced::Catalogue(cost, source) => {
            let prompt = cost.prompt_usd();
            let completion = cost.completion_usd();
            kv.push(semconv::COST_INPUT_COST_USD, prompt);
            kv.push(semconv::COST_OUTPUT_COST_USD, completion);
            kv.push(semconv::COST_CACHE_READ_COST_USD, cost.cache_read_usd);
            kv.push(semconv::COST_CACHE_WRITE_COST_USD, cost.cache_write_usd);
            kv.push(semconv::COST_REASONING_COST_USD, cost.reasoning_usd);
            kv.push(semconv::COST_MODEL_NAME, cost.model_key.clone());
            kv.push(semconv::COST_SOURCE, source);
            kv.push(semconv::GEN_AI_USAGE_COST, cost.total_usd);
            kv.push(semconv::LLM_COST_TOTAL, cost.total_usd);
            kv.push(semconv::LLM_COST_PROMPT, prompt);
            kv.push(semconv::LLM_COST_COMPLETION, completion);
            kv.push(semconv::LLM_COST_PROMPT_DETAILS_INPUT, cost.input_usd);
            kv.push(
                semconv::LLM_COST_PROMPT_DETAILS_CACHE_READ,
                cost.cache_read_usd,
            );
            kv.push(
                semconv::LLM_COST_PROMPT_DETAILS_CACHE_WRITE,
                cost.cache_write_usd,
            );
            kv.push(semconv::LLM_COST_COMPLETION_DETAILS_OUTPUT, cost.output_usd);
            kv.push(
                semconv::LLM_COST_COMPLETION_DETAILS_REASONING,
                cost.reasoning_usd,
            );
        }
        Priced::Provider(total_usd, source) => {
            kv.push(semconv::COST_SOURCE, source);
            kv.push(semconv::GEN_AI_USAGE_COST, total_usd);
            kv.push(semconv::LLM_COST_TOTAL, total_usd);
        }
        Priced::UnknownModel => kv.push(semconv::COST_UNKNOWN_MODEL, true),
        Priced::Nothing => {}
    }
    if cost_total.is_some() {
        let mut int_kv = |key: &'static str, value: Option<i64>| {
            if let Some(value) = value {
                kv.push(key, value);
            }
        };
        int_kv(semconv::COST_PROMPT_TOKENS, input);
        int_kv(semconv::COST_COMPLETION_TOKENS, output);
        int_kv(semconv::COST_TOTAL_TOKENS, total);
    }
    if let Some(model) = o.model {
        kv.push(semconv::LLM_MODEL_NAME, model.to_owned());
    }
    if let Some(first) = info.finish_reasons.first() {
        // `gen_ai.response.finish_reasons` is a string array
        // (https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/).
        let first = finish_reason_value(first);
        let all = if info.finish_reasons.len() == 1 {
            Value::Array(Array::String(vec![first.clone()]))
        } else {
            Value::Array(Array::String(
                info.finish_reasons
                    .iter()
                    .map(|r| finish_reason_value(r))
                    .collect(),
            ))
        };
        kv.push(semconv::GEN_AI_RESPONSE_FINISH_REASONS, all);
        kv.push(semconv::LLM_FINISH_REASON, first);
    }
    if let Some(tier) = &info.service_tier {
        kv.push(semconv::OPENAI_RESPONSE_SERVICE_TIER, tier.clone());
    }
    if info.events > 0 {
        kv.push(semconv::TOKENTRACE_STREAM_EVENTS, int(info.events));
    }
    kv.push(semconv::TOKENTRACE_RESPONSE_BYTES, int(o.bytes));
    if o.incomplete {
        kv.push(semconv::TOKENTRACE_STREAM_INCOMPLETE, true);
    }
    if let Some(reason) = o.usage_missing {
        kv.push(semconv::TOKENTRACE_USAGE_MISSING, reason);
    }
    if let Some(reason) = o.unparsed {
        kv.push(semconv::TOKENTRACE_RESPONSE_UNPARSED, reason.to_owned());
    }
    if let Some(msg) = o.error_message {
        kv.push(semconv::EXCEPTION_MESSAGE, msg.to_owned());
        // After the status code (in `record_all` above): the description is
        // what `tokentrace show` and the dashboard print for the failure.
        span.record(semconv::OTEL_STATUS_DESCRIPTION, msg);
    }
    if let Some(err) = &info.parse_error {
        kv.push(
            semconv::TOKENTRACE_PARSE_ERROR,
            tokentrace_core::bound::truncate_utf8(err, 256).to_owned(),
        );
    }
    let vector = &info.vector;
    if let Some(n) = vector.result_count {
        kv.push(semconv::DB_RESPONSE_RETURNED_ROWS, int(n));
        kv.push(semconv::DB_VECTOR_QUERY_RESULT_COUNT, int(n));
    }
    if let Some(n) = vector.read_units {
        kv.push(semconv::PINECONE_USAGE_READ_UNITS, int(n));
    }
    if let Some(n) = vector.write_units {
        kv.push(semconv::PINECONE_USAGE_WRITE_UNITS, int(n));
    }
    if let Some(t) = vector.server_time_seconds {
        kv.push(semconv::QDRANT_TIME_SECONDS, t);
    }
    if let Some(c) = vector.cost_units {
        kv.push(semconv::MILVUS_COST, c);
    }
    if let Some(n) = vector.search_units {
        kv.push(semconv::COHERE_SEARCH_UNITS, int(n));
    }
    kv.write(span);
}

/// A finish reason as an attribute value: the common ones as static
/// strings (no copy), others copied.
fn finish_reason_value(reason: &str) -> StringValue {
    const KNOWN: [&str; 12] = [
        "stop",
        "length",
        "tool_calls",
        "content_filter",
        "function_call",
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "STOP",
        "MAX_TOKENS",
        "SAFETY",
    ];
    match KNOWN.iter().find(|k| **k == reason) {
        Some(k) => StringValue::from(*k),
        None => StringValue::from(reason.to_owned()),
    }
}
