//! A fast hasher for the loader's maps keyed by ids (workstream ids, step ids).
//!
//! The standard library's SipHash resists flooding by chosen keys, which matters for
//! maps fed by the network; here keys come from the user's own workstream files, and the
//! loader hashes every id several times (100,000 steps: about a million lookups), where
//! SipHash was a tenth of `pipeline plan`'s time. This is the multiply-rotate hash rustc
//! uses for its own maps (FxHash), eight bytes at a time, with a final mix so that every
//! byte reaches the low bits.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash state.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply-rotate steps leave the low bits, which pick the bucket, depending on
        // the first bytes only ("s00001" and "s00002" would collide): mix them in (the
        // MurmurHash3 finaliser).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A `HashMap` with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A `HashSet` with [`IdHasher`].
pub(crate) type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_differ_anywhere_hash_apart_and_lookups_work() {
        let ids: Vec<String> = (0..10_000)
            .map(|i| format!("ws-{i:05}/step-{}", i % 7))
            .collect();
        let map: IdMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        assert_eq!(map.len(), ids.len());
        for (i, s) in ids.iter().enumerate() {
            assert_eq!(map.get(s.as_str()), Some(&i));
        }
        assert_eq!(map.get("ws-99999/step-0"), None);
        let hash = |s: &str| {
            let mut h = IdHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_ne!(hash("abcdefgh1"), hash("abcdefgh2"));
        assert_ne!(hash("a"), hash("b"));
        // Ids alike in their first bytes still spread over the low bits (bucket index):
        // 1,000 of them land in at least 900 of 4,096 buckets.
        let buckets: HashSet<u64> = (0..1000)
            .map(|i| hash(&format!("s{i:05}")) & 4095)
            .collect();
        assert!(buckets.len() > 900, "{}", buckets.len());
    }
}
