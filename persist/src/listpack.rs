//! Redis's compact containers as they appear inside RDB values: the listpack (written and
//! read: hashes, sorted sets and quicklist nodes of Redis 7.0), the intset (written and read),
//! and the older ziplist and zipmap (read only: RDB files from Redis before 7.0 hold them).
//!
//! Layouts follow `listpack.c`, `intset.c`, `ziplist.c` and `zipmap.c`. Decoders never trust a
//! length: every read is bounds-checked and a malformed blob is an error, never a panic.

pub use usher_engine::types::listpack::{listpack_decode, Corrupt, Elem, ListpackWriter};
use usher_engine::types::listpack::{sign_extend, take};

/// Decodes every element of a ziplist (Redis before 7.0).
pub fn ziplist_decode(b: &[u8]) -> Result<Vec<Elem>, Corrupt> {
    if b.len() < 11 {
        return Err(Corrupt("ziplist too short"));
    }
    let total = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    if total != b.len() {
        return Err(Corrupt("ziplist size mismatch"));
    }
    let mut out = Vec::new();
    let mut p = 10;
    loop {
        let first = *b.get(p).ok_or(Corrupt("ziplist without end"))?;
        if first == 0xFF {
            break;
        }
        p += if first < 254 { 1 } else { 5 };
        let e = *b.get(p).ok_or(Corrupt("ziplist entry past the end"))?;
        let (elem, size) = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                (Elem::Bytes(take(b, p + 1, n)?.to_vec()), 1 + n)
            }
            1 => {
                let n = (((e & 0x3f) as usize) << 8) | take(b, p + 1, 1)?[0] as usize;
                (Elem::Bytes(take(b, p + 2, n)?.to_vec()), 2 + n)
            }
            2 => {
                let n = u32::from_be_bytes(take(b, p + 1, 4)?.try_into().unwrap()) as usize;
                (Elem::Bytes(take(b, p + 5, n)?.to_vec()), 5 + n)
            }
            _ => {
                let (w, bits) = match e {
                    0xC0 => (2, 16),
                    0xD0 => (4, 32),
                    0xE0 => (8, 64),
                    0xF0 => (3, 24),
                    0xFE => (1, 8),
                    0xF1..=0xFD => (0, 0),
                    _ => return Err(Corrupt("bad ziplist encoding")),
                };
                if w == 0 {
                    (Elem::Int((e & 0x0f) as i64 - 1), 1)
                } else {
                    let mut v = [0u8; 8];
                    v[..w].copy_from_slice(take(b, p + 1, w)?);
                    (Elem::Int(sign_extend(u64::from_le_bytes(v), bits)), 1 + w)
                }
            }
        };
        p += size;
        out.push(elem);
    }
    Ok(out)
}

/// Decodes a zipmap (Redis 2.x small hashes) into field/value pairs.
/// Field/value pairs of a hash.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

pub fn zipmap_decode(b: &[u8]) -> Result<Pairs, Corrupt> {
    let mut p = 1;
    let mut out = Vec::new();
    let len_at = |p: &mut usize| -> Result<Option<usize>, Corrupt> {
        let f = *b.get(*p).ok_or(Corrupt("zipmap without end"))?;
        match f {
            255 => Ok(None),
            254 => {
                let n = u32::from_le_bytes(take(b, *p + 1, 4)?.try_into().unwrap()) as usize;
                *p += 5;
                Ok(Some(n))
            }
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    while let Some(klen) = len_at(&mut p)? {
        let key = take(b, p, klen)?.to_vec();
        p += klen;
        let vlen = len_at(&mut p)?.ok_or(Corrupt("zipmap key without value"))?;
        let free = *b.get(p).ok_or(Corrupt("zipmap truncated"))? as usize;
        p += 1;
        let val = take(b, p, vlen)?.to_vec();
        p += vlen + free;
        out.push((key, val));
    }
    Ok(out)
}

/// An intset blob of `values` (sorted ascending, no duplicates), in the narrowest encoding.
pub fn intset_encode(values: &[i64]) -> Vec<u8> {
    let width: usize = if values
        .iter()
        .all(|v| (i16::MIN as i64..=i16::MAX as i64).contains(v))
    {
        2
    } else if values
        .iter()
        .all(|v| (i32::MIN as i64..=i32::MAX as i64).contains(v))
    {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// Decodes an intset blob; checks it is sorted and duplicate-free, as Redis's validation does.
pub fn intset_decode(b: &[u8]) -> Result<Vec<i64>, Corrupt> {
    if b.len() < 8 {
        return Err(Corrupt("intset too short"));
    }
    let width = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    let n = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
    if ![2, 4, 8].contains(&width) || b.len() != 8 + width * n {
        return Err(Corrupt("bad intset header"));
    }
    let mut out = Vec::with_capacity(n);
    for c in b[8..].chunks_exact(width) {
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(c);
        let x = sign_extend(u64::from_le_bytes(v), width as u32 * 8);
        if out.last().is_some_and(|&l| l >= x) {
            return Err(Corrupt("intset not sorted"));
        }
        out.push(x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trips_every_encoding() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            8_388_607,
            -8_388_608,
            i32::MAX as i64,
            i32::MIN as i64,
            i64::MAX,
            i64::MIN,
        ];
        let mut w = ListpackWriter::new();
        for v in ints {
            w.push_int(v);
        }
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        for s in [&b"abc"[..], &mid, &long, b"007", b""] {
            w.push(s);
        }
        let lp = w.finish();
        let got = listpack_decode(&lp).unwrap();
        let mut want: Vec<Elem> = ints.iter().map(|&v| Elem::Int(v)).collect();
        for s in [&b"abc"[..], &mid, &long, b"007", b""] {
            want.push(Elem::Bytes(s.to_vec()));
        }
        assert_eq!(got, want);
    }

    #[test]
    fn intset_round_trips() {
        for v in [
            vec![1i64, 2, 3],
            vec![-70000, 5],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            assert_eq!(intset_decode(&intset_encode(&v)).unwrap(), v);
        }
        assert!(intset_decode(&[2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0]).is_err());
    }

    #[test]
    fn corrupt_blobs_are_errors() {
        let mut w = ListpackWriter::new();
        w.push(b"hello");
        let lp = w.finish();
        for cut in 0..lp.len() {
            assert!(listpack_decode(&lp[..cut]).is_err());
        }
    }
}
