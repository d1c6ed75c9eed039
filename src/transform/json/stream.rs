//! The fast path of `json` when it only replaces: the document is scanned
//! once and copied through, and only the scalars at the chosen paths are
//! rewritten. No tree is built, nothing is allocated per node, and the
//! text keeps its layout (spacing, key order, duplicate keys) exactly.

use std::borrow::Cow;

use super::{as_number, Step};
use crate::transform::{Field, Transformer, ValueError};

/// Where the scanner is: the keys and indexes from the root.
enum Location<'a> {
    Key(Cow<'a, str>),
    Index(usize),
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
    let mut scanner = Scanner { input, pos: 0, out, replace, path: Vec::new(), text: Vec::new(), next: Vec::new() };
    scanner.whitespace();
    scanner.value()?;
    scanner.whitespace();
    if scanner.pos != input.len() {
        return Err(scanner.malformed());
    }
    Ok(())
}

struct Scanner<'a, 'o> {
    input: &'a [u8],
    pos: usize,
    out: &'o mut Vec<u8>,
    replace: &'a [(Vec<Step>, Box<dyn Transformer>)],
    path: Vec<Location<'a>>,
    /// Reused buffers for a scalar's text on its way through transformers.
    text: Vec<u8>,
    next: Vec<u8>,
}

impl<'a> Scanner<'a, '_> {
    fn malformed(&self) -> ValueError {
        ValueError::new(format!("not valid JSON at byte {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Copies whitespace through.
    fn whitespace(&mut self) {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        self.out.extend_from_slice(&self.input[start..self.pos]);
    }

    /// Copies one byte that must be `expected`.
    fn expect(&mut self, expected: u8) -> Result<(), ValueError> {
        if self.peek() != Some(expected) {
            return Err(self.malformed());
        }
        self.out.push(expected);
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self) -> Result<(), ValueError> {
        match self.peek() {
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
            let (start, end) = self.string_token()?;
            let input = self.input;
            self.out.extend_from_slice(&input[start..end]);
            let key = decode_string(&input[start..end]).ok_or_else(|| self.malformed())?;
            self.whitespace();
            self.expect(b':')?;
            self.whitespace();
            self.path.push(Location::Key(key));
            self.value()?;
            self.path.pop();
            self.whitespace();
            match self.peek() {
                Some(b',') => {
                    self.expect(b',')?;
                    self.whitespace();
                }
                _ => return self.expect(b'}'),
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
            self.whitespace();
            match self.peek() {
                Some(b',') => {
                    self.expect(b',')?;
                    self.whitespace();
                }
                _ => return self.expect(b']'),
            }
        }
    }

    /// The extent of the string token at the cursor, quotes included.
    fn string_token(&mut self) -> Result<(usize, usize), ValueError> {
        let start = self.pos;
        if self.peek() != Some(b'"') {
            return Err(self.malformed());
        }
        let mut i = start + 1;
        loop {
            match self.input.get(i) {
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
                None => return Err(self.malformed()),
            }
        }
        self.pos = i + 1;
        Ok((start, self.pos))
    }

    fn scalar(&mut self) -> Result<(), ValueError> {
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'"') => {
                self.string_token()?;
                Scalar::String
            }
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
        let mut chosen = replace.iter().filter(|(p, _)| matches(p, path)).map(|(_, t)| t.as_ref()).peekable();
        if chosen.peek().is_none() || kind == Scalar::Null {
            self.out.extend_from_slice(token);
            return Ok(());
        }
        // The scalar as text, through each transformer in turn.
        self.text.clear();
        match kind {
            Scalar::String => match decode_string(token) {
                Some(text) => self.text.extend_from_slice(text.as_bytes()),
                None => return Err(ValueError::new(format!("not valid JSON at byte {start}"))),
            },
            _ => self.text.extend_from_slice(token),
        }
        for transformer in chosen {
            self.next.clear();
            if transformer.apply(Some(&self.text), &mut self.next)? == Field::Null {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            std::mem::swap(&mut self.text, &mut self.next);
        }
        let text = std::str::from_utf8(&self.text)
            .map_err(|_| ValueError::new("a transformer inside json wrote invalid UTF-8"))?;
        match (kind, as_number(text)) {
            (Scalar::Number, Some(number)) => self.out.extend_from_slice(number.to_string().as_bytes()),
            _ => serde_json::to_writer(&mut *self.out, text)
                .map_err(|e| ValueError::new(format!("writing JSON: {e}")))?,
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String,
    Number,
    Bool,
    Null,
}

/// Whether a scalar at `location` is at or under `path`.
fn matches(path: &[Step], location: &[Location]) -> bool {
    path.len() <= location.len()
        && path.iter().zip(location).all(|(step, at)| match (step, at) {
            (Step::Any, _) => true,
            (Step::Key(key), Location::Key(name)) => key == name,
            (Step::Index(i), Location::Index(at)) => i == at,
            _ => false,
        })
}

/// A string token's text: borrowed when it has no escapes.
fn decode_string(token: &[u8]) -> Option<Cow<'_, str>> {
    let inner = &token[1..token.len() - 1];
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(token).ok().map(Cow::Owned)
    } else {
        std::str::from_utf8(inner).ok().map(Cow::Borrowed)
    }
}
