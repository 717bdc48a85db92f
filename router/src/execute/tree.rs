//! The response tree the executor builds from subgraph answers and shapes into the client's
//! response.
//!
//! A JSON value made for this work:
//! - it borrows: the subgraphs' answers are kept for the whole request in a [`Storage`], and
//!   strings, keys and numbers are slices of them, so parsing copies no text;
//! - its objects and lists live in the request's arena ([`Arena`]): allocated in one bump,
//!   side by side in the order they were read (a walk down a list reads memory in order), and
//!   freed all at once with the request; nothing in the tree needs dropping;
//! - objects are short slices of (key, value) in the order the subgraph wrote them (a
//!   selection set has a handful of fields, so a linear scan beats hashing or a tree);
//! - numbers stay the text the subgraph wrote (checked against JSON's grammar), so they are
//!   copied out as they came.
//!
//! The parser is this module's own: one pass over the bytes, checked as UTF-8 once up front,
//! strings found eight bytes at a time; a string with escapes is decoded into the arena.

use bumpalo::Bump;
use bytes::Bytes;
use serde_json::Value;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

/// What the tree of one request borrows from: the subgraphs' answers and the arena of its
/// objects, lists and decoded strings. Only ever added to, so what it hands out stays put
/// until the request ends. Shared by the request's concurrent fetches, hence the locks, taken
/// once per answer (to keep it) and once per parse or merge (for the arena).
#[derive(Default)]
pub struct Storage {
    bodies: Mutex<Vec<Bytes>>,
    arena: Mutex<Bump>,
}

impl Storage {
    /// Storage whose arena starts with `bytes` in one piece (what a tree of this operation
    /// took last time).
    pub fn with_capacity(bytes: usize) -> Self {
        Storage {
            bodies: Mutex::default(),
            arena: Mutex::new(Bump::with_capacity(bytes)),
        }
    }

    /// How much of the arena is in use (its chunks, less what is left of the last one).
    pub fn arena_bytes(&self) -> usize {
        let arena = lock(&self.arena);
        arena
            .allocated_bytes()
            .saturating_sub(arena.chunk_capacity())
    }

    /// Keeps `body` until the storage is dropped.
    pub fn keep(&self, body: Bytes) -> &[u8] {
        let (data, len) = (body.as_ptr(), body.len());
        lock(&self.bodies).push(body);
        // SAFETY: `Bytes` is a handle to bytes that never move or change while any handle
        // lives, and this handle stays in `bodies`, which is only pushed to, until `self` is
        // dropped; the slice borrows `self`, so it cannot outlive it.
        unsafe { std::slice::from_raw_parts(data, len) }
    }

    /// Runs `work` with the arena: what it allocates there lives as long as the storage.
    /// Not re-entrant: `work` must not call it again.
    pub fn with_arena<'s, R>(&'s self, work: impl FnOnce(&Arena<'s>) -> R) -> R {
        let guard = lock(&self.arena);
        // SAFETY: memory a `Bump` hands out stays valid and unaliased until the bump is reset
        // or dropped, which needs it by value or `&mut`, impossible while `self` is borrowed
        // for 's. The `&'s Bump` itself is only reachable through the `Arena` lent to `work`
        // (its field is private, it is neither `Clone` nor `Copy`, and `work` cannot return
        // the borrow), so it is used only while the lock is held.
        let bump: &'s Bump = unsafe { &*(&*guard as *const Bump) };
        work(&Arena { bump })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The request's arena, lent by [`Storage::with_arena`].
pub struct Arena<'s> {
    bump: &'s Bump,
}

impl<'s> Arena<'s> {
    /// A copy of `text` that lives as long as the storage.
    pub fn string(&self, text: &str) -> &'s str {
        self.bump.alloc_str(text)
    }

    fn slice<T>(&self, items: impl ExactSizeIterator<Item = T>) -> &'s mut [T] {
        if items.len() == 0 {
            return &mut [];
        }
        self.bump.alloc_slice_fill_iter(items)
    }
}

// The arena frees without dropping: the tree must own nothing that needs it.
const _: () = assert!(!std::mem::needs_drop::<Node<'static>>());

#[derive(Debug, Default, PartialEq)]
pub enum Node<'s> {
    #[default]
    Null,
    Bool(bool),
    /// A number as the subgraph wrote it (valid JSON number text).
    Number(&'s str),
    String(&'s str),
    List(&'s mut [Node<'s>]),
    Object(Object<'s>),
}

/// An object's fields in the order they arrived; a key appears once.
#[derive(Debug, Default, PartialEq)]
pub struct Object<'s>(&'s mut [(&'s str, Node<'s>)]);

impl<'s> Object<'s> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Node<'s>> {
        self.0
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node<'s>> {
        self.0
            .iter_mut()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    /// [`get`](Self::get), trying position `hint` first: siblings in a list came from one
    /// selection set and keep their keys in the same order, so the position of the key in
    /// the previous sibling usually finds it in one comparison. `hint` becomes where it was.
    pub fn get_hinted(&self, key: &str, hint: &mut usize) -> Option<&Node<'s>> {
        if let Some((k, v)) = self.0.get(*hint)
            && same_key(k, key)
        {
            return Some(v);
        }
        let index = self.0.iter().position(|(k, _)| same_key(k, key))?;
        *hint = index;
        Some(&self.0[index].1)
    }

    /// [`get_mut`](Self::get_mut) with a position hint, as [`get_hinted`](Self::get_hinted).
    pub fn get_mut_hinted(&mut self, key: &str, hint: &mut usize) -> Option<&mut Node<'s>> {
        let index = match self.0.get(*hint) {
            Some((k, _)) if same_key(k, key) => *hint,
            _ => self.0.iter().position(|(k, _)| same_key(k, key))?,
        };
        *hint = index;
        Some(&mut self.0[index].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| same_key(k, key))
    }

    /// Sets `key` (in place when present, else added at the end).
    pub fn insert(&mut self, key: &'s str, value: Node<'s>, arena: &Arena<'s>) {
        match self.get_mut(key) {
            Some(existing) => *existing = value,
            None => {
                let fields = std::mem::take(&mut self.0);
                let mut added = Some((key, value));
                self.0 = arena.slice((0..fields.len() + 1).map(|i| match fields.get_mut(i) {
                    Some((k, v)) => (*k, v.take()),
                    None => added.take().unwrap_or_default(),
                }));
            }
        }
    }

    /// Takes `key` out, keeping the other fields in order.
    pub fn remove(&mut self, key: &str) -> Option<Node<'s>> {
        let index = self.0.iter().position(|(k, _)| same_key(k, key))?;
        let fields = std::mem::take(&mut self.0);
        fields[index..].rotate_left(1);
        let (kept, removed) = fields.split_at_mut(fields.len() - 1);
        self.0 = kept;
        Some(removed[0].1.take())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'s str, &Node<'s>)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// The `__typename` the object carries, if any.
    pub fn typename(&self) -> Option<&'s str> {
        match self.get("__typename") {
            Some(Node::String(name)) => Some(name),
            _ => None,
        }
    }

    /// Merges `source` in: fields of both merge ([`Node::merge_from`]), the others are added.
    fn merge_from(&mut self, source: &mut Object<'s>, how: Merge, arena: &Arena<'s>) {
        let old = self.0.len();
        let added = source
            .0
            .iter()
            .filter(|(key, _)| !self.contains_key(key))
            .count();
        if added > 0 {
            // One new slice with room for every added field (an entity's fields are mostly
            // new to the object they join).
            let fields = std::mem::take(&mut self.0);
            self.0 = arena.slice((0..old + added).map(|i| match fields.get_mut(i) {
                Some((k, v)) => (*k, v.take()),
                None => ("", Node::Null),
            }));
        }
        let mut next = old;
        for (key, value) in source.0.iter_mut() {
            match self.0[..old].iter_mut().find(|(k, _)| same_key(k, key)) {
                Some((_, existing)) => existing.merge_from(value, how, arena),
                None => {
                    if let Some(slot) = self.0.get_mut(next) {
                        *slot = (key, how.bring(value, arena));
                    }
                    next += 1;
                }
            }
        }
    }

    /// A copy in the arena (an entity shared by several objects).
    pub fn copy(&self, arena: &Arena<'s>) -> Object<'s> {
        Object(arena.slice(self.0.iter().map(|(k, v)| (*k, v.copy(arena)))))
    }

    /// Writes the object as JSON.
    pub fn write(&self, out: &mut Vec<u8>) {
        write_members(out, self.0, Node::write);
    }
}

/// How [`Node::merge_from`] takes what it merges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Move,
    Copy,
}

impl Merge {
    fn bring<'s>(self, value: &mut Node<'s>, arena: &Arena<'s>) -> Node<'s> {
        match self {
            Merge::Move => value.take(),
            Merge::Copy => value.copy(arena),
        }
    }
}

/// Key equality for the short keys of a response (`id`, `name`, `__typename`): compared
/// inline, without a call to `memcmp` for each key of an object.
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    a.iter().zip(b).all(|(x, y)| x == y)
}

impl<'s> Node<'s> {
    pub fn as_str(&self) -> Option<&'s str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'s>> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Object<'s>> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// Asks the processor to start loading this value's fields or items: a walk over a list
    /// calls it for the next item while it works on the current one, so the next item's
    /// memory is on its way instead of stalling the walk when it gets there.
    #[inline]
    pub fn prefetch(&self) {
        let start = match self {
            Node::Object(object) => object.0.as_ptr().cast::<i8>(),
            Node::List(items) => items.as_ptr().cast::<i8>(),
            _ => return,
        };
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is only a hint: it reads nothing the program sees and never
        // faults, whatever the address; SSE is part of every x86-64 processor.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(start);
            _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(64));
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = start;
    }

    /// Moves the value out, leaving null.
    pub fn take(&mut self) -> Node<'s> {
        std::mem::take(self)
    }

    /// Merges `source` into this value: objects key by key, lists item by item; a null never
    /// overwrites a value another subgraph provided.
    pub fn merge(&mut self, mut source: Node<'s>, arena: &Arena<'s>) {
        self.merge_from(&mut source, Merge::Move, arena);
    }

    /// [`merge`](Self::merge) from a value that is moved (left null where it was taken) or
    /// copied (left as it was: an entity shared by several objects).
    pub fn merge_from(&mut self, source: &mut Node<'s>, how: Merge, arena: &Arena<'s>) {
        match (self, source) {
            (Node::Object(target), Node::Object(source)) => target.merge_from(source, how, arena),
            (Node::List(target), Node::List(source)) if target.len() == source.len() => {
                for (t, s) in target.iter_mut().zip(source.iter_mut()) {
                    t.merge_from(s, how, arena);
                }
            }
            (_, Node::Null) => {}
            (target, source) => *target = how.bring(source, arena),
        }
    }

    /// A copy in the arena (strings and numbers stay shared: they are never changed).
    pub fn copy(&self, arena: &Arena<'s>) -> Node<'s> {
        match self {
            Node::Null => Node::Null,
            Node::Bool(b) => Node::Bool(*b),
            Node::Number(text) => Node::Number(text),
            Node::String(text) => Node::String(text),
            Node::List(items) => Node::List(arena.slice(items.iter().map(|item| item.copy(arena)))),
            Node::Object(object) => Node::Object(object.copy(arena)),
        }
    }

    /// Writes the value as JSON: strings escaped where they need it, numbers as they came.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Null => out.extend_from_slice(b"null"),
            Node::Bool(true) => out.extend_from_slice(b"true"),
            Node::Bool(false) => out.extend_from_slice(b"false"),
            Node::Number(text) => out.extend_from_slice(text.as_bytes()),
            Node::String(text) => write_str(out, text),
            Node::List(items) => write_array(out, items, Node::write),
            Node::Object(object) => object.write(out),
        }
    }

    /// The value as a `serde_json::Value` (errors, which the response carries as values).
    pub fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(text) => text
                .parse::<serde_json::Number>()
                .map_or(Value::Null, Value::Number),
            Node::String(text) => Value::String((*text).to_owned()),
            Node::List(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.to_owned(), value.to_value()))
                    .collect(),
            ),
        }
    }

    /// The tree of a `serde_json::Value` (a subscription event), held by `storage`.
    pub fn from_value(value: &Value, storage: &'s Storage) -> Node<'s> {
        // Serializing a value cannot fail, and what it writes parses.
        let body = storage.keep(Bytes::from(serde_json::to_vec(value).unwrap_or_default()));
        parse(body, storage).unwrap_or_default()
    }
}

/// Writes `items` as a JSON array, each item with `write`.
pub fn write_array<T>(out: &mut Vec<u8>, items: &[T], write: impl Fn(&T, &mut Vec<u8>)) {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write(item, out);
    }
    out.push(b']');
}

/// Writes `(key, value)` pairs as a JSON object, each value with `write`.
pub fn write_members<V>(out: &mut Vec<u8>, fields: &[(&str, V)], write: impl Fn(&V, &mut Vec<u8>)) {
    out.push(b'{');
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write(value, out);
    }
    out.push(b'}');
}

/// Writes `text` as a JSON string. Text with nothing to escape (nearly all of it) is copied
/// as it is.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if find_special(bytes, 0) == bytes.len() {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    } else {
        // Serializing a string into memory cannot fail.
        let _ = serde_json::to_writer(out, text);
    }
}

/// Where the first byte at or after `from` that ends a plain run of string text is: a quote,
/// a backslash or a control character; `bytes.len()` when there is none. Eight bytes at a
/// time: the lowest flagged byte of a word is always a true match (a borrow only flags bytes
/// above a match).
fn find_special(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x.wrapping_sub(ONES * 0x20) & !x)
            & HIGH;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&byte) = bytes.get(i) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// Why a subgraph's answer is not JSON, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for ParseError {}

/// Nesting deeper than this is refused (the parser recurses once per level).
const MAX_DEPTH: u32 = 256;

/// Parses a subgraph's answer (`bytes` must live as long as the tree: see [`Storage::keep`]).
pub fn parse<'s>(bytes: &'s [u8], storage: &'s Storage) -> Result<Node<'s>, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError {
        at: e.valid_up_to(),
        what: "invalid UTF-8",
    })?;
    storage.with_arena(|arena| parse_in(text, arena))
}

fn parse_in<'s>(text: &'s str, arena: &Arena<'s>) -> Result<Node<'s>, ParseError> {
    let bytes = text.as_bytes();
    let mut parser = Parser {
        text,
        bytes,
        pos: 0,
        depth: 0,
        arena,
        fields: Vec::with_capacity(64),
        items: Vec::with_capacity(64),
        failure: None,
    };
    let read = parser.value().and_then(|value| {
        parser.skip_whitespace();
        if parser.pos == bytes.len() {
            Ok(value)
        } else {
            Err(parser.error("trailing characters"))
        }
    });
    read.map_err(|Failed| {
        parser.failure.unwrap_or(ParseError {
            at: parser.pos,
            what: "bad JSON",
        })
    })
}

/// A parse failed; the parser holds why (so results stay as small as a node).
struct Failed;

struct Parser<'a, 'g> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
    arena: &'g Arena<'a>,
    /// The fields of the objects being read, innermost last: each object is moved out into a
    /// vector of its exact size when it ends (no growing, no spare capacity).
    fields: Vec<(&'a str, Node<'a>)>,
    /// The same for the items of lists.
    items: Vec<Node<'a>>,
    failure: Option<ParseError>,
}

impl<'a> Parser<'a, '_> {
    fn error(&mut self, what: &'static str) -> Failed {
        self.failure = Some(ParseError { at: self.pos, what });
        Failed
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.pos).copied()
    }

    /// A slice of the text between byte positions that are ASCII (so on char boundaries).
    fn slice(&mut self, from: usize, to: usize) -> Result<&'a str, Failed> {
        self.text
            .get(from..to)
            .ok_or_else(|| self.error("bad text"))
    }

    fn value(&mut self) -> Result<Node<'a>, Failed> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::list),
            Some(b'"') => self.string().map(Node::String),
            Some(b't') => self.literal(b"true", Node::Bool(true)),
            Some(b'f') => self.literal(b"false", Node::Bool(false)),
            Some(b'n') => self.literal(b"null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end")),
        }
    }

    fn nested(
        &mut self,
        read: fn(&mut Self) -> Result<Node<'a>, Failed>,
    ) -> Result<Node<'a>, Failed> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.depth += 1;
        let value = read(self);
        self.depth -= 1;
        value
    }

    fn literal(&mut self, word: &[u8], node: Node<'a>) -> Result<Node<'a>, Failed> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(node)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Node<'a>, Failed> {
        let start = self.pos;
        if self.bytes.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("bad number")),
        }
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("bad number"));
            }
        }
        self.slice(start, self.pos).map(Node::Number)
    }

    /// A string at the opening quote: a slice of the answer when it has no escapes, else
    /// decoded into the storage.
    fn string(&mut self) -> Result<&'a str, Failed> {
        self.pos += 1;
        let start = self.pos;
        let end = find_special(self.bytes, start);
        match self.bytes.get(end) {
            Some(b'"') => {
                self.pos = end + 1;
                self.slice(start, end)
            }
            Some(b'\\') => {
                self.pos = end;
                let mut decoded = String::from(self.slice(start, end)?);
                self.decode_rest(&mut decoded)?;
                Ok(self.arena.string(&decoded))
            }
            Some(_) => {
                self.pos = end;
                Err(self.error("control character in a string"))
            }
            None => {
                self.pos = end;
                Err(self.error("unterminated string"))
            }
        }
    }

    /// Decodes from an escape to the closing quote.
    fn decode_rest(&mut self, into: &mut String) -> Result<(), Failed> {
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let escaped = self.bytes.get(self.pos + 1).copied();
                    self.pos += 2;
                    match escaped {
                        Some(b'"') => into.push('"'),
                        Some(b'\\') => into.push('\\'),
                        Some(b'/') => into.push('/'),
                        Some(b'b') => into.push('\u{8}'),
                        Some(b'f') => into.push('\u{c}'),
                        Some(b'n') => into.push('\n'),
                        Some(b'r') => into.push('\r'),
                        Some(b't') => into.push('\t'),
                        Some(b'u') => into.push(self.unicode_escape()?),
                        _ => return Err(self.error("bad escape")),
                    }
                }
                Some(_) => {
                    let end = find_special(self.bytes, self.pos);
                    if end == self.pos {
                        return Err(self.error("control character in a string"));
                    }
                    into.push_str(self.slice(self.pos, end)?);
                    self.pos = end;
                }
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Failed> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("bad unicode escape"))?;
        let mut code = 0u32;
        for &digit in digits {
            let value = (digit as char)
                .to_digit(16)
                .ok_or_else(|| self.error("bad unicode escape"))?;
            code = code * 16 + value;
        }
        self.pos += 4;
        Ok(code)
    }

    /// After `\u`: one code point, joining a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, Failed> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.bytes[self.pos..].starts_with(b"\\u") {
                return Err(self.error("lone surrogate"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("lone surrogate"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("lone surrogate"))
    }

    fn list(&mut self) -> Result<Node<'a>, Failed> {
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Node::List(&mut []));
        }
        let start = self.items.len();
        loop {
            let item = self.value()?;
            self.items.push(item);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::List(self.arena.slice(self.items.drain(start..))));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self) -> Result<Node<'a>, Failed> {
        self.pos += 1;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Node::Object(Object::default()));
        }
        let start = self.fields.len();
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            if self.peek() != Some(b':') {
                return Err(self.error("expected `:`"));
            }
            self.pos += 1;
            let value = self.value()?;
            // JSON leaves a repeated key's meaning open; the last one wins, as in serde_json.
            // Keys are compared by length first, so a typical object costs next to nothing
            // here.
            let fields = &mut self.fields[start..];
            match fields.iter_mut().find(|(k, _)| same_key(k, key)) {
                Some((_, existing)) => *existing = value,
                None => self.fields.push((key, value)),
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Object(Object(
                        self.arena.slice(self.fields.drain(start..)),
                    )));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(node: &Node) -> String {
        let mut out = Vec::new();
        node.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn round_trips_json_in_field_order_without_copying_text() {
        let text = r#"{"z":1,"a":[true,false,null,"x",-2,1.5,0,-0.25e-3,1E+9],"long key that is longer than twenty-four":{"k":"a string longer than twenty-four bytes"}}"#;
        let storage = Storage::default();
        let node = parse(text.as_bytes(), &storage).unwrap();
        assert_eq!(write(&node), text);
        assert_eq!(
            node.to_value(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        // Plain strings and keys are slices of the answer itself.
        let object = node.as_object().unwrap();
        let (key, _) = object.iter().nth(2).unwrap();
        let range = text.as_bytes().as_ptr_range();
        assert!(range.contains(&key.as_ptr()));
    }

    #[test]
    fn whitespace_is_allowed_between_tokens() {
        let storage = Storage::default();
        let node = parse(b" \n{ \"a\" :\t[ 1 , { } , [ ] ] }\r\n", &storage).unwrap();
        assert_eq!(write(&node), r#"{"a":[1,{},[]]}"#);
    }

    #[test]
    fn a_repeated_key_keeps_the_last_value() {
        let storage = Storage::default();
        let node = parse(br#"{"a":1,"b":2,"a":3}"#, &storage).unwrap();
        assert_eq!(node.to_value(), json!({"a": 3, "b": 2}));
        assert_eq!(write(&node), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn escapes_survive_both_ways() {
        let storage = Storage::default();
        let node = parse(
            r#"{"q\"uote":"line\nbreak \u00e9 \ud83d\ude00 \/ \\ \t\b\f\r end", "plain é 😀":"中文"}"#
                .as_bytes(),
            &storage,
        )
        .unwrap();
        let object = node.as_object().unwrap();
        assert_eq!(
            object.get("q\"uote").and_then(Node::as_str),
            Some("line\nbreak é 😀 / \\ \t\u{8}\u{c}\r end")
        );
        assert_eq!(
            object.get("plain é 😀").and_then(Node::as_str),
            Some("中文")
        );
        let written = write(&node);
        assert_eq!(
            serde_json::from_str::<Value>(&written).unwrap(),
            node.to_value()
        );
        let again = parse(written.as_bytes(), &storage).unwrap();
        assert_eq!(again, node);
    }

    #[test]
    fn strings_made_elsewhere_are_escaped_when_written() {
        let mut out = Vec::new();
        write_str(&mut out, "a \"quoted\" \\ line\n and \u{1} control");
        assert_eq!(
            serde_json::from_slice::<String>(&out).unwrap(),
            "a \"quoted\" \\ line\n and \u{1} control"
        );
        // Every position of a special byte within and across eight-byte words is found.
        for position in 0..20 {
            let mut text = "x".repeat(20);
            text.replace_range(position..position + 1, "\"");
            assert_eq!(find_special(text.as_bytes(), 0), position);
        }
        assert_eq!(
            find_special("é中文 plain".as_bytes(), 0),
            "é中文 plain".len()
        );
    }

    #[test]
    fn bad_json_is_refused_with_where() {
        let storage = Storage::default();
        for bad in [
            &b""[..],
            b"{",
            b"{\"a\"}",
            b"{\"a\":1,}",
            b"[1,]",
            b"[1 2]",
            b"\"unterminated",
            b"\"a\x01b\"",
            b"\"bad \\x escape\"",
            b"\"\\ud800 lone\"",
            b"01",
            b"-",
            b"1.",
            b"1e",
            b"tru",
            b"nul",
            b"{} trailing",
            b"\xff\xfe",
            b"{\"a\":1}}",
        ] {
            assert!(
                parse(bad, &storage).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let error = parse(b"[1,?]", &storage).unwrap_err();
        assert_eq!(
            error,
            ParseError {
                at: 3,
                what: "expected a value"
            }
        );
        let deep = "[".repeat(10_000);
        assert_eq!(
            parse(deep.as_bytes(), &storage).unwrap_err().what,
            "nested too deeply"
        );
    }

    #[test]
    fn objects_insert_replace_and_remove_in_order() {
        let storage = Storage::default();
        storage.with_arena(|arena| {
            let mut object = Object::default();
            object.insert("a", Node::Bool(true), arena);
            object.insert("b", Node::Null, arena);
            object.insert("c", Node::Number("1"), arena);
            object.insert("a", Node::Bool(false), arena);
            assert_eq!(
                object.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                ["a", "b", "c"]
            );
            assert_eq!(object.get("a"), Some(&Node::Bool(false)));
            assert_eq!(object.remove("a"), Some(Node::Bool(false)));
            assert_eq!(
                object.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                ["b", "c"]
            );
            assert!(!object.contains_key("a"));
            assert_eq!(object.remove("missing"), None);
            assert_eq!(object.len(), 2);
        });
    }

    #[test]
    fn merging_adds_new_fields_merges_shared_ones_and_keeps_values_over_null() {
        let storage = Storage::default();
        let mut target = parse(
            br#"{"__typename":"P","upc":"1","nested":{"a":1},"list":[{"x":1},{"x":2}],"kept":true}"#,
            &storage,
        )
        .unwrap();
        let source = parse(
            br#"{"name":"n","nested":{"b":2},"list":[{"y":1},{"y":2}],"kept":null,"upc":"1"}"#,
            &storage,
        )
        .unwrap();
        let mut shared = parse(br#"{"shared":[1,{"k":"v"}]}"#, &storage).unwrap();
        storage.with_arena(|arena| {
            target.merge(source, arena);
            target.merge_from(&mut shared, Merge::Copy, arena);
        });
        // Copied, not moved: the shared value is still whole.
        assert_eq!(shared.to_value(), json!({"shared": [1, {"k": "v"}]}));
        assert_eq!(
            target.to_value(),
            json!({"__typename": "P", "upc": "1", "nested": {"a": 1, "b": 2},
                   "list": [{"x": 1, "y": 1}, {"x": 2, "y": 2}], "kept": true, "name": "n",
                   "shared": [1, {"k": "v"}]})
        );
        // A copy is equal and independent.
        let copy = storage.with_arena(|arena| target.copy(arena));
        assert_eq!(copy, target);
    }

    #[test]
    fn values_come_in_through_the_storage() {
        let storage = Storage::default();
        let value = json!({"data": {"n": 12, "s": "x\"y", "l": [1.5, null]}});
        let node = Node::from_value(&value, &storage);
        assert_eq!(node.to_value(), value);
    }
}
