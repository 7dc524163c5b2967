//! Redis's RDB format, version 10 as Redis 7.0.15 writes it: the value encodings (shared by
//! snapshot files and DUMP payloads), the file framing (header, aux fields, `SELECTDB`,
//! `RESIZEDB`, expiry opcodes, EOF and CRC-64), and the loader.
//!
//! Writing follows Redis's choices byte for byte, so a DUMP of a value encoded alike on both
//! servers is identical: strings of up to 11 bytes that are canonical integers become integer
//! encodings, longer ones (over 20 bytes) are LZF-compressed when that saves at least 4 bytes;
//! lists are `QUICKLIST_2` with nodes cut where `list-max-listpack-size` cuts them when the
//! list is built by RPUSH; listpack hashes and sorted sets are their listpack blob; big sorted
//! sets are `ZSET_2` written from the highest score down (Redis walks its skiplist backwards);
//! intsets are their blob; streams are their nodes' listpacks and groups (`stream.rs`).
//!
//! Reading accepts every encoding of the types usher serves from any RDB version up to 10
//! (ziplists, zipmaps, quicklists of ziplists, plain lists and sets, string-encoded scores),
//! and converts on load exactly where Redis does, so `OBJECT ENCODING` reads back the same.
//! Every read is bounds-checked; a malformed file is an error naming the byte offset.

use crate::listpack::{self, Elem, ListpackWriter};
use crate::{crc64, lzf};
use usher_engine::bytes::SmallBytes;
use usher_engine::config::EngineConfig;
use usher_engine::types::hash::{Hash, ListpackLimits};
use usher_engine::types::list::{End, List};
use usher_engine::types::set::Set;
use usher_engine::types::zset::{ZSet, ZSetLimits};
use usher_engine::value::{StrValue, Value};
use usher_protocol::parse::parse_i64;

/// The version this writer produces (Redis 7.0).
pub const RDB_VERSION: u16 = 10;

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;

pub const OP_FUNCTION2: u8 = 245;
pub const OP_FUNCTION_PRE_GA: u8 = 246;
pub const OP_MODULE_AUX: u8 = 247;
pub const OP_IDLE: u8 = 248;
pub const OP_FREQ: u8 = 249;
pub const OP_AUX: u8 = 250;
pub const OP_RESIZEDB: u8 = 251;
pub const OP_EXPIRETIME_MS: u8 = 252;
pub const OP_EXPIRETIME: u8 = 253;
pub const OP_SELECTDB: u8 = 254;
pub const OP_EOF: u8 = 255;

/// `list-max-listpack-size` byte limits for -1 .. -5 (`optimization_level`).
const QUICKLIST_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// `SIZE_SAFETY_LIMIT`: no packed node grows past this for a positive count limit.
const QUICKLIST_SAFETY: usize = 8192;

/// How values are written.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    /// `rdbcompression`: LZF for strings over 20 bytes.
    pub compress: bool,
    /// `list-max-listpack-size`: where quicklist nodes are cut.
    pub list_fill: i64,
}

impl WriteOptions {
    pub fn new(compress: bool, config: &EngineConfig) -> Self {
        WriteOptions {
            compress,
            list_fill: config.list_max_listpack_size,
        }
    }
}

// ---------------------------------------------------------------- writing

pub fn save_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[((n >> 8) as u8) | 0x40, n as u8]);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `rdbEncodeInteger`: the 8/16/32-bit integer encodings, or `None` beyond 32 bits.
fn encode_integer(v: i64, out: &mut Vec<u8>) -> bool {
    if (i8::MIN as i64..=i8::MAX as i64).contains(&v) {
        out.extend_from_slice(&[0xC0, v as u8]);
    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        out.push(0xC1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        out.push(0xC2);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        return false;
    }
    true
}

/// `rdbSaveRawString`.
pub fn save_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = parse_i64(s) {
            if encode_integer(v, out) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push(0xC3);
            save_len(out, c.len() as u64);
            save_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    save_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// `rdbSaveLongLongAsStringObject`: an int-encoded string value.
fn save_int_string(out: &mut Vec<u8>, v: i64) {
    if !encode_integer(v, out) {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        save_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
}

/// Redis 7.0's `d2string`: how a listpack sorted set spells a score.
fn d2string(v: f64) -> Vec<u8> {
    if v.is_finite()
        && v != 0.0
        && v > -4_503_599_627_370_495.0
        && v < 4_503_599_627_370_496.0
        && v == (v as i64) as f64
    {
        return itoa::Buffer::new().format(v as i64).as_bytes().to_vec();
    }
    usher_protocol::double::g17(v).into_bytes()
}

/// Whether Redis would append an element of `sz` bytes to a quicklist node that has `node_sz`
/// bytes and `count` elements (`_quicklistNodeAllowInsert`).
fn node_allows(node_sz: usize, count: usize, sz: usize, fill: i64) -> bool {
    let new_sz = node_sz + sz + 8;
    if fill < 0 {
        let offset = (-fill - 1) as usize;
        if offset < QUICKLIST_LEVELS.len() && new_sz <= QUICKLIST_LEVELS[offset] {
            return true;
        }
    }
    if new_sz > QUICKLIST_SAFETY {
        return false;
    }
    (count as i64) < fill
}

/// The RDB type byte `v` is written with.
pub fn value_type(v: &Value) -> u8 {
    match v {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Hash(h) if h.is_listpack() => TYPE_HASH_LISTPACK,
        Value::Hash(_) => TYPE_HASH,
        Value::Set(s) if s.is_intset() => TYPE_SET_INTSET,
        Value::Set(_) => TYPE_SET,
        Value::ZSet(z) if z.is_listpack() => TYPE_ZSET_LISTPACK,
        Value::ZSet(_) => TYPE_ZSET_2,
        Value::Stream(_) => crate::stream::TYPE_STREAM_LISTPACKS_2,
    }
}

/// `rdbSaveObject`: the value without its type byte.
pub fn save_value(out: &mut Vec<u8>, v: &Value, o: WriteOptions) {
    match v {
        Value::Str(StrValue::Int(i)) => save_int_string(out, *i),
        Value::Str(StrValue::Embstr(b)) => save_string(out, b, o.compress),
        Value::Str(StrValue::Raw(b)) => save_string(out, b, o.compress),
        Value::List(l) => save_list(out, l, o),
        Value::Hash(h) => {
            if h.is_listpack() {
                let mut w = ListpackWriter::new();
                for (f, x) in h.iter() {
                    w.push(f);
                    w.push(x);
                }
                save_string(out, &w.finish(), o.compress);
            } else {
                save_len(out, h.len() as u64);
                for (f, x) in h.iter() {
                    save_string(out, f, o.compress);
                    save_string(out, x, o.compress);
                }
            }
        }
        Value::Set(s) => match &**s {
            Set::Intset(v) => save_string(out, &listpack::intset_encode(v), o.compress),
            Set::Table(_) => {
                save_len(out, s.len() as u64);
                for m in s.iter() {
                    m.with_bytes(|b| save_string(out, b, o.compress));
                }
            }
        },
        Value::ZSet(z) => {
            if z.is_listpack() {
                let mut w = ListpackWriter::new();
                for (m, score) in z.iter() {
                    w.push(m);
                    w.push(&d2string(score));
                }
                save_string(out, &w.finish(), o.compress);
            } else {
                save_len(out, z.len() as u64);
                for (m, score) in z.iter_from_rank(z.len().saturating_sub(1), true) {
                    save_string(out, m, o.compress);
                    out.extend_from_slice(&score.to_le_bytes());
                }
            }
        }
        Value::Stream(st) => crate::stream::save_stream(out, st, o),
    }
}

fn save_list(out: &mut Vec<u8>, l: &List, o: WriteOptions) {
    let mut nodes = Vec::new();
    let mut cur = ListpackWriter::new();
    for e in l.iter() {
        if !cur.is_empty() && !node_allows(cur.bytes(), cur.len(), e.len(), o.list_fill) {
            nodes.push(std::mem::take(&mut cur).finish());
        }
        cur.push(e);
    }
    if !cur.is_empty() {
        nodes.push(cur.finish());
    }
    save_len(out, nodes.len() as u64);
    for n in nodes {
        save_len(out, 2); // QUICKLIST_NODE_CONTAINER_PACKED
        save_string(out, &n, o.compress);
    }
}

/// Type byte and value (`rdbSaveObjectType` + `rdbSaveObject`), the body of a DUMP payload.
pub fn save_object(out: &mut Vec<u8>, v: &Value, o: WriteOptions) {
    out.push(value_type(v));
    save_value(out, v, o);
}

/// One key of a snapshot (`rdbSaveKeyValuePair`).
pub fn save_key_value(
    out: &mut Vec<u8>,
    key: &[u8],
    v: &Value,
    expire_ms: Option<i64>,
    o: WriteOptions,
) {
    if let Some(at) = expire_ms {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&at.to_le_bytes());
    }
    out.push(value_type(v));
    save_string(out, key, o.compress);
    save_value(out, v, o);
}

/// What the header's aux fields say.
#[derive(Clone, Debug)]
pub struct Aux {
    pub ctime_s: i64,
    pub used_mem: u64,
    /// True when the file is the base of an append-only file (`aof-base`).
    pub aof_base: bool,
}

fn save_aux(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.push(OP_AUX);
    save_string(out, key.as_bytes(), false);
    save_string(out, value, false);
}

/// `REDIS0010` and the aux fields Redis 7.0.15 writes (`rdbSaveInfoAuxFields`).
pub fn file_header(aux: &Aux) -> Vec<u8> {
    let mut out = format!("REDIS{RDB_VERSION:04}").into_bytes();
    save_aux(&mut out, "redis-ver", b"7.0.15");
    save_aux(&mut out, "redis-bits", b"64");
    save_aux(&mut out, "ctime", aux.ctime_s.to_string().as_bytes());
    save_aux(&mut out, "used-mem", aux.used_mem.to_string().as_bytes());
    save_aux(&mut out, "aof-base", if aux.aof_base { b"1" } else { b"0" });
    out
}

/// `SELECTDB` and `RESIZEDB` opening a database's keys.
pub fn db_header(db: usize, keys: u64, expires: u64) -> Vec<u8> {
    let mut out = vec![OP_SELECTDB];
    save_len(&mut out, db as u64);
    out.push(OP_RESIZEDB);
    save_len(&mut out, keys);
    save_len(&mut out, expires);
    out
}

/// A DUMP payload: the object, then [`seal_payload`]'s footer.
pub fn dump_payload(v: &Value, o: WriteOptions) -> Vec<u8> {
    let mut out = Vec::new();
    save_object(&mut out, v, o);
    seal_payload(&mut out);
    out
}

/// The footer of every DUMP payload (a key's, and `FUNCTION DUMP`'s): the RDB version (2 bytes
/// LE) and the CRC-64 of everything before it (8 bytes LE). [`verify_dump_payload`] checks it.
pub fn seal_payload(out: &mut Vec<u8>) {
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

// ---------------------------------------------------------------- reading

/// Why a value or file could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub offset: usize,
    pub msg: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.msg, self.offset)
    }
}

/// A cursor over RDB bytes.
pub struct Reader<'a> {
    b: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    pub fn err<T>(&self, msg: impl Into<String>) -> Result<T, LoadError> {
        Err(LoadError {
            offset: self.pos,
            msg: msg.into(),
        })
    }

    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], LoadError> {
        if n > self.remaining() {
            return self.err("unexpected end of file");
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, LoadError> {
        Ok(self.bytes(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        Ok(self.bytes(N)?.try_into().expect("N bytes"))
    }

    /// A length, or `Err(encoding)` for a special string encoding (`rdbLoadLenByRef`).
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, LoadError> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Ok((first & 0x3f) as u64),
            1 => Ok((((first & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match first {
                0x80 => Ok(u32::from_be_bytes(self.array()?) as u64),
                0x81 => Ok(u64::from_be_bytes(self.array()?)),
                _ => return self.err(format!("unknown length encoding {first}")),
            },
            _ => Err(first & 0x3f),
        })
    }

    pub fn length(&mut self) -> Result<u64, LoadError> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => self.err("encoded length where a plain one belongs"),
        }
    }

    /// A length used to size a collection: bounded by what the file can still hold, so a
    /// corrupt length cannot make the loader reserve terabytes.
    fn count(&mut self) -> Result<usize, LoadError> {
        let n = self.length()?;
        if n > self.remaining() as u64 {
            return self.err(format!("length {n} is larger than the rest of the file"));
        }
        Ok(n as usize)
    }

    /// `rdbGenericLoadStringObject`.
    pub fn string(&mut self) -> Result<Vec<u8>, LoadError> {
        match self.len_or_enc()? {
            Ok(n) => {
                if n > self.remaining() as u64 {
                    return self.err("unexpected end of file");
                }
                Ok(self.bytes(n as usize)?.to_vec())
            }
            Err(enc) => {
                let v: i64 = match enc {
                    0 => self.u8()? as i8 as i64,
                    1 => i16::from_le_bytes(self.array()?) as i64,
                    2 => i32::from_le_bytes(self.array()?) as i64,
                    3 => {
                        let clen = self.length()?;
                        let len = self.length()?;
                        let at = self.pos;
                        // One 3-byte back reference expands to at most 264 bytes: a longer
                        // claim is corrupt, and must not size an allocation.
                        if clen > self.remaining() as u64 || len > clen.saturating_mul(100) + 64 {
                            return self.err("bad LZF lengths");
                        }
                        let c = self.bytes(clen as usize)?;
                        return lzf::decompress(c, len as usize).ok_or(LoadError {
                            offset: at,
                            msg: "invalid LZF compressed string".into(),
                        });
                    }
                    _ => return self.err(format!("unknown string encoding {enc}")),
                };
                Ok(itoa::Buffer::new().format(v).as_bytes().to_vec())
            }
        }
    }

    /// `rdbLoadDoubleValue`: the string-encoded score of old ZSET values.
    fn string_double(&mut self) -> Result<f64, LoadError> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let b = self.bytes(n as usize)?;
                match std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    Some(v) => Ok(v),
                    None => self.err("bad double value"),
                }
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64, LoadError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
}

fn corrupt(at: usize, e: listpack::Corrupt) -> LoadError {
    LoadError {
        offset: at,
        msg: e.0.to_string(),
    }
}

/// The (field, value) pairs of a hash's or a sorted set's listpack (Redis 7) or ziplist
/// (older files) blob; `what` names the type in the error for an odd entry count.
fn encoded_pairs(
    at: usize,
    blob: &[u8],
    is_listpack: bool,
    what: &str,
) -> Result<Vec<(listpack::Elem, listpack::Elem)>, LoadError> {
    let elems = if is_listpack {
        listpack::listpack_decode(blob)
    } else {
        listpack::ziplist_decode(blob)
    }
    .map_err(|e| corrupt(at, e))?;
    if elems.len() % 2 != 0 {
        return Err(LoadError {
            offset: at,
            msg: format!("odd number of {what} listpack entries"),
        });
    }
    let mut pairs = Vec::with_capacity(elems.len() / 2);
    let mut it = elems.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        pairs.push((a, b));
    }
    Ok(pairs)
}

fn parse_score(e: Elem) -> Option<f64> {
    match e {
        Elem::Int(i) => Some(i as f64),
        Elem::Bytes(b) => {
            let v = std::str::from_utf8(&b).ok()?.parse::<f64>().ok()?;
            (!v.is_nan()).then_some(v)
        }
    }
}

/// Limits Redis applies when it loads: the server's own, like `rdbLoadObject`.
struct Limits {
    hash: ListpackLimits,
    zset: ZSetLimits,
    intset: usize,
}

impl Limits {
    fn of(c: &EngineConfig) -> Self {
        Limits {
            hash: ListpackLimits::from_config(c),
            zset: ZSetLimits {
                max_listpack_entries: c.zset_max_listpack_entries,
                max_listpack_value: c.zset_max_listpack_value,
            },
            intset: c.set_max_intset_entries,
        }
    }
}

fn build_hash(
    at: usize,
    pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    l: &Limits,
) -> Result<Hash, LoadError> {
    let mut h = Hash::new();
    for (f, v) in pairs {
        if !h.set(&f, &v, l.hash) {
            return Err(LoadError {
                offset: at,
                msg: "Duplicate hash fields detected".into(),
            });
        }
    }
    Ok(h)
}

fn build_zset(
    at: usize,
    items: Vec<(Vec<u8>, f64)>,
    listpack_type: bool,
    l: &Limits,
) -> Result<ZSet, LoadError> {
    let dup = || LoadError {
        offset: at,
        msg: "Duplicate zset fields detected".into(),
    };
    // Redis keeps a listpack-typed set a listpack unless it has too many entries; a
    // skiplist-typed one becomes a listpack only if everything fits.
    let fits = items.len() <= l.zset.max_listpack_entries
        && (listpack_type
            || items
                .iter()
                .all(|(m, _)| m.len() <= l.zset.max_listpack_value));
    let mut z = if fits { ZSet::new() } else { ZSet::new_big() };
    let limits = if fits {
        ZSetLimits {
            max_listpack_entries: usize::MAX,
            max_listpack_value: usize::MAX,
        }
    } else {
        l.zset
    };
    for (m, s) in items {
        if z.insert(&m, s, &limits).is_some() {
            return Err(dup());
        }
    }
    Ok(z)
}

/// `rdbLoadObject`: a value of RDB type `t`. `Ok(None)` for an empty collection, which Redis
/// skips when loading a file and refuses in RESTORE.
pub fn load_value(
    r: &mut Reader,
    t: u8,
    config: &EngineConfig,
) -> Result<Option<Value>, LoadError> {
    let l = Limits::of(config);
    let at = r.pos;
    let v = match t {
        TYPE_STRING => Value::Str(StrValue::from_bytes(&r.string()?)),
        TYPE_LIST => {
            let n = r.count()?;
            let mut list = List::new();
            for _ in 0..n {
                list.push_owned(End::Tail, SmallBytes::new(&r.string()?));
            }
            Value::List(Box::new(list))
        }
        TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let nodes = if t == TYPE_LIST_ZIPLIST {
                1
            } else {
                r.count()?
            };
            let mut list = List::new();
            for _ in 0..nodes {
                let container = if t == TYPE_LIST_QUICKLIST_2 {
                    r.length()?
                } else {
                    2
                };
                let at = r.pos;
                let blob = r.string()?;
                match container {
                    1 => list.push_owned(End::Tail, SmallBytes::new(&blob)),
                    2 => {
                        let elems = if t == TYPE_LIST_QUICKLIST_2 {
                            listpack::listpack_decode(&blob)
                        } else {
                            listpack::ziplist_decode(&blob)
                        }
                        .map_err(|e| corrupt(at, e))?;
                        for e in elems {
                            list.push_owned(End::Tail, SmallBytes::new(&e.into_bytes()));
                        }
                    }
                    c => return r.err(format!("unknown quicklist container {c}")),
                }
            }
            Value::List(Box::new(list))
        }
        TYPE_SET => {
            let n = r.count()?;
            let mut s = if n > l.intset {
                Set::Table(Default::default())
            } else {
                Set::new_intset()
            };
            for _ in 0..n {
                let at = r.pos;
                let m = r.string()?;
                if !s.add(&m, l.intset) {
                    return Err(LoadError {
                        offset: at,
                        msg: "Duplicate set members detected".into(),
                    });
                }
            }
            Value::Set(Box::new(s))
        }
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            let v = listpack::intset_decode(&blob).map_err(|e| corrupt(at, e))?;
            let mut s = Set::Intset(v);
            if s.len() > l.intset {
                s.convert_to_table();
            }
            Value::Set(Box::new(s))
        }
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.count()?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let m = r.string()?;
                let s = if t == TYPE_ZSET_2 {
                    r.binary_double()?
                } else {
                    r.string_double()?
                };
                if s.is_nan() {
                    return r.err("Zset with NAN score detected");
                }
                items.push((m, s));
            }
            Value::ZSet(Box::new(build_zset(at, items, false, &l)?))
        }
        TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let blob = r.string()?;
            let pairs = encoded_pairs(at, &blob, t == TYPE_ZSET_LISTPACK, "zset")?;
            let mut items = Vec::with_capacity(pairs.len());
            for (m, s) in pairs {
                let score = parse_score(s).ok_or(LoadError {
                    offset: at,
                    msg: "bad zset score".into(),
                })?;
                items.push((m.into_bytes(), score));
            }
            Value::ZSet(Box::new(build_zset(at, items, true, &l)?))
        }
        TYPE_HASH => {
            let n = r.count()?;
            let mut pairs = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                let f = r.string()?;
                let v = r.string()?;
                pairs.push((f, v));
            }
            Value::Hash(Box::new(build_hash(at, pairs, &l)?))
        }
        TYPE_HASH_ZIPMAP => {
            let blob = r.string()?;
            let pairs = listpack::zipmap_decode(&blob).map_err(|e| corrupt(at, e))?;
            Value::Hash(Box::new(build_hash(at, pairs, &l)?))
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let blob = r.string()?;
            let pairs: Vec<_> = encoded_pairs(at, &blob, t == TYPE_HASH_LISTPACK, "hash")?
                .into_iter()
                .map(|(f, v)| (f.into_bytes(), v.into_bytes()))
                .collect();
            Value::Hash(Box::new(build_hash(at, pairs, &l)?))
        }
        crate::stream::TYPE_STREAM_LISTPACKS | crate::stream::TYPE_STREAM_LISTPACKS_2 => {
            // An empty stream is a value like any other (Redis keeps and loads them).
            return Ok(Some(Value::Stream(Box::new(crate::stream::load_stream(
                r, t,
            )?))));
        }
        6 | 7 => return r.err("module values are not supported by usher"),
        t => return r.err(format!("unknown value type {t}")),
    };
    Ok((v.element_count() > 0).then_some(v))
}

/// Checks a DUMP payload's footer (`verifyDumpPayload`) and returns its body.
pub fn verify_dump_payload(p: &[u8]) -> Option<&[u8]> {
    if p.len() < 10 {
        return None;
    }
    let (body_ver, crc) = p.split_at(p.len() - 8);
    let ver = u16::from_le_bytes([body_ver[body_ver.len() - 2], body_ver[body_ver.len() - 1]]);
    if ver > RDB_VERSION {
        return None;
    }
    if crc64::crc64(body_ver).to_le_bytes() != crc {
        return None;
    }
    Some(&body_ver[..body_ver.len() - 2])
}

/// Reads a DUMP body (type byte and value) back into a value; `None` is Redis's "Bad data
/// format" (including an empty collection and trailing bytes).
pub fn load_dump_body(body: &[u8], config: &EngineConfig) -> Option<Value> {
    let mut r = Reader::new(body);
    let t = r.u8().ok()?;
    let v = load_value(&mut r, t, config).ok()??;
    (r.remaining() == 0).then_some(v)
}

/// One key read from a file.
pub struct LoadedKey {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_ms: Option<i64>,
}

/// What a file load found.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    pub empty_keys_skipped: u64,
    pub aux: Vec<(String, String)>,
    pub rdb_version: u32,
}

/// Parses a whole RDB file: checks the magic, version and (unless zero) the CRC-64 first, so
/// a corrupt or torn file is refused before any key is handed out; then calls `on_function`
/// with each function library's code (its error stops the load), `on_key` for every key that
/// has not expired by `now_ms` (as a master does), and `progress` with the byte offset every
/// few megabytes.
pub fn load_file(
    bytes: &[u8],
    config: &EngineConfig,
    databases: usize,
    now_ms: i64,
    mut on_function: impl FnMut(Vec<u8>) -> Result<(), String>,
    mut on_key: impl FnMut(LoadedKey),
    mut progress: impl FnMut(usize),
) -> Result<LoadStats, LoadError> {
    let mut r = Reader::new(bytes);
    let magic = r.bytes(9).map_err(|_| LoadError {
        offset: 0,
        msg: "file too short to be an RDB file".into(),
    })?;
    if &magic[..5] != b"REDIS" {
        return Err(LoadError {
            offset: 0,
            msg: "Wrong signature trying to load DB from file".into(),
        });
    }
    let version: u32 = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if !(1..=RDB_VERSION as u32).contains(&version) {
        return Err(LoadError {
            offset: 5,
            msg: format!("Can't handle RDB format version {version}"),
        });
    }
    if version >= 5 {
        if !ends_with_eof(bytes) {
            return Err(LoadError {
                offset: bytes.len(),
                msg: "Unexpected EOF reading RDB file (truncated)".into(),
            });
        }
        let (body, crc) = bytes.split_at(bytes.len() - 8);
        let want = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
        if want != 0 && crc64::crc64(body) != want {
            return Err(LoadError {
                offset: bytes.len() - 8,
                msg: "Wrong RDB checksum (file corrupt or truncated)".into(),
            });
        }
    }
    let mut stats = LoadStats {
        rdb_version: version,
        ..Default::default()
    };
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let mut next_progress = 4 << 20;
    loop {
        if r.pos >= next_progress {
            progress(r.pos);
            next_progress = r.pos + (4 << 20);
        }
        let t = r.u8()?;
        match t {
            OP_EXPIRETIME_MS => expire = Some(i64::from_le_bytes(r.array()?)),
            OP_EXPIRETIME => expire = Some(i32::from_le_bytes(r.array()?) as i64 * 1000),
            OP_FREQ => {
                r.u8()?;
            }
            OP_IDLE => {
                r.length()?;
            }
            OP_EOF => break,
            OP_SELECTDB => {
                let at = r.pos;
                let n = r.length()?;
                if n >= databases as u64 {
                    return Err(LoadError { offset: at, msg: format!("FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting") });
                }
                db = n as usize;
            }
            OP_RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                stats.aux.push((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ));
            }
            OP_MODULE_AUX => return r.err("module aux data is not supported by usher"),
            OP_FUNCTION2 | OP_FUNCTION_PRE_GA => {
                let at = r.pos;
                let failed = |e: String| LoadError {
                    offset: at,
                    msg: format!("Failed loading library, {e}"),
                };
                let code =
                    crate::functions::read_library(&mut r, t).map_err(|e| failed(e.into()))?;
                on_function(code).map_err(failed)?;
            }
            t => {
                let key = r.string()?;
                let value = load_value(&mut r, t, config)?;
                let exp = expire.take();
                match value {
                    None => stats.empty_keys_skipped += 1,
                    Some(_) if exp.is_some_and(|at| at < now_ms) => stats.keys_expired += 1,
                    Some(value) => {
                        stats.keys_loaded += 1;
                        on_key(LoadedKey {
                            db,
                            key,
                            value,
                            expire_ms: exp,
                        });
                    }
                }
            }
        }
    }
    if version >= 5 && r.remaining() != 8 {
        return r.err("unexpected data after EOF");
    }
    Ok(stats)
}

/// Whether the file can end in `EOF` + CRC-64 (a file torn mid-write usually cannot).
fn ends_with_eof(bytes: &[u8]) -> bool {
    bytes.len() >= 18 && bytes[bytes.len() - 9] == OP_EOF
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<Value> {
        let c = EngineConfig::default();
        let l = Limits::of(&c);
        let mut out = vec![
            Value::Str(StrValue::from_bytes(b"12345")),
            Value::Str(StrValue::from_bytes(&b"abc".repeat(30))),
            Value::Str(StrValue::from_bytes(b"hello")),
        ];
        let mut list = List::new();
        for i in 0..3000 {
            list.push(End::Tail, format!("e{i}").as_bytes());
        }
        out.push(Value::List(Box::new(list)));
        for n in [5, 1000] {
            let mut h = Hash::new();
            let mut s = Set::new_intset();
            let mut z = ZSet::new();
            for i in 0..n {
                h.set(
                    format!("f{i}").as_bytes(),
                    format!("{}", i * 7).as_bytes(),
                    l.hash,
                );
                s.add(format!("{}", i * 70_001).as_bytes(), l.intset);
                z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, &l.zset);
            }
            out.push(Value::Hash(Box::new(h)));
            out.push(Value::Set(Box::new(s)));
            out.push(Value::ZSet(Box::new(z)));
        }
        out
    }

    #[test]
    fn payloads_round_trip_and_damaged_ones_are_errors_never_panics() {
        let c = EngineConfig::default();
        let o = WriteOptions::new(true, &c);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for v in values() {
            let p = dump_payload(&v, o);
            let body = verify_dump_payload(&p).expect("own payload verifies");
            let back = load_dump_body(body, &c).expect("own payload loads");
            assert_eq!(back.encoding_name(), v.encoding_name());
            assert_eq!(back.element_count(), v.element_count());
            // A hashtable iterates in its own (seeded) order; everything else is bytewise.
            if v.encoding_name() != "hashtable" {
                assert_eq!(dump_payload(&back, o), p, "{} round trip", v.type_name());
            }
            for cut in (0..body.len()).step_by((body.len() / 300).max(1)) {
                let _ = load_dump_body(&body[..cut], &c);
            }
            for _ in 0..300 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut bad = body.to_vec();
                let at = (seed % bad.len() as u64) as usize;
                bad[at] ^= (seed >> 32) as u8 | 1;
                let _ = load_dump_body(&bad, &c);
            }
        }
        assert!(verify_dump_payload(b"short").is_none());
    }
}
