//! The waiting-room model shared by the queue, seat and token command families.
//!
//! Native commands work on ordinary keys, readable with plain commands:
//!
//! ```text
//! waiting line   ZSET  member = user, score = arrival (Unix ms + sub-ms slot, see `score`)
//! active set     ZSET  member = user, score = expiry of the active session (Unix ms)
//! seat           HASH  status HELD|CONFIRMED, userId, token, heldAt  (+ TTL while held)
//! <seat>:token   STRING fencing counter, never expires: tokens only grow
//! <queue>:policy HASH  admission policy run by the server (QPOLICY)
//! <queue>:hb     ZSET  member = user, score = last heartbeat (Unix ms)
//! ```
//!
//! Companion keys (`:policy`, `:hb`) are named with `usher_cluster::companion_key` so they share
//! the queue's hash slot. What is not in keys: the measured admission rate (`rate`), kept in the
//! shard's memory so that ADMIT writes exactly what its seed script writes.

pub mod policy;
pub mod rate;
pub mod registry;
pub mod score;
pub mod token;
