//! The fast path of `json` when it only replaces: the document is scanned
//! once and copied through, and only the scalars at the chosen paths are
//! rewritten. No tree is built, nothing is allocated per node, and the
//! text keeps its layout (spacing, key order, duplicate keys) exactly.
//!
//! The scan writes nothing itself: the text between two replaced scalars
//! goes to the output in one copy when the second is reached, so a
//! document with two replacements costs three copies, not one per token.
//!
//! Objects and arrays that no path leads into are copied in one piece,
//! after a scan that only balances brackets: PostgreSQL validated the
//! document when it stored it, and this path reads what it sends.
//!
//! Paths are followed as sets of bits, one per path: on entering a member,
//! each path still on course is checked against that one key or index,
//! so no value compares a whole path from the root again.

use std::cell::RefCell;
use std::ops::Range;

use super::{as_number, Step};
use crate::transform::error::ValueError;
use crate::transform::spec::{Field, Transformer};

/// A set of paths of `replace`: bit `i` stands for the `i`-th.
type Paths = u64;

/// The most paths this scanner follows; a `json` transformer with more
/// takes the tree path.
pub const MAX_PATHS: usize = Paths::BITS as usize;

/// Which paths concern the value under the cursor.
#[derive(Clone, Copy)]
struct Course {
    /// How many keys and indexes lead from the root to the value.
    depth: usize,
    /// Paths that agree with those steps and go deeper.
    on: Paths,
    /// Paths that ended at or above the value: every scalar in it is
    /// theirs to replace.
    reached: Paths,
}

/// The key or index of a member, as a path step sees it.
enum Member {
    /// Where the key's string token is in the input, quotes included, and
    /// whether it has escapes: the key is decoded only then.
    Key {
        token: Range<usize>,
        escaped: bool,
    },
    Index(usize),
}

/// Buffers kept from one document to the next (per thread, as a
/// transformer is shared by the dump's workers), so a document costs no
/// allocation.
#[derive(Default)]
struct Scratch {
    /// A scalar's text on its way through transformers.
    text: Vec<u8>,
    next: Vec<u8>,
}

/// The first this many bytes of a string are searched a word at a time.
const SHORT_STRING: usize = 32;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Copies `input` (one JSON document) to `out`, applying each transformer
/// of `replace` (at most [`MAX_PATHS`]) to the scalars at or under its path.
///
/// # Errors
/// Malformed JSON, or a transformer that refuses a value.
pub fn rewrite(
    input: &[u8],
    out: &mut Vec<u8>,
    replace: &[(Vec<Step>, Box<dyn Transformer>)],
) -> Result<(), ValueError> {
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => scan(input, out, replace, &mut scratch),
        // A transformer inside a path that is itself a json transformer.
        Err(_) => scan(input, out, replace, &mut Scratch::default()),
    })
}

fn scan(
    input: &[u8],
    out: &mut Vec<u8>,
    replace: &[(Vec<Step>, Box<dyn Transformer>)],
    scratch: &mut Scratch,
) -> Result<(), ValueError> {
    debug_assert!(replace.len() <= MAX_PATHS);
    let mut scanner =
        Scanner { input, pos: 0, copied: 0, out, replace, text: &mut scratch.text, next: &mut scratch.next };
    let every_path = match replace.len() {
        0 => 0,
        n => Paths::MAX >> (MAX_PATHS - n),
    };
    let root = Course { depth: 0, on: every_path, reached: 0 };
    scanner.whitespace();
    scanner.value(root)?;
    scanner.whitespace();
    if scanner.pos != input.len() {
        return Err(scanner.malformed());
    }
    scanner.out.extend_from_slice(&input[scanner.copied..]);
    Ok(())
}

struct Scanner<'a, 'o> {
    input: &'a [u8],
    pos: usize,
    /// The input before this is in `out` (as is, or replaced).
    copied: usize,
    out: &'o mut Vec<u8>,
    replace: &'a [(Vec<Step>, Box<dyn Transformer>)],
    text: &'o mut Vec<u8>,
    next: &'o mut Vec<u8>,
}

impl Scanner<'_, '_> {
    fn malformed(&self) -> ValueError {
        ValueError::new(format!("not valid JSON at byte {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Steps over whitespace.
    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Steps over one byte that must be `expected`.
    fn expect(&mut self, expected: u8) -> Result<(), ValueError> {
        if self.peek() != Some(expected) {
            return Err(self.malformed());
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self, course: Course) -> Result<(), ValueError> {
        match self.peek() {
            Some(b'{' | b'[') if course.on == 0 && course.reached == 0 => self.skip_container(),
            Some(b'{') => self.object(course),
            Some(b'[') => self.array(course),
            Some(_) => self.scalar(course.reached),
            None => Err(self.malformed()),
        }
    }

    fn object(&mut self, course: Course) -> Result<(), ValueError> {
        self.expect(b'{')?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            return self.expect(b'}');
        }
        loop {
            let (token, escaped) = self.string_token()?;
            self.whitespace();
            self.expect(b':')?;
            self.whitespace();
            self.value(self.enter(course, &Member::Key { token, escaped }))?;
            if !self.another(b'}')? {
                return Ok(());
            }
        }
    }

    fn array(&mut self, course: Course) -> Result<(), ValueError> {
        self.expect(b'[')?;
        self.whitespace();
        if self.peek() == Some(b']') {
            return self.expect(b']');
        }
        let mut index = 0;
        loop {
            self.value(self.enter(course, &Member::Index(index)))?;
            index += 1;
            if !self.another(b']')? {
                return Ok(());
            }
        }
    }

    /// The course of the value of `member`, inside the value of `course`.
    fn enter(&self, course: Course, member: &Member) -> Course {
        let mut inside = Course { depth: course.depth + 1, on: 0, reached: course.reached };
        let mut paths = course.on;
        while paths != 0 {
            let bit = paths & paths.wrapping_neg();
            paths ^= bit;
            let path = &self.replace[bit.trailing_zeros() as usize].0;
            if step_matches(&path[course.depth], member, self.input) {
                if path.len() == inside.depth {
                    inside.reached |= bit;
                } else {
                    inside.on |= bit;
                }
            }
        }
        inside
    }

    /// After a member: steps over the comma and says `true` when another
    /// follows, or over `close` and says `false`.
    fn another(&mut self, close: u8) -> Result<bool, ValueError> {
        self.whitespace();
        if self.peek() == Some(b',') {
            self.expect(b',')?;
            self.whitespace();
            return Ok(true);
        }
        self.expect(close)?;
        Ok(false)
    }

    /// Steps over the object or array at the cursor, unread: it is copied
    /// through as it is.
    fn skip_container(&mut self) -> Result<(), ValueError> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.string_token()?;
                    continue;
                }
                Some(b'{' | b'[') => depth += 1,
                Some(b'}' | b']') => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        break;
                    }
                }
                Some(_) => {}
                None => return Err(self.malformed()),
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Steps over the string token at the cursor; says where it is, quotes
    /// included, and whether it has escapes.
    fn string_token(&mut self) -> Result<(Range<usize>, bool), ValueError> {
        let start = self.pos;
        if self.peek() != Some(b'"') {
            return Err(self.malformed());
        }
        let mut escaped = false;
        let mut i = start + 1;
        loop {
            // The next quote or backslash; everything between is text.
            let rest = &self.input[i.min(self.input.len())..];
            match quote_or_backslash(rest) {
                Some(at) if rest[at] == b'"' => {
                    i += at;
                    break;
                }
                Some(at) => {
                    escaped = true;
                    i += at + 2;
                }
                None => return Err(self.malformed()),
            }
        }
        self.pos = i + 1;
        Ok((start..self.pos, escaped))
    }

    /// Steps over the scalar at the cursor, replacing it by the paths of
    /// `reached`, in their order.
    fn scalar(&mut self, reached: Paths) -> Result<(), ValueError> {
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'"') => Scalar::String { escaped: self.string_token()?.1 },
            Some(b't' | b'f' | b'n') => {
                while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                match &self.input[start..self.pos] {
                    b"true" | b"false" => Scalar::Bool,
                    b"null" => Scalar::Null,
                    _ => return Err(self.malformed()),
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                while self.peek().is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                    self.pos += 1;
                }
                Scalar::Number
            }
            _ => return Err(self.malformed()),
        };
        let input = self.input;
        let token = &input[start..self.pos];
        if reached == 0 || kind == Scalar::Null {
            return Ok(());
        }
        // What came since the last replacement, then this one.
        self.out.extend_from_slice(&input[self.copied..start]);
        self.copied = self.pos;
        // The scalar as text: a string without escapes is its text as it
        // is (PostgreSQL checked its encoding when it stored the document).
        // When several paths reach it, all but the last transformer hand
        // the text on through the scratch buffers.
        let last = (Paths::BITS - 1 - reached.leading_zeros()) as usize;
        let earlier = reached & !(1 << last);
        let text: &[u8] = match kind {
            Scalar::String { escaped: false } if earlier == 0 => &token[1..token.len() - 1],
            Scalar::Number | Scalar::Bool if earlier == 0 => token,
            _ => {
                self.text.clear();
                match kind {
                    Scalar::String { escaped: false } => self.text.extend_from_slice(&token[1..token.len() - 1]),
                    Scalar::String { escaped: true } => match unescape(token) {
                        Some(text) => self.text.extend_from_slice(text.as_bytes()),
                        None => {
                            self.pos = start;
                            return Err(self.malformed());
                        }
                    },
                    _ => self.text.extend_from_slice(token),
                }
                let mut paths = earlier;
                while paths != 0 {
                    let transformer = &self.replace[paths.trailing_zeros() as usize].1;
                    paths &= paths - 1;
                    self.next.clear();
                    if transformer.apply(Some(self.text), self.next)? == Field::Null {
                        self.out.extend_from_slice(b"null");
                        return Ok(());
                    }
                    std::mem::swap(self.text, self.next);
                }
                self.text
            }
        };
        let transformer = &self.replace[last].1;
        if kind == Scalar::Number {
            // A number stays a number when the new text reads as one.
            self.next.clear();
            if transformer.apply(Some(text), self.next)? == Field::Null {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            match std::str::from_utf8(self.next).ok().and_then(as_number) {
                Some(number) => self.out.extend_from_slice(number.to_string().as_bytes()),
                None => write_string(self.out, self.next)?,
            }
            return Ok(());
        }
        // Written in place, between quotes, when it needs no escaping.
        let quote = self.out.len();
        self.out.push(b'"');
        if transformer.apply(Some(text), self.out)? == Field::Null {
            self.out.truncate(quote);
            self.out.extend_from_slice(b"null");
        } else if is_plain(&self.out[quote + 1..]) {
            self.out.push(b'"');
        } else {
            self.next.clear();
            self.next.extend_from_slice(&self.out[quote + 1..]);
            self.out.truncate(quote);
            write_string(self.out, self.next)?;
        }
        Ok(())
    }
}

/// Whether `text` can be a JSON string as it is: printable ASCII without
/// quotes or backslashes.
fn is_plain(text: &[u8]) -> bool {
    text.iter().all(|&b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\')
}

/// Writes `text` as a JSON string token. Fakes are mostly printable ASCII
/// without quotes or backslashes, which go out as they are; anything else
/// is checked for UTF-8 and escaped by serde_json.
fn write_string(out: &mut Vec<u8>, text: &[u8]) -> Result<(), ValueError> {
    if is_plain(text) {
        out.push(b'"');
        out.extend_from_slice(text);
        out.push(b'"');
        return Ok(());
    }
    let text =
        std::str::from_utf8(text).map_err(|_| ValueError::new("a transformer inside json wrote invalid UTF-8"))?;
    serde_json::to_writer(&mut *out, text).map_err(|e| ValueError::new(format!("writing JSON: {e}")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String { escaped: bool },
    Number,
    Bool,
    Null,
}

/// Whether `step` leads to the value of `member` (a key read in `input`).
fn step_matches(step: &Step, member: &Member, input: &[u8]) -> bool {
    match (step, member) {
        (Step::Any, _) => true,
        (Step::Key(key), Member::Key { token, escaped }) => {
            let token = &input[token.clone()];
            if *escaped {
                unescape(token).is_some_and(|name| name == *key)
            } else {
                &token[1..token.len() - 1] == key.as_bytes()
            }
        }
        (Step::Index(i), Member::Index(at)) => i == at,
        _ => false,
    }
}

/// Where the first `"` or `\` of `bytes` is.
///
/// Most strings of a document are short (keys, names, codes), too short for
/// `memchr`'s vector search to pay for its setup, and a byte loop spends a
/// branch per byte: their first [`SHORT_STRING`] bytes are searched eight
/// at a time in a `u64` (the classic "has a zero byte" bit trick on the
/// word xor-ed with each wanted byte), the rest of a long string by
/// `memchr2`.
#[inline]
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// The high bit of the lowest byte of `word` that is zero is set, and
    /// no bit below it (bytes above it may be flagged falsely; they are
    /// never read).
    fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGHS
    }
    let short = &bytes[..bytes.len().min(SHORT_STRING)];
    let mut words = short.chunks_exact(8);
    for (n, word) in (&mut words).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let found = zero_bytes(word ^ (ONES * u64::from(b'"'))) | zero_bytes(word ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(n * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let tail = short.len() - words.remainder().len();
    if let Some(at) = words.remainder().iter().position(|&b| b == b'"' || b == b'\\') {
        return Some(tail + at);
    }
    memchr::memchr2(b'"', b'\\', &bytes[short.len()..]).map(|at| short.len() + at)
}

/// The text of a string token with escapes.
fn unescape(token: &[u8]) -> Option<String> {
    serde_json::from_slice(token).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_found_wherever_they_are() {
        for len in 0..80 {
            for (at, wanted) in (0..len).flat_map(|at| [(at, b'"'), (at, b'\\')]) {
                // Bytes around the wanted one that the bit trick could
                // confuse with it: its neighbours in value, and 0x80+.
                let mut bytes: Vec<u8> = (0..len).map(|i| [b'!', b'#', b'[', b']', 0x80 | b'"', 0xff][i % 6]).collect();
                bytes[at] = wanted;
                if at + 1 < len {
                    bytes[at + 1] = if wanted == b'"' { b'\\' } else { b'"' };
                }
                assert_eq!(quote_or_backslash(&bytes), Some(at), "len {len}, at {at}");
            }
            let none: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert_eq!(quote_or_backslash(&none), None, "len {len}");
        }
    }
}
