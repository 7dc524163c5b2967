//! LZF, the compressor Redis applies to strings longer than 20 bytes in RDB files and DUMP
//! payloads (`lzf_c.c`, `lzf_d.c`).
//!
//! Written here, not taken from a crate: to produce Redis's bytes the compressor must be Redis's
//! configuration of liblzf exactly (`HLOG 16`, `VERY_FAST`, 64-bit offsets in the hash table,
//! the 16-step unrolled match loop whose overshoot at 17- and 18-byte tails changes the output),
//! and none of the crates document that. One difference is deliberate: Redis does not clear its
//! hash table between calls (`INIT_HTAB 0`), so a stale slot can occasionally turn into a match;
//! this starts from an empty table, so its output is what Redis produces on a fresh table, and
//! any output decompresses to the same bytes either way.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

#[inline]
fn idx(h: u32) -> usize {
    // VERY_FAST: ((h >> (3*8 - HLOG)) - h*5) & (HSIZE - 1)
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into at most `max_out` bytes; `None` when it does not fit (Redis then
/// stores the string uncompressed).
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    if in_len == 0 || max_out == 0 {
        return None;
    }
    // Slots hold the position + 1, so 0 means "never seen" (ref == in_data fails `ref > in_data`).
    let mut htab = vec![0u32; HSIZE];
    let mut out = vec![0u8; max_out];
    let out_end = max_out;
    let mut op: usize = 1; // start run
    let mut lit: usize = 0;
    let mut ip: usize = 0;
    let frst = |p: usize| ((input[p] as u32) << 8) | input[p + 1] as u32;
    let next = |v: u32, p: usize| (v << 8) | input[p + 2] as u32;
    let mut hval = if in_len >= 2 { frst(0) } else { 0 };
    while in_len >= 3 && ip < in_len - 2 {
        hval = next(hval, ip);
        let slot = idx(hval);
        let stored = htab[slot] as usize; // position + 1, or 0
        htab[slot] = (ip + 1) as u32;
        let matched = stored > 1 && {
            let r = stored - 1;
            let off = ip - r - 1;
            r < ip
                && off < MAX_OFF
                && input[r + 2] == input[ip + 2]
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
        };
        if matched {
            let r = stored - 1;
            let off = ip - r - 1;
            let mut len: usize = 2;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_end && op - usize::from(lit == 0) + 3 + 1 >= out_end {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);
            let mut done = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        done = true;
                        break;
                    }
                }
            }
            if !done {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip >= in_len - 2 {
                break;
            }
            // VERY_FAST: re-hash the last two positions of the match.
            ip -= 2;
            hval = frst(ip);
            hval = next(hval, ip);
            htab[idx(hval)] = (ip + 1) as u32;
            ip += 1;
            hval = next(hval, ip);
            htab[idx(hval)] = (ip + 1) as u32;
            ip += 1;
        } else {
            if op >= out_end {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > out_end {
        return None;
    }
    while ip < in_len {
        lit += 1;
        if op >= out_end {
            return None;
        }
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            if op >= out_end {
                return None;
            }
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// Decompresses `input` into exactly `out_len` bytes; `None` when the data is corrupt.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if out.len() + n > out_len || ip + n > input.len() {
                return None;
            }
            out.extend_from_slice(&input[ip..ip + n]);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip)? as usize;
                ip += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(ip)? as usize + 1;
            ip += 1;
            len += 2;
            if back > out.len() || out.len() + len > out_len {
                return None;
            }
            let start = out.len() - back;
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello world hello world hello world hello world!".to_vec(),
            (0..5000u32).map(|i| (i % 7) as u8 + b'a').collect(),
            (0..5000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
            b"abc".to_vec(),
        ];
        for s in samples {
            if let Some(c) = compress(&s, s.len() + 64) {
                assert_eq!(decompress(&c, s.len()).unwrap(), s);
            }
        }
    }

    #[test]
    fn random_inputs_round_trip_or_do_not_fit_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 600) as usize;
            let alphabet = 1 + next() % 255;
            let s: Vec<u8> = (0..len).map(|_| (next() % alphabet) as u8).collect();
            let max_out = (next() % (len as u64 + 40)) as usize;
            if let Some(c) = compress(&s, max_out) {
                assert!(c.len() <= max_out);
                assert_eq!(decompress(&c, s.len()).unwrap(), s);
            }
        }
    }

    #[test]
    fn matches_redis_on_a_known_payload() {
        // DUMP of SET k "aaaa...a" (40 x 'a') on redis-server 7.0.15:
        // 00 c3 09 28 | 01 61 61 e0 1b 00 01 61 61 | 0a 00 | crc
        let s = vec![b'a'; 40];
        let c = compress(&s, 36).unwrap();
        assert_eq!(
            c,
            vec![0x01, 0x61, 0x61, 0xe0, 0x1b, 0x00, 0x01, 0x61, 0x61]
        );
        let s = b"hello world hello world hello world hello world!";
        let mut want = vec![0x0c];
        want.extend_from_slice(b"hello world h");
        want.extend_from_slice(&[0xe0, 0x18, 0x0b, 0x01, b'd', b'!']);
        assert_eq!(compress(s, s.len() - 4).unwrap(), want);
    }
}
