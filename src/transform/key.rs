//! Keys and keyed draws: where every "random" choice of a transformer comes
//! from.
//!
//! A transformer never uses an unkeyed random number generator. Each output
//! is a function of a keyed hash of the input value, so:
//!
//! - with `source.secret`, the same input gives the same output in every
//!   table and every run (foreign keys and joins between transformed columns
//!   keep matching), and without the secret nobody can recompute the mapping
//!   by hashing guessed inputs;
//! - without a secret, the root key is drawn at random once per run: outputs
//!   change from run to run, and still agree within one dump;
//! - distinct inputs give independent outputs, which is what uniqueness by
//!   construction rests on (see [`super::spec::Guarantees::unique_bits`]).
//!
//! Key schedule (BLAKE3, once per dump): `root = derive_key(ROOT_CONTEXT,
//! secret)`, then one key per transformer *configuration* (`keyed_hash(root,
//! name ‖ 0 ‖ options)`), so two columns with the same transformer and
//! options map equal values to equal fakes, and different transformers draw
//! independent values.
//!
//! Per value (the hot path): SipHash-2-4 with a 128-bit output, keyed by the
//! first half of the configuration's key — a pseudo-random function built
//! for short inputs, several times cheaper than BLAKE3 on them. Its 16 bytes
//! start the value's stream; a value that needs more continues in counter
//! mode: SipHash-1-3 under the key's second half of (those 16 bytes ‖ n).
//! The lighter variant is enough there: its input is already a secret
//! pseudo-random value, and it halves the cost of long draws (an email or a
//! phone number needs two or three blocks).

use std::fmt;

use siphasher::sip128::{SipHasher13, SipHasher24};

/// The BLAKE3 `derive_key` context of the root key. Changing it changes
/// every deterministic output, so it carries a version.
const ROOT_CONTEXT: &str = "replibyte 2026-01 transformer root key v1";

/// The root of all transformer keys of one dump.
#[derive(Clone)]
pub struct Keys {
    root: [u8; 32],
}

impl Keys {
    /// Deterministic keys: the same secret gives the same outputs.
    pub fn from_secret(secret: &str) -> Keys {
        Keys { root: blake3::derive_key(ROOT_CONTEXT, secret.as_bytes()) }
    }

    /// Keys drawn from the operating system's generator: outputs differ on
    /// every run.
    pub fn random() -> Keys {
        Keys { root: rand::random() }
    }

    /// The key of one transformer configuration, named by `domain` (its name
    /// and canonical options).
    pub fn derive(&self, domain: &str) -> Key {
        let bytes = blake3::keyed_hash(&self.root, domain.as_bytes());
        let (head, stream) = bytes.as_bytes().split_at(16);
        Key {
            head: SipHasher24::new_with_key(head.try_into().expect("16 bytes")),
            stream: SipHasher13::new_with_key(stream.try_into().expect("16 bytes")),
        }
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

/// The key of one transformer configuration, as the two keyed hashers it
/// is made of (set up once: a value only pays for hashing itself).
#[derive(Clone)]
pub struct Key {
    /// Keyed by the first half of the configuration's key: the head.
    head: SipHasher24,
    /// Keyed by the second half: the blocks after the head.
    stream: SipHasher13,
}

impl Key {
    /// The pseudo-random stream that `input` stands for under this key.
    #[inline]
    pub fn draw(&self, input: &[u8]) -> Draw<'_> {
        let head = self.head.hash(input).as_bytes();
        Draw { key: self, head, counter: 0, block: head, pos: 0, pool: 0, pool_bits: 0 }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Bytes produced per block of the stream.
const BLOCK: usize = 16;

/// A stream of pseudo-random values derived from one input's keyed hash.
pub struct Draw<'a> {
    key: &'a Key,
    /// The input's keyed hash: the first block, and the seed of the others.
    head: [u8; BLOCK],
    /// Blocks produced after the first.
    counter: u64,
    block: [u8; BLOCK],
    pos: usize,
    /// What is left of a 64-bit draw for [`Draw::small`], and how many of
    /// its bits are not consumed yet.
    pool: u64,
    pool_bits: u32,
}

impl Draw<'_> {
    /// The next 64 bits.
    #[inline]
    pub fn u64(&mut self) -> u64 {
        if self.pos + 8 > BLOCK {
            self.refill();
        }
        let value = u64::from_le_bytes(self.block[self.pos..self.pos + 8].try_into().expect("8 bytes"));
        self.pos += 8;
        value
    }

    fn refill(&mut self) {
        self.counter += 1;
        let mut input = [0u8; BLOCK + 8];
        input[..BLOCK].copy_from_slice(&self.head);
        input[BLOCK..].copy_from_slice(&self.counter.to_le_bytes());
        self.block = self.key.stream.hash(&input).as_bytes();
        self.pos = 0;
    }

    /// A number in `0..n` (`n > 0`). Multiply-shift: the bias is at most
    /// `n / 2^64`, far below anything observable.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `0..n` for a small `n` (a digit, a letter): several are
    /// cut from one 64-bit draw, read as a fraction in [0, 1): each call
    /// multiplies it by `n` and takes the integer part, keeping the
    /// fractional part for the next call (a multiplication, where a
    /// division per digit would cost ten times more). A draw is replaced
    /// before fewer than 24 of its bits are left unconsumed, so the bias
    /// stays below `n / 2^24` (for a letter, 1.5 in a million: nothing a
    /// fake name or a digit shows). For choices that do not carry
    /// uniqueness.
    #[inline]
    pub fn small(&mut self, n: u32) -> u32 {
        let bits = 32 - n.saturating_sub(1).leading_zeros();
        if self.pool_bits < 24 + bits {
            self.pool = self.u64();
            self.pool_bits = 64;
        }
        let product = u128::from(self.pool) * u128::from(n);
        self.pool = product as u64;
        self.pool_bits -= bits;
        (product >> 64) as u32
    }

    /// An element of a non-empty slice.
    #[inline]
    pub fn pick<'s, T>(&mut self, items: &'s [T]) -> &'s T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An element of a non-empty slice of at most 2^24 (a choice that
    /// carries no uniqueness, by [`Draw::small`]).
    #[inline]
    pub fn pick_small<'s, T>(&mut self, items: &'s [T]) -> &'s T {
        debug_assert!(items.len() <= 1 << 24);
        &items[self.small(items.len() as u32) as usize]
    }

    /// A number in `min..=max`.
    #[inline]
    pub fn between(&mut self, min: i64, max: i64) -> i64 {
        let span = max.wrapping_sub(min) as u64;
        if span == u64::MAX {
            return self.u64() as i64;
        }
        min.wrapping_add(self.below(span + 1) as i64)
    }

    /// Fills `out` with pseudo-random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    use siphasher::sip128::Hasher128;

    use super::*;

    #[test]
    fn same_secret_same_stream_other_secret_other_stream() {
        let a = Keys::from_secret("s1").derive("email");
        let b = Keys::from_secret("s1").derive("email");
        let c = Keys::from_secret("s2").derive("email");
        let d = Keys::from_secret("s1").derive("hash");
        assert_eq!(a.draw(b"x").u64(), b.draw(b"x").u64());
        assert_ne!(a.draw(b"x").u64(), c.draw(b"x").u64());
        assert_ne!(a.draw(b"x").u64(), d.draw(b"x").u64());
        assert_ne!(a.draw(b"x").u64(), a.draw(b"y").u64());
    }

    #[test]
    fn streams_continue_past_one_block() {
        let key = Keys::from_secret("s").derive("random");
        let mut draw = key.draw(b"long");
        let values: Vec<u64> = (0..40).map(|_| draw.u64()).collect();
        let mut again = key.draw(b"long");
        let mut bytes = [0u8; 320];
        again.fill(&mut bytes);
        let from_bytes: Vec<u64> = bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(values, from_bytes);
        let distinct: std::collections::HashSet<_> = values.iter().collect();
        assert_eq!(distinct.len(), 40);
    }

    /// The stream as the module documentation defines it, computed with the
    /// streaming hasher interface: the head is SipHash-2-4 of the input
    /// under the first half of the key, block n is SipHash-1-3 of
    /// (head ‖ n) under the second half.
    #[test]
    fn the_stream_is_the_documented_construction() {
        let keys = Keys::from_secret("s");
        let key = keys.derive("x");
        let material = *blake3::keyed_hash(&keys.root, b"x").as_bytes();
        let mut head = SipHasher24::new_with_key(material[..16].try_into().unwrap());
        head.write(b"in");
        let head = head.finish128().as_bytes();
        let mut expected = head.to_vec();
        for n in 1u64..=2 {
            let mut block = SipHasher13::new_with_key(material[16..].try_into().unwrap());
            block.write(&head);
            block.write(&n.to_le_bytes());
            expected.extend_from_slice(&block.finish128().as_bytes());
        }
        let mut got = [0u8; 48];
        key.draw(b"in").fill(&mut got);
        assert_eq!(got.to_vec(), expected);
    }

    #[test]
    fn small_draws_are_in_range_and_spread() {
        let key = Keys::from_secret("s").derive("digits");
        let mut counts = [0u32; 10];
        for i in 0u32..2000 {
            let input = i.to_be_bytes();
            let mut draw = key.draw(&input);
            for _ in 0..10 {
                counts[draw.small(10) as usize] += 1;
            }
        }
        assert!(counts.iter().all(|&c| (1700..2300).contains(&c)), "{counts:?}");
    }

    #[test]
    fn ranges_are_respected() {
        let key = Keys::random().derive("r");
        for i in 0u32..2000 {
            let input = i.to_be_bytes();
            let mut draw = key.draw(&input);
            assert!(draw.below(7) < 7);
            let v = draw.between(-3, 3);
            assert!((-3..=3).contains(&v));
            let _ = draw.between(i64::MIN, i64::MAX);
        }
    }

    #[test]
    fn debug_never_shows_key_material() {
        assert_eq!(format!("{:?}", Keys::from_secret("hunter2")), "Keys(<redacted>)");
    }
}
