//! A push-based JSON scanner that captures only the values it is asked for.
//!
//! Usage lives in a few small members of a response (`usage`, `model`,
//! `choices[*].finish_reason`, ...), while the body around them can be
//! megabytes of generated text or embeddings. The scanner walks the bytes as
//! they arrive, one state machine step per byte (strings are skipped with
//! `memchr`), tracks the path of the value it is in, and copies out the raw
//! bytes of values whose path matches one of a flavour's [`Pattern`]s. Nothing
//! else is kept, so memory is bounded by the capture limit whatever the body
//! size, and a value split across any number of chunks is captured the same.
//!
//! It accepts a sequence of top-level values (NDJSON, SSE payloads fed one at a
//! time) and, when the first value is an array, treats each element as a
//! document (Gemini streaming without `alt=sse`). It validates structure, not
//! literals or number grammar: it only has to find values, and serde_json
//! validates each captured value when it is decoded.

/// One step of a pattern path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object member with this exact key.
    Key(&'static str),
    /// Any element of an array (the captured value records its position).
    AnyIndex,
    /// Any member of an object.
    AnyKey,
}

/// What to do with a matching value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Keep the raw bytes of the value.
    Capture,
    /// Keep the raw bytes of the value only when it is a string, number or
    /// literal; an object or array there is walked so deeper patterns can match.
    CaptureScalar,
    /// Count the elements of the array (or members of the object); keep nothing.
    Count,
}

/// A path (relative to a document root) whose value a flavour wants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pattern {
    /// Slot number reported with the capture (the flavour's own numbering).
    pub(crate) slot: u8,
    /// The path.
    pub(crate) path: &'static [Seg],
    /// Capture or count.
    pub(crate) mode: Mode,
}

/// A value captured from the current document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capture {
    /// The pattern's slot.
    pub(crate) slot: u8,
    /// The first array position along the path (`choices[2]` → 2), 0 if none.
    pub(crate) position: u32,
    /// Where the raw JSON bytes of the value sit in the document's arena
    /// (empty for [`Mode::Count`]).
    pub(crate) start: usize,
    /// End (exclusive) of the raw bytes in the arena.
    pub(crate) end: usize,
    /// Element count (for [`Mode::Count`]).
    pub(crate) count: u64,
}

/// Limits that keep the scanner's memory bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest captured value kept; larger ones are dropped and flagged.
    pub(crate) max_capture: usize,
    /// Deepest nesting accepted.
    pub(crate) max_depth: usize,
    /// Most captures kept per document.
    pub(crate) max_captures: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_capture: 256 * 1024,
            max_depth: 256,
            max_captures: 256,
        }
    }
}

const MAX_KEY: usize = 64;
/// Deepest pattern path supported.
const MAX_PATH: usize = 8;

/// Pattern lookup tables, built once per pattern table so a value start costs a few
/// mask operations instead of comparing every pattern's key.
#[derive(Debug)]
struct Plan {
    /// First pattern with an empty path (matches a whole document).
    root_full: Option<usize>,
    /// Patterns with a non-empty path.
    root_mask: u64,
    /// Path length of each pattern.
    lens: Vec<usize>,
    /// (depth, key, patterns whose segment at that depth is that key).
    keys: Vec<(usize, &'static [u8], u64)>,
    /// Patterns whose segment at depth d (index d-1) is `AnyIndex` / `AnyKey`.
    any_index: [u64; MAX_PATH],
    any_key: [u64; MAX_PATH],
}

/// Plans already made, by the address of their pattern table. Pattern
/// tables are `'static` (one per flavour), so this holds a few dozen plans
/// at most, each built once per process instead of once per response.
static PLANS: std::sync::Mutex<Vec<(usize, &'static Plan)>> = std::sync::Mutex::new(Vec::new());

impl Plan {
    /// The plan of a `'static` pattern table, built on first use.
    fn cached(patterns: &'static [Pattern]) -> &'static Self {
        let key = patterns.as_ptr() as usize;
        let mut plans = PLANS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, plan)) = plans
            .iter()
            .find(|(k, p)| *k == key && p.lens.len() == patterns.len())
        {
            return plan;
        }
        let plan: &'static Self = Box::leak(Box::new(Self::new(patterns)));
        plans.push((key, plan));
        plan
    }

    fn new(patterns: &'static [Pattern]) -> Self {
        let mut plan = Self {
            root_full: None,
            root_mask: 0,
            lens: patterns.iter().map(|p| p.path.len()).collect(),
            keys: Vec::new(),
            any_index: [0; MAX_PATH],
            any_key: [0; MAX_PATH],
        };
        for (i, p) in patterns.iter().enumerate().take(64) {
            let bit = 1u64 << i;
            if p.path.is_empty() {
                plan.root_full.get_or_insert(i);
                continue;
            }
            if p.path.len() > MAX_PATH {
                continue;
            }
            plan.root_mask |= bit;
            for (d, seg) in p.path.iter().enumerate() {
                match *seg {
                    Seg::Key(k) => {
                        let k = k.as_bytes();
                        match plan
                            .keys
                            .iter_mut()
                            .find(|(dd, kk, _)| *dd == d + 1 && *kk == k)
                        {
                            Some(e) => e.2 |= bit,
                            None => plan.keys.push((d + 1, k, bit)),
                        }
                    }
                    Seg::AnyIndex => plan.any_index[d] |= bit,
                    Seg::AnyKey => plan.any_key[d] |= bit,
                }
            }
        }
        plan
    }

    /// Patterns whose segment at `depth` accepts object member `key`.
    fn key_mask(&self, depth: usize, key: Option<&[u8]>) -> u64 {
        if depth == 0 || depth > MAX_PATH {
            return 0;
        }
        let mut m = self.any_key[depth - 1];
        if let Some(key) = key {
            for (d, k, bits) in &self.keys {
                if *d == depth && k.len() == key.len() && *k == key {
                    m |= bits;
                }
            }
        }
        m
    }

    /// Patterns whose segment at `depth` accepts an array element.
    fn index_mask(&self, depth: usize) -> u64 {
        if depth == 0 || depth > MAX_PATH {
            0
        } else {
            self.any_index[depth - 1]
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Expecting a value (document start, after `:`, after `[` or `,` in an array).
    Value,
    /// Expecting a key or `}` (just after `{`).
    KeyOrEnd,
    /// Expecting a key (after `,` in an object).
    Key,
    /// Inside a key string.
    KeyStr,
    /// Inside a key string, after a backslash.
    KeyEsc,
    /// Expecting `:` after a key.
    Colon,
    /// Expecting `,` or a closer after a value.
    After,
    /// Inside a string value.
    Str,
    /// Inside a string value, after a backslash.
    StrEsc,
    /// Inside a number or literal.
    Atom,
    /// First value of the document, array not yet opened (array-of-documents check).
    Start,
    /// Unrecoverable syntax error: ignore bytes until `reset`.
    Broken,
}

#[derive(Debug, Clone)]
struct Frame {
    is_obj: bool,
    /// Index of the next element (arrays) — position of the current one once `Value` starts it.
    index: u32,
    /// Current member key (objects), truncated to `MAX_KEY`; `key_long` marks truncation.
    key: [u8; MAX_KEY],
    key_len: u8,
    key_long: bool,
    /// Bit i set when this frame's path is a prefix of pattern i.
    mask: u64,
    /// Patterns whose next segment accepts the current member key (objects),
    /// computed once when the key ends.
    seg_mask: u64,
    /// Count mode: the pattern index being counted at this frame, if any.
    counting: Option<usize>,
    count: u64,
}

impl Frame {
    fn new(is_obj: bool, mask: u64, counting: Option<usize>) -> Self {
        Self {
            is_obj,
            index: 0,
            key: [0; MAX_KEY],
            key_len: 0,
            key_long: false,
            mask,
            seg_mask: 0,
            counting,
            count: 0,
        }
    }

    fn key(&self) -> Option<&[u8]> {
        if self.key_long {
            None
        } else {
            Some(&self.key[..usize::from(self.key_len)])
        }
    }
}

/// The scanner. See the module docs.
#[derive(Debug)]
pub(crate) struct Scanner {
    patterns: &'static [Pattern],
    plan: &'static Plan,
    limits: Limits,
    st: St,
    /// Open containers of the current document; index 0 is the document's own root container.
    stack: Vec<Frame>,
    /// Depth offset: 1 when the top-level value is an array of documents.
    root_array: bool,
    /// Mask of patterns that can match at document root.
    root_mask: u64,
    /// Active capture: (pattern index, depth at which the captured value started, position).
    cap: Option<(usize, usize, u32)>,
    /// Raw bytes of every capture of the current document, back to back; the
    /// active capture grows at its end from `cap_start`. Reused across documents.
    arena: Vec<u8>,
    cap_start: usize,
    cap_overflow: bool,
    /// Captures of the current document.
    captures: Vec<Capture>,
    /// True once the current document has started (a non-whitespace byte seen).
    doc_open: bool,
    docs_done: u64,
    error: Option<&'static str>,
    oversized: bool,
    /// True until the stream's first value starts (only then may it be an array of documents).
    first_value: bool,
}

/// What `push` reports back: documents completed in this chunk, each with its captures.
pub(crate) trait Sink {
    /// A document ended with these captures, whose bytes live in `arena`.
    fn document(&mut self, captures: &[Capture], arena: &[u8]);
}

impl Scanner {
    pub(crate) fn new(patterns: &'static [Pattern], limits: Limits) -> Self {
        debug_assert!(patterns.len() <= 64, "at most 64 patterns per flavour");
        let root_mask = if patterns.is_empty() {
            0
        } else {
            u64::MAX >> (64 - patterns.len())
        };
        Self {
            patterns,
            plan: Plan::cached(patterns),
            limits,
            st: St::Start,
            stack: Vec::with_capacity(8),
            root_array: false,
            root_mask,
            cap: None,
            arena: Vec::with_capacity(256),
            cap_start: 0,
            cap_overflow: false,
            captures: Vec::with_capacity(8),
            doc_open: false,
            docs_done: 0,
            error: None,
            oversized: false,
            first_value: true,
        }
    }

    /// Forget the current document (a new SSE event or NDJSON line starts).
    pub(crate) fn reset(&mut self) {
        self.st = St::Start;
        self.stack.clear();
        self.root_array = false;
        self.cap = None;
        self.arena.clear();
        self.cap_overflow = false;
        self.captures.clear();
        self.doc_open = false;
    }

    /// Never treat a top-level array as a list of documents (SSE and NDJSON payloads).
    pub(crate) fn no_root_array(mut self) -> Self {
        self.first_value = false;
        self
    }

    /// True when the scanner is between documents (nothing half-read).
    pub(crate) fn idle(&self) -> bool {
        !self.doc_open && self.st != St::Broken
    }

    /// The first syntax error seen, if any.
    pub(crate) fn error(&self) -> Option<&'static str> {
        self.error
    }

    /// True when a matching value was larger than the capture limit.
    pub(crate) fn oversized(&self) -> bool {
        self.oversized
    }

    /// Heap bytes held (for memory-bound tests).
    pub(crate) fn retained_bytes(&self) -> usize {
        self.arena.capacity()
            + self.stack.capacity() * std::mem::size_of::<Frame>()
            + self.captures.capacity() * std::mem::size_of::<Capture>()
    }

    /// Documents completed so far.
    pub(crate) fn documents(&self) -> u64 {
        self.docs_done
    }

    /// Hand over the captures of a document that did not finish (a body cut
    /// short): values captured completely before the cut are still good.
    pub(crate) fn flush_partial(&mut self, sink: &mut impl Sink) {
        if self.doc_open && !self.captures.is_empty() {
            sink.document(&self.captures, &self.arena);
        }
        self.captures.clear();
        self.arena.clear();
    }

    /// Current depth relative to the document root (number of open containers of this document).
    fn doc_depth(&self) -> usize {
        self.stack.len() - usize::from(self.root_array)
    }

    /// Mask of patterns that may match below the innermost open container.
    fn parent_mask(&self) -> u64 {
        if self.doc_depth() == 0 {
            self.root_mask
        } else {
            self.stack.last().map_or(0, |f| f.mask)
        }
    }

    /// First array position on the current path.
    fn position(&self) -> u32 {
        let skip = usize::from(self.root_array);
        self.stack
            .iter()
            .skip(skip)
            .find(|f| !f.is_obj)
            .map_or(0, |f| f.index)
    }

    /// A value starts here. Returns (mask for a container opened here, full match pattern).
    fn on_value_start(&self) -> (u64, Option<usize>) {
        let depth = self.doc_depth();
        let parent = self.parent_mask();
        if parent == 0 {
            return (0, None);
        }
        if depth == 0 {
            return (self.plan.root_mask, self.plan.root_full);
        }
        let seg = match self.stack.last() {
            Some(f) if f.is_obj => f.seg_mask,
            Some(_) => self.plan.index_mask(depth),
            None => 0,
        };
        let mut bits = parent & seg;
        let mut mask = 0u64;
        let mut full = None;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if self.plan.lens[i] == depth {
                full.get_or_insert(i);
            } else {
                mask |= 1 << i;
            }
        }
        (mask, full)
    }

    /// Feed bytes; completed documents are reported to `sink`.
    pub(crate) fn push(&mut self, chunk: &[u8], sink: &mut impl Sink) {
        let mut i = 0;
        // Where the active capture started within this chunk.
        let mut cap_from = if self.cap.is_some() { Some(0) } else { None };
        while i < chunk.len() {
            let b = chunk[i];
            match self.st {
                St::Broken => return,
                St::Str | St::KeyStr => {
                    // Skip to the next quote or backslash in one go.
                    let rest = &chunk[i..];
                    match memchr::memchr2(b'"', b'\\', rest) {
                        None => {
                            if self.st == St::KeyStr {
                                self.key_bytes(rest);
                            }
                            i = chunk.len();
                            continue;
                        }
                        Some(off) => {
                            if self.st == St::KeyStr {
                                self.key_bytes(&rest[..off]);
                            }
                            i += off;
                            let q = chunk[i];
                            if q == b'\\' {
                                if self.st == St::KeyStr {
                                    self.key_bytes(b"\\");
                                    self.st = St::KeyEsc;
                                } else {
                                    self.st = St::StrEsc;
                                }
                            } else if self.st == St::KeyStr {
                                self.st = St::Colon;
                                self.key_done();
                            } else {
                                self.st = St::After;
                                self.value_end(chunk, i + 1, &mut cap_from, sink);
                            }
                            i += 1;
                            continue;
                        }
                    }
                }
                St::StrEsc => {
                    self.st = St::Str;
                    i += 1;
                    continue;
                }
                St::KeyEsc => {
                    self.key_bytes(&[b]);
                    self.st = St::KeyStr;
                    i += 1;
                    continue;
                }
                St::Atom => {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') {
                        i += 1;
                        continue;
                    }
                    // The atom ended just before this byte, which is processed as structure.
                    self.st = St::After;
                    self.value_end(chunk, i, &mut cap_from, sink);
                    continue;
                }
                _ => {}
            }
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                i += 1;
                continue;
            }
            match self.st {
                St::Start => {
                    self.doc_open = true;
                    if self.first_value && b == b'[' {
                        // The stream's first value is an array: its elements are the documents.
                        self.first_value = false;
                        self.root_array = true;
                        self.stack.push(Frame::new(false, 0, None));
                        self.st = St::Value;
                        self.doc_open = false;
                        i += 1;
                        continue;
                    }
                    self.first_value = false;
                    self.st = St::Value;
                }
                St::Value => {
                    if b == b']' && self.root_array && self.stack.len() == 1 {
                        // End of the outer array of documents (empty, or a trailing comma).
                        self.end_root_array();
                        i += 1;
                        continue;
                    }
                    if b == b']' && self.stack.last().is_some_and(|f| !f.is_obj) {
                        // `[]`: empty array closes.
                        self.close(chunk, i, &mut cap_from, sink);
                        i += 1;
                        continue;
                    }
                    self.doc_open = true;
                    self.begin_value(b, i, &mut cap_from);
                    if self.st == St::Broken {
                        return;
                    }
                    i += 1;
                }
                St::KeyOrEnd | St::Key => {
                    if b == b'"' {
                        if let Some(f) = self.stack.last_mut() {
                            f.key_len = 0;
                            f.key_long = false;
                        }
                        self.st = St::KeyStr;
                    } else if b == b'}' && self.st == St::KeyOrEnd {
                        self.close(chunk, i, &mut cap_from, sink);
                    } else {
                        self.fail("expected an object key");
                        return;
                    }
                    i += 1;
                }
                St::Colon => {
                    if b == b':' {
                        self.st = St::Value;
                    } else {
                        self.fail("expected ':' after an object key");
                        return;
                    }
                    i += 1;
                }
                St::After => {
                    let Some(top) = self.stack.last() else {
                        // After a complete scalar document: a new document starts.
                        self.st = St::Start;
                        continue;
                    };
                    let is_obj = top.is_obj;
                    match b {
                        b',' => {
                            if let Some(f) = self.stack.last_mut() {
                                if is_obj {
                                    self.st = St::Key;
                                } else {
                                    f.index = f.index.saturating_add(1);
                                    self.st = St::Value;
                                }
                            }
                        }
                        b'}' if is_obj => self.close(chunk, i, &mut cap_from, sink),
                        b']' if !is_obj && self.root_array && self.stack.len() == 1 => {
                            self.end_root_array();
                        }
                        b']' if !is_obj => self.close(chunk, i, &mut cap_from, sink),
                        _ => {
                            self.fail("expected ',' or a closing bracket");
                            return;
                        }
                    }
                    i += 1;
                }
                St::Str | St::StrEsc | St::KeyStr | St::KeyEsc | St::Atom | St::Broken => {
                    unreachable_state();
                    return;
                }
            }
        }
        // Chunk ends inside a captured value: keep what we have so far.
        if let (Some(from), Some(_)) = (cap_from, self.cap) {
            self.cap_extend(&chunk[from..]);
        }
    }

    /// A member key ended: resolve which patterns it continues, once.
    fn key_done(&mut self) {
        let depth = self.doc_depth();
        if let Some(f) = self.stack.last() {
            let m = if f.mask == 0 && depth > 0 {
                0
            } else {
                self.plan.key_mask(depth, f.key())
            };
            if let Some(f) = self.stack.last_mut() {
                f.seg_mask = m;
            }
        }
    }

    fn end_root_array(&mut self) {
        self.stack.clear();
        self.root_array = false;
        self.st = St::Start;
        self.doc_open = false;
    }

    fn key_bytes(&mut self, bytes: &[u8]) {
        if let Some(f) = self.stack.last_mut() {
            let len = usize::from(f.key_len);
            if f.key_long || len + bytes.len() > MAX_KEY {
                f.key_long = true;
            } else {
                f.key[len..len + bytes.len()].copy_from_slice(bytes);
                // `len + bytes.len() <= MAX_KEY (64)` fits in u8.
                f.key_len = u8::try_from(len + bytes.len()).unwrap_or(u8::MAX);
            }
        }
    }

    fn fail(&mut self, why: &'static str) {
        if self.error.is_none() {
            self.error = Some(why);
        }
        self.st = St::Broken;
        if self.cap.take().is_some() {
            // Drop the half-captured value; completed captures before it stay.
            self.arena.truncate(self.cap_start);
        }
    }

    fn cap_extend(&mut self, bytes: &[u8]) {
        if self.cap_overflow {
            return;
        }
        if self.arena.len() - self.cap_start + bytes.len() > self.limits.max_capture {
            self.cap_overflow = true;
            self.oversized = true;
            self.arena.truncate(self.cap_start);
        } else {
            self.arena.extend_from_slice(bytes);
        }
    }

    /// A value's first byte `b` at chunk offset `at`.
    fn begin_value(&mut self, b: u8, at: usize, cap_from: &mut Option<usize>) {
        // The value is an element of the innermost open container: count it there.
        if let Some(f) = self.stack.last_mut()
            && f.counting.is_some()
        {
            f.count += 1;
        }
        let (mask, full) = if self.cap.is_some() {
            (0, None)
        } else {
            self.on_value_start()
        };
        let mut counting = None;
        if let Some(p) = full {
            let container = matches!(b, b'{' | b'[');
            match self.patterns[p].mode {
                Mode::Capture => self.start_capture(p, at, cap_from),
                Mode::CaptureScalar if !container => self.start_capture(p, at, cap_from),
                Mode::CaptureScalar => {}
                Mode::Count => counting = Some(p),
            }
        }
        match b {
            b'{' | b'[' => {
                if self.stack.len() >= self.limits.max_depth {
                    self.fail("nesting deeper than the limit");
                    return;
                }
                let is_obj = b == b'{';
                self.stack.push(Frame::new(is_obj, mask, counting));
                self.st = if is_obj { St::KeyOrEnd } else { St::Value };
            }
            b'"' => self.st = St::Str,
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => self.st = St::Atom,
            _ => self.fail("unexpected byte where a value should start"),
        }
    }

    fn start_capture(&mut self, p: usize, at: usize, cap_from: &mut Option<usize>) {
        self.cap = Some((p, self.doc_depth(), self.position()));
        self.cap_start = self.arena.len();
        self.cap_overflow = false;
        *cap_from = Some(at);
    }

    /// A container closes at chunk offset `at` (the closing byte).
    fn close(
        &mut self,
        chunk: &[u8],
        at: usize,
        cap_from: &mut Option<usize>,
        sink: &mut impl Sink,
    ) {
        let Some(frame) = self.stack.pop() else {
            self.fail("unbalanced closing bracket");
            return;
        };
        if let Some(p) = frame.counting
            && self.captures.len() < self.limits.max_captures
        {
            self.captures.push(Capture {
                slot: self.patterns[p].slot,
                position: self.position(),
                start: 0,
                end: 0,
                count: frame.count,
            });
        }
        self.st = St::After;
        self.value_end(chunk, at + 1, cap_from, sink);
    }

    /// A value ended just before chunk offset `end`.
    fn value_end(
        &mut self,
        chunk: &[u8],
        end: usize,
        cap_from: &mut Option<usize>,
        sink: &mut impl Sink,
    ) {
        if let Some((p, depth, position)) = self.cap
            && depth == self.doc_depth()
        {
            if let Some(from) = cap_from.take() {
                self.cap_extend(&chunk[from..end]);
            }
            if !self.cap_overflow && self.captures.len() < self.limits.max_captures {
                self.captures.push(Capture {
                    slot: self.patterns[p].slot,
                    position,
                    start: self.cap_start,
                    end: self.arena.len(),
                    count: 0,
                });
            } else {
                self.arena.truncate(self.cap_start);
            }
            self.cap = None;
            self.cap_overflow = false;
        }
        if self.doc_depth() == 0 {
            // A whole document ended.
            self.docs_done += 1;
            sink.document(&self.captures, &self.arena);
            self.captures.clear();
            self.arena.clear();
            self.doc_open = false;
            if self.root_array {
                self.st = St::After;
            } else {
                self.st = St::Start;
            }
        }
    }
}

#[inline]
fn unreachable_state() {
    debug_assert!(false, "scanner dispatch reached a state handled earlier");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captures with their bytes copied out: (slot, position, raw, count).
    type Owned = (u8, u32, Vec<u8>, u64);

    #[derive(Default)]
    struct Docs(Vec<Vec<Owned>>);
    impl Sink for Docs {
        fn document(&mut self, captures: &[Capture], arena: &[u8]) {
            self.0.push(
                captures
                    .iter()
                    .map(|c| (c.slot, c.position, arena[c.start..c.end].to_vec(), c.count))
                    .collect(),
            );
        }
    }

    const PATS: &[Pattern] = &[
        Pattern {
            slot: 0,
            path: &[Seg::Key("usage")],
            mode: Mode::Capture,
        },
        Pattern {
            slot: 1,
            path: &[Seg::Key("model")],
            mode: Mode::Capture,
        },
        Pattern {
            slot: 2,
            path: &[
                Seg::Key("choices"),
                Seg::AnyIndex,
                Seg::Key("finish_reason"),
            ],
            mode: Mode::Capture,
        },
        Pattern {
            slot: 3,
            path: &[Seg::Key("matches")],
            mode: Mode::Count,
        },
    ];

    fn scan_chunks(chunks: &[&[u8]]) -> (Docs, Scanner) {
        let mut s = Scanner::new(PATS, Limits::default());
        let mut d = Docs::default();
        for c in chunks {
            s.push(c, &mut d);
        }
        (d, s)
    }

    fn raw(c: &Owned) -> &str {
        std::str::from_utf8(&c.2).unwrap()
    }

    #[test]
    fn captures_only_the_requested_paths() {
        let body = br#"{"id":"x","model":"gpt-4o","choices":[{"index":0,"message":{"usage":1},"finish_reason":"stop"},{"finish_reason":"length"}],"usage":{"prompt_tokens":3,"x":[1,{"a":"}"}]}}"#;
        let (d, s) = scan_chunks(&[body]);
        assert_eq!(s.error(), None);
        assert_eq!(d.0.len(), 1);
        let caps = &d.0[0];
        let by_slot = |slot| caps.iter().filter(move |c| c.0 == slot).collect::<Vec<_>>();
        assert_eq!(raw(by_slot(1)[0]), r#""gpt-4o""#);
        let fr = by_slot(2);
        assert_eq!(raw(fr[0]), r#""stop""#);
        assert_eq!(fr[0].1, 0);
        assert_eq!(raw(fr[1]), r#""length""#);
        assert_eq!(fr[1].1, 1);
        assert_eq!(
            raw(by_slot(0)[0]),
            r#"{"prompt_tokens":3,"x":[1,{"a":"}"}]}"#
        );
    }

    #[test]
    fn every_split_point_gives_the_same_captures() {
        let body = br#"{"model":"m\"x","usage":{"a":-1.5e3,"b":true,"c":null,"d":"\\"},"matches":[{"id":1},{"id":[2,3]},4]}"#;
        let (whole, _) = scan_chunks(&[body]);
        for cut in 0..=body.len() {
            let (split, s) = scan_chunks(&[&body[..cut], &body[cut..]]);
            assert_eq!(s.error(), None, "cut at {cut}");
            assert_eq!(split.0, whole.0, "cut at {cut}");
        }
        let counts: Vec<u64> = whole.0[0]
            .iter()
            .filter(|c| c.0 == 3)
            .map(|c| c.3)
            .collect();
        assert_eq!(counts, vec![3]);
    }

    #[test]
    fn sequences_and_arrays_of_documents() {
        let (d, _) = scan_chunks(&[b"{\"model\":\"a\"}\n{\"model\":\"b\"}\n"]);
        assert_eq!(d.0.len(), 2);
        let (d, s) = scan_chunks(&[b"[{\"model\":\"a\"},\r\n{\"model\":\"b\"}]"]);
        assert_eq!(s.error(), None);
        assert_eq!(d.0.len(), 2);
        assert_eq!(raw(&d.0[1][0]), r#""b""#);
        let (d, _) = scan_chunks(&[b"[]"]);
        assert!(d.0.is_empty());
    }

    #[test]
    fn oversized_values_are_dropped_and_flagged() {
        let mut s = Scanner::new(
            PATS,
            Limits {
                max_capture: 8,
                ..Limits::default()
            },
        );
        let mut d = Docs::default();
        s.push(br#"{"model":"a-very-long-model-name","usage":{}}"#, &mut d);
        assert!(s.oversized());
        assert_eq!(d.0[0].len(), 1);
        assert_eq!(raw(&d.0[0][0]), "{}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let (_, s) = scan_chunks(&[b"{\"a\" 1}"]);
        assert!(s.error().is_some());
        let (_, s) = scan_chunks(&[b"}}}"]);
        assert!(s.error().is_some());
    }
}
