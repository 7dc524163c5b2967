//! Fuzz target for the AOF loader (`server/src/persistence/aof.rs`) and the AOF manifest
//! reader (`persist/src/aof.rs`).
//!
//! ```text
//! scripts/fuzz 120 aof_load
//! ```
//!
//! The input is an incremental AOF file, loaded as start-up loads one (`aof-load-truncated
//! yes`). Checked: no panic; the keys it leaves are read back consistently. The same bytes
//! are also read as a manifest: one that parses must render to text that parses to the same
//! manifest (a rewrite writes a new manifest from the parsed one). A file naming a command
//! that acts outside the server (SHUTDOWN, DEBUG, ...) is not run.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usher_server::harness::targets::aof_file(data));
