//! The append-only file end to end with real processes: usher's AOF directory passes
//! `redis-check-aof` and loads into redis-server 7.0 with equal data; Redis 7.0's loads into
//! usher; a rewrite under load replays exactly; `kill -9` under `appendfsync always` loses no
//! acknowledged write and reorders nobody, and `everysec` never half-applies a transaction;
//! torn, truncated and corrupt files give clear errors; the waiting room's statistics (QPOS's
//! ETA, QSTATS) come back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use usher_tests::dataset::{dataset, populate};
use usher_tests::resp::{Client, Reply};
use usher_tests::server::{run_usher_to_exit, Server};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usher-aof-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn ok(r: Reply) {
    assert!(r.is_simple("OK"), "expected OK, got {r:?}");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Waits until INFO persistence shows no rewrite running.
fn wait_rewrite(c: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while c
        .call(&["INFO", "persistence"])
        .text()
        .contains("aof_rewrite_in_progress:1")
    {
        assert!(Instant::now() < deadline, "the rewrite never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut server: Server) {
    server.signal(15);
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
}

/// Writes whose argv would not replay to the same effect, so the log must hold their effects.
fn nondeterministic_writes(c: &mut Client) {
    for args in [
        &["SETEX", "ttl:setex", "1000", "v"][..],
        &["SET", "ttl:set", "v", "EX", "1000"],
        &["SET", "ttl:expire", "v"],
        &["EXPIRE", "ttl:expire", "1000"],
        &["INCRBYFLOAT", "float", "1.5"],
        &["SADD", "popped", "a", "b", "c", "d", "e"],
        &["SPOP", "popped"],
        &["SPOP", "popped", "2"],
        &["SET", "gone", "v"],
        &["PEXPIRE", "gone", "1"],
    ] {
        assert!(!c.call(args).is_error(), "{args:?}");
    }
    let script = "redis.call('SET', KEYS[1], 'x'); redis.call('SPOP', KEYS[2]); return 1";
    assert_eq!(c.call(&["EVAL", script, "2", "lua", "popped"]).int(), 1);
    ok(c.call(&["MULTI"]));
    c.call(&["SET", "tx:a", "1"]);
    c.call(&["SELECT", "5"]);
    c.call(&["SET", "tx:b", "2"]);
    assert_eq!(c.call(&["EXEC"]).items().len(), 3);
    ok(c.call(&["SELECT", "0"]));
    // Requests not in RESP's canonical form are logged in it: the log copies a request's own
    // bytes only when they already are (`Argv::as_resp`). Redis's parser and usher's skip
    // the two bytes after an argument unchecked, so `$3\r\nSETxx` is a SET; an inline
    // command is encoded anew too. (Canonical requests, copied whole, are all the others.)
    c.send_raw(b"*3\r\n$3\r\nSETxx$4\r\nsep1\r\n$1\r\nv\n\n");
    ok(c.read().unwrap());
    c.send_raw(b"SET inline:key \"two words\"\r\n");
    ok(c.read().unwrap());
    std::thread::sleep(Duration::from_millis(5));
    // A lookup expires `gone` here: logged as DEL.
    assert!(matches!(c.call(&["GET", "gone"]), Reply::Nil));
}

#[test]
fn usher_aof_passes_redis_check_aof_and_loads_into_redis_with_equal_data() {
    let dir = scratch("to-redis");
    let usher = Server::usher(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--shards",
        "4",
        "--threads",
        "2",
    ]);
    let mut u = usher.client();
    populate(&mut u);
    // A rewrite in the middle: the base holds what came before, the new incr file the rest.
    assert!(!u.call(&["BGREWRITEAOF"]).is_error());
    nondeterministic_writes(&mut u);
    wait_rewrite(&mut u);
    ok(u.call(&["SELECT", "0"]));
    u.call(&["SET", "after:rewrite", "1"]);
    let want = dataset(&mut u);
    let ttl = u.call(&["PEXPIRETIME", "ttl:setex"]).int();
    stop(usher);

    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    let check = std::process::Command::new("redis-check-aof")
        .arg(&manifest)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{text}");
    assert!(
        text.contains("All AOF files and manifest are valid"),
        "{text}"
    );

    let redis = Server::redis(&["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut r = redis.client();
    assert_eq!(dataset(&mut r), want, "redis-server loaded other data");
    assert_eq!(r.call(&["PEXPIRETIME", "ttl:setex"]).int(), ttl);
}

#[test]
fn a_redis_aof_directory_loads_into_usher_with_equal_data() {
    let dir = scratch("from-redis");
    let redis = Server::redis(&["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut r = redis.client();
    populate(&mut r);
    ok(r.call(&["SELECT", "0"]));
    assert!(!r.call(&["BGREWRITEAOF"]).is_error());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !r
        .call(&["INFO", "persistence"])
        .text()
        .contains("aof_rewrite_in_progress:0")
        || r.call(&["INFO", "persistence"])
            .text()
            .contains("aof_rewrite_scheduled:1")
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    nondeterministic_writes(&mut r);
    let want = dataset(&mut r);
    drop(r);
    stop(redis);

    let usher = Server::usher(&["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut u = usher.client();
    assert_eq!(dataset(&mut u), want, "usher loaded other data");
}

#[test]
fn a_rewrite_under_concurrent_writes_replays_exactly() {
    let dir = scratch("rewrite-load");
    let usher = Server::usher(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--shards",
        "8",
        "--threads",
        "2",
    ]);
    let port = usher.port;
    let mut c = usher.client();
    for i in 0..2000 {
        c.send(&["SET", &format!("k{i}"), "0"]);
    }
    for _ in 0..2000 {
        c.read().unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                let mut n = 0u64;
                while !done.load(Ordering::Relaxed) || n < 300 {
                    let k = format!("k{}", (n * 7 + t) % 2000);
                    c.call(&["INCR", &k]);
                    c.call(&["RPUSH", &format!("l{t}"), &n.to_string()]);
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    assert!(!c.call(&["BGREWRITEAOF"]).is_error());
    wait_rewrite(&mut c);
    done.store(true, Ordering::Relaxed);
    writers.into_iter().for_each(|w| w.join().unwrap());
    let want = dataset(&mut c);
    assert!(c
        .call(&["INFO", "persistence"])
        .text()
        .contains("aof_last_bgrewrite_status:ok"));
    stop(usher);
    let usher = Server::usher(&["--dir", &s(&dir), "--appendonly", "yes"]);
    assert_eq!(dataset(&mut usher.client()), want);
}

/// One client thread's acknowledged work before the crash.
#[derive(Default)]
struct Acked {
    users: Vec<String>,
    keys: Vec<String>,
    seats: Vec<(String, i64)>,
    tx: Vec<u64>,
}

fn crash_workload(fsync: &str) {
    let dir = scratch(&format!("crash-{fsync}"));
    let args = [
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        fsync,
        "--threads",
        "2",
        "--shards",
        "4",
    ];
    let usher = Server::usher(&args);
    let port = usher.port;
    let stop_at = Instant::now() + Duration::from_millis(300 + (now_ms() % 300) as u64);
    let clients: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                let mut acked = Acked::default();
                for i in 0.. {
                    if Instant::now() > stop_at {
                        break;
                    }
                    let user = format!("u{t}-{i:05}");
                    match c.try_call(&["ENTER", "q:{ev}", "a:{ev}", &user]) {
                        Ok(r) if !r.is_error() => acked.users.push(user),
                        _ => break,
                    }
                    let key = format!("k:{t}:{i}");
                    match c.try_call(&["SET", &key, "v"]) {
                        Ok(r) if r.is_simple("OK") => acked.keys.push(key),
                        _ => break,
                    }
                    let seat = format!("seat:{{ev}}:{t}-{i}");
                    match c.try_call(&["SEATLOCK", &seat, &format!("u{t}"), "600"]) {
                        Ok(Reply::Array(a)) if a.len() > 1 => {
                            acked.seats.push((seat, a[1].int()));
                        }
                        _ => break,
                    }
                    c.send(&["MULTI"]);
                    c.send(&["SET", &format!("tx:{{{t}}}:{i}:a"), "1"]);
                    c.send(&["SET", &format!("tx:{{{t}}}:{i}:b"), "1"]);
                    if (0..3).any(|_| c.read().is_err()) {
                        break;
                    }
                    match c.try_call(&["EXEC"]) {
                        Ok(Reply::Array(_)) => acked.tx.push(i),
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    // The crash: kill -9 while the clients are still writing.
    let left = stop_at.saturating_duration_since(Instant::now());
    std::thread::sleep(left.saturating_sub(Duration::from_millis(50)));
    usher.signal(9);
    let acked: Vec<Acked> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    drop(usher);
    assert!(acked.iter().all(|a| a.users.len() > 5), "the workload ran");

    let usher = Server::usher(&args);
    let mut c = usher.client();
    let line = c.call(&["ZRANGE", "q:{ev}", "0", "-1"]).strings();
    let pos = |u: &str| line.iter().position(|x| x == u);
    for (t, a) in acked.iter().enumerate() {
        // Each client's arrivals keep their order (nobody's place changes) ...
        let places: Vec<usize> = line
            .iter()
            .enumerate()
            .filter(|(_, u)| u.starts_with(&format!("u{t}-")))
            .map(|(i, _)| i)
            .collect();
        let names: Vec<&String> = places.iter().map(|&i| &line[i]).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "client {t}'s arrivals were reordered");
        // ... and with `always`, nothing acknowledged is lost.
        if fsync == "always" {
            for u in &a.users {
                assert!(pos(u).is_some(), "acknowledged ENTER of {u} lost");
            }
            for k in &a.keys {
                assert!(matches!(c.call(&["GET", k]), Reply::Bulk(_)), "{k} lost");
            }
            for (seat, token) in &a.seats {
                let got = c.call(&["HGET", seat, "token"]).text();
                assert_eq!(got, token.to_string(), "{seat}'s hold lost");
            }
        }
        // A transaction is all there or not at all.
        let last = a.tx.last().copied().unwrap_or(0) + 2;
        for i in 0..last {
            let a_ = c.call(&["EXISTS", &format!("tx:{{{t}}}:{i}:a")]).int();
            let b_ = c.call(&["EXISTS", &format!("tx:{{{t}}}:{i}:b")]).int();
            assert_eq!(a_, b_, "half-applied MULTI {t}/{i}");
            if fsync == "always" && a.tx.contains(&i) {
                assert_eq!(a_, 1, "acknowledged MULTI {t}/{i} lost");
            }
        }
    }
    // Fencing counters only grow: a new hold gets a larger token than any hold that survived
    // the crash (with `always`, than any acknowledged one; `everysec` may lose the last
    // second's holds whole, counter and seat together).
    for (seat, token) in acked.iter().flat_map(|a| &a.seats) {
        let survived = c.call(&["HGET", seat, "token"]) != Reply::Nil;
        if fsync == "always" || survived {
            let counter = c.call(&["GET", &format!("{seat}:token")]).text();
            assert!(counter.parse::<i64>().unwrap() >= *token, "{seat}");
        }
    }
}

#[test]
fn kill_9_with_appendfsync_always_loses_no_acknowledged_write() {
    crash_workload("always");
}

#[test]
fn kill_9_with_appendfsync_everysec_never_reorders_or_half_applies() {
    crash_workload("everysec");
}

/// Makes an AOF with a few commands and returns (dir, incr file path).
fn small_aof(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let usher = Server::usher(&[
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    let mut c = usher.client();
    for i in 0..10 {
        ok(c.call(&["SET", &format!("k{i}"), "v"]));
    }
    stop(usher);
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    assert!(incr.exists());
    (dir, incr)
}

#[test]
fn a_torn_tail_is_cut_off_when_aof_load_truncated_allows_it_and_refused_otherwise() {
    let (dir, incr) = small_aof("torn");
    let whole = std::fs::metadata(&incr).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .unwrap();
    std::io::Write::write_all(&mut f, b"*3\r\n$3\r\nSET\r\n$2\r\nk1").unwrap();
    drop(f);

    let (code, log) = run_usher_to_exit(
        &[
            "--port",
            "0",
            "--dir",
            &s(&dir),
            "--appendonly",
            "yes",
            "--aof-load-truncated",
            "no",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("appendonly.aof.1.incr.aof"), "{log}");
    assert!(log.contains(&format!("offset {whole}")), "{log}");
    assert!(!log.contains("panicked"), "{log}");

    let usher = Server::usher(&["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut c = usher.client();
    assert_eq!(c.call(&["DBSIZE"]).int(), 10);
    assert!(usher.log().contains("aof-load-truncated"));
    assert_eq!(
        std::fs::metadata(&incr).unwrap().len(),
        whole,
        "cut to the valid prefix"
    );
}

#[test]
fn a_corrupt_aof_stops_start_up_naming_the_file_and_offset() {
    let (dir, incr) = small_aof("corrupt");
    let mut bytes = std::fs::read(&incr).unwrap();
    let at = bytes.len() / 2;
    let at = at + bytes[at..].iter().position(|&b| b == b'*').unwrap();
    bytes[at] = b'!';
    std::fs::write(&incr, &bytes).unwrap();
    let (code, log) = run_usher_to_exit(
        &["--port", "0", "--dir", &s(&dir), "--appendonly", "yes"],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("appendonly.aof.1.incr.aof"), "{log}");
    assert!(log.contains(&format!("at offset {at}")), "{log}");
    assert!(!log.contains("panicked"), "{log}");

    // A manifest that is not one is refused too.
    std::fs::write(
        dir.join("appendonlydir/appendonly.aof.manifest"),
        "file x seq y\n",
    )
    .unwrap();
    let (code, log) = run_usher_to_exit(
        &["--port", "0", "--dir", &s(&dir), "--appendonly", "yes"],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("Invalid AOF manifest file format"), "{log}");
}

#[test]
fn the_waiting_rooms_statistics_come_back_from_the_aof() {
    let dir = scratch("waiting-room");
    let args = ["--dir", &s(&dir), "--appendonly", "yes"];
    let usher = Server::usher(&args);
    let mut c = usher.client();
    let (q, a) = ("q:{ev}", "a:{ev}");
    let t0 = now_ms();
    for i in 0..40 {
        let r = c.call(&[
            "ENTER",
            q,
            a,
            &format!("user{i:02}"),
            "NOW",
            &(t0 + i).to_string(),
        ]);
        assert!(!r.is_error(), "{r:?}");
    }
    for round in 0..4 {
        let now = (t0 + 1000 + round * 1000).to_string();
        let r = c.call(&["ADMIT", q, a, "3", "NOW", &now]);
        assert!(!r.is_error(), "{r:?}");
    }
    // Without NOW: the server's clock, written into the log.
    assert!(!c.call(&["ADMIT", q, a, "2"]).is_error());
    let at = (now_ms() + 10).to_string();
    let stats = c.call(&["QSTATS", q, a, "NOW", &at]);
    let qpos = c.call(&["QPOS", q, a, "user30", "NOW", &at]);
    assert!(!stats.is_error() && !qpos.is_error(), "{stats:?} {qpos:?}");
    stop(usher);

    let usher = Server::usher(&args);
    let mut c = usher.client();
    assert_eq!(c.call(&["QSTATS", q, a, "NOW", &at]), stats);
    assert_eq!(c.call(&["QPOS", q, a, "user30", "NOW", &at]), qpos);
}

#[test]
fn config_set_appendonly_yes_creates_the_aof_from_the_data() {
    let dir = scratch("config-set");
    let usher = Server::usher(&["--dir", &s(&dir)]);
    let mut c = usher.client();
    ok(c.call(&["SET", "before", "1"]));
    assert!(c
        .call(&["INFO", "persistence"])
        .text()
        .contains("aof_enabled:0"));
    ok(c.call(&["CONFIG", "SET", "appendonly", "yes"]));
    wait_rewrite(&mut c);
    ok(c.call(&["SET", "after", "2"]));
    let info = c.call(&["INFO", "persistence"]).text();
    for field in [
        "aof_enabled:1",
        "aof_last_bgrewrite_status:ok",
        "aof_last_write_status:ok",
    ] {
        assert!(info.contains(field), "{field}: {info}");
    }
    assert!(info.contains("aof_current_size:") && info.contains("aof_base_size:"));
    ok(c.call(&["CONFIG", "SET", "appendfsync", "always"]));
    assert_eq!(
        c.call(&["CONFIG", "GET", "appendfsync"]).strings(),
        vec!["appendfsync", "always"]
    );
    assert!(c
        .call(&["CONFIG", "SET", "appendfsync", "sometimes"])
        .is_error());
    stop(usher);
    let usher = Server::usher(&["--dir", &s(&dir), "--appendonly", "yes"]);
    let mut c = usher.client();
    assert_eq!(
        c.call(&["MGET", "before", "after"]).strings(),
        vec!["1", "2"]
    );
}

/// What a queue, its active set and its companions hold, for comparing across a restart.
fn sale_state(c: &mut Client, keys: &[&str]) -> Vec<Reply> {
    keys.iter()
        .map(|k| match c.call(&["TYPE", k]).text().as_str() {
            "zset" => c.call(&["ZRANGE", k, "0", "-1", "WITHSCORES"]),
            "hash" => c.call(&["HGETALL", k]),
            other => Reply::Simple(other.to_string()),
        })
        .collect()
}

#[test]
fn a_policys_own_ticks_and_the_operator_controls_replay_exactly_after_kill_9() {
    let dir = scratch("ticks");
    let args = [
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--token-secret",
        "s3cret",
    ];
    let mut usher = Server::usher(&args);
    let mut c = usher.client();
    let (q, a) = ("q:{tick}", "a:{tick}");
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "RATE",
        "1200",
        "TOKENS",
        "600000",
        "METHOD",
        "random",
        "HEARTBEAT",
        "60000",
        "MAXPERCLIENT",
        "50",
    ]));
    for i in 0..80 {
        let r = c.call(&["ENTER", q, a, &format!("u{i:02}"), "CLIENT", "10.0.0.1"]);
        assert!(!r.is_error(), "{r:?}");
    }
    // The server admits by itself, 20 a second, drawing at random.
    std::thread::sleep(Duration::from_millis(1500));
    ok(c.call(&["QPOLICY", "SET", q, a, "STATE", "paused"]));
    let admitted = c.call(&["ZCARD", a]).int();
    assert!(admitted >= 10, "the policy's ticks admitted {admitted}");
    let waiting = c.call(&["ZRANGE", q, "0", "0"]).items()[0].text();
    assert_eq!(c.call(&["QHOLD", q, &waiting]).int(), 1);
    let seat = "seat:{tick}:A1";
    let token = c
        .call(&["SEATLOCK", seat, "u01", "60", "MAXHELD", "1"])
        .items()[1]
        .int();
    assert_eq!(
        c.call(&["SEATEXTEND", seat, "u01", &token.to_string(), "900"])
            .int(),
        1
    );
    let active_user = c.call(&["ZRANGE", a, "0", "0"]).items()[0].text();
    let keys = [
        q,
        a,
        "q:{tick}:hb",
        "q:{tick}:held",
        "q:{tick}:clients",
        "{tick}:holds:u01",
        seat,
    ];
    let before = sale_state(&mut c, &keys);
    let pos_before = c.call(&["QPOS", q, a, &active_user]);
    let seat_ttl = c.call(&["PTTL", seat]).int();
    usher.signal(9);
    usher.wait_exit(Duration::from_secs(10));

    let usher = Server::usher(&args);
    let mut c = usher.client();
    assert_eq!(sale_state(&mut c, &keys), before);
    // The admission token the user already holds is the one the log re-signs.
    let pos_after = c.call(&["QPOS", q, a, &active_user]);
    assert_eq!(pos_after.items()[5], pos_before.items()[5]);
    assert!(pos_after.items()[5].text().starts_with("ey"));
    let ttl = c.call(&["PTTL", seat]).int();
    assert!(ttl > 800_000 && ttl <= seat_ttl, "{ttl} vs {seat_ttl}");
    // The per-user limit still holds after the restart.
    let r = c.call(&["SEATLOCK", "seat:{tick}:A2", "u01", "60", "MAXHELD", "1"]);
    assert!(r.is_error(), "{r:?}");
}

#[test]
fn streams_replay_with_their_generated_ids_trims_and_consumer_groups() {
    let dir = scratch("streams");
    let args = [
        "--dir",
        &s(&dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let mut usher = Server::usher(&args);
    let mut c = usher.client();
    for i in 0..50 {
        let n = i.to_string();
        assert!(!c
            .call(&["XADD", "ev", "MAXLEN", "~", "20", "*", "n", &n])
            .is_error());
    }
    c.call(&["XADD", "ev2", "*", "a", "1"]);
    c.call(&["XTRIM", "ev2", "MAXLEN", "0"]);
    ok(c.call(&["XGROUP", "CREATE", "ev", "g", "0"]));
    c.call(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "5",
        "STREAMS",
        "ev",
        ">",
    ]);
    c.call(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "3",
        "STREAMS",
        "ev",
        ">",
    ]);
    c.call(&["XAUTOCLAIM", "ev", "g", "carol", "0", "0-0", "COUNT", "2"]);
    let first = c.call(&["XRANGE", "ev", "-", "+", "COUNT", "1"]).items()[0].items()[0].text();
    c.call(&["XCLAIM", "ev", "g", "dave", "0", &first]);
    let before: Vec<Reply> = ["ev", "ev2"]
        .iter()
        .map(|k| c.call(&["XINFO", "STREAM", k, "FULL"]))
        .collect();
    usher.signal(9);
    usher.wait_exit(Duration::from_secs(10));

    let usher = Server::usher(&args);
    let mut c = usher.client();
    let after: Vec<Reply> = ["ev", "ev2"]
        .iter()
        .map(|k| c.call(&["XINFO", "STREAM", k, "FULL"]))
        .collect();
    assert_eq!(after, before);
}
