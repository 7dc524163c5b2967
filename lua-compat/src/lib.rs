//! Redis-compatible scripting for usher: `EVAL`, `EVALSHA`, `SCRIPT`, and Redis 7 functions,
//! Lua 5.1 through mlua (vendored, as Redis embeds it).
//!
//! This crate owns the interpreter (one [`Engine`] per worker thread), the sandbox, the
//! `redis.*` API, the reply conversions between RESP and Lua (`convert`), the libraries Redis
//! bundles (`cjson`, `cmsgpack` in `msgpack`, `struct` in `lstruct`, `bit` in `libs`), the server-wide script cache (`cache`) and the function
//! libraries (`functions`). It owns no data: `redis.call` goes through the [`Host`] trait, which
//! the server implements by running the command under the script's shard locks.

pub mod cache;
pub mod cjson;
mod cjson_config;
mod cjson_decode;
pub mod convert;
pub mod engine;
pub mod functions;
pub mod libs;
pub mod lstruct;
pub mod msgpack;
mod patterns;

pub use cache::{sha1hex, Script, ScriptCache, ScriptFlags};
pub use convert::ReplyErrors;
pub use engine::{Engine, Host, Outcome, Refusal, RunError};

/// The Redis version scripts see (`redis.REDIS_VERSION`), the one usher answers as.
pub const REDIS_VERSION: &str = "7.0.15";
/// `redis.REDIS_VERSION_NUM`: 0x00MMmmpp.
pub const REDIS_VERSION_NUM: i64 = 0x07_00_0f;
