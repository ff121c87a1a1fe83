//! Usage-extraction throughput: a 1 MB JSON body and a 10,000-event SSE stream.
//!
//! Run with `cargo bench -p tokentrace-core --bench parse`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tokentrace_core::parse::ResponseParser;
use tokentrace_core::{BodyFormat, Flavor, Provider};

/// An embeddings-style body of about 1 MB: mostly numbers, usage at the end.
fn json_body() -> Vec<u8> {
    let mut s = String::from("{\"object\":\"list\",\"data\":[");
    let mut i = 0u64;
    while s.len() < 1_000_000 {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"object\":\"embedding\",\"index\":");
        s.push_str(&i.to_string());
        s.push_str(",\"embedding\":[");
        for j in 0..64u64 {
            if j > 0 {
                s.push(',');
            }
            s.push_str(&format!("{:.8}", ((i * 64 + j) as f64).mul_add(1e-4, -0.5)));
        }
        s.push_str("],\"text\":\"some \\\"quoted\\\" text in the body\"}");
        i += 1;
    }
    s.push_str("],\"model\":\"text-embedding-3-small\",\"usage\":{\"prompt_tokens\":8000,\"total_tokens\":8000}}");
    s.into_bytes()
}

/// 10,000 OpenAI chat chunks and the include_usage chunk.
fn sse_body() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..10_000 {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token {i} \"}},\"finish_reason\":null}}],\"usage\":null}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":10000,\"total_tokens\":10010}}\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let json = json_body();
    let mut g = c.benchmark_group("usage_extraction");
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("json_1mb_64k_chunks", |b| {
        b.iter(|| {
            let mut p =
                ResponseParser::new(Provider::OpenAi, Flavor::OpenAiEmbeddings, BodyFormat::Json);
            for chunk in json.chunks(64 * 1024) {
                p.push(black_box(chunk));
            }
            black_box(p.finish())
        });
    });
    g.bench_function("serde_json_value_1mb_baseline", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(&json)).is_ok()));
    });
    let sse = sse_body();
    g.throughput(Throughput::Bytes(sse.len() as u64));
    g.bench_function("sse_10k_events_1k_chunks", |b| {
        b.iter(|| {
            let mut p = ResponseParser::new(Provider::OpenAi, Flavor::OpenAiChat, BodyFormat::Sse);
            for chunk in sse.chunks(1024) {
                p.push(black_box(chunk));
            }
            black_box(p.finish())
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
