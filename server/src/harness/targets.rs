//! What each fuzz target in `fuzz/` does with one input, here rather than in the fuzz crate so
//! that a finding's input replays in a plain `cargo test` (see `findings.rs`): the fuzz
//! targets are one call each. The module documentation of each target's file in
//! `fuzz/fuzz_targets/` says what it checks; `docs/fuzzing.md` lists them.

use super::{check_config, Instance, Value};
use usher_persist::aof::Manifest;

/// `config_file`: the input is a config file.
pub fn config_file(data: &[u8]) {
    // Start-up reads the file as UTF-8 text and refuses anything else before parsing.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = check_config(text);
    }
}

/// Commands per `dispatch` input: a longer session explores nothing new per execution.
const COMMANDS_MAX: usize = 64;

/// `dispatch`: the input is a session of commands, one per line in redis-cli's syntax; a
/// line starting with `@` comes from a second client.
pub fn dispatch(data: &[u8]) {
    let mut server = Instance::new(2);
    for line in data.split(|&b| b == b'\n').take(COMMANDS_MAX) {
        let (client, line) = match line.strip_prefix(b"@") {
            Some(rest) => (1, rest),
            None => (0, line),
        };
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        if !usher_protocol::parse::split_args(line, &mut buf, &mut spans) || spans.is_empty() {
            continue;
        }
        let args: Vec<&[u8]> = spans.iter().map(|&(s, e)| &buf[s..e]).collect();
        server.run(client, &args);
    }
    server.check_keyspace();
}

/// The keys a `lua_scripts` input finds: one of each type, sharing a hash tag.
const LUA_SETUP: &[&[&[u8]]] = &[
    &[b"SET", b"{k}s", b"12"],
    &[b"RPUSH", b"{k}1", b"a", b"b", b"3"],
    &[b"HSET", b"{k}h", b"f", b"v", b"n", b"1"],
    &[b"SADD", b"{k}set", b"a", b"1"],
    &[b"ZADD", b"{k}z", b"1", b"a", b"2.5", b"b"],
    &[b"XADD", b"{k}x", b"1-1", b"f", b"v"],
];

/// `lua_scripts`: the input is a script body, run by EVAL from a RESP2 and then a RESP3
/// client, then by SCRIPT LOAD and EVALSHA_RO.
pub fn lua_script(data: &[u8]) {
    let mut server = Instance::new(1);
    for cmd in LUA_SETUP {
        server.run(0, cmd);
    }
    let eval: [&[u8]; 7] = [b"EVAL", data, b"2", b"{k}1", b"{k}2", b"a1", b"2"];
    server.run(0, &eval);
    server.run(0, &[b"HELLO", b"3"]);
    server.run(0, &eval);
    if let Some(Value::Bulk(sha)) = server.run(0, &[b"SCRIPT", b"LOAD", data]) {
        server.run(0, &[b"EVALSHA_RO", &sha, b"1", b"{k}h", b"x"]);
    }
    server.check_keyspace();
}

/// `rdb_load`: the input is an RDB file, whose checksum is zeroed first (Redis's "not
/// checked"; otherwise nearly every mutation would be refused for its checksum alone).
pub fn rdb_file(data: &[u8]) {
    let mut file = data.to_vec();
    if file.len() >= 18 {
        let n = file.len();
        file[n - 8..].fill(0);
    }
    let mut server = Instance::new(1);
    let _ = server.load_rdb(&file);
    server.check_keyspace();
}

/// `aof_load`: the input is an incremental AOF file, and also a manifest.
pub fn aof_file(data: &[u8]) {
    if let Ok(m) = Manifest::parse(data) {
        let text = m.render();
        assert_eq!(
            Manifest::parse(text.as_bytes()),
            Ok(m),
            "the manifest rendered as {text:?}"
        );
    }
    let mut server = Instance::new(1);
    let _ = server.load_aof(data);
    server.check_keyspace();
}

/// `restore_payload`: the input is a DUMP payload's body (type byte and value); the footer
/// (RDB version 10 and the CRC-64) is added here, so mutations reach the value decoders.
pub fn restore_payload(data: &[u8]) {
    let mut payload = data.to_vec();
    payload.extend_from_slice(&10u16.to_le_bytes());
    let crc = usher_persist::crc64::crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let mut server = Instance::new(1);
    server.run(0, &[b"RESTORE", b"k", b"0", &payload]);
    server.check_keyspace();
}
