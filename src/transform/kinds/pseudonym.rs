//! `pseudonym`: a keyed bijection of integer and uuid keys, in their own
//! type. Every value maps to exactly one other and no two to the same, so a
//! primary key stays unique by construction (not merely with high
//! probability) and, with `source.secret`, every foreign key that carries
//! the same transformer still finds its row.
//!
//! Integers: a Feistel network over the bits of the type, walking cycles
//! until the result falls in the input's own half (non-negative values
//! stay non-negative, negative ones negative: ids stay positive). UUIDs: a
//! Feistel network over all 128 bits.

use crate::transform::error::ValueError;
use crate::transform::key::Key;
use crate::transform::options;
use crate::transform::spec::{Build, Field, Guarantees, Kind, Transformer};
use crate::transform::types::{Int, Type};

pub const PSEUDONYM: Kind = Kind {
    name: "pseudonym",
    summary: "a keyed one-to-one mapping of integers (sign kept) and uuids: keys stay unique and foreign keys follow",
    options: &[],
    accepts: |ty| Int::of(ty).is_some() || *ty == Type::UUID,
    build,
};

/// Rounds of every network: more than the 4 a Feistel permutation needs
/// to be pseudo-random, for margin.
const ROUNDS: u8 = 8;

fn build(build: &Build) -> Result<Box<dyn Transformer>, String> {
    options::none(build.options)?;
    let form = match Int::of(&build.column.ty) {
        Some(int) => Form::Int(int),
        None => Form::Uuid,
    };
    Ok(Box::new(Pseudonym { network: Feistel { key: build.key.clone() }, form }))
}

#[derive(Clone, Copy)]
enum Form {
    Int(Int),
    Uuid,
}

struct Pseudonym {
    network: Feistel,
    form: Form,
}

/// A balanced Feistel network over `2 * half` bits, keyed.
struct Feistel {
    key: Key,
}

impl Feistel {
    /// The round function: `half` bits of the keyed hash of the round,
    /// width and the right half.
    fn round(&self, round: u8, half: u32, right: u64) -> u64 {
        let mut input = [0u8; 10];
        input[0] = round;
        input[1] = half as u8;
        input[2..].copy_from_slice(&right.to_le_bytes());
        self.key.draw(&input).u64() & mask(half)
    }

    /// Permutes `value`, `2 * half` bits wide (half ≤ 32).
    fn permute(&self, value: u64, half: u32) -> u64 {
        let (mut left, mut right) = (value >> half, value & mask(half));
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, half, right));
        }
        (left << half) | right
    }

    /// Permutes `value` within `0..2^bits` (`bits` odd: the network runs on
    /// one more bit and walks the cycle back into range, a bijection).
    fn permute_below(&self, value: u64, bits: u32) -> u64 {
        let half = bits.div_ceil(2);
        let limit = 1u64 << bits;
        let mut out = self.permute(value, half);
        while out >= limit {
            out = self.permute(out, half);
        }
        out
    }

    /// Permutes 128 bits: two 64-bit halves.
    fn permute_128(&self, value: u128) -> u128 {
        let (mut left, mut right) = ((value >> 64) as u64, value as u64);
        for round in 0..ROUNDS {
            let mut input = [0u8; 9];
            input[0] = round;
            input[1..].copy_from_slice(&right.to_le_bytes());
            (left, right) = (right, left ^ self.key.draw(&input).u64());
        }
        (u128::from(left) << 64) | u128::from(right)
    }
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl Pseudonym {
    /// The pseudonym of an integer of `bits` bits: non-negative values map
    /// among themselves, negative ones among themselves.
    fn int(&self, value: i64, bits: u32) -> i64 {
        let magnitude_bits = bits - 1;
        if value >= 0 {
            self.network.permute_below(value as u64, magnitude_bits) as i64
        } else {
            // -1 ↔ 0, -2 ↔ 1, …: the negative half as a non-negative range.
            -(self.network.permute_below((-(value + 1)) as u64, magnitude_bits) as i64) - 1
        }
    }
}

impl Transformer for Pseudonym {
    fn apply(&self, input: Option<&[u8]>, out: &mut Vec<u8>) -> Result<Field, ValueError> {
        let Some(input) = input else { return Ok(Field::Null) };
        match self.form {
            Form::Int(int) => {
                let value = int.decode(input)?;
                int.encode(self.int(value, int.bits()), out);
            }
            Form::Uuid => {
                let bytes: [u8; 16] = input.try_into().map_err(|_| ValueError::new("uuid field is not 16 bytes"))?;
                out.extend_from_slice(&self.network.permute_128(u128::from_be_bytes(bytes)).to_be_bytes());
            }
        }
        Ok(Field::Value)
    }

    fn guarantees(&self) -> Guarantees {
        // A bijection: as unique as the input itself.
        Guarantees::non_text().unique(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use super::*;
    use crate::transform::key::Keys;
    use crate::transform::spec::no_lookup;
    use crate::transform::types::ColumnType;

    fn pseudonym(ty: Type, secret: &str) -> Box<dyn Transformer> {
        PSEUDONYM.build(None, &ColumnType::of(ty), &Keys::from_secret(secret), Path::new("."), no_lookup).unwrap()
    }

    fn apply(t: &dyn Transformer, field: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        assert_eq!(t.apply(Some(field), &mut out).unwrap(), Field::Value);
        out
    }

    #[test]
    fn small_integers_map_one_to_one_and_keep_their_sign() {
        let t = pseudonym(Type::INT2, "k");
        let mut seen = HashSet::new();
        for value in i16::MIN..=i16::MAX {
            let out = i16::from_be_bytes(apply(t.as_ref(), &value.to_be_bytes()).try_into().unwrap());
            assert_eq!(out < 0, value < 0, "{value} -> {out}");
            assert!(seen.insert(out), "{out} twice");
        }
        assert_eq!(seen.len(), 65_536);
    }

    #[test]
    fn keys_decide_and_the_mapping_is_stable() {
        let (a, b) = (pseudonym(Type::INT8, "one"), pseudonym(Type::INT8, "two"));
        let field = 42i64.to_be_bytes();
        assert_eq!(apply(a.as_ref(), &field), apply(pseudonym(Type::INT8, "one").as_ref(), &field));
        assert_ne!(apply(a.as_ref(), &field), apply(b.as_ref(), &field));
        assert_ne!(apply(a.as_ref(), &field), field.to_vec(), "not the identity");
        let out = i64::from_be_bytes(apply(a.as_ref(), &field).try_into().unwrap());
        assert!(out >= 0);
        let int4 = pseudonym(Type::INT4, "one");
        let mut seen = HashSet::new();
        for value in 1..=20_000i32 {
            let out = i32::from_be_bytes(apply(int4.as_ref(), &value.to_be_bytes()).try_into().unwrap());
            assert!(out >= 0 && seen.insert(out));
        }
    }

    #[test]
    fn uuids_map_one_to_one() {
        let t = pseudonym(Type::UUID, "k");
        let mut seen = HashSet::new();
        for i in 0u128..5_000 {
            assert!(seen.insert(apply(t.as_ref(), &i.to_be_bytes())));
        }
        assert!(t.apply(Some(&[1, 2, 3]), &mut Vec::new()).is_err());
        assert_eq!(t.guarantees().unique_bits, u32::MAX);
    }
}
