//! Fuzz target for Lua scripts (`lua-compat`, and `redis.call` back into the server).
//!
//! ```text
//! scripts/fuzz 120 lua_scripts
//! ```
//!
//! The input is a script body. It runs with EVAL on an in-process server holding one key of
//! each type, with two keys and two arguments, first from a RESP2 client and then from a RESP3
//! one (replies convert differently), then as SCRIPT LOAD + EVALSHA_RO. Checked: no panic,
//! one well-formed reply each time, and the keys the script leaves read back consistently. A
//! script running past 200 ms is stopped (a script that wrote cannot be killed otherwise).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usher_server::harness::targets::lua_script(data));
