//! Fuzz target for command argument parsing through the dispatch gate: any argv against any
//! command must give one well-formed reply and no panic.
//!
//! ```text
//! scripts/fuzz 120 dispatch
//! ```
//!
//! The input is a session of commands, one per line, in redis-cli's syntax (`SET k "a\x00b"`,
//! Redis's `sdssplitargs` quoting, so any bytes can be an argument); a line starting with `@`
//! comes from a second client (WATCH, pub/sub, blocking and CLIENT commands across clients).
//! Each input runs on an empty in-process server (`usher_server::harness`), through the real
//! gate and handlers. Checked: no panic; every command answers exactly one well-formed RESP
//! value in its client's protocol (none under CLIENT REPLY OFF, one per channel for the
//! subscribe family); messages queued for clients are well-formed; and the keys the session
//! leaves are read back by every command of their type, consistently. Commands that act
//! outside the server (SHUTDOWN, replication, file-writing saves, CONFIG SET of paths and
//! ports) are skipped; see `harness::outside`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usher_server::harness::targets::dispatch(data));
