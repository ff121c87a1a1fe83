//! NDJSON framing: one JSON value per line (Ollama's native streams).
//!
//! A line is held while it fits in the event limit, so the flavour's
//! prefilter can skip it unparsed (see `sse.rs` for the same rule); a longer
//! line streams straight into the scanner. Blank lines are not events.

use crate::json::scan::{Scanner, Sink};

/// Where an [`NdjsonFramer`] reports lines.
pub(crate) trait NdjsonSink: Sink {
    /// Can this complete line change the result? Lines that cannot are skipped.
    fn interesting(&mut self, line: &[u8]) -> bool;
    /// A line that is not blank ended (or the body ended inside one).
    fn line_seen(&mut self);
    /// The line just ended did not hold one whole JSON value.
    fn malformed(&mut self);
}

/// Cuts a body into lines and hands each to the scanner.
#[derive(Debug)]
pub(crate) struct NdjsonFramer {
    /// The current line held nothing but whitespace so far.
    line_blank: bool,
    /// The current line while it fits in `limit`.
    line: Vec<u8>,
    /// The current line outgrew `line`: it streams into the scanner.
    line_streaming: bool,
    limit: usize,
}

impl NdjsonFramer {
    /// A framer that holds at most `limit` bytes of a line for the prefilter.
    pub(crate) fn with_limit(limit: usize) -> Self {
        Self {
            line_blank: true,
            line: Vec::new(),
            line_streaming: false,
            limit,
        }
    }

    /// Heap bytes held.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.line.capacity()
    }

    /// Feed the next chunk of the body.
    pub(crate) fn push(&mut self, chunk: &[u8], scanner: &mut Scanner, sink: &mut impl NdjsonSink) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest);
            let seg = &rest[..end.unwrap_or(rest.len())];
            if self.line_blank && seg.iter().any(|b| !b.is_ascii_whitespace()) {
                self.line_blank = false;
            }
            if self.line_streaming {
                scanner.push(seg, sink);
            } else if self.line.len() + seg.len() <= self.limit {
                self.line.extend_from_slice(seg);
            } else {
                self.line_streaming = true;
                scanner.push(&self.line, sink);
                self.line.clear();
                scanner.push(seg, sink);
            }
            let Some(end) = end else { break };
            if !self.line_blank {
                sink.line_seen();
                if !self.line_streaming && sink.interesting(&self.line) {
                    scanner.push(&self.line, sink);
                }
                if !scanner.idle() {
                    // A line that is not one whole JSON value: drop it, keep going.
                    sink.malformed();
                    scanner.flush_partial(sink);
                }
            }
            scanner.reset();
            self.line_blank = true;
            self.line_streaming = false;
            if self.line.capacity() > self.limit {
                self.line = Vec::new();
            }
            self.line.clear();
            rest = &rest[end + 1..];
        }
    }

    /// The body ended. False when it ended inside a line that is not one
    /// whole JSON value.
    pub(crate) fn finish(&mut self, scanner: &mut Scanner, sink: &mut impl NdjsonSink) -> bool {
        if self.line_blank {
            return true;
        }
        sink.line_seen();
        // The body ended inside this line: parse it regardless of the prefilter.
        if !self.line_streaming {
            scanner.push(&self.line, sink);
        }
        if scanner.idle() {
            return true;
        }
        scanner.flush_partial(sink);
        false
    }
}
