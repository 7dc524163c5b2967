//! Every command in the table answers with exactly one well-formed frame, whatever it is given:
//! keys of every type and missing keys, numbers, words and negative values where it expects
//! something else, on RESP2 and RESP3. A reply that starts a map and then fails (SEATSTATUS
//! once wrote a map header and then WRONGTYPE) shows up here as a hung or misaligned stream.
//!
//! The command list comes from the server's own `COMMAND` reply, so a new command is swept the
//! day it is added. Each probe is a pipeline `SELECT 0, <setup>, <command>, ECHO <marker>`:
//! the command's reply must parse as one frame and the very next one must be the marker.

use std::time::Duration;
use usher_tests::{Client, Reply, Server};

/// Commands that change what a connection is (protocol, subscriber or MULTI state, reply
/// mode), end it, stop the server, or pause everyone: each has its own tests elsewhere.
const SKIP: &[&str] = &[
    "shutdown",
    "quit",
    "reset",
    "hello",
    "multi",
    "subscribe",
    "psubscribe",
    "ssubscribe",
    "unsubscribe",
    "punsubscribe",
    "sunsubscribe",
    "monitor",
    "debug",
    "client|kill",
    "client|pause",
    "client|reply",
    "client|tracking",
    "replicaof",
    "slaveof",
    "sync",
    "psync",
    "failover",
];

/// Keys of every type, all under one hash tag so multi-key commands see them together.
const KEYS: &[(&str, &[&str])] = &[
    ("{t}missing", &[]),
    ("{t}str", &["SET", "{t}str", "hello"]),
    ("{t}int", &["SET", "{t}int", "42"]),
    ("{t}list", &["RPUSH", "{t}list", "a", "b", "c"]),
    ("{t}hash", &["HSET", "{t}hash", "f", "v", "g", "1"]),
    ("{t}set", &["SADD", "{t}set", "a", "b", "1"]),
    ("{t}zset", &["ZADD", "{t}zset", "1", "a", "2", "b"]),
];

/// What the non-key arguments are, per probe. Blocking commands get a short timeout
/// everywhere instead, so that a probe never waits long.
const PROFILES: &[&[&str]] = &[&["1"], &["abc"], &["-1"], &["0", "a", "2.5", ""]];

struct Row {
    /// Words that name it: `["GET"]`, `["CLIENT", "LIST"]`.
    name: Vec<String>,
    arity: i64,
    blocking: bool,
    keys: (i64, i64, i64),
}

fn rows(c: &mut Client) -> Vec<Row> {
    let mut out = Vec::new();
    for entry in c.call(&["COMMAND"]).items() {
        collect(entry, &mut out);
    }
    out
}

fn collect(entry: &Reply, out: &mut Vec<Row>) {
    let e = entry.items();
    let full = e[0].text();
    let flags: Vec<String> = e[2].items().iter().map(Reply::text).collect();
    let subcommands = e.get(9).map(Reply::items).unwrap_or(&[]);
    if !subcommands.is_empty() {
        for sub in subcommands {
            collect(sub, out);
        }
        return;
    }
    if SKIP.contains(&full.as_str()) {
        return;
    }
    out.push(Row {
        name: full.split('|').map(str::to_uppercase).collect(),
        arity: e[1].int(),
        blocking: flags.iter().any(|f| f == "blocking"),
        keys: (e[3].int(), e[4].int(), e[5].int()),
    });
}

/// Is argument `i` (0 = the command name) a key for a call of `argc` arguments?
fn is_key(row: &Row, i: usize, argc: usize) -> bool {
    let (first, last, step) = row.keys;
    if first <= 0 {
        return false;
    }
    let last = if last < 0 { argc as i64 + last } else { last };
    let i = i as i64;
    i >= first && i <= last && (i - first) % step.max(1) == 0
}

fn probes(row: &Row) -> Vec<Vec<String>> {
    let min = row.arity.unsigned_abs() as usize;
    let counts: Vec<usize> = if row.arity < 0 {
        vec![min, min + 1, min + 3]
    } else {
        vec![min]
    };
    let profiles: &[&[&str]] = if row.blocking { &[&["0.01"]] } else { PROFILES };
    let mut out = Vec::new();
    for &argc in &counts {
        for (key, _) in KEYS {
            for profile in profiles {
                let mut args = row.name.clone();
                let mut n = 0;
                while args.len() < argc {
                    let i = args.len();
                    args.push(if is_key(row, i, argc) {
                        key.to_string()
                    } else {
                        n += 1;
                        profile[(n - 1) % profile.len()].to_string()
                    });
                }
                out.push(args);
            }
        }
    }
    out
}

/// Sends one probe and checks its reply is one frame followed by the marker. Returns a
/// description of the failure, if any.
fn probe(c: &mut Client, args: &[String], marker: &str) -> Option<String> {
    c.send(&["SELECT", "0"]);
    c.send(&[
        "DEL", "{t}str", "{t}int", "{t}list", "{t}hash", "{t}set", "{t}zset",
    ]);
    for (_, setup) in KEYS.iter().filter(|(_, s)| !s.is_empty()) {
        c.send(setup);
    }
    c.send(args);
    c.send(&["ECHO", marker]);
    for _ in 0..KEYS.len() + 1 {
        match c.read() {
            Ok(r) if !r.is_error() => {}
            other => return Some(format!("setup failed: {other:?}")),
        }
    }
    let reply = match c.read() {
        Ok(r) => r,
        Err(e) => return Some(format!("no well-formed reply: {e}")),
    };
    match c.read() {
        Ok(Reply::Bulk(m)) if m == marker.as_bytes() => None,
        Ok(next) => Some(format!(
            "reply {reply:?} was followed by {next:?}, not the marker"
        )),
        Err(e) => Some(format!("reply {reply:?}, then the stream broke: {e}")),
    }
}

#[test]
fn every_command_answers_one_well_formed_frame_on_both_protocols() {
    let usher = Server::usher(&["--threads", "2"]);
    let mut table_client = usher.client();
    let table = rows(&mut table_client);
    assert!(table.len() > 150, "only {} commands", table.len());
    let mut failures = Vec::new();
    let mut probed = 0;
    for proto in ["2", "3"] {
        let mut c = usher.client();
        c.set_timeout(Duration::from_secs(3));
        assert!(!c.call(&["HELLO", proto]).is_error());
        for row in &table {
            for args in probes(row) {
                probed += 1;
                let marker = format!("marker-{probed}");
                if let Some(why) = probe(&mut c, &args, &marker) {
                    failures.push(format!("RESP{proto} {args:?}: {why}"));
                    // The stream is out of step: start a fresh connection.
                    c = usher.client();
                    c.set_timeout(Duration::from_secs(3));
                    c.call(&["HELLO", proto]);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {probed} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The server is still whole.
    assert!(usher.client().call(&["PING"]).is_simple("PONG"));
}
