//! Server-sent events framing (<https://html.spec.whatwg.org/multipage/server-sent-events.html>).
//!
//! Lines end in CR, LF or CRLF (a CR at a chunk's end waits for the next
//! chunk's first byte); `field: value` with one optional space after the
//! colon; lines starting with `:` are comments; a blank line dispatches the
//! event. An event's data (its lines joined with `\n`, as the spec says) is
//! held up to [`EVENT_BUFFER`] bytes so the sink's prefilter can skip events
//! that cannot change the result (most stream chunks) with a SIMD substring
//! search instead of a JSON walk; an event larger than that streams straight
//! into the JSON scanner, so memory stays bounded whatever the event size.

use crate::json::scan::{Scanner, Sink};

const DONE: &[u8] = b"[DONE]";
/// Largest event data held for the prefilter; larger events are scanned as they stream.
pub(crate) const EVENT_BUFFER: usize = 16 * 1024;
const MAX_FIELD: usize = 8;
const MAX_EVENT_NAME: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At the start of a line.
    Start,
    /// Reading a field name.
    Field,
    /// Just after `data:`; a single space may follow.
    DataSpace,
    /// Reading a `data` value.
    Data,
    /// Just after `event:`.
    EventSpace,
    /// Reading an `event` value.
    Event,
    /// A comment, an unknown field, or a field we ignore: skip to the line's end.
    Skip,
}

/// The SSE framer. Reports each dispatched event to the sink via [`SseSink`].
#[derive(Debug)]
pub(crate) struct SseFramer {
    line: Line,
    after_cr: bool,
    field: [u8; MAX_FIELD],
    field_len: usize,
    field_long: bool,
    event_name: Vec<u8>,
    has_data: bool,
    data_lines: u32,
    /// The current event's data while it fits in `limit`.
    buf: Vec<u8>,
    limit: usize,
    /// The event outgrew `buf`: its data goes straight to the scanner.
    streaming: bool,
    /// Parse the next dispatched event even if the prefilter would skip it.
    force: bool,
}

/// Callbacks the framer needs beyond the scanner's document sink.
pub(crate) trait SseSink: Sink {
    /// An `event:` name is known for the event being read (before its data, usually).
    fn event_name(&mut self, name: &[u8]);
    /// An event was dispatched. `done` is true for `data: [DONE]`; `incomplete`
    /// when its data did not hold one whole JSON value.
    fn event_end(&mut self, done: bool, incomplete: bool);
    /// Can this event's data (complete, at most [`EVENT_BUFFER`] bytes) change
    /// the result? `false` lets the framer skip parsing it.
    fn interesting(&mut self, data: &[u8]) -> bool;
}

impl SseFramer {
    /// A framer holding at most `limit` bytes of an event (tests use tiny limits).
    pub(crate) fn with_limit(limit: usize) -> Self {
        Self {
            line: Line::Start,
            after_cr: false,
            field: [0; MAX_FIELD],
            field_len: 0,
            field_long: false,
            event_name: Vec::new(),
            has_data: false,
            data_lines: 0,
            buf: Vec::new(),
            limit,
            streaming: false,
            force: false,
        }
    }

    /// Heap bytes held.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.event_name.capacity() + self.buf.capacity()
    }

    /// Feed bytes.
    pub(crate) fn push<S: SseSink>(&mut self, chunk: &[u8], scanner: &mut Scanner, sink: &mut S) {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    i += 1;
                    continue;
                }
            }
            match self.line {
                Line::Data => {
                    let rest = &chunk[i..];
                    let Some(end) = memchr::memchr2(b'\r', b'\n', rest) else {
                        self.data_bytes(rest, scanner, sink);
                        return;
                    };
                    let line = &rest[..end];
                    if self.data_lines == 1
                        && self.buf.is_empty()
                        && !self.streaming
                        && line.len() <= self.limit
                        && rest[end] == b'\n'
                        && rest.get(end + 1) == Some(&b'\n')
                    {
                        // A one-line event whole in this chunk (the usual
                        // case): judged and parsed where it lies, not copied.
                        self.line = Line::Start;
                        self.end_event(line, scanner, sink);
                        i += end + 2;
                        continue;
                    }
                    self.data_bytes(line, scanner, sink);
                    i += end;
                    self.after_cr = chunk[i] == b'\r';
                    self.line_end(scanner, sink);
                    i += 1;
                    continue;
                }
                Line::Skip => {
                    let rest = &chunk[i..];
                    match memchr::memchr2(b'\r', b'\n', rest) {
                        Some(end) => i += end,
                        None => return,
                    }
                    self.after_cr = chunk[i] == b'\r';
                    self.line_end(scanner, sink);
                    i += 1;
                    continue;
                }
                _ => {}
            }
            if b == b'\r' || b == b'\n' {
                self.line_end(scanner, sink);
                self.after_cr = b == b'\r';
                i += 1;
                continue;
            }
            match self.line {
                // Whole field names at once when the chunk holds them (most events).
                Line::Start if chunk[i..].starts_with(b"data:") => {
                    self.line = self.after_field(Some(b"data"));
                    i += 5;
                    continue;
                }
                Line::Start if chunk[i..].starts_with(b"event:") => {
                    self.line = self.after_field(Some(b"event"));
                    i += 6;
                    continue;
                }
                Line::Start => {
                    if b == b':' {
                        self.line = Line::Skip;
                    } else {
                        self.line = Line::Field;
                        self.field_len = 0;
                        self.field_long = false;
                        self.field_byte(b);
                    }
                }
                Line::Field => {
                    if b == b':' {
                        let (field, len) = (self.field, self.field_len);
                        let name = (!self.field_long).then_some(&field[..len]);
                        self.line = self.after_field(name);
                    } else {
                        self.field_byte(b);
                    }
                }
                Line::DataSpace => {
                    self.start_data_line(scanner, sink);
                    self.line = Line::Data;
                    if b != b' ' {
                        // The value starts here: read it in the `Data` state.
                        continue;
                    }
                }
                Line::EventSpace => {
                    self.line = Line::Event;
                    if b != b' ' {
                        self.event_byte(b);
                    }
                }
                Line::Event => self.event_byte(b),
                Line::Data | Line::Skip => {}
            }
            i += 1;
        }
    }

    /// The body ended: dispatch an event that lacked its final blank line.
    pub(crate) fn finish<S: SseSink>(&mut self, scanner: &mut Scanner, sink: &mut S) {
        if self.line != Line::Start {
            self.line_end(scanner, sink);
        }
        if self.has_data {
            // The body ended inside this event: parse it whatever the
            // prefilter says, so a cut-short event is reported as such.
            self.force = true;
            self.dispatch(scanner, sink);
        }
    }

    fn field_byte(&mut self, b: u8) {
        if self.field_len < MAX_FIELD {
            self.field[self.field_len] = b;
            self.field_len += 1;
        } else {
            self.field_long = true;
        }
    }

    /// The state after a field name (`None`: too long to be one we read)
    /// and its colon.
    fn after_field(&mut self, name: Option<&[u8]>) -> Line {
        match name {
            Some(b"data") => Line::DataSpace,
            Some(b"event") => {
                self.event_name.clear();
                Line::EventSpace
            }
            _ => Line::Skip,
        }
    }

    fn field_name(&self) -> Option<&[u8]> {
        (!self.field_long).then(|| &self.field[..self.field_len])
    }

    fn event_byte(&mut self, b: u8) {
        if self.event_name.len() < MAX_EVENT_NAME {
            self.event_name.push(b);
        }
    }

    fn start_data_line<S: SseSink>(&mut self, scanner: &mut Scanner, sink: &mut S) {
        if self.data_lines > 0 {
            // Lines of one event's data are joined with LF (whitespace to JSON).
            self.data_bytes(b"\n", scanner, sink);
        }
        self.data_lines += 1;
        self.has_data = true;
    }

    fn data_bytes<S: SseSink>(&mut self, bytes: &[u8], scanner: &mut Scanner, sink: &mut S) {
        if bytes.is_empty() {
            return;
        }
        if self.streaming {
            scanner.push(bytes, sink);
        } else if self.buf.len() + bytes.len() <= self.limit {
            self.buf.extend_from_slice(bytes);
        } else {
            // Too big to hold: parse it as it streams (it cannot be `[DONE]`).
            self.streaming = true;
            scanner.push(&self.buf, sink);
            self.buf.clear();
            scanner.push(bytes, sink);
        }
    }

    fn line_end<S: SseSink>(&mut self, scanner: &mut Scanner, sink: &mut S) {
        match self.line {
            Line::Start => {
                // Blank line: dispatch.
                if self.has_data {
                    self.dispatch(scanner, sink);
                } else {
                    self.event_name.clear();
                }
            }
            Line::Field => {
                // A field with no colon has an empty value.
                if self.field_name() == Some(b"data") {
                    self.start_data_line(scanner, sink);
                }
            }
            Line::DataSpace => self.start_data_line(scanner, sink),
            Line::Event | Line::EventSpace => {
                if !self.event_name.is_empty() {
                    let name = std::mem::take(&mut self.event_name);
                    sink.event_name(&name);
                    self.event_name = name;
                }
            }
            Line::Data | Line::Skip => {}
        }
        self.line = Line::Start;
    }

    fn dispatch<S: SseSink>(&mut self, scanner: &mut Scanner, sink: &mut S) {
        let buf = std::mem::take(&mut self.buf);
        self.end_event(&buf, scanner, sink);
        self.buf = buf;
        if self.buf.capacity() > self.limit {
            self.buf = Vec::new();
        }
        self.buf.clear();
    }

    /// The event whose held data is `data` (empty when it streamed) ended.
    fn end_event<S: SseSink>(&mut self, data: &[u8], scanner: &mut Scanner, sink: &mut S) {
        let mut done = false;
        if !self.streaming {
            if data == DONE {
                done = true;
            } else if std::mem::take(&mut self.force) || sink.interesting(data) {
                scanner.push(data, sink);
            }
        }
        let incomplete = !done && !scanner.idle();
        if incomplete {
            scanner.flush_partial(sink);
        }
        scanner.reset();
        sink.event_end(done, incomplete);
        self.has_data = false;
        self.data_lines = 0;
        self.streaming = false;
        self.event_name.clear();
    }
}
