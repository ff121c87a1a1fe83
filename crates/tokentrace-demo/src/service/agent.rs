//! The `/chat` handler and its workflow steps.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;

use super::error::AgentError;
use super::providers;
use super::{AppState, Backend, ChatRequest, ChatResponse};

/// The system prompt (long enough to be worth caching).
const SYSTEM: &str = "You are the support assistant of Acme Cloud, a hosting platform for web \
    applications. Answer the customer's question using only the knowledge-base passages you are \
    given. Be concise and friendly, cite the passage ids you used in square brackets, and say so \
    plainly when the passages do not contain the answer instead of guessing. Never ask for \
    passwords or API keys and never repeat secrets the customer pastes by mistake.";

/// The answer prompt; `{context}` and `{question}` are filled per request.
const ANSWER_TEMPLATE: &str =
    "Knowledge base:\n{context}\n\nCustomer question: {question}\n\nAnswer:";

/// The summary prompt.
const SUMMARY_TEMPLATE: &str =
    "Summarise this support answer in one sentence for the ticket log: {answer}";

/// `POST /chat`.
pub(crate) async fn chat(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Json(req): Json<ChatRequest>,
) -> Result<Json<ChatResponse>, AgentError> {
    let user = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous");
    let backend = match req.provider.as_deref() {
        Some("anthropic") => Backend::Anthropic,
        Some("openai") => Backend::OpenAi,
        _ if state.config.anthropic_users.iter().any(|u| u == user) => Backend::Anthropic,
        _ => Backend::OpenAi,
    };
    // Every span of this request (and the trace root) gets these.
    let plan = if user.len() % 2 == 0 {
        "business"
    } else {
        "starter"
    };
    let _meta = tokentrace::metadata!(
        tags = ["support", "agent-service"],
        channel = "web",
        plan = plan
    );
    answer(&state, backend, &req.message).await.map(Json)
}

/// The agent: retrieve, generate, summarise.
#[tokentrace::workflow(name = "answer", kind = "agent")]
async fn answer(
    state: &AppState,
    backend: Backend,
    question: &str,
) -> Result<ChatResponse, AgentError> {
    let passages = retrieve(state, question).await?;
    let (answer, model) = generate(state, backend, question, &passages).await?;
    let summary = summarise(state, &answer).await?;
    Ok(ChatResponse {
        answer,
        summary,
        provider: backend.provider().to_string(),
        model,
        sources: passages.into_iter().map(|(id, _)| id).collect(),
        trace_id: tokentrace::current_workflow().map(|w| w.trace_id),
    })
}

/// Embeds the question and queries the knowledge base.
#[tokentrace::workflow(name = "retrieve", kind = "retriever")]
async fn retrieve(state: &AppState, question: &str) -> Result<Vec<(String, String)>, AgentError> {
    let vector = providers::embed(state, question).await?;
    providers::pinecone_query(state, &vector, 3).await
}

/// Generates the answer from the passages.
#[tokentrace::workflow(name = "generate")]
async fn generate(
    state: &AppState,
    backend: Backend,
    question: &str,
    passages: &[(String, String)],
) -> Result<(String, String), AgentError> {
    let context: String = passages
        .iter()
        .map(|(id, text)| format!("[{id}] {text}\n"))
        .collect();
    let _template = tokentrace::prompt_template!(
        ANSWER_TEMPLATE,
        version = "3",
        context = context.as_str(),
        question = question
    );
    let prompt = ANSWER_TEMPLATE
        .replace("{context}", &context)
        .replace("{question}", question);
    match backend {
        Backend::OpenAi => providers::openai_chat_stream(state, SYSTEM, &prompt).await,
        Backend::Anthropic => providers::anthropic_stream(state, SYSTEM, &prompt).await,
    }
}

/// A one-line summary for the ticket log.
#[tokentrace::workflow(name = "summarise")]
async fn summarise(state: &AppState, answer: &str) -> Result<String, AgentError> {
    let _template = tokentrace::prompt_template!(SUMMARY_TEMPLATE, version = "1", answer = answer);
    let prompt = SUMMARY_TEMPLATE.replace("{answer}", answer);
    providers::gemini_generate(state, &prompt).await
}
