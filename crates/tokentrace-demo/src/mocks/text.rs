//! Deterministic token counts and reply text.

/// Tokens the mocks charge for `text`: its number of whitespace-separated
/// words. Crude, but deterministic, so totals can be checked by hand.
pub fn count_tokens(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Length in tokens (words) of the mocks' reply to a prompt of
/// `input_tokens` tokens, before any `max_tokens` cut: `12 + input_tokens % 29`.
pub fn reply_tokens(input_tokens: u64) -> u64 {
    12 + input_tokens % 29
}

const VOCABULARY: &[&str] = &[
    "the",
    "answer",
    "depends",
    "on",
    "your",
    "plan",
    "and",
    "region",
    "we",
    "recommend",
    "checking",
    "billing",
    "settings",
    "first",
    "then",
    "retry",
    "request",
    "with",
    "a",
    "smaller",
    "batch",
    "latency",
    "stays",
    "low",
    "when",
    "cache",
    "is",
    "warm",
    "tokens",
    "cost",
    "less",
    "this",
    "week",
    "support",
    "team",
    "can",
    "help",
    "further",
    "today",
];

/// FNV-1a, for picking words and vectors deterministically.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `n` reply words derived from the prompt (its own words first, then the
/// vocabulary), so the reply reads as related to the question.
pub(crate) fn reply_words(prompt: &str, n: u64) -> Vec<String> {
    let prompt_words: Vec<&str> = prompt
        .split_whitespace()
        .filter(|w| w.len() > 3 && w.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect();
    let mut h = hash(prompt.as_bytes());
    (0..n)
        .map(|i| {
            h = h.rotate_left(7) ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let pick = usize::try_from(h % 1024).unwrap_or(0);
            if i % 3 == 1 && !prompt_words.is_empty() {
                prompt_words[pick % prompt_words.len()].to_ascii_lowercase()
            } else {
                VOCABULARY[pick % VOCABULARY.len()].to_owned()
            }
        })
        .collect()
}

/// Split words into stream chunks of one to three words, the way text
/// deltas arrive: `["The answer", " depends", " on your plan", …]`.
pub(crate) fn chunks(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let take = 1 + (i % 3).min(words.len() - i - 1);
        let mut chunk = String::new();
        for (j, w) in words[i..i + take].iter().enumerate() {
            if i + j > 0 {
                chunk.push(' ');
            }
            chunk.push_str(w);
        }
        out.push(chunk);
        i += take;
    }
    out
}

/// A float vector of `dims` values in `[-0.1, 0.1)` derived from `text`.
pub(crate) fn embedding(text: &str, dims: usize) -> Vec<f32> {
    let mut h = hash(text.as_bytes());
    (0..dims)
        .map(|_| {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            // 16 bits of the state mapped onto [-0.1, 0.1).
            f32::from(u16::try_from(h >> 48).unwrap_or(0)) / 327_680.0 - 0.1
        })
        .collect()
}

/// The text of an OpenAI/Anthropic message `content` (a string, or an array
/// of parts with `text`).
pub(crate) fn content_text(content: &serde_json::Value) -> String {
    match content {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(serde_json::Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words() {
        assert_eq!(count_tokens("  What is   my bill? "), 4);
        assert_eq!(count_tokens(""), 0);
    }

    #[test]
    fn replies_are_deterministic_and_sized() {
        let a = reply_words("Why is my invoice higher this month", 14);
        assert_eq!(a, reply_words("Why is my invoice higher this month", 14));
        assert_eq!(a.len(), 14);
        assert_ne!(a, reply_words("Something else entirely", 14));
        let c = chunks(&a);
        assert_eq!(count_tokens(&c.concat()), 14);
        assert!(c[1].starts_with(' '));
    }

    #[test]
    fn embeddings_are_bounded() {
        let v = embedding("hello", 64);
        assert_eq!(v.len(), 64);
        assert!(v.iter().all(|x| (-0.1..0.1).contains(x)));
        assert_ne!(v, embedding("world", 64));
    }
}
