//! Reading a compressed response body for parsing only.
//!
//! A client that sends `Accept-Encoding` itself (or a reqwest built without
//! its `gzip`/`deflate` features) gets the body as the server compressed it,
//! with the `Content-Encoding` header in place. The application still gets
//! those bytes untouched; the parser gets a decoded copy, produced chunk by
//! chunk as the body streams. gzip and deflate are decoded (flate2);
//! any other coding (`br`, `zstd`, stacked codings) is recorded as unreadable
//! (`tokentrace.response.unparsed`), never as a body cut short.

use std::io::Write;

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

/// The longest `Content-Encoding` value recorded, in bytes.
const MAX_ENCODING_LEN: usize = 64;

/// What the `Content-Encoding` header asks of the parser.
#[derive(Debug)]
pub(crate) enum Coding {
    /// No coding (absent, empty or `identity`): parse the bytes as they are.
    Identity,
    /// A coding tokentrace decodes before parsing.
    Decode(Box<Inflate>),
    /// A coding tokentrace cannot read: the value of
    /// `tokentrace.response.unparsed` (`content-encoding: br`).
    Unreadable(String),
}

impl Coding {
    /// The coding of a response from its `Content-Encoding` header values.
    pub(crate) fn from_headers<'a>(values: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut codings: Vec<String> = Vec::new();
        for value in values {
            for c in value.split(|b| *b == b',') {
                let c = String::from_utf8_lossy(c).trim().to_ascii_lowercase();
                if !c.is_empty() && c != "identity" {
                    codings.push(c);
                }
            }
        }
        match codings.as_slice() {
            [] => Self::Identity,
            [one] if one == "gzip" || one == "x-gzip" => {
                Self::Decode(Box::new(Inflate::Gzip(GzDecoder::new(Vec::new()))))
            }
            [one] if one == "deflate" => Self::Decode(Box::new(Inflate::Deflate(None))),
            _ => {
                let joined = codings.join(", ");
                let value = tokentrace_core::bound::truncate_utf8(&joined, MAX_ENCODING_LEN);
                Self::Unreadable(format!("content-encoding: {value}"))
            }
        }
    }
}

/// A streaming decoder whose output is handed on chunk by chunk.
///
/// flate2's write-side decoders produce at most one 32 KiB buffer per
/// `write`; draining the output after each one bounds memory whatever the
/// compression ratio.
pub(crate) enum Inflate {
    Gzip(GzDecoder<Vec<u8>>),
    /// HTTP `deflate` is zlib-wrapped (RFC 9110 §8.4.1.2), but servers also
    /// send raw deflate: the first byte decides (`None` until it arrives).
    Deflate(Option<DeflateKind>),
}

pub(crate) enum DeflateKind {
    Zlib(ZlibDecoder<Vec<u8>>),
    Raw(DeflateDecoder<Vec<u8>>),
}

impl std::fmt::Debug for Inflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Gzip(_) => "Inflate::Gzip",
            Self::Deflate(_) => "Inflate::Deflate",
        })
    }
}

impl Inflate {
    /// `tokentrace.response.unparsed` once decoding failed.
    pub(crate) fn failure(&self) -> &'static str {
        match self {
            Self::Gzip(_) => "content-encoding: gzip (not decodable)",
            Self::Deflate(_) => "content-encoding: deflate (not decodable)",
        }
    }

    /// Decode `input`, handing every piece of output to `out`. Returns
    /// `false` when the body cannot be decoded; the caller then drops the decoder.
    pub(crate) fn push(&mut self, mut input: &[u8], out: &mut dyn FnMut(&[u8])) -> bool {
        if let Self::Deflate(None) = self {
            let Some(&first) = input.first() else {
                return true;
            };
            // A zlib header's first byte names method 8 (deflate) in its low nibble.
            *self = Self::Deflate(Some(if first & 0x0f == 8 {
                DeflateKind::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                DeflateKind::Raw(DeflateDecoder::new(Vec::new()))
            }));
        }
        while !input.is_empty() {
            let written = match self {
                Self::Gzip(d) => write_drain(d, input, out),
                Self::Deflate(Some(DeflateKind::Zlib(d))) => write_drain(d, input, out),
                Self::Deflate(Some(DeflateKind::Raw(d))) => write_drain(d, input, out),
                Self::Deflate(None) => return false,
            };
            match written {
                // Trailing bytes after the compressed stream's end are ignored.
                Some(0) => break,
                Some(n) => input = &input[n..],
                None => return false,
            }
        }
        true
    }

    /// The body ended: flush what the decoder holds. Returns `false` when the
    /// compressed stream was not whole.
    pub(crate) fn finish(&mut self, out: &mut dyn FnMut(&[u8])) -> bool {
        match self {
            Self::Gzip(d) => finish_drain(d, out),
            Self::Deflate(Some(DeflateKind::Zlib(d))) => finish_drain(d, out),
            Self::Deflate(Some(DeflateKind::Raw(d))) => finish_drain(d, out),
            Self::Deflate(None) => true,
        }
    }
}

/// The write side of flate2's decoders, over a `Vec` drained after each write.
trait VecDecoder: Write {
    fn output(&mut self) -> &mut Vec<u8>;
    fn finish_stream(&mut self) -> std::io::Result<()>;
}

macro_rules! vec_decoder {
    ($($t:ident),*) => {$(
        impl VecDecoder for $t<Vec<u8>> {
            fn output(&mut self) -> &mut Vec<u8> {
                self.get_mut()
            }
            fn finish_stream(&mut self) -> std::io::Result<()> {
                self.try_finish()
            }
        }
    )*};
}
vec_decoder!(GzDecoder, ZlibDecoder, DeflateDecoder);

fn drain(d: &mut impl VecDecoder, out: &mut dyn FnMut(&[u8])) {
    let buf = d.output();
    if !buf.is_empty() {
        out(buf);
        buf.clear();
    }
}

fn write_drain(d: &mut impl VecDecoder, input: &[u8], out: &mut dyn FnMut(&[u8])) -> Option<usize> {
    let n = d.write(input).ok()?;
    drain(d, out);
    Some(n)
}

fn finish_drain(d: &mut impl VecDecoder, out: &mut dyn FnMut(&[u8])) -> bool {
    let ok = d.finish_stream().is_ok();
    drain(d, out);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn coding(v: &str) -> Coding {
        Coding::from_headers(std::iter::once(v.as_bytes()))
    }

    fn decode_in_pieces(c: Coding, body: &[u8], piece: usize) -> (Vec<u8>, bool) {
        let Coding::Decode(mut d) = c else {
            panic!("not decodable")
        };
        let mut got = Vec::new();
        let mut ok = true;
        for p in body.chunks(piece) {
            ok &= d.push(p, &mut |b| got.extend_from_slice(b));
        }
        ok &= d.finish(&mut |b| got.extend_from_slice(b));
        (got, ok)
    }

    #[test]
    fn codings_are_classified() {
        assert!(matches!(coding("identity"), Coding::Identity));
        assert!(matches!(coding(""), Coding::Identity));
        assert!(matches!(coding("GZIP"), Coding::Decode(_)));
        assert!(matches!(coding("deflate"), Coding::Decode(_)));
        match coding("br") {
            Coding::Unreadable(v) => assert_eq!(v, "content-encoding: br"),
            other => panic!("{other:?}"),
        }
        match coding("gzip, br") {
            Coding::Unreadable(v) => assert_eq!(v, "content-encoding: gzip, br"),
            other => panic!("{other:?}"),
        }
        match coding(&"x".repeat(500)) {
            Coding::Unreadable(v) => assert!(v.len() <= 64 + 18, "{}", v.len()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gzip_decodes_in_any_pieces_with_bounded_output() {
        let plain = b"data: {\"x\":1}\n\n".repeat(10_000);
        let body = gzip(&plain);
        for piece in [1, 7, 4096, body.len()] {
            let (got, ok) = decode_in_pieces(coding("gzip"), &body, piece);
            assert!(ok);
            assert_eq!(got, plain, "piece {piece}");
        }
        // A highly compressible body never hands on more than one buffer at once.
        let Coding::Decode(mut d) = coding("gzip") else {
            panic!()
        };
        let mut largest = 0;
        assert!(d.push(&body, &mut |b| largest = largest.max(b.len())));
        assert!(largest <= 64 * 1024, "{largest}");
    }

    #[test]
    fn deflate_reads_zlib_and_raw() {
        let plain = b"{\"usage\":{\"prompt_tokens\":3}}".repeat(50);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&plain).unwrap();
        let z = z.finish().unwrap();
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        r.write_all(&plain).unwrap();
        let r = r.finish().unwrap();
        for body in [z, r] {
            let (got, ok) = decode_in_pieces(coding("deflate"), &body, 5);
            assert!(ok);
            assert_eq!(got, plain);
        }
    }

    #[test]
    fn garbage_and_truncation_fail() {
        let (_, ok) = decode_in_pieces(coding("gzip"), b"not gzip at all, sorry", 4);
        assert!(!ok);
        let body = gzip(&b"hello world ".repeat(100));
        let (got, ok) = decode_in_pieces(coding("gzip"), &body[..body.len() / 2], 3);
        assert!(!ok, "a truncated stream is not whole");
        assert!(b"hello world ".repeat(100).starts_with(&got));
    }
}
