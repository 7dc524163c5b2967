//! Value types: the data structures behind each Redis type, command-agnostic.
//!
//! A type module owns its encodings and their invariants and knows nothing of keys, commands or
//! replies; the command families call into it.

pub mod zset;
