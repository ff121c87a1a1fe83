//! [`WorkflowKind`]: what a workflow does, and the names it maps to.

use std::fmt;
use std::str::FromStr;

/// What a workflow does, mapped to `openinference.span.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WorkflowKind {
    /// A sequence of steps (`CHAIN`).
    #[default]
    Chain,
    /// An agent (`AGENT`).
    Agent,
    /// A tool call (`TOOL`).
    Tool,
    /// A retrieval step (`RETRIEVER`).
    Retriever,
    /// An embedding step (`EMBEDDING`).
    Embedding,
    /// A reranking step (`RERANKER`).
    Reranker,
    /// A model call wrapped by hand (`LLM`).
    Llm,
    /// A guardrail check (`GUARDRAIL`).
    Guardrail,
}

impl WorkflowKind {
    /// The lowercase name (`chain`, `agent`, ...), as `tokentrace.workflow.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chain => "chain",
            Self::Agent => "agent",
            Self::Tool => "tool",
            Self::Retriever => "retriever",
            Self::Embedding => "embedding",
            Self::Reranker => "reranker",
            Self::Llm => "llm",
            Self::Guardrail => "guardrail",
        }
    }

    /// `gen_ai.operation.name` of a workflow of this kind: `invoke_agent`
    /// for agents, `execute_tool` for tools, `invoke_workflow` otherwise.
    pub fn operation_name(self) -> &'static str {
        use tokentrace_core::semconv::values;
        match self {
            Self::Agent => values::OPERATION_INVOKE_AGENT,
            Self::Tool => values::OPERATION_EXECUTE_TOOL,
            _ => values::OPERATION_INVOKE_WORKFLOW,
        }
    }

    /// The OpenInference span kind
    /// (<https://github.com/Arize-ai/openinference/blob/main/spec/semantic_conventions.md>).
    pub fn openinference_kind(self) -> &'static str {
        use tokentrace_core::semconv::values;
        match self {
            Self::Chain => values::SPAN_KIND_CHAIN,
            Self::Agent => values::SPAN_KIND_AGENT,
            Self::Tool => values::SPAN_KIND_TOOL,
            Self::Retriever => values::SPAN_KIND_RETRIEVER,
            Self::Embedding => values::SPAN_KIND_EMBEDDING,
            Self::Reranker => values::SPAN_KIND_RERANKER,
            Self::Llm => values::SPAN_KIND_LLM,
            Self::Guardrail => values::SPAN_KIND_GUARDRAIL,
        }
    }
}

impl fmt::Display for WorkflowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`WorkflowKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workflow kind `{0}`")]
pub struct UnknownWorkflowKind(String);

impl FromStr for WorkflowKind {
    type Err = UnknownWorkflowKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Chain,
            Self::Agent,
            Self::Tool,
            Self::Retriever,
            Self::Embedding,
            Self::Reranker,
            Self::Llm,
            Self::Guardrail,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| UnknownWorkflowKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for k in [
            "chain",
            "agent",
            "tool",
            "retriever",
            "embedding",
            "reranker",
            "llm",
            "guardrail",
        ] {
            assert_eq!(k.parse::<WorkflowKind>().unwrap().as_str(), k);
        }
        assert!("wizard".parse::<WorkflowKind>().is_err());
        assert_eq!(WorkflowKind::Retriever.openinference_kind(), "RETRIEVER");
    }
}
