//! Per-modality usage (`gen_ai.usage.{text,image,audio}.*`): OpenAI's
//! `*_tokens_details` and Gemini's `*TokensDetails` arrays.

use tokentrace_core::parse::parse_body;
use tokentrace_core::{BodyFormat, Flavor, ModalityUsage, Provider};

/// An audio chat completion as gpt-4o-audio-preview reports it (constructed:
/// no recording has non-zero audio counts).
#[test]
fn openai_chat_audio_and_text_details() {
    let body = br#"{"id":"chatcmpl-1","model":"gpt-4o-audio-preview-2025-06-03","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":null}}],
      "usage":{"prompt_tokens":120,"completion_tokens":260,"total_tokens":380,
        "prompt_tokens_details":{"cached_tokens":0,"audio_tokens":100,"text_tokens":20,"image_tokens":0},
        "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":240,"text_tokens":20}}}"#;
    let info = parse_body(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Json, body);
    assert_eq!(info.usage.input_tokens, Some(120));
    assert_eq!(info.usage.output_tokens, Some(260));
    assert_eq!(
        info.modalities,
        ModalityUsage {
            text_input_tokens: Some(20),
            image_input_tokens: None, // reported as 0: not written
            audio_input_tokens: Some(100),
            text_output_tokens: Some(20),
            image_output_tokens: None,
            audio_output_tokens: Some(240),
        }
    );
}

/// The same in a stream's final usage chunk.
#[test]
fn openai_stream_usage_chunk_carries_audio_counts() {
    let body = b"data: {\"id\":\"c\",\"model\":\"gpt-4o-audio-preview\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-4o-audio-preview\",\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":30,\"total_tokens\":80,\"prompt_tokens_details\":{\"audio_tokens\":45},\"completion_tokens_details\":{\"audio_tokens\":25}}}\n\n\
data: [DONE]\n\n";
    let info = parse_body(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Sse, body);
    assert_eq!(info.usage.input_tokens, Some(50));
    assert_eq!(info.modalities.audio_input_tokens, Some(45));
    assert_eq!(info.modalities.audio_output_tokens, Some(25));
    assert_eq!(info.modalities.text_input_tokens, None);
}

/// Recordings whose details are all zero (`audio_tokens: 0`) report nothing.
#[test]
fn zero_audio_counts_in_recordings_are_not_reported() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/azure/test_chat_1.json"
    );
    let body = std::fs::read(path).unwrap();
    let info = parse_body(
        Provider::AzureOpenAi,
        Flavor::OpenAiChat,
        BodyFormat::Json,
        &body,
    );
    assert!(info.usage.input_tokens.is_some(), "{info:?}");
    assert!(info.modalities.is_empty(), "{:?}", info.modalities);
}

/// The Gemini recording with video input: TEXT and AUDIO counted, VIDEO not.
#[test]
fn gemini_video_recording_reports_text_and_audio_input() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gemini/test_google_model_mobile_youtube_video_url_input.json"
    );
    let body = std::fs::read(path).unwrap();
    let info = parse_body(Provider::Gemini, Flavor::Gemini, BodyFormat::Json, &body);
    assert_eq!(info.modalities.text_input_tokens, Some(16));
    assert_eq!(info.modalities.audio_input_tokens, Some(1917));
    assert_eq!(info.modalities.image_input_tokens, None);
    assert_eq!(info.usage.input_tokens, Some(17713));
}

/// Gemini: modality arrays for the prompt and the candidates; VIDEO and
/// DOCUMENT have no GenAI modality.
#[test]
fn gemini_token_details_by_modality() {
    let body = br#"{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":1300,"candidatesTokenCount":40,"totalTokenCount":1340,
        "promptTokensDetails":[{"modality":"TEXT","tokenCount":12},{"modality":"IMAGE","tokenCount":258},{"modality":"VIDEO","tokenCount":1000},{"modality":"AUDIO","tokenCount":30}],
        "candidatesTokensDetails":[{"modality":"TEXT","tokenCount":40}]},
      "modelVersion":"gemini-2.5-flash"}"#;
    let info = parse_body(Provider::Gemini, Flavor::Gemini, BodyFormat::Json, body);
    assert_eq!(info.usage.input_tokens, Some(1300));
    assert_eq!(
        info.modalities,
        ModalityUsage {
            text_input_tokens: Some(12),
            image_input_tokens: Some(258),
            audio_input_tokens: Some(30),
            text_output_tokens: Some(40),
            image_output_tokens: None,
            audio_output_tokens: None,
        }
    );
}
