//! Values stored under keys, and the entry that pairs a value with its expiry.
//!
//! Strings keep Redis's three encodings because `OBJECT ENCODING` and memory both show them:
//! `int` (an i64, no bytes at all), `embstr` (immutable, up to 44 bytes) and `raw` (a growable
//! buffer, what APPEND and SETRANGE produce). The collection types and streams live in
//! [`crate::types`].

use crate::bytes::SmallBytes;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::stream::Stream;
use crate::types::zset::ZSet;
use std::sync::atomic::{AtomicI64, Ordering};

/// Longest string Redis stores as `embstr` (`OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_MAX: usize = 44;

pub enum Value {
    Str(StrValue),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

impl Value {
    /// The name `TYPE` prints.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` prints (Redis 7.0's names).
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding_name(),
            Value::List(l) => l.encoding_name(),
            Value::Hash(h) => h.encoding_name(),
            Value::Set(s) => s.encoding_name(),
            Value::ZSet(z) => z.encoding_name(),
            Value::Stream(_) => "stream",
        }
    }

    /// Number of elements (1 for strings); values above Redis's lazy-free threshold are
    /// dropped outside the shard lock.
    pub fn element_count(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len() as usize,
        }
    }

    /// Approximate heap bytes owned by the value (for `MEMORY USAGE`).
    pub fn allocated_bytes(&self) -> usize {
        match self {
            Value::Str(s) => s.allocated_bytes(),
            Value::List(l) => l.allocated_bytes(),
            Value::Hash(h) => h.allocated_bytes(),
            Value::Set(s) => s.allocated_bytes(),
            Value::ZSet(z) => z.allocated_bytes(),
            Value::Stream(s) => s.allocated_bytes(),
        }
    }

    pub fn deep_clone(&self) -> Value {
        match self {
            Value::Str(s) => Value::Str(s.clone()),
            Value::List(l) => Value::List(Box::new((**l).clone())),
            Value::Hash(h) => Value::Hash(Box::new((**h).clone())),
            Value::Set(s) => Value::Set(Box::new((**s).clone())),
            Value::ZSet(z) => Value::ZSet(Box::new((**z).clone())),
            Value::Stream(s) => Value::Stream(Box::new((**s).clone())),
        }
    }
}

/// A string value in one of Redis's three encodings.
#[derive(Clone, Debug)]
pub enum StrValue {
    Int(i64),
    Embstr(SmallBytes),
    Raw(Vec<u8>),
}

impl StrValue {
    /// Encodes bytes the way Redis's `tryObjectEncoding` does for SET/MSET/SETNX and friends.
    pub fn from_bytes(bytes: &[u8]) -> StrValue {
        if bytes.len() <= 20 {
            if let Some(i) = usher_protocol::parse::parse_i64(bytes) {
                return StrValue::Int(i);
            }
        }
        Self::from_bytes_no_int(bytes)
    }

    /// Encodes bytes as Redis's `createStringObject` does (no integer attempt), e.g. the result
    /// of INCRBYFLOAT.
    pub fn from_bytes_no_int(bytes: &[u8]) -> StrValue {
        if bytes.len() <= EMBSTR_MAX {
            StrValue::Embstr(SmallBytes::new(bytes))
        } else {
            StrValue::Raw(bytes.to_vec())
        }
    }

    pub fn encoding_name(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Embstr(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }

    /// The bytes of the value; integers are formatted into `scratch`.
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            StrValue::Int(i) => scratch.format(*i).as_bytes(),
            StrValue::Embstr(b) => b,
            StrValue::Raw(v) => v,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = itoa::Buffer::new();
        self.as_bytes(&mut buf).to_vec()
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(i) => itoa::Buffer::new().format(*i).len(),
            StrValue::Embstr(b) => b.len(),
            StrValue::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Turns the value into a growable buffer (Redis's `dbUnshareStringValue`), for APPEND and
    /// SETRANGE.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            *self = StrValue::Raw(self.to_vec());
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!("just converted to raw"),
        }
    }

    pub fn allocated_bytes(&self) -> usize {
        match self {
            StrValue::Int(_) => 0,
            StrValue::Embstr(b) => b.heap_size(),
            StrValue::Raw(v) => v.capacity(),
        }
    }
}

/// Marks an entry without a time to live.
pub const NO_EXPIRE: i64 = i64::MIN;

/// What the keyspace stores under a key.
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds, or [`NO_EXPIRE`]. Kept in step with the database's
    /// expiry index by [`crate::db::Db`]; never written directly.
    pub(crate) expire_at_ms: i64,
    /// Last access, in seconds of the Unix clock (wrapping), for `OBJECT IDLETIME`; under an
    /// LFU policy, Redis's LFU field instead (see [`crate::lfu`]).
    pub(crate) lru_s: u32,
}

/// The Unix clock (ms) as the server last read it: at each batch of requests and each cron
/// tick ([`note_now_ms`]). New keys take their access time from here, as Redis's from its
/// cached `lruclock`: reading the clock for every key written was a tenth of a pipelined
/// MSET's instructions.
static CACHED_NOW_MS: AtomicI64 = AtomicI64::new(0);

/// Records the clock just read (see [`CACHED_NOW_MS`]). Stores only when it moved, so
/// workers do not bounce the line between cores on every batch.
#[inline]
pub fn note_now_ms(now_ms: i64) {
    if CACHED_NOW_MS.load(Ordering::Relaxed) != now_ms {
        CACHED_NOW_MS.store(now_ms, Ordering::Relaxed);
    }
}

fn cached_now_ms() -> i64 {
    match CACHED_NOW_MS.load(Ordering::Relaxed) {
        0 => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        ms => ms,
    }
}

impl Entry {
    pub fn new(value: Value) -> Self {
        // A new key was just accessed (OBJECT IDLETIME 0 after SET, as in Redis); under LFU
        // it starts at Redis's LFU_INIT_VAL.
        let now_ms = cached_now_ms();
        let lru_s = if crate::lfu::enabled() {
            crate::lfu::initial(now_ms)
        } else {
            (now_ms / 1000) as u32
        };
        Entry {
            value,
            expire_at_ms: NO_EXPIRE,
            lru_s,
        }
    }

    /// Records an access (Redis's `lookupKey` without NOTOUCH): the LRU clock, or one LFU
    /// access under an LFU policy.
    #[inline]
    pub(crate) fn touch(&mut self, now_ms: i64) {
        if crate::lfu::no_touch() {
            return;
        }
        self.lru_s = if crate::lfu::enabled() {
            crate::lfu::accessed(self.lru_s, now_ms)
        } else {
            (now_ms / 1000) as u32
        };
    }

    /// `OBJECT FREQ`'s answer: the decayed LFU counter (meaningful under an LFU policy).
    pub fn lfu_freq(&self, now_ms: i64) -> u32 {
        crate::lfu::decayed(self.lru_s, now_ms)
    }

    /// Seconds since the last access, given the clock now.
    pub fn idle_seconds(&self, now_ms: i64) -> u64 {
        ((now_ms / 1000) as u32).wrapping_sub(self.lru_s) as u64
    }

    pub fn expire_at(&self) -> Option<i64> {
        (self.expire_at_ms != NO_EXPIRE).then_some(self.expire_at_ms)
    }

    /// Redis's `keyIsExpired`: a key is expired once the clock is past its expiry time.
    #[inline]
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expire_at_ms != NO_EXPIRE && now_ms > self.expire_at_ms
    }
}
