//! Fuzz target for RESTORE payloads (DUMP's format: an RDB value, the RDB version, a CRC-64).
//!
//! ```text
//! scripts/fuzz 120 restore_payload
//! ```
//!
//! The input is a payload's body: a value type byte and the value. The footer (RDB version
//! 10 and the CRC-64) is added here, so mutations reach the value decoders instead of the
//! checksum. The payload is restored with RESTORE through the dispatch gate. Checked: no
//! panic, one well-formed reply, and a value RESTORE accepted is read back by every command of
//! its type, consistently (see `harness::check_keyspace`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usher_server::harness::targets::restore_payload(data));
