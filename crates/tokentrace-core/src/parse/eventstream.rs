//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as Bedrock
//! ConverseStream and InvokeModelWithResponseStream send it.
//!
//! A message is: total length (u32 BE), headers length (u32 BE), CRC32 of
//! those 8 bytes, headers, payload, CRC32 of everything before it
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/RESTSelectObjectAppendix.html>
//! describes the same framing). Headers are `name_len:u8 name type:u8 value`;
//! we keep the string headers `:event-type`, `:message-type` and
//! `:exception-type`. The payload streams into the JSON scanner unbuffered;
//! only the 12-byte prelude and the headers (bounded) are held.

use crate::json::scan::{Scanner, Sink};

/// Largest headers block accepted; Bedrock's are under 100 bytes.
const MAX_HEADERS: usize = 16 * 1024;
/// Smallest legal message: prelude (12) + message CRC (4).
const MIN_MESSAGE: u32 = 16;

/// The string headers that matter to usage parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FrameHeaders {
    pub(crate) event_type: Option<String>,
    pub(crate) message_type: Option<String>,
    pub(crate) exception_type: Option<String>,
}

/// Callbacks the framer needs beyond the scanner's document sink.
pub(crate) trait FrameSink: Sink {
    /// A frame's headers were read; its payload follows.
    fn frame_start(&mut self, headers: &FrameHeaders);
    /// A frame ended. `incomplete` when its payload was not one whole JSON value.
    fn frame_end(&mut self, incomplete: bool);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Prelude,
    Headers,
    Payload,
    Crc,
    Broken,
}

/// The framer.
#[derive(Debug)]
pub(crate) struct EventStreamFramer {
    st: St,
    buf: Vec<u8>,
    need: usize,
    total: u32,
    headers_len: u32,
    payload_left: usize,
    crc: Crc32,
    error: Option<&'static str>,
}

impl EventStreamFramer {
    pub(crate) fn new() -> Self {
        Self {
            st: St::Prelude,
            buf: Vec::with_capacity(64),
            need: 12,
            total: 0,
            headers_len: 0,
            payload_left: 0,
            crc: Crc32::new(),
            error: None,
        }
    }

    /// The first framing error, if any.
    pub(crate) fn error(&self) -> Option<&'static str> {
        self.error
    }

    /// True when the stream ended between frames.
    pub(crate) fn at_boundary(&self) -> bool {
        self.st == St::Prelude && self.buf.is_empty()
    }

    fn fail(&mut self, why: &'static str) {
        self.error.get_or_insert(why);
        self.st = St::Broken;
        self.buf = Vec::new();
    }

    /// Heap bytes held.
    pub(crate) fn retained_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Feed bytes.
    pub(crate) fn push<S: FrameSink>(
        &mut self,
        mut chunk: &[u8],
        scanner: &mut Scanner,
        sink: &mut S,
    ) {
        while !chunk.is_empty() {
            match self.st {
                St::Broken => return,
                St::Payload => {
                    let take = self.payload_left.min(chunk.len());
                    let (now, rest) = chunk.split_at(take);
                    self.crc.update(now);
                    scanner.push(now, sink);
                    self.payload_left -= take;
                    chunk = rest;
                    if self.payload_left == 0 {
                        self.st = St::Crc;
                        self.need = 4;
                    }
                }
                St::Prelude | St::Headers | St::Crc => {
                    let take = (self.need - self.buf.len()).min(chunk.len());
                    self.buf.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    if self.buf.len() == self.need {
                        self.complete_part(scanner, sink);
                    }
                }
            }
        }
    }

    fn complete_part<S: FrameSink>(&mut self, scanner: &mut Scanner, sink: &mut S) {
        let buf = std::mem::take(&mut self.buf);
        match self.st {
            St::Prelude => {
                let total = be32(&buf[0..4]);
                let headers_len = be32(&buf[4..8]);
                let prelude_crc = be32(&buf[8..12]);
                if crc32(&buf[0..8]) != prelude_crc {
                    self.fail("event-stream prelude checksum mismatch");
                    return;
                }
                if total < MIN_MESSAGE
                    || headers_len as usize > MAX_HEADERS
                    || headers_len > total - MIN_MESSAGE
                {
                    self.fail("event-stream frame lengths are inconsistent");
                    return;
                }
                self.total = total;
                self.headers_len = headers_len;
                self.crc = Crc32::new();
                self.crc.update(&buf);
                self.st = St::Headers;
                self.need = headers_len as usize;
                self.buf = buf;
                self.buf.clear();
                if self.need == 0 {
                    self.start_payload(scanner, sink, &[]);
                }
            }
            St::Headers => {
                self.crc.update(&buf);
                self.start_payload(scanner, sink, &buf);
                self.buf = buf;
                self.buf.clear();
            }
            St::Crc => {
                let expected = be32(&buf);
                let incomplete = !scanner.idle();
                if incomplete {
                    scanner.flush_partial(sink);
                }
                scanner.reset();
                if self.crc.finish() != expected {
                    self.fail("event-stream message checksum mismatch");
                    sink.frame_end(true);
                    return;
                }
                sink.frame_end(incomplete);
                self.st = St::Prelude;
                self.need = 12;
                self.buf = buf;
                self.buf.clear();
            }
            St::Payload | St::Broken => {}
        }
    }

    fn start_payload<S: FrameSink>(&mut self, scanner: &mut Scanner, sink: &mut S, headers: &[u8]) {
        let Some(h) = parse_headers(headers) else {
            self.fail("event-stream headers are malformed");
            return;
        };
        scanner.reset();
        sink.frame_start(&h);
        // total = 12 prelude + headers + payload + 4 crc; checked in the prelude.
        self.payload_left = (self.total - self.headers_len - MIN_MESSAGE) as usize;
        if self.payload_left == 0 {
            self.st = St::Crc;
            self.need = 4;
        } else {
            self.st = St::Payload;
        }
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn parse_headers(mut b: &[u8]) -> Option<FrameHeaders> {
    let mut h = FrameHeaders::default();
    while !b.is_empty() {
        let name_len = usize::from(*b.first()?);
        let name = b.get(1..1 + name_len)?;
        let ty = *b.get(1 + name_len)?;
        b = &b[2 + name_len..];
        let value_len = match ty {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 => 4,
            5 | 8 => 8,
            9 => 16,
            6 | 7 => {
                let len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
                b = &b[2..];
                len
            }
            _ => return None,
        };
        let value = b.get(..value_len)?;
        if ty == 7 {
            let text = String::from_utf8_lossy(value).into_owned();
            match name {
                b":event-type" => h.event_type = Some(text),
                b":message-type" => h.message_type = Some(text),
                b":exception-type" => h.exception_type = Some(text),
                _ => {}
            }
        }
        b = &b[value_len..];
    }
    Some(h)
}

/// CRC-32 (IEEE 802.3, reflected, as zlib), table-driven.
#[derive(Debug, Clone, Copy)]
struct Crc32(u32);

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

impl Crc32 {
    fn new() -> Self {
        Self(0xFFFF_FFFF)
    }

    fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    fn finish(self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

/// Encode one event-stream message (tests and the demo's mock Bedrock use it).
pub fn encode_message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut hb = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        let value = &value.as_bytes()[..value.len().min(u16::MAX as usize)];
        hb.push(name.len() as u8);
        hb.extend_from_slice(name);
        hb.push(7);
        hb.extend_from_slice(&(value.len() as u16).to_be_bytes());
        hb.extend_from_slice(value);
    }
    let total = (12 + hb.len() + payload.len() + 4) as u32;
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(hb.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&hb);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn encoded_headers_parse_back() {
        let msg = encode_message(
            &[(":event-type", "metadata"), (":message-type", "event")],
            b"{}",
        );
        let hlen = be32(&msg[4..8]) as usize;
        let h = parse_headers(&msg[12..12 + hlen]).unwrap();
        assert_eq!(h.event_type.as_deref(), Some("metadata"));
        assert_eq!(h.message_type.as_deref(), Some("event"));
    }
}
