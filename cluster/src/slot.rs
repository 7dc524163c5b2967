//! The routing function: `slot = CRC16(hash-tag-or-key) mod 16384`.
//!
//! Every key in usher, standalone or clustered, is routed by [`key_hash_slot`]. Keys that share a
//! hash tag share a slot, hence a node and a shard, which is what makes multi-key commands and
//! scripts over them atomic and cheap.

/// Number of hash slots, as in Redis Cluster.
pub const SLOT_COUNT: usize = 16384;

/// CRC16/XMODEM (polynomial 0x1021, init 0), the variant Redis Cluster uses.
///
/// Table-driven, four bytes a step ("slicing by 4": four independent table look-ups instead of
/// a chain of four), since every keyed command routes its key through here: on a typical
/// 16-byte key this is about a third of the byte-at-a-time loop's instructions.
/// `crc16(b"123456789") == 0x31C3` is the check value Redis's `crc16.c` documents.
pub fn crc16(bytes: &[u8]) -> u16 {
    let t = &CRC16_TABLES;
    let mut crc: u16 = 0;
    let mut chunks = bytes.chunks_exact(4);
    for c in &mut chunks {
        crc = t[3][((crc >> 8) as u8 ^ c[0]) as usize]
            ^ t[2][(crc as u8 ^ c[1]) as usize]
            ^ t[1][c[2] as usize]
            ^ t[0][c[3] as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc << 8) ^ t[0][((crc >> 8) as u8 ^ b) as usize];
    }
    crc
}

/// The first `needle` in `hay`, eight bytes at a time (the classic "has zero byte" test on
/// `word ^ needle×8`; the lowest flagged byte is always a true match).
#[inline]
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * needle as u64;
    let mut i = 0;
    while i + 8 <= hay.len() {
        let word = u64::from_le_bytes(hay[i..i + 8].try_into().expect("8 bytes")) ^ pattern;
        let found = word.wrapping_sub(LO) & !word & HI;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay[i..].iter().position(|&b| b == needle).map(|p| p + i)
}

/// Returns the hash slot of `key`, exactly as Redis's `keyHashSlot` does.
///
/// If the key contains a `{`, and a `}` after it with at least one byte between them, only the
/// bytes between the first `{` and the first `}` after it are hashed (the hash tag). Otherwise,
/// including for `{}` and for a `{` with no closing `}`, the whole key is hashed.
/// The result is `crc16 & 0x3FFF`, i.e. `crc16 mod 16384`.
#[inline]
pub fn key_hash_slot(key: &[u8]) -> u16 {
    let hashed = match find_byte(key, b'{') {
        Some(open) => match find_byte(&key[open + 1..], b'}') {
            Some(0) | None => key,
            Some(len) => &key[open + 1..open + 1 + len],
        },
        None => key,
    };
    crc16(hashed) & 0x3FFF
}

const fn build_tables() -> [[u16; 256]; 4] {
    let mut t = [[0u16; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    // t[k][x]: the CRC of byte x followed by k zero bytes.
    let mut k = 1;
    while k < 4 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = t[0][(prev >> 8) as usize] ^ (prev << 8);
            i += 1;
        }
        k += 1;
    }
    t
}

static CRC16_TABLES: [[u16; 256]; 4] = build_tables();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_documented_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    /// The bit-at-a-time definition, and the naive searches, to check the fast ones against.
    fn crc16_reference(bytes: &[u8]) -> u16 {
        let mut crc: u16 = 0;
        for &b in bytes {
            crc ^= (b as u16) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    fn slot_reference(key: &[u8]) -> u16 {
        let hashed = match key.iter().position(|&b| b == b'{') {
            Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
                Some(0) | None => key,
                Some(len) => &key[open + 1..open + 1 + len],
            },
            None => key,
        };
        crc16_reference(hashed) & 0x3FFF
    }

    #[test]
    fn the_fast_crc_and_tag_search_agree_with_the_definition() {
        // A fixed-seed LCG: keys of every length up to 70, heavy in braces.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        for _ in 0..20_000 {
            let len = (next() % 71) as usize;
            let key: Vec<u8> = (0..len)
                .map(|_| match next() % 10 {
                    0 => b'{',
                    1 => b'}',
                    _ => next() as u8,
                })
                .collect();
            assert_eq!(crc16(&key), crc16_reference(&key), "{key:?}");
            assert_eq!(key_hash_slot(&key), slot_reference(&key), "{key:?}");
            for needle in [b'{', b'}', 0, 0x80, 0xff] {
                assert_eq!(
                    find_byte(&key, needle),
                    key.iter().position(|&b| b == needle),
                    "{key:?} {needle}"
                );
            }
        }
    }

    #[test]
    fn slots_match_redis_cluster_keyslot() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.0.
        assert_eq!(key_hash_slot(b"foo"), 12182);
        assert_eq!(key_hash_slot(b"bar"), 5061);
        assert_eq!(key_hash_slot(b""), 0);
        assert_eq!(
            key_hash_slot(b"{user1000}.following"),
            key_hash_slot(b"user1000")
        );
        assert_eq!(
            key_hash_slot(b"{user1000}.followers"),
            key_hash_slot(b"user1000")
        );
    }

    #[test]
    fn empty_or_unclosed_tags_hash_the_whole_key() {
        assert_eq!(key_hash_slot(b"{}x"), crc16(b"{}x") & 0x3FFF);
        assert_eq!(key_hash_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3FFF);
        assert_eq!(key_hash_slot(b"foo{bar"), crc16(b"foo{bar") & 0x3FFF);
        // Only the first `{` counts, and the first `}` after it.
        assert_eq!(key_hash_slot(b"foo{{bar}}zap"), crc16(b"{bar") & 0x3FFF);
        assert_eq!(key_hash_slot(b"foo{bar}{zap}"), crc16(b"bar") & 0x3FFF);
    }
}
