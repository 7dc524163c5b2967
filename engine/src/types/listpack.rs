//! Redis's listpack (`listpack.c`): the byte layout of stream nodes, and of hashes, sorted
//! sets and quicklist nodes inside RDB values. One writer and one bounds-checked reader serve
//! both the stream type (whose nodes *are* listpacks, so their memory and RDB bytes are
//! Redis's) and the RDB codec in `usher-persist`.
//!
//! Readers never trust a length: every read is bounds-checked and a malformed blob is an
//! error, never a panic.

use usher_protocol::parse::parse_i64;

/// One decoded element: listpacks and ziplists store integers natively.
#[derive(Clone, Debug, PartialEq)]
pub enum Elem {
    Int(i64),
    Bytes(Vec<u8>),
}

impl Elem {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Elem::Int(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
            Elem::Bytes(b) => b,
        }
    }
}

/// A malformed container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

/// Builds a listpack by appending elements (`lpAppend`): a string that is a canonical integer
/// is stored as an integer, in the smallest encoding, as Redis does.
pub struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ListpackWriter {
    pub fn new() -> Self {
        ListpackWriter {
            buf: vec![0; 6],
            count: 0,
        }
    }

    /// Reopens a finished listpack to append to it (`finish` closes it again); `count` is its
    /// number of elements.
    pub fn reopen(mut lp: Vec<u8>, count: usize) -> Self {
        debug_assert_eq!(lp.last(), Some(&0xFF));
        lp.pop();
        ListpackWriter { buf: lp, count }
    }

    /// Bytes the finished listpack would have now (header and end byte included), Redis's
    /// `lpBytes`.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn push(&mut self, s: &[u8]) {
        match parse_i64(s) {
            Some(v) if s.len() <= 20 => self.push_int(v),
            _ => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let (entry, n) = int_entry(v);
        self.buf.extend_from_slice(&entry[..n]);
        self.count += 1;
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(n as u8 | 0x80);
        } else if n < 4096 {
            self.buf.push(((n >> 8) as u8) | 0xE0);
            self.buf.push(n as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = self.buf.len() - start;
        // lpEncodeBacklen: the entry's size, 7 bits a byte, most significant byte first.
        if l <= 127 {
            self.buf.push(l as u8);
        } else if l < 16383 {
            self.buf
                .extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2_097_151 {
            self.buf.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268_435_455 {
            self.buf.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            self.buf.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
        self.count += 1;
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        // More than 65534 elements: the header says "unknown" (lpLength counts them).
        let n = if self.count < 65535 {
            self.count as u16
        } else {
            65535
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// `b[at..at + n]`, or an error past the end.
pub fn take(b: &[u8], at: usize, n: usize) -> Result<&[u8], Corrupt> {
    b.get(at..at.checked_add(n).ok_or(Corrupt("length overflow"))?)
        .ok_or(Corrupt("element past the end"))
}

pub fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// One element read in place: integers decoded, strings borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LpVal<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl LpVal<'_> {
    /// The element as an integer (strings that spell one count too), as `lpGetInteger`.
    pub fn as_int(self) -> Option<i64> {
        match self {
            LpVal::Int(i) => Some(i),
            LpVal::Bytes(b) => parse_i64(b),
        }
    }

    pub fn to_elem(self) -> Elem {
        match self {
            LpVal::Int(i) => Elem::Int(i),
            LpVal::Bytes(b) => Elem::Bytes(b.to_vec()),
        }
    }

    /// Calls `f` with the element's bytes (integers formatted).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            LpVal::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
            LpVal::Bytes(b) => f(b),
        }
    }
}

/// Size of the back-length that follows an element of `size` bytes (`lpEncodeBacklen`).
fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// The element at offset `p` and the offset of the next one; `None` at the end byte.
pub fn read_at(b: &[u8], p: usize) -> Result<Option<(LpVal<'_>, usize)>, Corrupt> {
    let e = *b.get(p).ok_or(Corrupt("listpack without end"))?;
    if e == 0xFF {
        return Ok(None);
    }
    let (elem, size) = if e & 0x80 == 0 {
        (LpVal::Int((e & 0x7f) as i64), 1)
    } else if e & 0xC0 == 0x80 {
        let n = (e & 0x3f) as usize;
        (LpVal::Bytes(take(b, p + 1, n)?), 1 + n)
    } else if e & 0xE0 == 0xC0 {
        let lo = take(b, p + 1, 1)?[0] as u64;
        (
            LpVal::Int(sign_extend((((e & 0x1f) as u64) << 8) | lo, 13)),
            2,
        )
    } else if e & 0xF0 == 0xE0 {
        let n = (((e & 0x0f) as usize) << 8) | take(b, p + 1, 1)?[0] as usize;
        (LpVal::Bytes(take(b, p + 2, n)?), 2 + n)
    } else {
        match e {
            0xF0 => {
                let n = u32::from_le_bytes(take(b, p + 1, 4)?.try_into().unwrap()) as usize;
                (LpVal::Bytes(take(b, p + 5, n)?), 5 + n)
            }
            0xF1..=0xF4 => {
                let w = [2usize, 3, 4, 8][(e - 0xF1) as usize];
                let mut v = [0u8; 8];
                v[..w].copy_from_slice(take(b, p + 1, w)?);
                (
                    LpVal::Int(sign_extend(u64::from_le_bytes(v), w as u32 * 8)),
                    1 + w,
                )
            }
            _ => return Err(Corrupt("bad listpack encoding")),
        }
    };
    let next = p + size + backlen_size(size);
    if next > b.len() {
        return Err(Corrupt("element past the end"));
    }
    Ok(Some((elem, next)))
}

/// Checks a listpack's header and returns the offset of its first element.
pub fn check_header(b: &[u8]) -> Result<usize, Corrupt> {
    if b.len() < 7 {
        return Err(Corrupt("listpack too short"));
    }
    let total = u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize;
    if total != b.len() {
        return Err(Corrupt("listpack size mismatch"));
    }
    Ok(6)
}

/// Decodes every element of a listpack.
pub fn listpack_decode(b: &[u8]) -> Result<Vec<Elem>, Corrupt> {
    let mut p = check_header(b)?;
    let mut out = Vec::new();
    while let Some((v, next)) = read_at(b, p)? {
        out.push(v.to_elem());
        p = next;
    }
    if p + 1 != b.len() {
        return Err(Corrupt("listpack data after its end"));
    }
    Ok(out)
}

/// An integer element as `lpAppend` writes it: the smallest encoding, then its back-length
/// (one byte, as an integer element is at most 9 bytes). Returns the bytes and how many.
fn int_entry(v: i64) -> ([u8; 10], usize) {
    let mut b = [0u8; 10];
    let n = if (0..=127).contains(&v) {
        b[0] = v as u8;
        1
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1i64 << 13) + v } else { v } as u64;
        b[0] = ((u >> 8) as u8) | 0xC0;
        b[1] = u as u8;
        2
    } else if (-32768..=32767).contains(&v) {
        b[0] = 0xF1;
        b[1..3].copy_from_slice(&(v as i16).to_le_bytes());
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        b[0] = 0xF2;
        b[1..4].copy_from_slice(&(v as i32).to_le_bytes()[..3]);
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        b[0] = 0xF3;
        b[1..5].copy_from_slice(&(v as i32).to_le_bytes());
        5
    } else {
        b[0] = 0xF4;
        b[1..9].copy_from_slice(&v.to_le_bytes());
        9
    };
    // lpEncodeBacklen of a size under 128.
    b[n] = n as u8;
    (b, n + 1)
}

/// Replaces the integer element at `p` with `v` in a finished listpack (`lpReplaceInteger`),
/// keeping the header's byte total right; returns the change in size. In place when the new
/// encoding is as long as the old one (a stream node's counters, on every XADD and XDEL).
pub fn replace_int_at(lp: &mut Vec<u8>, p: usize, v: i64) -> isize {
    let (_, next) = read_at(lp, p)
        .ok()
        .flatten()
        .expect("replacing an element that exists");
    let (entry, n) = int_entry(v);
    let delta = n as isize - (next - p) as isize;
    if delta == 0 {
        lp[p..next].copy_from_slice(&entry[..n]);
        return 0;
    }
    lp.splice(p..next, entry[..n].iter().copied());
    let total = lp.len() as u32;
    lp[0..4].copy_from_slice(&total.to_le_bytes());
    delta
}

/// Bytes an element would take in a listpack (encoding, data and back-length), for node
/// size limits computed without building anything.
pub fn elem_size(s: &[u8]) -> usize {
    let size = match parse_i64(s) {
        Some(v) if s.len() <= 20 => int_size(v),
        _ => match s.len() {
            n @ 0..=63 => 1 + n,
            n @ 64..=4095 => 2 + n,
            n => 5 + n,
        },
    };
    size + backlen_size(size)
}

fn int_size(v: i64) -> usize {
    match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        _ if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => 5,
        _ => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDGES: [i64; 16] = [
        0,
        127,
        128,
        -1,
        -4096,
        4095,
        4096,
        -32768,
        32767,
        -8_388_608,
        8_388_607,
        8_388_608,
        i32::MIN as i64,
        i32::MAX as i64,
        i64::MIN,
        i64::MAX,
    ];

    #[test]
    fn integers_read_back_in_their_smallest_encoding() {
        let mut w = ListpackWriter::new();
        for v in EDGES {
            w.push_int(v);
        }
        let lp = w.finish();
        let elems = listpack_decode(&lp).unwrap();
        assert_eq!(elems, EDGES.map(Elem::Int).to_vec());
        let sizes: usize = EDGES.iter().map(|&v| int_size(v) + 1).sum();
        assert_eq!(lp.len(), 6 + sizes + 1);
    }

    #[test]
    fn replacing_an_integer_keeps_the_listpack_whole() {
        for old in EDGES {
            for new in EDGES {
                let mut w = ListpackWriter::new();
                w.push(b"field");
                w.push_int(old);
                w.push(b"value");
                let mut lp = w.finish();
                let at = read_at(&lp, 6).unwrap().unwrap().1;
                let delta = replace_int_at(&mut lp, at, new);
                assert_eq!(delta, int_size(new) as isize - int_size(old) as isize);
                assert_eq!(
                    listpack_decode(&lp).unwrap(),
                    vec![
                        Elem::Bytes(b"field".to_vec()),
                        Elem::Int(new),
                        Elem::Bytes(b"value".to_vec())
                    ]
                );
            }
        }
    }
}
