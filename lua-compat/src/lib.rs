//! Redis-compatible scripting for usher: `EVAL`, `EVALSHA` and `SCRIPT`, Lua 5.1 through mlua.
//!
//! This crate will own the interpreter, `redis.call`/`redis.pcall`, the reply conversions between
//! RESP and Lua, `cjson`, the sandbox and the script time limit. It owns no data: scripts run
//! against the engine through the same command table and shard locks as any client, taking every
//! shard their declared keys live on, in ascending order, before the script starts.
//!
//! It is an empty crate until the scripting issue; the server answers `EVAL` and friends with an
//! error that says so.
