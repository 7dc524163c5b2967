//! usher's benchmarks: load generators, the ticket-rush scenario, side-by-side runs against
//! `redis-server`, and data-structure micro-benchmarks.
//!
//! This crate never sits on the test path (it is outside the workspace's default members).
//! Library code here is shared by the binaries in `benches/`.

pub mod alloc;
pub mod zset_designs;
