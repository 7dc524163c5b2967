//! The routing function: `slot = CRC16(hash-tag-or-key) mod 16384`.
//!
//! Every key in usher, standalone or clustered, is routed by [`key_hash_slot`]. Keys that share a
//! hash tag share a slot, hence a node and a shard, which is what makes multi-key commands and
//! scripts over them atomic and cheap.

/// Number of hash slots, as in Redis Cluster.
pub const SLOT_COUNT: usize = 16384;

/// CRC16/XMODEM (polynomial 0x1021, init 0), the variant Redis Cluster uses.
///
/// Table-driven; `crc16(b"123456789") == 0x31C3` is the check value Redis's `crc16.c` documents.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc = (crc << 8) ^ CRC16_TABLE[(((crc >> 8) as u8) ^ b) as usize];
    }
    crc
}

/// Returns the hash slot of `key`, exactly as Redis's `keyHashSlot` does.
///
/// If the key contains a `{`, and a `}` after it with at least one byte between them, only the
/// bytes between the first `{` and the first `}` after it are hashed (the hash tag). Otherwise,
/// including for `{}` and for a `{` with no closing `}`, the whole key is hashed.
/// The result is `crc16 & 0x3FFF`, i.e. `crc16 mod 16384`.
#[inline]
pub fn key_hash_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(0) | None => key,
            Some(len) => &key[open + 1..open + 1 + len],
        },
        None => key,
    };
    crc16(hashed) & 0x3FFF
}

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
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
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16_TABLE: [u16; 256] = build_table();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_documented_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
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
