//! Naming keys that must live in the same slot as another key.
//!
//! The waiting-room commands keep per-queue state in companion keys (`<queue>:policy`,
//! `<queue>:hb`). A companion must hash to its queue's slot, so that one shard (and, in cluster
//! mode, one node) holds both and the commands stay single-shard:
//!
//! - `queue:{evt42}` has a hash tag → `queue:{evt42}:policy` keeps it;
//! - `queue:evt42` has none → `{queue:evt42}:policy` makes the whole queue name the tag.

/// True when `key` has a hash tag that routing uses (a `{`, then a `}` with bytes between).
pub fn has_hash_tag(key: &[u8]) -> bool {
    hash_tag(key).is_some()
}

/// The hash tag routing uses: the bytes between the first `{` and the first `}` after it,
/// when there are any.
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let len = key[open + 1..].iter().position(|&b| b == b'}')?;
    (len > 0).then(|| &key[open + 1..open + 1 + len])
}

/// A key named `<base>:<suffix>` that hashes to `base`'s slot whenever that is possible.
///
/// When `base` has no hash tag it is wrapped in braces, which makes all of it the tag; that is
/// impossible when `base` is empty or itself contains a `}`, and then the plain name is returned
/// (it works in standalone mode, where any keys can be combined).
pub fn companion_key(base: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base.len() + suffix.len() + 3);
    if has_hash_tag(base) || base.contains(&b'}') || base.is_empty() {
        out.extend_from_slice(base);
    } else {
        out.push(b'{');
        out.extend_from_slice(base);
        out.push(b'}');
    }
    out.push(b':');
    out.extend_from_slice(suffix);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slot::key_hash_slot;

    #[test]
    fn companions_share_the_base_slot() {
        for base in [
            &b"queue:evt42"[..],
            b"queue:{evt42}",
            b"q",
            b"a{b",
            b"{x}y{z}",
        ] {
            let c = companion_key(base, b"policy");
            assert_eq!(
                key_hash_slot(&c),
                key_hash_slot(base),
                "{}",
                String::from_utf8_lossy(&c)
            );
        }
        assert_eq!(companion_key(b"queue:{evt42}", b"hb"), b"queue:{evt42}:hb");
        assert_eq!(companion_key(b"queue:evt42", b"hb"), b"{queue:evt42}:hb");
    }
}
