//! Every attribute and span-name constant tokentrace emits, in one place.
//!
//! Names follow the OpenTelemetry GenAI semantic conventions (v1.41.0, the
//! last release in the main semantic-conventions repository, "Development"
//! stability) first, mirrored in OpenInference names so Arize Phoenix and
//! other OpenInference readers understand the same span. Constants are
//! `SCREAMING_SNAKE` copies of the dotted name. No other crate in the
//! workspace writes an attribute name as a string literal.
//!
//! * GenAI spans: <https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/>
//! * GenAI registry: <https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/>
//! * OpenInference: <https://github.com/Arize-ai/openinference/blob/main/spec/semantic_conventions.md>
//!
//! `docs/attributes.md` is generated from [`ALL`] and checked by a test.

/// One documented attribute name: the dotted name, the convention it comes
/// from, and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeDoc {
    /// The dotted attribute name as it appears on the wire.
    pub name: &'static str,
    /// The convention that defines it (`otel-genai`, `openinference`, `tokentrace`, ...).
    pub convention: &'static str,
    /// The value type on the wire (`string`, `int`, `double`, `bool`, `string[]`).
    pub value_type: &'static str,
    /// What the attribute holds.
    pub brief: &'static str,
}

macro_rules! attributes {
    ($( $(#[$m:meta])* $konst:ident = $name:literal, $conv:literal, $ty:literal, $brief:literal; )*) => {
        $(
            $(#[$m])*
            #[doc = concat!("`", $name, "` (", $conv, ", ", $ty, "): ", $brief)]
            pub const $konst: &str = $name;
        )*
        /// Every attribute name in this module with its documentation, in declaration order.
        pub const ALL: &[AttributeDoc] = &[
            $( AttributeDoc { name: $name, convention: $conv, value_type: $ty, brief: $brief }, )*
        ];
    };
}

attributes! {
    // ---- OpenTelemetry GenAI: operation and provider ----
    GEN_AI_OPERATION_NAME = "gen_ai.operation.name", "otel-genai", "string", "operation: chat, generate_content, text_completion, embeddings, rerank; invoke_workflow, invoke_agent (agent workflows), execute_tool (tool workflows)";
    GEN_AI_PROVIDER_NAME = "gen_ai.provider.name", "otel-genai", "string", "provider flavour, e.g. openai, anthropic, aws.bedrock, gcp.gemini";
    GEN_AI_REQUEST_MODEL = "gen_ai.request.model", "otel-genai", "string", "model named in the request";
    GEN_AI_RESPONSE_MODEL = "gen_ai.response.model", "otel-genai", "string", "model that answered, as the provider reports it";
    GEN_AI_RESPONSE_ID = "gen_ai.response.id", "otel-genai", "string", "provider's id of the completion";
    GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons", "otel-genai", "string[]", "why generation stopped, one per choice";
    GEN_AI_REQUEST_STREAM = "gen_ai.request.stream", "otel-genai", "bool", "true when the response was requested as a stream";
    GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk", "otel-genai", "double", "seconds from request to the first response body chunk (streams)";
    GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id", "otel-genai", "string", "conversation (session) id";
    GEN_AI_OUTPUT_TYPE = "gen_ai.output.type", "otel-genai", "string", "requested output type: text, json, image, speech";
    GEN_AI_WORKFLOW_NAME = "gen_ai.workflow.name", "otel-genai", "string", "name of the workflow a span belongs to";
    GEN_AI_AGENT_NAME = "gen_ai.agent.name", "otel-genai", "string", "agent name";
    GEN_AI_TOOL_NAME = "gen_ai.tool.name", "otel-genai", "string", "tool name, on #[workflow(kind = \"tool\")] / WorkflowKind::Tool spans (the workflow name)";
    GEN_AI_TOOL_TYPE = "gen_ai.tool.type", "otel-genai", "string", "tool type: function (a Rust function or block the application runs)";
    GEN_AI_AGENT_DESCRIPTION = "gen_ai.agent.description", "otel-genai", "string", "agent role or task";
    GEN_AI_DATA_SOURCE_ID = "gen_ai.data_source.id", "otel-genai", "string", "retrieval data source (vector collection)";

    GEN_AI_PROMPT_NAME = "gen_ai.prompt.name", "otel-genai", "string", "name of the prompt template (prompt_template!(name = ..) / PromptTemplate::name)";
    GEN_AI_PROMPT_VERSION = "gen_ai.prompt.version", "otel-genai", "string", "version of the prompt template";
    GEN_AI_PROMPT_VARIABLE = "gen_ai.prompt.variable", "otel-genai", "string", "prefix: gen_ai.prompt.variable.{key} holds one template variable as a string (opt-in: written when content capture is on)";

    // ---- OpenTelemetry GenAI: request parameters ----
    GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens", "otel-genai", "int", "maximum tokens requested";
    GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature", "otel-genai", "double", "sampling temperature";
    GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p", "otel-genai", "double", "nucleus sampling";
    GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k", "otel-genai", "double", "top-k sampling (also the rerank/retrieval top-k)";
    GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty", "otel-genai", "double", "frequency penalty";
    GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty", "otel-genai", "double", "presence penalty";
    GEN_AI_REQUEST_SEED = "gen_ai.request.seed", "otel-genai", "int", "sampling seed";
    GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences", "otel-genai", "string[]", "stop sequences";
    GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count", "otel-genai", "int", "number of choices requested, when not 1";
    GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats", "otel-genai", "string[]", "embedding encoding formats";
    GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count", "otel-genai", "int", "embedding dimensions requested";

    // ---- OpenTelemetry GenAI: usage ----
    GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens", "otel-genai", "int", "input tokens, cached read and write included";
    GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens", "otel-genai", "int", "output tokens, reasoning included";
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens", "otel-genai", "int", "input tokens served from the provider's cache";
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens", "otel-genai", "int", "input tokens written to the provider's cache";
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens", "otel-genai", "int", "output tokens spent on reasoning";
    GEN_AI_USAGE_TOTAL_TOKENS = "gen_ai.usage.total_tokens", "extension", "int", "input plus output tokens (OpenLLMetry/LangSmith extension)";
    GEN_AI_USAGE_COST = "gen_ai.usage.cost", "extension", "double", "total cost in USD (OpenLIT/Langfuse extension)";
    GEN_AI_USAGE_TEXT_INPUT_TOKENS = "gen_ai.usage.text.input_tokens", "otel-genai", "int", "text input tokens, when the provider breaks usage down by modality (a subset of input_tokens)";
    GEN_AI_USAGE_IMAGE_INPUT_TOKENS = "gen_ai.usage.image.input_tokens", "otel-genai", "int", "image input tokens, when the provider reports them";
    GEN_AI_USAGE_AUDIO_INPUT_TOKENS = "gen_ai.usage.audio.input_tokens", "otel-genai", "int", "audio input tokens, when the provider reports them";
    GEN_AI_USAGE_TEXT_OUTPUT_TOKENS = "gen_ai.usage.text.output_tokens", "otel-genai", "int", "text output tokens, when the provider breaks usage down by modality (a subset of output_tokens)";
    GEN_AI_USAGE_IMAGE_OUTPUT_TOKENS = "gen_ai.usage.image.output_tokens", "otel-genai", "int", "image output tokens, when the provider reports them";
    GEN_AI_USAGE_AUDIO_OUTPUT_TOKENS = "gen_ai.usage.audio.output_tokens", "otel-genai", "int", "audio output tokens, when the provider reports them";
    GEN_AI_TOKEN_TYPE = "gen_ai.token.type", "otel-genai", "string", "metric attribute of gen_ai.client.token.usage (previous conventions): input or output";
    GEN_AI_TOKEN_MODALITY = "gen_ai.token.modality", "otel-genai", "string", "metric attribute of the gen_ai.client.inference.usage.* counters: text, image, audio or unknown";

    // ---- OpenTelemetry GenAI: content (opt-in) ----
    GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages", "otel-genai", "string", "request messages as JSON (opt-in content capture)";
    GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages", "otel-genai", "string", "response messages as JSON (opt-in content capture)";
    GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions", "otel-genai", "string", "system prompt as JSON (opt-in content capture)";
    GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions", "otel-genai", "string", "tool definitions as JSON (opt-in content capture)";

    // ---- OpenAI-specific (semconv openai registry) ----
    OPENAI_API_TYPE = "openai.api.type", "otel-genai", "string", "chat_completions or responses";
    OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier", "otel-genai", "string", "service tier requested";
    OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier", "otel-genai", "string", "service tier that served the request";

    // ---- server / HTTP / errors ----
    SERVER_ADDRESS = "server.address", "otel", "string", "host the request went to";
    SERVER_PORT = "server.port", "otel", "int", "port the request went to";
    ERROR_TYPE = "error.type", "otel", "string", "provider error code as each provider documents it (OpenAI error.code, else error.type; Anthropic error.type; Gemini error.status), else the HTTP status, or a transport error class";
    HTTP_REQUEST_METHOD = "http.request.method", "otel", "string", "HTTP method";
    HTTP_RESPONSE_STATUS_CODE = "http.response.status_code", "otel", "int", "HTTP status code";
    HTTP_ROUTE = "http.route", "otel", "string", "matched route template";
    URL_PATH = "url.path", "otel", "string", "request path";
    URL_FULL = "url.full", "otel", "string", "request URL with credentials and query removed";
    OTEL_NAME = "otel.name", "tracing-opentelemetry", "string", "span name override read by tracing-opentelemetry";
    OTEL_KIND = "otel.kind", "tracing-opentelemetry", "string", "span kind read by tracing-opentelemetry";
    OTEL_STATUS_CODE = "otel.status_code", "tracing-opentelemetry", "string", "span status read by tracing-opentelemetry (ok, error)";
    EVENT_LEVEL = "level", "tracing-opentelemetry", "string", "span event: the tracing level of the event";
    EVENT_TARGET = "target", "tracing-opentelemetry", "string", "span event: the tracing target (module) that logged the event";
    OTEL_STATUS_DESCRIPTION = "otel.status_description", "tracing-opentelemetry", "string", "span status message: on a failed LLM call the provider's error.message (bounded), else what failed in words";
    EXCEPTION_MESSAGE = "exception.message", "otel", "string", "error or panic message (bounded)";

    // ---- OpenInference ----
    OPENINFERENCE_SPAN_KIND = "openinference.span.kind", "openinference", "string", "LLM, EMBEDDING, CHAIN, RETRIEVER, RERANKER, TOOL, AGENT, GUARDRAIL";
    LLM_PROVIDER = "llm.provider", "openinference", "string", "hosting provider (openai, azure, google, aws, ...)";
    LLM_SYSTEM = "llm.system", "openinference", "string", "model family vendor (openai, anthropic, vertexai, ...)";
    LLM_MODEL_NAME = "llm.model_name", "openinference", "string", "response model if known, else request model";
    LLM_INVOCATION_PARAMETERS = "llm.invocation_parameters", "openinference", "string", "request parameters as a JSON object";
    LLM_TOKEN_COUNT_PROMPT = "llm.token_count.prompt", "openinference", "int", "prompt tokens (cache included)";
    LLM_TOKEN_COUNT_COMPLETION = "llm.token_count.completion", "openinference", "int", "completion tokens (reasoning included)";
    LLM_TOKEN_COUNT_TOTAL = "llm.token_count.total", "openinference", "int", "prompt plus completion tokens";
    LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ = "llm.token_count.prompt_details.cache_read", "openinference", "int", "prompt tokens read from cache";
    LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE = "llm.token_count.prompt_details.cache_write", "openinference", "int", "prompt tokens written to cache";
    LLM_TOKEN_COUNT_PROMPT_DETAILS_AUDIO = "llm.token_count.prompt_details.audio", "openinference", "int", "prompt audio tokens, when the provider reports them";
    LLM_TOKEN_COUNT_COMPLETION_DETAILS_AUDIO = "llm.token_count.completion_details.audio", "openinference", "int", "completion audio tokens, when the provider reports them";
    LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING = "llm.token_count.completion_details.reasoning", "openinference", "int", "completion tokens spent reasoning";
    LLM_COST_PROMPT = "llm.cost.prompt", "openinference", "double", "USD for all prompt tokens";
    LLM_COST_COMPLETION = "llm.cost.completion", "openinference", "double", "USD for all completion tokens";
    LLM_COST_TOTAL = "llm.cost.total", "openinference", "double", "USD total";
    LLM_COST_PROMPT_DETAILS_INPUT = "llm.cost.prompt_details.input", "openinference", "double", "USD for uncached prompt tokens";
    LLM_COST_PROMPT_DETAILS_CACHE_READ = "llm.cost.prompt_details.cache_read", "openinference", "double", "USD for cache reads";
    LLM_COST_PROMPT_DETAILS_CACHE_WRITE = "llm.cost.prompt_details.cache_write", "openinference", "double", "USD for cache writes";
    LLM_COST_COMPLETION_DETAILS_OUTPUT = "llm.cost.completion_details.output", "openinference", "double", "USD for non-reasoning output";
    LLM_COST_COMPLETION_DETAILS_REASONING = "llm.cost.completion_details.reasoning", "openinference", "double", "USD for reasoning output";
    LLM_FINISH_REASON = "llm.finish_reason", "openinference", "string", "first finish reason";
    LLM_PROMPT_TEMPLATE_TEMPLATE = "llm.prompt_template.template", "openinference", "string", "prompt template text";
    LLM_PROMPT_TEMPLATE_VERSION = "llm.prompt_template.version", "openinference", "string", "prompt template version";
    LLM_PROMPT_TEMPLATE_VARIABLES = "llm.prompt_template.variables", "openinference", "string", "template variables as a JSON object";
    EMBEDDING_MODEL_NAME = "embedding.model_name", "openinference", "string", "embedding model";
    SESSION_ID = "session.id", "openinference", "string", "session id";
    USER_ID = "user.id", "openinference", "string", "user id";
    METADATA = "metadata", "openinference", "string", "free-form metadata as a JSON object";
    TAG_TAGS = "tag.tags", "openinference", "string[]", "tags";
    INPUT_VALUE = "input.value", "openinference", "string", "input (opt-in content capture)";
    INPUT_MIME_TYPE = "input.mime_type", "openinference", "string", "text/plain or application/json";
    OUTPUT_VALUE = "output.value", "openinference", "string", "output (opt-in content capture)";
    OUTPUT_MIME_TYPE = "output.mime_type", "openinference", "string", "text/plain or application/json";
    AGENT_NAME = "agent.name", "openinference", "string", "agent name";

    // ---- cost (the seed's names) ----
    COST_TOTAL_USD = "cost.total_usd", "tokentrace", "double", "total cost in USD";
    COST_INPUT_COST_USD = "cost.input_cost_usd", "tokentrace", "double", "input cost in USD (uncached, cache read and cache write)";
    COST_OUTPUT_COST_USD = "cost.output_cost_usd", "tokentrace", "double", "output cost in USD (reasoning included)";
    COST_CACHE_READ_COST_USD = "cost.cache_read_cost_usd", "tokentrace", "double", "part of the input cost for cache reads";
    COST_CACHE_WRITE_COST_USD = "cost.cache_write_cost_usd", "tokentrace", "double", "part of the input cost for cache writes";
    COST_REASONING_COST_USD = "cost.reasoning_cost_usd", "tokentrace", "double", "part of the output cost for reasoning";
    COST_MODEL_NAME = "cost.model_name", "tokentrace", "string", "price-catalogue entry the cost was computed from";
    COST_PROMPT_TOKENS = "cost.prompt_tokens", "tokentrace", "int", "input tokens the cost used";
    COST_COMPLETION_TOKENS = "cost.completion_tokens", "tokentrace", "int", "output tokens the cost used";
    COST_TOTAL_TOKENS = "cost.total_tokens", "tokentrace", "int", "tokens the cost used";
    COST_SOURCE = "cost.source", "tokentrace", "string", "catalogue, provider (reported by the provider) or override";
    COST_UNKNOWN_MODEL = "cost.unknown_model", "tokentrace", "bool", "true when no price was found: no cost is reported";

    // ---- vector databases ----
    DB_SYSTEM_NAME = "db.system.name", "otel-db", "string", "pinecone, qdrant, weaviate, chroma, milvus";
    DB_OPERATION_NAME = "db.operation.name", "otel-db", "string", "query, upsert, fetch, delete, ...";
    DB_COLLECTION_NAME = "db.collection.name", "otel-db", "string", "index, collection or class";
    DB_NAMESPACE = "db.namespace", "otel-db", "string", "namespace within the collection";
    DB_RESPONSE_RETURNED_ROWS = "db.response.returned_rows", "otel-db", "int", "matches returned";
    DB_OPERATION_BATCH_SIZE = "db.operation.batch.size", "otel-db", "int", "records written in one call";
    DB_VECTOR_QUERY_TOP_K = "db.vector.query.top_k", "openllmetry", "int", "top-k requested";
    DB_VECTOR_QUERY_RESULT_COUNT = "db.vector.query.result_count", "openllmetry", "int", "matches returned";
    PINECONE_USAGE_READ_UNITS = "pinecone.usage.read_units", "openllmetry", "int", "Pinecone read units";
    PINECONE_USAGE_WRITE_UNITS = "pinecone.usage.write_units", "openllmetry", "int", "Pinecone write units (upserted records)";
    QDRANT_TIME_SECONDS = "qdrant.time_seconds", "tokentrace", "double", "server-side time Qdrant reports";
    MILVUS_COST = "milvus.cost", "tokentrace", "double", "Zilliz compute cost units reported";
    COHERE_SEARCH_UNITS = "cohere.billed_units.search_units", "tokentrace", "int", "Cohere rerank search units";

    // ---- tokentrace's own ----
    TOKENTRACE_SPAN_TYPE = "tokentrace.span.type", "tokentrace", "string", "workflow, llm, vector, http, framework (another library's GenAI span over a tokentrace LLM span: not a call of its own)";
    TOKENTRACE_SPAN_SOURCE = "tokentrace.span.source", "tokentrace", "string", "foreign: an LLM span another library (rig, genai) opened, priced by EnrichLayer";
    TOKENTRACE_FRAMEWORK_USAGE_INPUT_TOKENS = "tokentrace.framework.usage.input_tokens", "tokentrace", "string", "a framework span's gen_ai.usage.input_tokens, moved so that backends summing gen_ai.usage.* count the call once (every gen_ai.usage.* key moves the same way)";
    TOKENTRACE_CONTENT_REDACTED = "tokentrace.content.redacted", "tokentrace", "bool", "on a span event from another crate: text that may hold a prompt or body was cut (content capture off)";
    TOKENTRACE_WORKFLOW_KIND = "tokentrace.workflow.kind", "tokentrace", "string", "agent, tool, retriever, ... (a workflow kind other than the default chain; openinference.span.kind always holds the kind)";
    TOKENTRACE_AGENT_ROLE = "tokentrace.agent.role", "tokentrace", "string", "agent role given to #[workflow(agent_role = ..)]";
    TOKENTRACE_AGENT_TASK = "tokentrace.agent.task", "tokentrace", "string", "agent task given to #[workflow(task = ..)]";
    TOKENTRACE_AUTO_ROOT = "tokentrace.auto_root", "tokentrace", "bool", "true on an auto.workflow root opened for an orphan LLM call";
    TOKENTRACE_STREAM_INCOMPLETE = "tokentrace.stream.incomplete", "tokentrace", "bool", "true when the body was dropped or failed before its end";
    TOKENTRACE_STREAM_EVENTS = "tokentrace.stream.events", "tokentrace", "int", "stream events (SSE events, NDJSON lines, frames) seen";
    TOKENTRACE_STREAM_USAGE_INJECTED = "tokentrace.stream.usage_injected", "tokentrace", "bool", "true when stream_options.include_usage was added to the request";
    TOKENTRACE_PARSE_ERROR = "tokentrace.parse_error", "tokentrace", "string", "why the response could not be fully parsed";
    TOKENTRACE_USAGE_MISSING = "tokentrace.usage.missing", "tokentrace", "string", "why an LLM call has no token usage (so no cost): not_requested (an OpenAI-style stream sent without stream_options.include_usage; turn on inject_stream_usage), cut_short (the body ended before usage arrived), not_sent (the response was read whole and held none)";
    TOKENTRACE_RESPONSE_UNPARSED = "tokentrace.response.unparsed", "tokentrace", "string", "why the response body was not parsed although it was read: a content-encoding tokentrace cannot decode (content-encoding: br) or a compressed body that failed to decode; never set for a body cut short";
    TOKENTRACE_RESPONSE_BYTES = "tokentrace.response.bytes", "tokentrace", "int", "response body bytes read by the application";
    TOKENTRACE_CONTENT_TRUNCATED = "tokentrace.content.truncated", "tokentrace", "bool", "true when captured content was cut to its bound";
    TOKENTRACE_DROPPED_VALUES = "tokentrace.dropped_values", "tokentrace", "int", "header or metadata values dropped for breaking bounds";
    TOKENTRACE_CLIENT_DISCONNECTED = "tokentrace.client_disconnected", "tokentrace", "bool", "true when the client went away before the response body ended";
    TOKENTRACE_FUNCTION_ARGS = "tokentrace.function.args", "tokentrace", "string", "captured workflow arguments (opt-in, bounded)";
    TOKENTRACE_FUNCTION_RESULT = "tokentrace.function.result", "tokentrace", "string", "captured workflow result (opt-in, bounded)";
    PERFORMANCE_LATENCY_MS = "performance.latency_ms", "tokentrace", "double", "span duration in milliseconds";

    // ---- roll-ups on workflow and root spans ----
    ROLLUP_INPUT_TOKENS = "tokentrace.rollup.input_tokens", "tokentrace", "int", "sum of input tokens of LLM calls beneath";
    ROLLUP_OUTPUT_TOKENS = "tokentrace.rollup.output_tokens", "tokentrace", "int", "sum of output tokens of LLM calls beneath";
    ROLLUP_CACHE_READ_TOKENS = "tokentrace.rollup.cache_read_tokens", "tokentrace", "int", "sum of cache-read tokens beneath";
    ROLLUP_CACHE_WRITE_TOKENS = "tokentrace.rollup.cache_write_tokens", "tokentrace", "int", "sum of cache-write tokens beneath";
    ROLLUP_REASONING_TOKENS = "tokentrace.rollup.reasoning_tokens", "tokentrace", "int", "sum of reasoning tokens beneath";
    ROLLUP_TOTAL_TOKENS = "tokentrace.rollup.total_tokens", "tokentrace", "int", "sum of total tokens beneath";
    ROLLUP_COST_USD = "tokentrace.rollup.cost_usd", "tokentrace", "double", "sum of cost in USD beneath";
    ROLLUP_LLM_CALLS = "tokentrace.rollup.llm_calls", "tokentrace", "int", "LLM calls beneath";
    ROLLUP_ERRORS = "tokentrace.rollup.errors", "tokentrace", "int", "failed LLM calls beneath";

    // ---- budgets (docs/budgets.md) ----
    TOKENTRACE_BUDGET_OUTCOME = "tokentrace.budget.outcome", "tokentrace", "string", "reserved, refused, warned, unavailable (store unreachable, failed open) or unavailable_refused";
    TOKENTRACE_BUDGET_LIMIT = "tokentrace.budget.limit", "tokentrace", "string", "name of the limit that refused, warned or crossed a soft threshold";
    TOKENTRACE_BUDGET_SCOPE = "tokentrace.budget.scope", "tokentrace", "string", "the limit's scope (user, session, workflow, api_key, model, global); on the tokentrace.budget.outcomes metric";
    TOKENTRACE_BUDGET_KEY = "tokentrace.budget.key", "tokentrace", "string", "the limit's key, as scope:value (user:u-17, global), bounded";
    TOKENTRACE_BUDGET_LIMIT_USD = "tokentrace.budget.limit_usd", "tokentrace", "double", "the limit in USD";
    TOKENTRACE_BUDGET_SPENT_USD = "tokentrace.budget.spent_usd", "tokentrace", "double", "spent plus reserved in the window before this call";
    TOKENTRACE_BUDGET_ESTIMATE_USD = "tokentrace.budget.estimate_usd", "tokentrace", "double", "the call's estimated maximum cost, reserved before sending";
    TOKENTRACE_BUDGET_THRESHOLD = "tokentrace.budget.threshold", "tokentrace", "double", "soft threshold crossed, as a fraction of the limit";
    // ---- names of the current GenAI conventions (semantic-conventions-genai, gen-ai-dev/1.42.0-dev) and their mirrors ----
    // The export pipeline writes these (see `SemconvMode` in the facade and docs/attributes.md "Convention versions").
    GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens", "otel-genai", "int", "input tokens written to the provider's cache (current name of cache_creation.input_tokens)";
    TOKENTRACE_USAGE_TOTAL_TOKENS = "tokentrace.usage.total_tokens", "tokentrace", "int", "input plus output tokens (gen_ai.usage.total_tokens is not in the spec)";
    RERANKER_TOP_K = "reranker.top_k", "openinference", "int", "documents a rerank call returns (Cohere top_n; not gen_ai.request.top_k)";
    LLM_REQUEST_MODEL_NAME = "llm.request.model_name", "openinference", "string", "model named in the request, when the response names another";
    LLM_RESPONSE_MODEL_NAME = "llm.response.model_name", "openinference", "string", "model that answered, when it differs from the request's";
    LANGFUSE_OBSERVATION_COST_DETAILS = "langfuse.observation.cost_details", "langfuse", "string", "JSON cost breakdown in USD Langfuse reads: input, cache_read_input_tokens, cache_creation_input_tokens, output, output_reasoning_tokens, total";
    LANGFUSE_OBSERVATION_COMPLETION_START_TIME = "langfuse.observation.completion_start_time", "langfuse", "string", "ISO 8601 UTC time of the first response chunk (streams), Langfuse's time to first token";
}

/// Attribute-name prefixes.
pub mod prefixes {
    /// Every OpenTelemetry GenAI usage attribute (`gen_ai.usage.input_tokens`, ...).
    pub const GEN_AI_USAGE: &str = "gen_ai.usage.";
    /// Where a framework span's `gen_ai.usage.*` attributes move
    /// (`tokentrace.framework.usage.input_tokens`, ...).
    pub const FRAMEWORK_USAGE: &str = "tokentrace.framework.usage.";
}

/// Span-name prefixes and templates (see ARCHITECTURE.md "Conventions").
pub mod span_names {
    /// Prefix of `#[workflow]` and `traced_run` spans: `workflow.{name}`.
    pub const WORKFLOW_PREFIX: &str = "workflow.";
    /// Prefix of the root opened for an LLM call with no enclosing span:
    /// `auto.workflow.{provider}`.
    pub const AUTO_WORKFLOW_PREFIX: &str = "auto.workflow.";
}

/// Span event names tokentrace adds (budgets, docs/budgets.md).
pub mod events {
    /// An enforced budget refused the call before it was sent.
    pub const BUDGET_REFUSED: &str = "tokentrace.budget.refused";
    /// A budget in `warn` mode would have refused the call; it was sent.
    pub const BUDGET_WARNING: &str = "tokentrace.budget.warning";
    /// The call's reservation took a limit past one of its soft thresholds.
    pub const BUDGET_SOFT_THRESHOLD: &str = "tokentrace.budget.soft_threshold";
    /// The budget store could not be reached; the configured policy applied.
    pub const BUDGET_UNAVAILABLE: &str = "tokentrace.budget.unavailable";
}

/// Metric instrument names.
///
/// The current names come from semantic-conventions-genai
/// (`docs/gen-ai/client-inference.md`, `gen-ai-token-metrics.md` and the
/// migration guide, `gen-ai-dev/1.42.0-dev`); the previous ones from
/// semantic-conventions v1.41.0 `docs/gen-ai/gen-ai-metrics.md`. Which set is
/// recorded follows [`SemconvMode`].
pub mod metrics {
    /// Previous: histogram of tokens per call, by `gen_ai.token.type` (`{token}`).
    pub const GEN_AI_CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
    /// Histogram of call durations (`s`): previous name for every operation;
    /// current name for operations other than inference (embeddings, rerank).
    pub const GEN_AI_CLIENT_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
    /// Previous: histogram of time to the first response chunk of streams (`s`).
    pub const GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: &str =
        "gen_ai.client.operation.time_to_first_chunk";
    /// Previous: histogram of the time between chunks after the first (`s`).
    pub const GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK: &str =
        "gen_ai.client.operation.time_per_output_chunk";
    /// Current: histogram of inference call durations (`s`).
    pub const GEN_AI_CLIENT_INFERENCE_DURATION: &str = "gen_ai.client.inference.duration";
    /// Current: histogram of time to the first response chunk of streams (`s`).
    pub const GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK: &str =
        "gen_ai.client.inference.time_to_first_chunk";
    /// Current: histogram, one point per chunk after the first, of the time
    /// since the previous chunk (`s`).
    pub const GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK: &str =
        "gen_ai.client.inference.time_per_output_chunk";
    /// Current: counter of input tokens (cache included), by `gen_ai.token.modality`.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.input_tokens";
    /// Current: counter of output tokens (reasoning included), by `gen_ai.token.modality`.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.output_tokens";
    /// Current: counter of input tokens read from the provider's cache.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.cache_read.input_tokens";
    /// Current: counter of input tokens written to the provider's cache.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.cache_write.input_tokens";
    /// Current: counter of output tokens spent reasoning.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.reasoning.output_tokens";
    /// Current: histogram of input tokens per call (no modality).
    pub const GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS: &str =
        "gen_ai.client.inference.operation.input_tokens";
    /// Current: histogram of output tokens per call (no modality).
    pub const GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS: &str =
        "gen_ai.client.inference.operation.output_tokens";
    /// Counter of spent USD by provider and model (tokentrace's own).
    pub const TOKENTRACE_COST_USD: &str = "tokentrace.cost.usd";
    /// Counter of budget decisions, one per limit a call was checked
    /// against, by `tokentrace.budget.limit`, `tokentrace.budget.scope` and
    /// `tokentrace.budget.outcome` (tokentrace's own; `{decision}`).
    pub const TOKENTRACE_BUDGET_OUTCOMES: &str = "tokentrace.budget.outcomes";
    /// Bucket boundaries the spec gives for `gen_ai.client.token.usage`.
    pub const TOKEN_USAGE_BUCKETS: &[f64] = &[
        1.0,
        4.0,
        16.0,
        64.0,
        256.0,
        1024.0,
        4096.0,
        16384.0,
        65536.0,
        262_144.0,
        1_048_576.0,
        4_194_304.0,
        16_777_216.0,
        67_108_864.0,
    ];
    /// Bucket boundaries the spec gives for duration histograms (seconds).
    pub const DURATION_BUCKETS: &[f64] = &[
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ];
}

/// Well-known attribute values.
pub mod values {
    /// `openinference.span.kind` for LLM inference spans.
    pub const SPAN_KIND_LLM: &str = "LLM";
    /// `openinference.span.kind` for embedding spans.
    pub const SPAN_KIND_EMBEDDING: &str = "EMBEDDING";
    /// `openinference.span.kind` for workflow and request spans.
    pub const SPAN_KIND_CHAIN: &str = "CHAIN";
    /// `openinference.span.kind` for vector retrieval spans.
    pub const SPAN_KIND_RETRIEVER: &str = "RETRIEVER";
    /// `openinference.span.kind` for rerank spans.
    pub const SPAN_KIND_RERANKER: &str = "RERANKER";
    /// `openinference.span.kind` for tool spans.
    pub const SPAN_KIND_TOOL: &str = "TOOL";
    /// `openinference.span.kind` for agent spans.
    pub const SPAN_KIND_AGENT: &str = "AGENT";
    /// `openinference.span.kind` for guardrail spans.
    pub const SPAN_KIND_GUARDRAIL: &str = "GUARDRAIL";
    /// `tokentrace.span.type` of workflow spans (inbound requests, `#[workflow]`, `traced_run`, auto roots).
    pub const SPAN_TYPE_WORKFLOW: &str = "workflow";
    /// `tokentrace.span.type` of LLM spans.
    pub const SPAN_TYPE_LLM: &str = "llm";
    /// `tokentrace.span.type` of vector-database spans.
    pub const SPAN_TYPE_VECTOR: &str = "vector";
    /// `tokentrace.span.type` of plain HTTP client spans.
    pub const SPAN_TYPE_HTTP: &str = "http";
    /// `tokentrace.span.type` of another library's GenAI span (rig, genai)
    /// with a tokentrace LLM span beneath: it describes calls counted there.
    pub const SPAN_TYPE_FRAMEWORK: &str = "framework";
    /// `tokentrace.span.source` of a GenAI span another library opened.
    pub const SPAN_SOURCE_FOREIGN: &str = "foreign";
    /// `gen_ai.operation.name` of workflow spans.
    pub const OPERATION_INVOKE_WORKFLOW: &str = "invoke_workflow";
    /// `gen_ai.operation.name` of agent workflow spans (`kind = "agent"`).
    pub const OPERATION_INVOKE_AGENT: &str = "invoke_agent";
    /// `gen_ai.operation.name` of tool workflow spans (`kind = "tool"`).
    pub const OPERATION_EXECUTE_TOOL: &str = "execute_tool";
    /// `gen_ai.tool.type` of tool workflow spans.
    pub const TOOL_TYPE_FUNCTION: &str = "function";
    /// `gen_ai.token.modality`: text tokens.
    pub const MODALITY_TEXT: &str = "text";
    /// `gen_ai.token.modality`: image tokens.
    pub const MODALITY_IMAGE: &str = "image";
    /// `gen_ai.token.modality`: audio tokens.
    pub const MODALITY_AUDIO: &str = "audio";
    /// `gen_ai.token.modality`: tokens the provider did not break down.
    pub const MODALITY_UNKNOWN: &str = "unknown";
    /// `error.type` when the body ended before the provider finished.
    pub const ERROR_STREAM_INCOMPLETE: &str = "stream_incomplete";
    /// `tokentrace.usage.missing`: an OpenAI-style stream was requested
    /// without `stream_options.include_usage`, and no usage came.
    pub const USAGE_MISSING_NOT_REQUESTED: &str = "not_requested";
    /// `tokentrace.usage.missing`: the body ended before usage arrived.
    pub const USAGE_MISSING_CUT_SHORT: &str = "cut_short";
    /// `tokentrace.usage.missing`: the response was read whole and held no usage.
    pub const USAGE_MISSING_NOT_SENT: &str = "not_sent";
    /// `error.type` fallback.
    pub const ERROR_OTHER: &str = "_OTHER";
    /// The nine standard HTTP methods (RFC 9110 and PATCH), for
    /// `http.request.method` values that need no copy.
    pub const HTTP_METHODS: [&str; 9] = [
        "POST", "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];

    /// `method` as a `'static` string when it is a standard HTTP method
    /// (case-sensitive, as `http.request.method` is recorded as sent).
    pub fn standard_method(method: &str) -> Option<&'static str> {
        HTTP_METHODS.iter().copied().find(|m| *m == method)
    }
    /// `cost.source` when the cost came from the price catalogue.
    pub const COST_SOURCE_CATALOGUE: &str = "catalogue";
    /// `cost.source` when the provider reported the cost (OpenRouter).
    pub const COST_SOURCE_PROVIDER: &str = "provider";
    /// `cost.source` when a user price file supplied the price.
    pub const COST_SOURCE_OVERRIDE: &str = "override";
}

/// `OTEL_SEMCONV_STABILITY_OPT_IN` value for the current GenAI names only.
pub const OPT_IN_LATEST: &str = "gen_ai_latest_experimental";
/// `OTEL_SEMCONV_STABILITY_OPT_IN` value emitting the current and the previous names.
pub const OPT_IN_DUP: &str = "gen_ai_latest_experimental/dup";

/// Which GenAI convention names exported spans and recorded metrics carry.
///
/// Set with `Telemetry::semconv` or `OTEL_SEMCONV_STABILITY_OPT_IN`
/// (`gen_ai_latest_experimental` → `Latest`, `gen_ai_latest_experimental/dup`
/// → `Duplicate`). The default is `Latest`: tokentrace has emitted the v1.37+
/// GenAI names from its first release, and the OpenInference keys Phoenix and
/// Langfuse read do not change, so the current names break no reader that
/// tokentrace's previous output served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SemconvMode {
    /// The current names (semantic-conventions-genai, `gen-ai-dev/1.42.0-dev`).
    #[default]
    Latest,
    /// The current names and the previous ones side by side (for readers
    /// pinned to v1.41.0 names during a migration).
    Duplicate,
    /// The names tokentrace emitted before (v1.41.0): `cache_creation`,
    /// `top_k` as a double, `gen_ai.usage.total_tokens`/`cost`,
    /// `gen_ai.client.token.usage` and `gen_ai.client.operation.*` metrics.
    Legacy,
}

impl SemconvMode {
    /// The mode an `OTEL_SEMCONV_STABILITY_OPT_IN` value (a comma-separated
    /// list) asks for; `None` when it names no GenAI option (`/dup` wins).
    pub fn from_opt_in(value: &str) -> Option<Self> {
        let items: Vec<&str> = value.split(',').map(str::trim).collect();
        if items.contains(&OPT_IN_DUP) {
            Some(Self::Duplicate)
        } else if items.contains(&OPT_IN_LATEST) {
            Some(Self::Latest)
        } else {
            None
        }
    }

    /// The current names are emitted (`Latest`, `Duplicate`).
    pub fn current(self) -> bool {
        matches!(self, Self::Latest | Self::Duplicate)
    }

    /// The previous names are emitted (`Legacy`, `Duplicate`).
    pub fn previous(self) -> bool {
        matches!(self, Self::Legacy | Self::Duplicate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dotted_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for a in ALL {
            assert!(seen.insert(a.name), "duplicate attribute name {}", a.name);
            assert!(
                a.name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'.'
                    || b == b'_'),
                "{} is not a lowercase dotted name",
                a.name
            );
        }
    }

    #[test]
    fn otel_usage_names_match_the_spec() {
        assert_eq!(GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.input_tokens");
        assert_eq!(
            GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            "gen_ai.usage.cache_read.input_tokens"
        );
        assert_eq!(
            GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            "gen_ai.usage.reasoning.output_tokens"
        );
        assert!(ALL.iter().any(|a| a.name == LLM_PROMPT_TEMPLATE_VARIABLES));
    }
}
