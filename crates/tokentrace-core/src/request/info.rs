//! [`RequestInfo`]: what a request body says.

/// What the request body says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestInfo {
    /// `model` from the body (absent for Gemini, Vertex and Bedrock, whose model is in the URL).
    pub model: Option<String>,
    /// `stream` from the body. Ollama's native API streams unless told not to,
    /// so for [`Flavor::Ollama`](crate::Flavor::Ollama) chat/generate bodies an absent flag reads as `true`.
    pub stream: Option<bool>,
    /// `stream_options.include_usage` (OpenAI-style streaming usage opt-in).
    pub include_usage: Option<bool>,
    /// `max_tokens` | `max_completion_tokens` | `max_output_tokens` |
    /// `generationConfig.maxOutputTokens` | `inferenceConfig.maxTokens` |
    /// `inferenceConfig.max_new_tokens` | `options.num_predict` | `max_gen_len`.
    pub max_tokens: Option<u64>,
    /// `temperature` (top level, `generationConfig`, `inferenceConfig` or `options`).
    pub temperature: Option<f64>,
    /// `top_p` | `topP` (nested) | Cohere `p`.
    pub top_p: Option<f64>,
    /// Sampling `top_k` | `topK` (in `generationConfig`) | Cohere `k`; Cohere rerank `top_n`.
    pub top_k: Option<f64>,
    /// `frequency_penalty` | `frequencyPenalty`.
    pub frequency_penalty: Option<f64>,
    /// `presence_penalty` | `presencePenalty`.
    pub presence_penalty: Option<f64>,
    /// `seed`.
    pub seed: Option<i64>,
    /// `stop` (string or list) | `stop_sequences` | `stopSequences` | `options.stop`
    /// (at most 32 kept; not otherwise bounded).
    pub stop_sequences: Vec<String>,
    /// `n` | `generationConfig.candidateCount`.
    pub choice_count: Option<u64>,
    /// `service_tier` (OpenAI, Anthropic).
    pub service_tier: Option<String>,
    /// `encoding_format` (OpenAI) | `embedding_types` (Cohere).
    pub encoding_formats: Vec<String>,
    /// Requested embedding dimensions: `dimensions` | `output_dimension` | `outputDimensionality`.
    pub dimensions: Option<u64>,
    /// Vector query result count: Pinecone `topK`, Qdrant and Milvus `limit`, Chroma `n_results`.
    pub vector_top_k: Option<u64>,
    /// Collection named in the body: Milvus `collectionName`, Weaviate `class`
    /// or the class queried by a GraphQL `Get`/`Aggregate`.
    pub collection: Option<String>,
    /// Pinecone `namespace`.
    pub namespace: Option<String>,
    /// Records the body carries: Pinecone `vectors`, Qdrant `points` (or
    /// `batch.ids`), Weaviate `objects`, Chroma `ids`, Milvus `data`. Record it
    /// as the batch size of write operations.
    pub batch_size: Option<u64>,
}
