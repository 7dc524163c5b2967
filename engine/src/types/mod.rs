//! Value types: the data structures behind lists, hashes, sets and sorted sets, plus the
//! layouts that live inside strings (HyperLogLog) and sorted-set scores (geohash).
//!
//! Each type owns its encodings (a compact one for small values, a scalable one for large ones,
//! switched at Redis's thresholds) and knows nothing of commands, keys or replies.

pub mod geohash;
pub mod hash;
pub mod hll;
pub mod list;
pub mod listpack;
pub mod set;
pub mod stream;
pub mod zset;
