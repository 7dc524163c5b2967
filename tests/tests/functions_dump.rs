//! `FUNCTION DUMP` / `FUNCTION RESTORE`, `FUNCTION STATS`'s running script and
//! `redis.acl_check_cmd`, against redis-server 7.0.15:
//!
//! - the payloads are byte-identical for one library, and each server restores the other's
//!   (several libraries, whose order each server's dictionary decides); every policy and every
//!   error reply matches, and a failing restore leaves the libraries as they were;
//! - a busy function shows in `FUNCTION STATS` as in Redis, a busy EVAL makes it answer BUSY;
//! - `redis.acl_check_cmd` answers as Redis for a restricted user;
//! - libraries survive a snapshot (both ways between usher and redis-server), the AOF (logged
//!   commands and a rewritten base) and replication (full sync and the stream).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use usher_tests::resp::{Client, Reply};
use usher_tests::server::Server;
use usher_tests::wait::{eventually, loaded};
use usher_tests::Differ;

const LIB_A: &str = "#!lua name=mylib\n\
    redis.register_function{function_name='myfunc', callback=function(keys, args) \
        return args[1] end, flags={'no-writes'}}";
const LIB_B: &str = "#!lua name=lib2\n\
    redis.register_function{function_name='f2', callback=function(keys, args) \
        return redis.call('incr', keys[1]) end, flags={'allow-oom'}, description='counts'}";
/// Takes `myfunc`, which LIB_A already has.
const LIB_CLASH: &str = "#!lua name=lib3\n\
    redis.register_function('myfunc', function(keys, args) return 3 end)";

fn args(a: &[&[u8]]) -> Vec<Vec<u8>> {
    a.iter().map(|x| x.to_vec()).collect()
}

fn ok(r: Reply) {
    assert!(r.is_simple("OK"), "expected OK, got {r:?}");
}

/// Redis's CRC-64 (Jones polynomial, reflected), bit by bit: enough to seal test payloads.
fn crc64(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = (crc >> 1)
                ^ if crc & 1 != 0 {
                    0x95AC_9329_AC4B_C9B5
                } else {
                    0
                };
        }
    }
    crc
}

/// `body` with a DUMP footer for RDB `version`.
fn seal(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// An RDB string of up to 16383 bytes, uncompressed.
fn rdb_string(s: &[u8]) -> Vec<u8> {
    let mut out = if s.len() < 64 {
        vec![s.len() as u8]
    } else {
        vec![0x40 | (s.len() >> 8) as u8, s.len() as u8]
    };
    out.extend_from_slice(s);
    out
}

/// A `FUNCTION2` record per library code.
fn records(codes: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in codes {
        out.push(0xf5);
        out.extend(rdb_string(c.as_bytes()));
    }
    out
}

/// Every library with its code, in name order (each server lists in its own order).
fn libraries(c: &mut Client) -> Vec<String> {
    listed(&c.call(&["FUNCTION", "LIST", "WITHCODE"]))
}

/// A `FUNCTION LIST WITHCODE` reply as sorted, comparable lines.
fn listed(reply: &Reply) -> Vec<String> {
    let mut libs: Vec<String> = reply.items().iter().map(|l| format!("{l:?}")).collect();
    libs.sort();
    libs
}

#[test]
fn dump_and_restore_match_redis_byte_for_byte_policy_for_policy_error_for_error() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    d.run(&args(&[b"FUNCTION", b"FLUSH"]));
    d.run(&args(&[b"FUNCTION", b"DUMP"]));
    d.run(&args(&[b"FUNCTION", b"LOAD", LIB_A.as_bytes()]));
    // One library: the same bytes (LZF-compressed code, version 10, CRC-64).
    let dumped = d.run(&args(&[b"FUNCTION", b"DUMP"]));
    let Reply::Bulk(payload_a) = dumped else {
        panic!("DUMP gave {dumped:?}")
    };
    ok(d.usher.call(&["CONFIG", "SET", "rdbcompression", "no"]));
    ok(d.redis.call(&["CONFIG", "SET", "rdbcompression", "no"]));
    d.run(&args(&[b"FUNCTION", b"DUMP"]));
    ok(d.usher.call(&["CONFIG", "SET", "rdbcompression", "yes"]));
    ok(d.redis.call(&["CONFIG", "SET", "rdbcompression", "yes"]));
    d.run(&args(&[b"FUNCTION", b"LOAD", LIB_B.as_bytes()]));

    let clash = seal(&records(&[LIB_CLASH]), 10);
    let mut bad_crc = payload_a.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut pre_ga = vec![0xf6];
    pre_ga.extend(rdb_string(b"oldlib"));
    pre_ga.extend(rdb_string(b"LUA"));
    pre_ga.push(1);
    pre_ga.extend(rdb_string(b"a release candidate's description"));
    pre_ga.extend(rdb_string(
        b"redis.register_function('oldf', function() return 'old' end)",
    ));
    let seq: Vec<Vec<Vec<u8>>> = vec![
        // APPEND (the default) refuses a library that exists; nothing changes.
        args(&[b"FUNCTION", b"RESTORE", &payload_a]),
        args(&[b"FUNCTION", b"RESTORE", &payload_a, b"append"]),
        args(&[b"FUNCTION", b"STATS"]),
        args(&[b"FUNCTION", b"RESTORE", &payload_a, b"REPLACE"]),
        args(&[b"FCALL", b"myfunc", b"0", b"back"]),
        // A function name taken by another library fails under every policy but FLUSH.
        args(&[b"FUNCTION", b"RESTORE", &clash]),
        args(&[b"FUNCTION", b"RESTORE", &clash, b"REPLACE"]),
        args(&[b"FUNCTION", b"STATS"]),
        args(&[b"FCALL", b"f2", b"1", b"counter"]),
        // Wrong policy, arguments, footers and records: each error as Redis words it.
        args(&[b"FUNCTION", b"RESTORE", &payload_a, b"MERGE"]),
        args(&[b"FUNCTION", b"RESTORE", &payload_a, b"FLUSH", b"extra"]),
        args(&[b"FUNCTION", b"RESTORE"]),
        args(&[b"FUNCTION", b"RESTORE", &bad_crc]),
        args(&[b"FUNCTION", b"RESTORE", b"short"]),
        args(&[b"FUNCTION", b"RESTORE", &seal(&records(&[LIB_CLASH]), 11)]),
        args(&[b"FUNCTION", b"RESTORE", &seal(b"\x00\x01k\x01v", 10)]),
        args(&[b"FUNCTION", b"RESTORE", &seal(b"\xf5\x40", 10), b"FLUSH"]),
        args(&[b"FUNCTION", b"RESTORE", &seal(b"\xf5\x0dab", 10), b"FLUSH"]),
        args(&[b"FUNCTION", b"RESTORE", &seal(&records(&["return 1"]), 10)]),
        args(&[
            b"FUNCTION",
            b"RESTORE",
            &seal(&records(&["#!lua name=e\nreturn 1"]), 10),
        ]),
        args(&[
            b"FUNCTION",
            b"RESTORE",
            &seal(&records(&["#!lua name=e\nfoo("]), 10),
        ]),
        args(&[
            b"FUNCTION",
            b"RESTORE",
            &seal(&records(&["#!nolua name=e\nx"]), 10),
            b"FLUSH",
        ]),
        args(&[
            b"FUNCTION",
            b"RESTORE",
            &seal(&records(&[LIB_A, LIB_A]), 10),
            b"FLUSH",
        ]),
        args(&[
            b"FUNCTION",
            b"RESTORE",
            &seal(&records(&[LIB_A, LIB_CLASH]), 10),
            b"FLUSH",
        ]),
        args(&[
            b"FUNCTION",
            b"RESTORE",
            &seal(&[0xf6, 3, b'a', b'b'], 10),
            b"FLUSH",
        ]),
        args(&[b"FUNCTION", b"STATS"]),
        args(&[b"FCALL", b"myfunc", b"0", b"still"]),
        // FLUSH swaps everything for the payload's libraries; an empty payload empties.
        args(&[b"FUNCTION", b"RESTORE", &payload_a, b"FLUSH"]),
        args(&[b"FUNCTION", b"LIST", b"WITHCODE"]),
        args(&[b"FCALL", b"f2", b"1", b"counter"]),
        args(&[b"FUNCTION", b"RESTORE", &seal(b"", 9), b"flush"]),
        args(&[b"FUNCTION", b"STATS"]),
        // Release candidates' records, and an older RDB version in the footer.
        args(&[b"FUNCTION", b"RESTORE", &seal(&pre_ga, 9)]),
        args(&[b"FUNCTION", b"LIST", b"WITHCODE"]),
        args(&[b"FCALL", b"oldf", b"0"]),
        args(&[b"FUNCTION", b"DUMP"]),
        args(&[b"FUNCTION", b"FLUSH", b"SYNC", b"extra"]),
        args(&[b"FUNCTION", b"HELP"]),
    ];
    d.run_all(&seq, 0);

    // Several libraries: each server restores the other's payload.
    for c in [&mut d.usher, &mut d.redis] {
        for lib in [LIB_A, LIB_B] {
            c.call(&["FUNCTION", "LOAD", "REPLACE", lib]);
        }
    }
    let from_usher = d.usher.call(&["FUNCTION", "DUMP"]);
    let from_redis = d.redis.call(&["FUNCTION", "DUMP"]);
    let want = libraries(&mut d.redis);
    assert_eq!(libraries(&mut d.usher), want);
    for (c, payload) in [(&mut d.usher, &from_redis), (&mut d.redis, &from_usher)] {
        let Reply::Bulk(p) = payload else {
            panic!("DUMP gave {payload:?}")
        };
        ok(c.call(&["FUNCTION", "FLUSH"]));
        ok(c.call(&[&b"FUNCTION"[..], b"RESTORE", p]));
        assert_eq!(libraries(c), want);
        assert_eq!(c.call(&["FCALL", "myfunc", "0", "x"]), Reply::bulk("x"));
    }
}

/// Starts `FCALL`/`EVAL` of a busy script on its own connection; returns its reply later.
fn run_busy(port: u16, argv: &'static [&'static str]) -> std::thread::JoinHandle<Reply> {
    let mut c = Client::connect(port).expect("connect");
    c.set_timeout(Duration::from_secs(30));
    c.send(argv);
    std::thread::spawn(move || c.read().expect("a reply"))
}

/// `FUNCTION STATS` while a function is busy, with `duration_ms` checked and then cleared.
fn stats_while_busy(other: &mut Client) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = other.call(&["FUNCTION", "STATS"]);
        let Reply::Array(mut fields) = r.clone() else {
            panic!("FUNCTION STATS gave {r:?}")
        };
        if let Reply::Array(running) = &mut fields[1] {
            let ms = running[5].int();
            assert!(ms >= 100, "duration_ms {ms} below the threshold");
            running[5] = Reply::Int(0);
            return Reply::Array(fields);
        }
        assert!(Instant::now() < deadline, "never busy: {r:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_busy_function_shows_in_function_stats_and_a_busy_eval_makes_it_busy() {
    let usher = Server::usher(&["--threads", "2", "--busy-reply-threshold", "100"]);
    let redis = Server::redis(&["--busy-reply-threshold", "100"]);
    let spin = "#!lua name=slow\nredis.register_function('spin', \
        function(keys, args) while true do end end)";
    let mut got = Vec::new();
    for server in [&usher, &redis] {
        let mut c = server.client();
        assert_eq!(c.call(&["FUNCTION", "LOAD", spin]), Reply::bulk("slow"));
        let mut seen = vec![c.call(&["FUNCTION", "STATS"])];
        drop(c);
        // Consecutive connections land on different usher threads (round robin), so the
        // observer's thread is not the one running the script.
        let runner = run_busy(server.port, &["FCALL", "spin", "1", "key", "arg"]);
        let mut other = server.client();
        seen.push(stats_while_busy(&mut other));
        seen.push(other.call(&["FUNCTION", "KILL"]));
        seen.push(runner.join().expect("runner"));
        seen.push(other.call(&["FUNCTION", "STATS"]));
        drop(other);
        let runner = run_busy(server.port, &["EVAL", "while true do end", "0"]);
        let mut other = server.client();
        assert!(eventually(Duration::from_secs(10), || other
            .call(&["PING"])
            .is_error()));
        seen.push(other.call(&["FUNCTION", "STATS"]));
        seen.push(other.call(&["SCRIPT", "KILL"]));
        seen.push(runner.join().expect("runner"));
        got.push(seen);
    }
    assert_eq!(got[0], got[1]);
}

#[test]
fn acl_check_cmd_answers_as_redis_for_a_restricted_user() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let redis = Server::redis(&[]);
    let lib = "#!lua name=acl\nredis.register_function('may', \
        function(keys, args) return redis.acl_check_cmd(unpack(args)) end)";
    let probes: &[&str] = &[
        "return redis.acl_check_cmd('get', 'app:1')",
        "return redis.acl_check_cmd('get', 'other')",
        "return redis.acl_check_cmd('set', 'app:1', 'v')",
        "return redis.acl_check_cmd('get', 'ro:1')",
        "return redis.acl_check_cmd('del', 'ro:1')",
        "return redis.acl_check_cmd('mget', 'app:1', 'elsewhere')",
        "return redis.acl_check_cmd('incrby', 'app:1', 5)",
        "return redis.acl_check_cmd('get')",
        "return redis.acl_check_cmd('config', 'get', 'x')",
        "return redis.acl_check_cmd('config', 'set', 'x', 'y')",
        "return redis.acl_check_cmd('config')",
        "return redis.acl_check_cmd('config', 'nosuch')",
        "return redis.acl_check_cmd('nosuchcmd')",
        "return redis.acl_check_cmd()",
        "return redis.acl_check_cmd({})",
        "return redis.acl_check_cmd('publish', 'chan:1', 'm')",
        "return redis.acl_check_cmd('publish', 'other', 'm')",
        "local ok, e = pcall(redis.acl_check_cmd, 'nosuch') return e",
    ];
    let mut got = Vec::new();
    for server in [&usher, &redis] {
        let mut admin = server.client();
        ok(admin.call(&[
            "ACL",
            "SETUSER",
            "svc",
            "on",
            ">pw",
            "+@all",
            "-set",
            "-config|set",
            "~app:*",
            "%R~ro:*",
            "&chan:*",
        ]));
        admin.call(&["FUNCTION", "LOAD", lib]);
        let mut svc = server.client();
        ok(svc.call(&["AUTH", "svc", "pw"]));
        let mut seen = Vec::new();
        for p in probes {
            seen.push(svc.call(&["EVAL", p, "0"]));
            // The default user may run everything.
            seen.push(admin.call(&["EVAL", p, "0"]));
        }
        seen.push(svc.call(&["FCALL", "may", "0", "set", "app:1", "v"]));
        seen.push(svc.call(&["FCALL", "may", "0", "get", "app:1"]));
        got.push(seen);
    }
    assert_eq!(got[0], got[1]);
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usher-fdump-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn stop(mut server: Server) {
    server.signal(15);
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
}

fn wait_rewrite(c: &mut Client) {
    assert!(
        eventually(Duration::from_secs(10), || !c
            .call(&["INFO", "persistence"])
            .text()
            .contains("aof_rewrite_in_progress:1")),
        "the rewrite never finished"
    );
}

fn wait_synced(replica: &mut Client, want: &[String]) {
    // While a replica loads the primary's snapshot it answers -LOADING (both servers do):
    // not synced yet, ask again.
    let synced = |c: &mut Client| {
        loaded(c.call(&["FUNCTION", "LIST", "WITHCODE"])).is_some_and(|r| listed(&r) == want)
    };
    assert!(
        eventually(Duration::from_secs(10), || synced(replica)),
        "the replica's libraries: {:?}, want {want:?}",
        libraries(replica)
    );
}

#[test]
fn libraries_survive_snapshots_the_aof_and_replication() {
    // A usher snapshot: usher and redis-server load it; redis-check-rdb accepts it.
    let dir = scratch("rdb");
    let usher = Server::usher(&["--dir", &s(&dir)]);
    let mut u = usher.client();
    for lib in [LIB_A, LIB_B] {
        u.call(&["FUNCTION", "LOAD", lib]);
    }
    ok(u.call(&["SET", "k", "v"]));
    let want = libraries(&mut u);
    ok(u.call(&["SAVE"]));
    stop(usher);
    let check = std::process::Command::new("redis-check-rdb")
        .arg(dir.join("dump.rdb"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let usher = Server::usher(&["--dir", &s(&dir)]);
    assert_eq!(libraries(&mut usher.client()), want);
    stop(usher);
    let redis = Server::redis(&["--dir", &s(&dir)]);
    let mut r = redis.client();
    assert_eq!(libraries(&mut r), want);
    assert_eq!(r.call(&["FCALL", "f2", "1", "n"]), Reply::Int(1));
    // ... and a redis-server snapshot with libraries loads into usher.
    ok(r.call(&["FUNCTION", "DELETE", "lib2"]));
    let want = libraries(&mut r);
    ok(r.call(&["SAVE"]));
    drop(redis);
    let usher = Server::usher(&["--dir", &s(&dir)]);
    let mut u = usher.client();
    assert_eq!(libraries(&mut u), want);
    assert_eq!(u.call(&["GET", "k"]), Reply::bulk("v"));
    drop(usher);

    // The AOF logs FUNCTION LOAD / RESTORE / DELETE and a rewrite's base holds the libraries.
    let dir = scratch("aof");
    let usher = Server::usher(&["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut u = usher.client();
    u.call(&["FUNCTION", "LOAD", LIB_A]);
    assert!(!u.call(&["BGREWRITEAOF"]).is_error());
    wait_rewrite(&mut u);
    let payload = seal(
        &records(&[
            LIB_B,
            "#!lua name=gone\nredis.register_function('g', function() return 1 end)",
        ]),
        10,
    );
    ok(u.call(&[&b"FUNCTION"[..], b"RESTORE", &payload]));
    ok(u.call(&["FUNCTION", "DELETE", "gone"]));
    let want = libraries(&mut u);
    stop(usher);
    let usher = Server::usher(&["--dir", &s(&dir), "--appendonly", "yes"]);
    assert_eq!(libraries(&mut usher.client()), want);
    drop(usher);
    let redis = Server::redis(&["--dir", &s(&dir), "--appendonly", "yes"]);
    assert_eq!(libraries(&mut redis.client()), want);
    drop(redis);

    // Replication: a full sync carries the libraries, the stream carries later changes, to a
    // usher replica and a redis-server replica alike.
    let primary = Server::usher(&[]);
    let mut p = primary.client();
    p.call(&["FUNCTION", "LOAD", LIB_A]);
    let ushr = Server::usher(&[]);
    let redis_dir = scratch("replica");
    let redr = Server::redis(&["--dir", &s(&redis_dir)]);
    let mut replicas = [ushr.client(), redr.client()];
    for c in replicas.iter_mut() {
        // A replica's own libraries give way to the primary's.
        c.call(&["FUNCTION", "LOAD", LIB_CLASH]);
        ok(c.call(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    }
    let want = libraries(&mut p);
    for c in replicas.iter_mut() {
        wait_synced(c, &want);
    }
    let Reply::Bulk(payload) = p.call(&["FUNCTION", "DUMP"]) else {
        panic!("no DUMP")
    };
    ok(p.call(&["FUNCTION", "FLUSH"]));
    ok(p.call(&[&b"FUNCTION"[..], b"RESTORE", &payload]));
    p.call(&["FUNCTION", "LOAD", LIB_B]);
    let want = libraries(&mut p);
    for c in replicas.iter_mut() {
        wait_synced(c, &want);
        assert_eq!(c.call(&["FCALL_RO", "myfunc", "0", "r"]), Reply::bulk("r"));
    }
    drop(replicas);

    // A usher replica of a redis-server primary with libraries.
    let primary = Server::redis(&["--repl-diskless-sync-delay", "0"]);
    let mut p = primary.client();
    p.call(&["FUNCTION", "LOAD", LIB_B]);
    let mut u = ushr.client();
    ok(u.call(&["REPLICAOF", "127.0.0.1", &primary.port.to_string()]));
    wait_synced(&mut u, &libraries(&mut p));
    ok(p.call(&[&b"FUNCTION"[..], b"RESTORE", &payload, b"REPLACE"]));
    wait_synced(&mut u, &libraries(&mut p));
}
