//! Snapshots in Redis's RDB format, end to end with real processes: files written by
//! redis-server 7.0.15 load into usher with the same data and encodings; files written by usher
//! pass `redis-check-rdb` and load into redis-server; corrupt or torn files stop start-up with
//! a message naming the file and offset; SAVE/BGSAVE/save points/FLUSHALL/SHUTDOWN write the
//! file; and a waiting room (line, active set, seats, fencing counters, a running policy)
//! survives `SHUTDOWN SAVE` and a restart.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use usher_tests::dataset::{dataset, populate};
use usher_tests::resp::{Client, Reply};
use usher_tests::server::{run_usher_to_exit, Server};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usher-persist-{name}-{}", std::process::id()));
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

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_redis_rdb_with_every_encoding_loads_into_usher_with_equal_data() {
    let dir = scratch("from-redis");
    let redis = Server::redis(&["--dir", &s(&dir)]);
    let mut r = redis.client();
    populate(&mut r);
    ok(r.call(&["SAVE"]));
    let want = dataset(&mut r);
    assert!(want.len() > 25, "populate made {} keys", want.len());
    let usher = Server::usher(&["--dir", &s(&dir)]);
    let mut u = usher.client();
    let got = dataset(&mut u);
    assert_eq!(got, want, "usher loaded different data or encodings");
    // Expiry times come back as the same absolute time.
    let (rt, ut) = (
        r.call(&["PEXPIRETIME", "ttl:list"]).int(),
        u.call(&["PTTL", "ttl:list"]).int(),
    );
    assert_eq!(rt, 4_102_444_800_000);
    assert!(ut > 0 && (ut - (rt - now_ms())).abs() < 10_000, "{ut}");
    let info = u.call(&["INFO", "persistence"]).text();
    assert!(
        info.contains(&format!("rdb_last_load_keys_loaded:{}", want.len())),
        "{info}"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn a_usher_rdb_passes_redis_check_rdb_and_loads_into_redis_with_equal_data() {
    let dir = scratch("from-usher");
    let usher = Server::usher(&["--dir", &s(&dir), "--shards", "4", "--threads", "2"]);
    let mut u = usher.client();
    populate(&mut u);
    ok(u.call(&["SAVE"]));
    let want = dataset(&mut u);
    let file = dir.join("dump.rdb");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&file)
        .output()
        .expect("redis-check-rdb is installed with redis-server");
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "redis-check-rdb refused: {report}");
    assert!(report.contains("RDB looks OK"), "{report}");
    assert!(
        report.contains(&format!("{} keys read", want.len())),
        "{report}"
    );
    let redis = Server::redis(&["--dir", &s(&dir)]);
    let got = dataset(&mut redis.client());
    assert_eq!(got, want, "redis-server loaded different data or encodings");
}

#[test]
fn bgsave_save_points_lastsave_and_info_persistence() {
    let dir = scratch("bgsave");
    // As in Redis 7.0, CONFIG SET of dir and dbfilename needs enable-protected-configs
    // (with SAVE they would write a file anywhere the server can).
    let locked = Server::usher(&[]);
    let redis = Server::redis(&[]);
    for name in ["dir", "dbfilename"] {
        let want = redis.client().call(&["CONFIG", "SET", name, "x"]);
        assert_eq!(locked.client().call(&["CONFIG", "SET", name, "x"]), want);
        assert!(
            want.err().contains("can't set protected config"),
            "{want:?}"
        );
    }
    let usher = Server::usher(&["--dir", &s(&dir), "--enable-protected-configs", "local"]);
    let mut c = usher.client();
    let info = |c: &mut Client, field: &str| -> String {
        let text = c.call(&["INFO", "persistence"]).text();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {text}"))
            .trim()
            .to_string()
    };
    assert_eq!(info(&mut c, "aof_enabled"), "0");
    assert_eq!(info(&mut c, "rdb_bgsave_in_progress"), "0");
    for i in 0..10 {
        c.call(&["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(info(&mut c, "rdb_changes_since_last_save"), "10");
    let before = c.call(&["LASTSAVE"]).int();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        c.call(&["BGSAVE"]),
        Reply::Simple("Background saving started".into())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while info(&mut c, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info(&mut c, "rdb_saves"), "1");
    assert!(c.call(&["LASTSAVE"]).int() > before);
    assert!(dir.join("dump.rdb").exists());
    assert_eq!(c.call(&["BGSAVE", "NOW"]).err(), "ERR syntax error");

    // CONFIG SET of the snapshot directives, with Redis's refusals.
    ok(c.call(&["CONFIG", "SET", "dbfilename", "other.rdb"]));
    assert!(c
        .call(&["CONFIG", "SET", "dbfilename", "a/b.rdb"])
        .err()
        .contains("dbfilename can't be a path, just a filename"));
    assert!(c
        .call(&["CONFIG", "SET", "dir", "/nonexistent/usher"])
        .is_error());
    assert!(c.call(&["CONFIG", "SET", "save", "1 2 3"]).is_error());
    // A save point: one change in one second writes other.rdb in the background.
    ok(c.call(&["CONFIG", "SET", "save", "1 1"]));
    assert_eq!(
        c.call(&["CONFIG", "GET", "save"]).strings(),
        vec!["save", "1 1"]
    );
    c.call(&["SET", "trigger", "1"]);
    wait_for_file(&dir.join("other.rdb"));

    // FLUSHALL with save points configured writes the (empty) snapshot at once.
    let other = dir.join("other.rdb");
    wait_until_idle(&mut c);
    std::fs::remove_file(&other).unwrap();
    ok(c.call(&["FLUSHALL"]));
    assert!(other.exists(), "FLUSHALL must write the snapshot");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&other)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&check.stdout).contains("0 keys read"));
}

fn wait_until_idle(c: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while c
        .call(&["INFO", "persistence"])
        .text()
        .contains("rdb_bgsave_in_progress:1")
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_saves_when_asked_or_when_save_points_are_set_and_not_with_nosave() {
    let dir = scratch("shutdown");
    let path = dir.join("dump.rdb");
    // Plain SHUTDOWN with save points configured saves, as Redis.
    let mut usher = Server::usher(&["--dir", &s(&dir), "--save", "3600 1"]);
    usher.client().call(&["SET", "a", "1"]);
    usher.client().send(&["SHUTDOWN"]);
    assert_eq!(
        usher
            .wait_exit(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0)
    );
    assert!(path.exists(), "SHUTDOWN with save points saves");
    // NOSAVE does not.
    std::fs::remove_file(&path).unwrap();
    let mut usher = Server::usher(&["--dir", &s(&dir), "--save", "3600 1"]);
    usher.client().send(&["SHUTDOWN", "NOSAVE"]);
    usher.wait_exit(Duration::from_secs(10));
    assert!(!path.exists(), "SHUTDOWN NOSAVE must not save");
    // SIGTERM with save points saves too.
    let mut usher = Server::usher(&["--dir", &s(&dir), "--save", "3600 1"]);
    usher.client().call(&["SET", "b", "2"]);
    usher.signal(15);
    usher.wait_exit(Duration::from_secs(10));
    assert!(path.exists(), "SIGTERM with save points saves");
    let usher = Server::usher(&["--dir", &s(&dir)]);
    assert_eq!(usher.client().call(&["GET", "b"]).text(), "2");
}

#[test]
fn corrupt_truncated_or_foreign_files_stop_start_up_with_the_file_and_offset() {
    let dir = scratch("corrupt");
    let usher = Server::usher(&["--dir", &s(&dir)]);
    let mut c = usher.client();
    populate(&mut c);
    ok(c.call(&["SAVE"]));
    drop(usher);
    let good = std::fs::read(dir.join("dump.rdb")).unwrap();
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 0x5a;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated in the middle", good[..mid].to_vec()),
        ("torn tail", good[..good.len() - 3].to_vec()),
        ("flipped byte", flipped),
        ("not an rdb", b"hello world, not a snapshot".to_vec()),
        ("empty", Vec::new()),
        ("newer version", {
            let mut v = good.clone();
            v[5..9].copy_from_slice(b"0011");
            v
        }),
    ];
    for (what, bytes) in cases {
        let bad = dir.join("bad.rdb");
        std::fs::write(&bad, &bytes).unwrap();
        let (code, log) = run_usher_to_exit(
            &[
                "--port",
                "0",
                "--dir",
                &s(&dir),
                "--dbfilename",
                "bad.rdb",
                "--save",
                "",
            ],
            Duration::from_secs(20),
        );
        assert_eq!(
            code,
            Some(1),
            "{what}: usher must refuse to start; log:\n{log}"
        );
        assert!(
            log.contains("bad.rdb"),
            "{what}: the message names the file:\n{log}"
        );
        assert!(
            log.contains("offset"),
            "{what}: the message names the offset:\n{log}"
        );
        assert!(!log.contains("panicked"), "{what}: no panic:\n{log}");
    }
}

#[test]
fn a_waiting_room_survives_shutdown_save_and_restart_and_its_policy_ticks_again() {
    let dir = scratch("waiting-room");
    let mut usher = Server::usher(&["--dir", &s(&dir)]);
    let mut c = usher.client();
    let (q, a) = ("q:{ev}", "a:{ev}");
    let open_at = now_ms() + 4000;
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "RATE",
        "600",
        "MAXACTIVE",
        "100",
        "OPENAT",
        &open_at.to_string(),
    ]));
    for i in 0..50 {
        c.call(&["ENTER", q, a, &format!("user{i:02}")]);
    }
    // Someone already active (admitted by hand) and seats held with fencing tokens.
    let admitted = c.call(&["ZADD", a, &(now_ms() + 600_000).to_string(), "early-bird"]);
    assert_eq!(admitted.int(), 1);
    let t1 = c.call(&["SEATLOCK", "seat:{ev}:1", "alice", "600"]).items()[1].int();
    c.call(&["SEATRELEASE", "seat:{ev}:1", "alice", &t1.to_string()]);
    let t2 = c.call(&["SEATLOCK", "seat:{ev}:1", "bob", "600"]).items()[1].int();
    assert!(t2 > t1);
    let line = c.call(&["ZRANGE", q, "0", "-1", "WITHSCORES"]).strings();
    let seat = c.call(&["HGETALL", "seat:{ev}:1"]).strings();
    let counter = c.call(&["GET", "seat:{ev}:1:token"]).text();
    let policy = c.call(&["HGETALL", "q:{ev}:policy"]).strings();
    let pos_before = c.call(&["QPOS", q, a, "user10"]).items()[..3].to_vec();
    c.send(&["SHUTDOWN", "SAVE"]);
    assert_eq!(
        usher
            .wait_exit(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0)
    );

    let usher = Server::usher(&["--dir", &s(&dir)]);
    let mut c = usher.client();
    assert!(
        now_ms() < open_at,
        "restart took too long for this test's timing"
    );
    assert_eq!(
        c.call(&["ZRANGE", q, "0", "-1", "WITHSCORES"]).strings(),
        line
    );
    assert_eq!(c.call(&["HGETALL", "seat:{ev}:1"]).strings(), seat);
    assert_eq!(c.call(&["GET", "seat:{ev}:1:token"]).text(), counter);
    assert_eq!(c.call(&["HGETALL", "q:{ev}:policy"]).strings(), policy);
    assert!(
        matches!(c.call(&["ZSCORE", a, "early-bird"]), Reply::Bulk(_)),
        "the active set comes back"
    );
    // QPOS answers the same; PREQUEUE shows the OPENAT policy is registered again.
    let pos = c.call(&["QPOS", q, a, "user10"]);
    assert_eq!(
        pos.items()[..3],
        pos_before[..],
        "QPOS after restart: {pos:?}"
    );
    assert_eq!(pos.items()[0].text(), "PREQUEUE");
    assert_eq!(pos.items()[2].int(), 50);
    // Fencing tokens keep growing across the restart.
    assert_eq!(
        c.call(&["SEATRELEASE", "seat:{ev}:1", "bob", &t2.to_string()])
            .int(),
        1
    );
    let t3 = c.call(&["SEATLOCK", "seat:{ev}:1", "carol", "600"]).items()[1].int();
    assert!(t3 > t2, "token {t3} after restart must exceed {t2}");
    // The policy runs again: once the line opens it admits people by itself.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if c.call(&["ZCARD", a]).int() > 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the policy never admitted anyone after restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn commands_answer_loading_while_a_large_snapshot_loads() {
    let dir = scratch("loading");
    {
        let usher = Server::usher(&["--dir", &s(&dir)]);
        let mut c = usher.client();
        // A 1,000,000-member line, sent as pipelined 1000-member ZADDs.
        let mut batch = Vec::new();
        for chunk in 0..1000 {
            let mut cmd = vec!["ZADD".to_string(), "line".into()];
            for i in 0..1000 {
                let n = chunk * 1000 + i;
                cmd.push(n.to_string());
                cmd.push(format!("user:{n}"));
            }
            batch.extend(Client::encode(&cmd));
        }
        c.send_raw(&batch);
        for _ in 0..1000 {
            assert_eq!(c.read().unwrap().int(), 1000);
        }
        ok(c.call(&["SAVE"]));
    }
    let port = usher_tests::server::free_port();
    let mut child = std::process::Command::new(usher_tests::server::usher_bin())
        .args(["--port", &port.to_string(), "--dir", &s(&dir), "--save", ""])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut c = loop {
        if let Ok(c) = Client::connect(port) {
            break c;
        }
        assert!(Instant::now() < deadline, "usher never listened");
        std::thread::sleep(Duration::from_millis(2));
    };
    let first = c.call(&["ZCARD", "line"]);
    let info = c.call(&["INFO", "persistence"]).text();
    let mut saw_loading = false;
    let card = loop {
        match c.call(&["ZCARD", "line"]) {
            Reply::Error(e) => {
                assert_eq!(e, "LOADING Redis is loading the dataset in memory");
                saw_loading = true;
            }
            r => break r.int(),
        }
        assert!(Instant::now() < deadline, "loading never finished");
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(card, 1_000_000);
    assert!(
        saw_loading || first.is_error(),
        "connected at once but never saw -LOADING (first reply {first:?})"
    );
    assert!(info.contains("loading:1"), "INFO during load: {info}");
}

#[test]
fn flushall_during_a_background_save_neither_deadlocks_nor_leaves_old_data() {
    let dir = scratch("flush-bgsave");
    let usher = Server::usher(&["--dir", &s(&dir), "--save", "3600 1", "--shards", "8"]);
    let mut c = usher.client();
    c.set_timeout(Duration::from_secs(20));
    let mut batch = Vec::new();
    for chunk in 0..200 {
        let mut cmd = vec!["MSET".to_string()];
        for i in 0..1000 {
            cmd.push(format!("key:{chunk}:{i}"));
            cmd.push(format!("value-{i}-{}", "x".repeat(40)));
        }
        batch.extend(Client::encode(&cmd));
    }
    c.send_raw(&batch);
    for _ in 0..200 {
        assert!(c.read().unwrap().is_simple("OK"));
    }
    assert_eq!(
        c.call(&["BGSAVE"]),
        Reply::Simple("Background saving started".into())
    );
    // FLUSHALL holds every shard lock and writes the empty snapshot after releasing them;
    // the background save (which takes shard locks) finishes first, then the empty file wins.
    ok(c.call(&["FLUSHALL"]));
    wait_until_idle(&mut c);
    assert_eq!(c.call(&["DBSIZE"]).int(), 0);
    let check = std::process::Command::new("redis-check-rdb")
        .arg(dir.join("dump.rdb"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("0 keys read"), "{report}");
}
