//! The wire layer of usher: RESP2 and RESP3 frames, knowing nothing of any command.
//!
//! It owns request parsing ([`parse`], multibulk and inline, resumable across reads, with
//! Redis's limits and protocol-error texts), the argument view handed to the engine ([`argv`]),
//! reply encoding behind the [`reply::ReplySink`] trait (RESP2 or RESP3 chosen per connection),
//! Redis's double formatting ([`double`]) and every error text usher puts on the wire
//! ([`errors`]).
//!
//! **Architecture Invariant:** this crate depends on no other usher crate and never names a
//! command; the engine and server depend on it, never the reverse.

pub mod argv;
pub mod double;
pub mod errors;
pub mod parse;
pub mod reply;

pub use argv::{Argv, OwnedArgv};
pub use parse::{Limits, Parsed, ProtocolError, RequestParser};
pub use reply::{Protocol, ReplySink, RespWriter};
