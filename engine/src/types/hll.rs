//! HyperLogLog in Redis's exact byte layout, so a sketch written by usher reads the same on
//! redis-server and the reverse (through GET/SET, DUMP/RESTORE or an RDB file).
//!
//! A HyperLogLog is an ordinary string: a 16-byte header (`HYLL`, the encoding byte, three
//! unused bytes, and the cached cardinality, little-endian, whose top bit set means "stale")
//! followed by 16384 six-bit registers, either *dense* (12288 packed bytes, register 0 in the
//! low bits of byte 0) or *sparse* (run-length opcodes: `ZERO` 00xxxxxx for 1-64 zero
//! registers, `XZERO` 01xxxxxx xxxxxxxx for up to 16384, `VAL` 1vvvvvxx for 1-4 registers
//! holding 1-32). Every routine here mirrors its counterpart in Redis 7.0's `hyperloglog.c`
//! step for step (`hllSparseSet`'s split and merge passes included), because the bytes
//! themselves are the compatibility contract: two servers given the same PFADDs must store
//! the same string. Damaged sparse opcodes are detected as Redis does since the fix for
//! CVE-2025-32023 (in Debian's 7.0.15): a run of any kind past register 16383 makes the sketch
//! invalid, not only a VAL run. Elements hash with Redis's MurmurHash64A (seed `0xadc83b19`), and the
//! cardinality comes from Ertl's estimator ("New cardinality estimation algorithms for
//! HyperLogLog sketches", arXiv:1702.01284), as Redis computes it since 5.0.

/// Registers are indexed by the low 14 bits of the hash.
pub const P: u32 = 14;
/// Bits of the hash left for the run of zeros.
pub const Q: usize = 64 - P as usize;
pub const REGISTERS: usize = 1 << P;
pub const HEADER: usize = 16;
/// Header plus 16384 six-bit registers.
pub const DENSE_SIZE: usize = HEADER + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const REGISTER_MAX: u64 = 63;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2), the estimator's constant for an infinite number of registers.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The sketch's bytes do not describe 16384 registers (a hand-made or damaged string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Redis's `MurmurHash64A`, endian-neutral (little-endian reads).
pub fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let chunks = key.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// Redis's `hllPatLen`: the register an element lands in and the length of the `000..1`
/// pattern in the rest of its hash (1..=Q+1).
pub fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty sketch: sparse, one XZERO covering every register, cached cardinality 0.
pub fn new_sparse() -> Vec<u8> {
    let mut s = vec![0u8; HEADER];
    s[..4].copy_from_slice(b"HYLL");
    s[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(SPARSE_XZERO_MAX_LEN);
        s.extend_from_slice(&xzero(run));
        left -= run;
    }
    s
}

/// Redis's `isHLLObjectOrReply` checks on the bytes: magic, a known encoding, and the exact
/// size for dense sketches. (Sparse opcodes are only checked when walked.)
pub fn looks_valid(s: &[u8]) -> bool {
    s.len() >= HEADER
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

pub fn is_dense(s: &[u8]) -> bool {
    s[4] == DENSE
}

pub fn invalidate_cache(s: &mut [u8]) {
    s[15] |= 0x80;
}

/// The cached cardinality, if still valid.
pub fn cached(s: &[u8]) -> Option<u64> {
    (s[15] & 0x80 == 0).then(|| u64::from_le_bytes(s[8..16].try_into().expect("8 bytes")))
}

pub fn set_cached(s: &mut [u8], card: u64) {
    s[8..16].copy_from_slice(&card.to_le_bytes());
}

/// `HLL_DENSE_GET_REGISTER` over the register bytes (the byte after the last one reads 0, as
/// the sds terminator does in Redis).
#[inline]
pub fn dense_get(regs: &[u8], index: usize) -> u8 {
    let byte = index * 6 / 8;
    let fb = (index * 6) & 7;
    let b0 = regs[byte] as u64;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u64;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX) as u8
}

/// `HLL_DENSE_SET_REGISTER`.
#[inline]
pub fn dense_set(regs: &mut [u8], index: usize, value: u8) {
    let byte = index * 6 / 8;
    let fb = (index * 6) & 7;
    let v = value as u64;
    regs[byte] &= !((REGISTER_MAX << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((REGISTER_MAX >> (8 - fb)) as u8);
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// `hllDenseSet`: raises a register; true if it changed.
fn dense_raise(regs: &mut [u8], index: usize, count: u8) -> bool {
    if count > dense_get(regs, index) {
        dense_set(regs, index, count);
        true
    } else {
        false
    }
}

fn is_zero(op: u8) -> bool {
    op & 0xc0 == 0
}
fn is_xzero(op: u8) -> bool {
    op & 0xc0 == 0x40
}
fn is_val(op: u8) -> bool {
    op & 0x80 != 0
}
fn zero_len(op: u8) -> usize {
    (op & 0x3f) as usize + 1
}
fn xzero_len(op: u8, next: u8) -> usize {
    ((((op & 0x3f) as usize) << 8) | next as usize) + 1
}
fn val_value(op: u8) -> u8 {
    ((op >> 2) & 0x1f) + 1
}
fn val_len(op: u8) -> usize {
    (op & 0x3) as usize + 1
}
fn val(value: u8, len: usize) -> u8 {
    ((value - 1) << 2) | (len as u8 - 1) | 0x80
}
fn zero(len: usize) -> u8 {
    (len - 1) as u8
}
fn xzero(len: usize) -> [u8; 2] {
    let l = len - 1;
    [(l >> 8) as u8 | 0x40, (l & 0xff) as u8]
}

/// One decoded sparse opcode: (registers covered, value, opcode bytes).
fn opcode(s: &[u8], p: usize) -> (usize, u8, usize) {
    let op = s[p];
    if is_zero(op) {
        (zero_len(op), 0, 1)
    } else if is_xzero(op) {
        (xzero_len(op, s.get(p + 1).copied().unwrap_or(0)), 0, 2)
    } else {
        (val_len(op), val_value(op), 1)
    }
}

/// Whether the sparse opcodes describe exactly 16384 registers and every walk of them
/// (`hllSparseSet`, `hllSparseToDense`, `hllMerge`) succeeds.
pub fn sparse_is_sound(s: &[u8]) -> bool {
    let (mut p, mut idx) = (HEADER, 0usize);
    while p < s.len() {
        let (run, _, len) = opcode(s, p);
        if len == 2 && p + 1 >= s.len() {
            return false;
        }
        if idx + run > REGISTERS {
            return false;
        }
        idx += run;
        p += len;
    }
    idx == REGISTERS
}

/// `hllSparseToDense`: rewrites a sparse sketch as dense (a no-op if already dense), keeping
/// the header's cached cardinality.
pub fn to_dense(s: &mut Vec<u8>) -> Result<(), Corrupt> {
    if is_dense(s) {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HEADER].copy_from_slice(&s[..HEADER]);
    dense[4] = DENSE;
    let regs = &mut dense[HEADER..];
    let (mut p, mut idx) = (HEADER, 0usize);
    while p < s.len() {
        let (run, value, len) = opcode(s, p);
        if run + idx > REGISTERS {
            return Err(Corrupt);
        }
        if value > 0 {
            for _ in 0..run {
                dense_set(regs, idx, value);
                idx += 1;
            }
        } else {
            idx += run;
        }
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    *s = dense;
    Ok(())
}

/// `hllSparseSet`: raises register `index` to `count` in a sparse sketch, splitting and
/// re-merging opcodes in place, or promotes the sketch to dense when `count` does not fit a
/// VAL opcode or the string would outgrow `max_bytes`. True if the register changed.
fn sparse_raise(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let mut end = s.len();
    let (mut p, mut first, mut span) = (HEADER, 0usize, 0usize);
    let mut prev: Option<usize> = None;
    while p < end {
        let (run, _, len) = opcode(s, p);
        if p + len > end {
            // An XZERO cut off by the end of a damaged string: Redis would read its second
            // byte past the end (and move a negative length); refuse the sketch instead.
            return Err(Corrupt);
        }
        span = run;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += len;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let op = s[p];
    let (runlen, _, _) = opcode(s, p);
    // Step 2: the trivial updates in place.
    let mut trivial = false;
    if is_val(op) {
        if val_value(op) >= count {
            return Ok(false);
        }
        if runlen == 1 {
            s[p] = val(count, 1);
            trivial = true;
        }
    } else if is_zero(op) && runlen == 1 {
        s[p] = val(count, 1);
        trivial = true;
    }
    if !trivial {
        // The general case: split the opcode into up to three (at most 5 bytes).
        let mut seq: Vec<u8> = Vec::with_capacity(5);
        let last = first + span - 1;
        let push_zeros = |seq: &mut Vec<u8>, len: usize| {
            if len > SPARSE_ZERO_MAX_LEN {
                seq.extend_from_slice(&xzero(len));
            } else {
                seq.push(zero(len));
            }
        };
        if is_val(op) {
            let current = val_value(op);
            if index != first {
                seq.push(val(current, index - first));
            }
            seq.push(val(count, 1));
            if index != last {
                seq.push(val(current, last - index));
            }
        } else {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
        let old_len = if is_xzero(op) { 2 } else { 1 };
        if seq.len() > old_len && s.len() + seq.len() - old_len > max_bytes {
            return promote(s, index, count);
        }
        s.splice(p..p + old_len, seq.iter().copied());
        end = s.len();
    }
    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to five opcodes from
    // the one before the change (every pass of the loop, merges included, uses one).
    let mut p = prev.unwrap_or(HEADER);
    let mut scan = 5;
    while p < end && scan > 0 {
        scan -= 1;
        if is_xzero(s[p]) {
            p += 2;
            continue;
        } else if is_zero(s[p]) {
            p += 1;
            continue;
        }
        if p + 1 < end && is_val(s[p + 1]) {
            let (v1, v2) = (val_value(s[p]), val_value(s[p + 1]));
            if v1 == v2 {
                let len = val_len(s[p]) + val_len(s[p + 1]);
                if len <= SPARSE_VAL_MAX_LEN {
                    s[p + 1] = val(v1, len);
                    s.remove(p);
                    end -= 1;
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(s);
    Ok(true)
}

fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(s)?;
    let changed = dense_raise(&mut s[HEADER..], index, count);
    debug_assert!(changed, "a promotion always raises the register");
    Ok(changed)
}

/// Raises register `index` to `count` in either encoding; true if it changed.
pub fn raise(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if is_dense(s) {
        Ok(dense_raise(&mut s[HEADER..], index, count))
    } else {
        sparse_raise(s, index, count, max_bytes)
    }
}

/// `hllAdd`: adds one element; true if a register changed.
pub fn add(s: &mut Vec<u8>, element: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(element);
    raise(s, index, count, max_bytes)
}

/// `hllMerge`: `max[i] = max(max[i], register i)`.
pub fn merge_into(max: &mut [u8], s: &[u8]) -> Result<(), Corrupt> {
    if is_dense(s) {
        let regs = &s[HEADER..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(regs, i));
        }
        return Ok(());
    }
    let (mut p, mut i) = (HEADER, 0usize);
    while p < s.len() {
        let (run, value, len) = opcode(s, p);
        if run + i > REGISTERS {
            return Err(Corrupt);
        }
        if value > 0 {
            for m in &mut max[i..i + run] {
                *m = (*m).max(value);
            }
        }
        i += run;
        p += len;
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// How many registers hold each value, for a sketch in either encoding.
pub fn histogram(s: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    if is_dense(s) {
        let regs = &s[HEADER..];
        for i in 0..REGISTERS {
            h[dense_get(regs, i) as usize] += 1;
        }
        return Ok(h);
    }
    let (mut p, mut idx) = (HEADER, 0usize);
    while p < s.len() {
        let (run, value, len) = opcode(s, p);
        if run + idx > REGISTERS {
            return Err(Corrupt);
        }
        idx += run;
        h[value as usize] += run as u32;
        p += len;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// The histogram of plain byte registers (PFCOUNT of several keys merges into these).
pub fn raw_histogram(regs: &[u8]) -> [u32; 64] {
    let mut h = [0u32; 64];
    for &r in regs {
        h[(r & 63) as usize] += 1;
    }
    h
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let z_prev = z;
        z += x * y;
        y += y;
        if z_prev == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let z_prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z_prev == z {
            return z / 3.0;
        }
    }
}

/// Redis's `hllCount` estimate from a register histogram.
pub fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// PFDEBUG DECODE's text for a sparse sketch: `z:len`, `Z:len`, `v:value,len`.
pub fn decode(s: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HEADER;
    while p < s.len() {
        let op = s[p];
        let (run, value, len) = opcode(s, p);
        out.push(if is_zero(op) {
            format!("z:{run}")
        } else if is_xzero(op) {
            format!("Z:{run}")
        } else {
            format!("v:{value},{run}")
        });
        p += len;
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_registers_do_not_disturb_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HEADER];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        for n in 0..2000u32 {
            let e = n.to_string();
            add(&mut sparse, e.as_bytes(), usize::MAX).unwrap();
            add(&mut dense, e.as_bytes(), usize::MAX).unwrap();
        }
        assert!(!is_dense(&sparse));
        assert!(sparse_is_sound(&sparse));
        assert_eq!(histogram(&sparse), histogram(&dense));
        let est = estimate(&histogram(&dense).unwrap());
        assert!((1950..2050).contains(&est), "{est}");
        to_dense(&mut sparse).unwrap();
        assert_eq!(sparse[HEADER..], dense[HEADER..]);
    }

    #[test]
    fn empty_sketch_counts_zero() {
        assert_eq!(estimate(&histogram(&new_sparse()).unwrap()), 0);
        assert_eq!(new_sparse().len(), HEADER + 2);
    }
}
