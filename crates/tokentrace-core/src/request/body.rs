//! The request body as one typed union of every provider's fields, read in
//! one pass (everything else is skipped by serde without being built).

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::lenient::{Count, Obj, Scalar, StrList};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Body {
    pub(crate) model: Scalar,
    pub(crate) stream: Scalar,
    pub(crate) stream_options: Obj<StreamOptions>,
    pub(crate) max_tokens: Scalar,
    pub(crate) max_completion_tokens: Scalar,
    pub(crate) max_output_tokens: Scalar,
    pub(crate) max_gen_len: Scalar,
    pub(crate) temperature: Scalar,
    pub(crate) top_p: Scalar,
    pub(crate) top_k: Scalar,
    pub(crate) p: Scalar,
    pub(crate) k: Scalar,
    pub(crate) top_n: Scalar,
    pub(crate) frequency_penalty: Scalar,
    pub(crate) presence_penalty: Scalar,
    pub(crate) seed: Scalar,
    pub(crate) stop: StrList,
    pub(crate) stop_sequences: StrList,
    pub(crate) n: Scalar,
    pub(crate) service_tier: Scalar,
    pub(crate) encoding_format: Scalar,
    pub(crate) embedding_types: StrList,
    pub(crate) dimensions: Scalar,
    pub(crate) output_dimension: Scalar,
    #[serde(rename = "outputDimensionality")]
    pub(crate) output_dimensionality: Scalar,
    #[serde(rename = "generationConfig")]
    pub(crate) generation_config: Obj<GenerationConfig>,
    #[serde(rename = "inferenceConfig")]
    pub(crate) inference_config: Obj<InferenceConfig>,
    pub(crate) options: Obj<OllamaOptions>,
    pub(crate) messages: Option<IgnoredAny>,
    pub(crate) prompt: Option<IgnoredAny>,
    #[serde(rename = "topK")]
    pub(crate) top_k_camel: Scalar,
    pub(crate) limit: Scalar,
    pub(crate) n_results: Scalar,
    #[serde(rename = "collectionName")]
    pub(crate) collection_name: Scalar,
    pub(crate) class: Scalar,
    pub(crate) query: Scalar,
    pub(crate) namespace: Scalar,
    pub(crate) vectors: Count,
    pub(crate) points: Count,
    pub(crate) batch: Obj<QdrantBatch>,
    pub(crate) objects: Count,
    pub(crate) ids: Count,
    pub(crate) data: Count,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StreamOptions {
    pub(crate) include_usage: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct GenerationConfig {
    pub(crate) max_output_tokens: Scalar,
    pub(crate) temperature: Scalar,
    pub(crate) top_p: Scalar,
    pub(crate) top_k: Scalar,
    pub(crate) candidate_count: Scalar,
    pub(crate) stop_sequences: StrList,
    pub(crate) seed: Scalar,
    pub(crate) presence_penalty: Scalar,
    pub(crate) frequency_penalty: Scalar,
}

/// Bedrock Converse `inferenceConfig` (camelCase) and Nova InvokeModel's (snake_case).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InferenceConfig {
    #[serde(rename = "maxTokens")]
    pub(crate) max_tokens: Scalar,
    pub(crate) max_new_tokens: Scalar,
    pub(crate) temperature: Scalar,
    #[serde(rename = "topP")]
    pub(crate) top_p: Scalar,
    #[serde(rename = "top_p")]
    pub(crate) top_p_snake: Scalar,
    pub(crate) top_k: Scalar,
    #[serde(rename = "stopSequences")]
    pub(crate) stop_sequences: StrList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OllamaOptions {
    pub(crate) num_predict: Scalar,
    pub(crate) temperature: Scalar,
    pub(crate) top_p: Scalar,
    pub(crate) top_k: Scalar,
    pub(crate) seed: Scalar,
    pub(crate) stop: StrList,
    pub(crate) frequency_penalty: Scalar,
    pub(crate) presence_penalty: Scalar,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct QdrantBatch {
    pub(crate) ids: Count,
}
