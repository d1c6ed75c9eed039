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

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;

use super::{as_number, Step};
use crate::transform::{Field, Transformer, ValueError};

/// Where the scanner is: the keys and indexes from the root.
enum Location {
    /// Where a key's string token is in the input, quotes included, and
    /// whether it has escapes: the key is decoded only then, and only when
    /// a path asks about it.
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
    path: Vec<Location>,
    /// A scalar's text on its way through transformers.
    text: Vec<u8>,
    next: Vec<u8>,
}

/// Strings up to this long are searched byte by byte.
const SHORT_STRING: usize = 32;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Copies `input` (one JSON document) to `out`, applying each transformer
/// of `replace` to the scalars at or under its path.
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
    scratch.path.clear();
    let mut scanner = Scanner {
        input,
        pos: 0,
        copied: 0,
        out,
        replace,
        path: &mut scratch.path,
        text: &mut scratch.text,
        next: &mut scratch.next,
    };
    scanner.whitespace();
    scanner.value()?;
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
    path: &'o mut Vec<Location>,
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

    fn value(&mut self) -> Result<(), ValueError> {
        match self.peek() {
            Some(b'{' | b'[') if !self.on_a_path() => self.skip_container(),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(_) => self.scalar(),
            None => Err(self.malformed()),
        }
    }

    fn object(&mut self) -> Result<(), ValueError> {
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
            self.path.push(Location::Key { token, escaped });
            self.value()?;
            self.path.pop();
            if !self.another(b'}')? {
                return Ok(());
            }
        }
    }

    fn array(&mut self) -> Result<(), ValueError> {
        self.expect(b'[')?;
        self.whitespace();
        if self.peek() == Some(b']') {
            return self.expect(b']');
        }
        let mut index = 0;
        loop {
            self.path.push(Location::Index(index));
            self.value()?;
            self.path.pop();
            index += 1;
            if !self.another(b']')? {
                return Ok(());
            }
        }
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

    /// Whether some path goes through the current location (or ends above
    /// it), so that the value here may hold scalars to replace.
    fn on_a_path(&self) -> bool {
        self.replace.iter().any(|(path, _)| agree(path, self.path, self.input))
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
            // Most strings of a document are short: a plain loop finds
            // their end sooner than a vectorised search can start.
            let rest = &self.input[i.min(self.input.len())..];
            let found = match rest.iter().take(SHORT_STRING).position(|&b| b == b'"' || b == b'\\') {
                Some(at) => Some(at),
                None if rest.len() > SHORT_STRING => {
                    memchr::memchr2(b'"', b'\\', &rest[SHORT_STRING..]).map(|at| at + SHORT_STRING)
                }
                None => None,
            };
            match found {
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

    fn scalar(&mut self) -> Result<(), ValueError> {
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
        let replace = self.replace;
        let path = &self.path;
        let mut chosen = replace.iter().filter(|(p, _)| matches(p, path, input)).map(|(_, t)| t.as_ref()).peekable();
        if chosen.peek().is_none() || kind == Scalar::Null {
            return Ok(());
        }
        // What came since the last replacement, then this one.
        self.out.extend_from_slice(&input[self.copied..start]);
        self.copied = self.pos;
        // The scalar as text, through each transformer in turn.
        self.text.clear();
        match kind {
            Scalar::String { escaped } => match decode_string(token, escaped) {
                Some(text) => self.text.extend_from_slice(text.as_bytes()),
                None => return Err(ValueError::new(format!("not valid JSON at byte {start}"))),
            },
            _ => self.text.extend_from_slice(token),
        }
        for transformer in chosen {
            self.next.clear();
            if transformer.apply(Some(self.text), self.next)? == Field::Null {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            std::mem::swap(self.text, self.next);
        }
        let text = std::str::from_utf8(self.text)
            .map_err(|_| ValueError::new("a transformer inside json wrote invalid UTF-8"))?;
        match (kind == Scalar::Number).then(|| as_number(text)).flatten() {
            Some(number) => self.out.extend_from_slice(number.to_string().as_bytes()),
            None => serde_json::to_writer(&mut *self.out, text)
                .map_err(|e| ValueError::new(format!("writing JSON: {e}")))?,
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String { escaped: bool },
    Number,
    Bool,
    Null,
}

/// Whether a scalar at `location` (in `input`) is at or under `path`.
fn matches(path: &[Step], location: &[Location], input: &[u8]) -> bool {
    path.len() <= location.len() && agree(path, location, input)
}

/// Whether `path` and `location` agree as far as both go: one leads into
/// the other.
fn agree(path: &[Step], location: &[Location], input: &[u8]) -> bool {
    path.iter().zip(location).all(|(step, at)| step_matches(step, at, input))
}

fn step_matches(step: &Step, at: &Location, input: &[u8]) -> bool {
    match (step, at) {
        (Step::Any, _) => true,
        (Step::Key(key), Location::Key { token, escaped }) => {
            let token = &input[token.clone()];
            if *escaped {
                decode_string(token, true).is_some_and(|name| name == key.as_str())
            } else {
                &token[1..token.len() - 1] == key.as_bytes()
            }
        }
        (Step::Index(i), Location::Index(at)) => i == at,
        _ => false,
    }
}

/// A string token's text: borrowed when it has no escapes.
fn decode_string(token: &[u8], escaped: bool) -> Option<Cow<'_, str>> {
    let inner = &token[1..token.len() - 1];
    if escaped {
        serde_json::from_slice::<String>(token).ok().map(Cow::Owned)
    } else {
        std::str::from_utf8(inner).ok().map(Cow::Borrowed)
    }
}
