//! Stream timing handed from the HTTP instrumentation to the metrics.
//!
//! `gen_ai.client.inference.time_per_output_chunk` takes one point per chunk
//! after the first. The middleware measures the gaps while the body streams
//! and leaves them in the LLM span's extensions (a `tracing_subscriber`
//! registry) as a [`ChunkGaps`]; `EnrichLayer` records them when the span
//! closes, with the span's final attributes (the response model among them).

/// At most this many gaps are kept per call (32 KiB); later chunks of a
/// longer stream are not timed.
pub const MAX_CHUNK_GAPS: usize = 8192;

/// Seconds from the end of one body chunk to the end of the next, for every
/// chunk after the first of a streamed response, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkGaps {
    gaps: Vec<f32>,
}

impl ChunkGaps {
    /// Adds one gap; ignored past [`MAX_CHUNK_GAPS`] or when not a finite,
    /// non-negative number of seconds.
    pub fn push(&mut self, seconds: f64) {
        if self.gaps.len() < MAX_CHUNK_GAPS && seconds.is_finite() && seconds >= 0.0 {
            if self.gaps.capacity() == 0 {
                // A stream has tens of chunks at least: skip the small growth steps.
                self.gaps.reserve_exact(64.min(MAX_CHUNK_GAPS));
            }
            self.gaps.push(seconds as f32);
        }
    }

    /// The gaps, in order.
    pub fn as_slice(&self) -> &[f32] {
        &self.gaps
    }

    /// No gap was measured (fewer than two chunks).
    pub fn is_empty(&self) -> bool {
        self.gaps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_finite_gaps_up_to_the_bound() {
        let mut g = ChunkGaps::default();
        g.push(0.5);
        g.push(f64::NAN);
        g.push(-1.0);
        assert_eq!(g.as_slice(), &[0.5]);
        for _ in 0..MAX_CHUNK_GAPS + 10 {
            g.push(0.01);
        }
        assert_eq!(g.as_slice().len(), MAX_CHUNK_GAPS);
    }
}
