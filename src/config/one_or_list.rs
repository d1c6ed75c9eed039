//! A config section written either as a map or as a one-element list.
//!
//! Both spellings of `bridge:` appear in seed configs. Deserializing through
//! a visitor (not an untagged enum) keeps the inner error messages, with
//! their line numbers, intact.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OneOrList<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrList<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map or a list with exactly one map")
        }

        fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }

        fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<T, S::Error> {
            let first: T = seq
                .next_element()?
                .ok_or_else(|| de::Error::custom("expected a list with exactly one element, found none"))?;
            if seq.next_element::<de::IgnoredAny>()?.is_some() {
                return Err(de::Error::custom("expected a list with exactly one element, found several"));
            }
            Ok(first)
        }
    }

    d.deserialize_any(OneOrList(PhantomData))
}
