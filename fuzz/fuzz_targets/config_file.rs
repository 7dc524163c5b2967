//! Fuzz target for the config-file parser (`server/src/config.rs`, redis.conf's syntax).
//!
//! ```text
//! scripts/fuzz 120 config_file
//! ```
//!
//! The input is a config file, loaded as start-up loads one. Checked on every input: nothing
//! panics (a bad file is refused with Redis's "FATAL CONFIG FILE ERROR" text), and a file that
//! loads survives CONFIG REWRITE: what it would write for the directives named and those off
//! their defaults loads back to the same values. ACL `user` lines are kept for start-up and
//! checked there; their rules are fuzzed through ACL SETUSER by the `dispatch` target.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usher_server::harness::targets::config_file(data));
