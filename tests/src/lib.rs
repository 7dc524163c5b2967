//! Test support for usher's end-to-end suite: real processes, real sockets, no mocks.
//!
//! - [`server`] starts the real `usher` binary (on port 0, reading the bound port from its log)
//!   and Debian's `redis-server` (on a free port) and stops them on drop.
//! - [`resp`] is a minimal RESP2/RESP3 client that returns replies as exact trees (simple vs
//!   bulk strings, error texts, doubles as printed), so comparisons are byte-faithful.
//! - [`diff`] is the differential harness: one command sequence against both servers, replies
//!   compared after the few normalizations Redis's own contract allows (unordered sets).
//! - [`client_scripts`] runs the redis-py and ioredis scripts that drive a server through
//!   those libraries' documented APIs, for comparison between usher and redis-server.
//! - [`dataset`] fills a server with every type and encoding and reads a keyspace back.
//! - [`gen`] generates random command sequences per data family, shared by every
//!   differential test.

pub mod client_scripts;
pub mod dataset;
pub mod diff;
pub mod gen;
pub mod netns;
pub mod resp;
pub mod server;
pub mod wait;

pub use diff::Differ;

/// CRC16/XMODEM, the Redis Cluster key hash (a key's slot is this mod 16384, without a hash
/// tag), for tests that must know where usher puts a key: a shard, a split line's sub-queue.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}
pub use resp::{Client, Reply};
pub use server::Server;
