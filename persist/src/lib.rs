//! usher's file formats: Redis's RDB (version 10, as Redis 7.0.15 writes it), the DUMP/RESTORE
//! payload built from the same value encodings, and shard-by-shard snapshot images.
//!
//! This crate turns engine values into bytes and back; it never opens a socket and knows no
//! runtime. The server's persistence driver (`server/src/persistence/`) decides when to save,
//! where the file goes, and loads it at start-up. The append-only file is not implemented yet;
//! its base file will be an RDB written by [`snapshot`], as Redis 7.0's `aof-base` is.

pub mod aof;
pub mod commands;
pub mod crc64;
pub mod functions;
pub mod listpack;
pub mod lzf;
pub mod migrate;
pub mod rdb;
pub mod snapshot;
pub mod stream;

use std::sync::atomic::{AtomicBool, Ordering};

/// `rdbcompression`, read by DUMP on the command path (the server sets it from the config, as
/// Redis's `server.rdb_compression` is read by `rdbSaveRawString`).
static COMPRESSION: AtomicBool = AtomicBool::new(true);

pub fn set_compression(on: bool) {
    COMPRESSION.store(on, Ordering::Relaxed);
}

pub fn compression() -> bool {
    COMPRESSION.load(Ordering::Relaxed)
}
