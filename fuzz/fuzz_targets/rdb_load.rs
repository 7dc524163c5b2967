//! Fuzz target for the RDB loader (`persist/src/rdb.rs`, through start-up's loading path).
//!
//! ```text
//! scripts/fuzz 120 rdb_load
//! ```
//!
//! The input is an RDB file. Its last eight bytes are zeroed first: a zero checksum is
//! Redis's "not checked", and otherwise nearly every mutation would be refused for its
//! checksum alone (the check itself is one comparison). Checked: no panic, and every key the
//! loader accepted, whether or not the file as a whole loads, is read back by every command
//! of its type, consistently (see `harness::check_keyspace`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usher_server::harness::targets::rdb_file(data));
