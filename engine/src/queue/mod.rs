//! The waiting-room model shared by the queue, seat and token command families.
//!
//! Native commands work on ordinary keys, readable with plain commands:
//!
//! ```text
//! waiting line          ZSET  member = user, score = arrival (Unix ms + sub-ms slot, see `score`)
//! active set            ZSET  member = user, score = expiry of the active session (Unix ms)
//! seat                  HASH  status HELD|CONFIRMED, userId, token, heldAt  (+ TTL while held)
//! <seat>:token          STRING fencing counter, never expires: tokens only grow
//! <queue>:policy        HASH  admission policy run by the server (QPOLICY)
//! <queue>:hb            ZSET  member = user, score = Unix ms by which the next heartbeat is due
//! <queue>:token:<user>  HASH  the one admission token of a user's session (policy TOKENS)
//! <queue>:invite:<jti>  STRING a spent invite (INVITEONLY), expiring with the invite
//! usher:tokenkeys       STRING (db 0) the EdDSA key ring, private keys included (TOKENKEYS)
//! ```
//!
//! Every key a command touches shares one hash slot (the family's commands carry
//! `Flags::SAME_SLOT`): companion keys are named with `usher_cluster::companion_key`, and a
//! queue and its active set must share a hash tag. What is not in keys lives in the shard's
//! memory (`registry`): the measured admission rate, the last valid policy, the arrival
//! watermark and the heartbeat back-fill cursor, so that ADMIT writes exactly what its seed
//! script writes.
//!
//! A hot event's line can be split over sub-queues on several shards (`split`, QSPLIT): the
//! family then reads and writes the line through `split::Line`, and the sub-queues are the one
//! exception to "one slot per command".

pub mod arrivals;
pub mod draw;
pub mod heartbeat;
pub mod keyring;
pub mod policy;
pub mod rate;
pub mod registry;
pub mod score;
pub mod split;
pub mod token;

/// The latest time (Unix ms) the family accepts, for `NOW` and for any clock plus a
/// duration: 2^53 ms, so every time is exact as a sorted-set score (a double) and no sum of a
/// valid time and a valid duration overflows.
pub const MAX_TIME_MS: i64 = 1 << 53;
