//! Real clients against usher: the `redis` crate (sync and async on tokio, RESP2 and RESP3,
//! pipelines, atomic pipelines, pub/sub; typed bitmap, HyperLogLog, geo and SORT calls),
//! `redis-cli` fed commands on stdin (output compared with the same script against
//! redis-server) and in `--pipe` mode, and `redis-benchmark`.

use redis::{Commands, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;
use usher_tests::Server;

fn resp3_url(s: &Server) -> String {
    format!("redis://127.0.0.1:{}/?protocol=resp3", s.port)
}

#[test]
fn the_sync_redis_crate_works_in_resp2_and_resp3() {
    let s = Server::usher(&["--threads", "2"]);
    for url in [s.url(), resp3_url(&s)] {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_connection().unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        let _: () = con.set("greeting", "hello").unwrap();
        let got: String = con.get("greeting").unwrap();
        assert_eq!(got, "hello");
        let missing: Option<String> = con.get("missing").unwrap();
        assert_eq!(missing, None);
        assert_eq!(con.incr::<_, _, i64>("n", 5).unwrap(), 5);
        let _: () = con.set_ex("ttl", "v", 100).unwrap();
        let ttl: i64 = con.ttl("ttl").unwrap();
        assert!((99..=100).contains(&ttl));
        let _: () = con.mset(&[("a", "1"), ("b", "2")]).unwrap();
        let values: Vec<Option<String>> = con.mget(&["a", "b", "zz"]).unwrap();
        assert_eq!(values, vec![Some("1".into()), Some("2".into()), None]);
        // Server errors come back as errors, with Redis's text.
        let err = con.incr::<_, _, i64>("greeting", 1).unwrap_err();
        assert!(
            err.to_string()
                .contains("value is not an integer or out of range"),
            "{err}"
        );
        // A plain pipeline and an atomic one (MULTI/EXEC).
        let (x, y): (i64, i64) = redis::pipe()
            .incr("p", 1)
            .incr("p", 10)
            .query(&mut con)
            .unwrap();
        assert_eq!((x, y), (1, 11));
        let (k1, k2): (String, i64) = redis::pipe()
            .atomic()
            .set("{t}k", "v")
            .ignore()
            .get("{t}k")
            .incr("{t}n", 2)
            .query(&mut con)
            .unwrap();
        assert_eq!((k1.as_str(), k2), ("v", 2));
        // The connection announced itself (CLIENT SETINFO) and RESP3 maps come back as maps.
        let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
        assert!(info.contains("lib-name=redis-rs"), "{info}");
        let hello: Value = redis::cmd("HELLO").query(&mut con).unwrap();
        if url.contains("resp3") {
            assert!(matches!(hello, Value::Map(_)), "{hello:?}");
            let config: Value = redis::cmd("CONFIG")
                .arg("GET")
                .arg("maxmemory")
                .query(&mut con)
                .unwrap();
            assert!(matches!(config, Value::Map(_)), "{config:?}");
        } else {
            assert!(matches!(hello, Value::Array(_)), "{hello:?}");
        }
    }
}

#[test]
fn the_sync_redis_crate_can_subscribe_in_resp2() {
    let s = Server::usher(&["--threads", "2"]);
    let client = redis::Client::open(s.url()).unwrap();
    let mut sub_con = client.get_connection().unwrap();
    let mut pubsub = sub_con.as_pubsub();
    pubsub.subscribe("events").unwrap();
    pubsub.psubscribe("ev*").unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut publisher = client.get_connection().unwrap();
    let n: i64 = publisher.publish("events", "payload").unwrap();
    assert_eq!(n, 2);
    let first = pubsub.get_message().unwrap();
    assert_eq!(first.get_channel_name(), "events");
    assert_eq!(first.get_payload::<String>().unwrap(), "payload");
    let second = pubsub.get_message().unwrap();
    assert_eq!(second.get_pattern::<String>().unwrap(), "ev*");
}

#[test]
fn the_async_redis_crate_works_on_tokio_in_resp2_and_resp3() {
    let s = Server::usher(&["--threads", "2"]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for url in [s.url(), resp3_url(&s)] {
            let client = redis::Client::open(url.as_str()).unwrap();
            let mut con = client.get_multiplexed_async_connection().await.unwrap();
            let _: () = redis::cmd("FLUSHALL").query_async(&mut con).await.unwrap();
            // Many requests in flight on one multiplexed connection, from several tasks.
            let tasks: Vec<_> = (0..8)
                .map(|t| {
                    let mut con = con.clone();
                    tokio::spawn(async move {
                        for i in 0..200 {
                            let key = format!("task{t}:{i}");
                            let _: () = redis::cmd("SET")
                                .arg(&key)
                                .arg(i)
                                .query_async(&mut con)
                                .await
                                .unwrap();
                            let v: i64 = redis::cmd("GET")
                                .arg(&key)
                                .query_async(&mut con)
                                .await
                                .unwrap();
                            assert_eq!(v, i);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let size: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
            assert_eq!(size, 1600);
            let (a, b): (i64, i64) = redis::pipe()
                .atomic()
                .incr("counter", 1)
                .incr("counter", 1)
                .query_async(&mut con)
                .await
                .unwrap();
            assert_eq!((a, b), (1, 2));
        }
    });
}

#[test]
fn the_async_redis_crate_receives_resp3_pushes() {
    let s = Server::usher(&["--threads", "2"]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = redis::Client::open(resp3_url(&s).as_str()).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
        let mut sub = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap();
        sub.subscribe("tickets").await.unwrap();
        // A RESP3 subscriber keeps running ordinary commands on the same connection.
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async(&mut sub)
            .await
            .unwrap();
        let mut publisher = client.get_multiplexed_async_connection().await.unwrap();
        let n: i64 = redis::cmd("PUBLISH")
            .arg("tickets")
            .arg("seat-42")
            .query_async(&mut publisher)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let message = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let push = rx.recv().await.expect("push channel open");
                if push.kind == redis::PushKind::Message {
                    return push;
                }
            }
        })
        .await
        .expect("the message arrives");
        assert_eq!(
            message.data,
            vec![
                Value::BulkString(b"tickets".to_vec()),
                Value::BulkString(b"seat-42".to_vec())
            ]
        );
    });
}

/// Runs `redis-cli -p port [extra]` with `script` on stdin; returns stdout.
fn redis_cli(port: u16, extra: &[&str], script: &str) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CLI_SCRIPT: &str = "\
PING
SET user:1 \"Ada Lovelace\"
GET user:1
APPEND user:1 '!'
STRLEN user:1
INCR visits
INCRBY visits 41
GET visits
MSET a 1 b 2 c 3
MGET a b c missing
DEL a b
EXISTS a b c
SET ttl v EX 100
TTL ttl
GET nosuch
INCR user:1
NOSUCHCOMMAND arg
GET
SELECT 3
DBSIZE
SELECT 0
DBSIZE
MULTI
INCR visits
GET visits
EXEC
HELLO 3 SETNAME cli
CLIENT GETNAME
GET nosuch
CONFIG GET maxmemory
ECHO \"multi\\nline\"
";

#[test]
fn redis_cli_fed_commands_on_stdin_prints_what_it_prints_for_redis() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    for extra in [&[][..], &["-3"], &["--no-raw"]] {
        let u = redis_cli(usher.port, extra, CLI_SCRIPT);
        let r = redis_cli(redis.port, extra, CLI_SCRIPT);
        // HELLO's reply carries the connection id and redis-cli's id-free lines must match.
        let strip = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.contains("id"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(strip(&u), strip(&r), "redis-cli {extra:?}:\n{u}\n---\n{r}");
        assert!(u.contains("Ada Lovelace"), "{u}");
        assert!(u.contains("ERR unknown command 'NOSUCHCOMMAND'"), "{u}");
        // Clean up for the next round.
        redis_cli(usher.port, &[], "FLUSHALL\n");
        redis_cli(redis.port, &[], "FLUSHALL\n");
    }
}

#[test]
fn redis_cli_pipe_mode_loads_100k_commands_without_errors() {
    let s = Server::usher(&["--threads", "2", "--shards", "4"]);
    let mut wire = Vec::new();
    for i in 0..100_000 {
        // Mostly multibulk SETs, and an inline INCR every tenth command.
        if i % 10 == 0 {
            wire.extend(b"INCR counter\r\n");
        } else {
            wire.extend(usher_tests::Client::encode(&[
                "SET",
                &format!("key:{i}"),
                &format!("value-{i}"),
            ]));
        }
    }
    let mut child = Command::new("redis-cli")
        .args(["-p", &s.port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&wire).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("errors: 0, replies: 100000"), "{text}");
    let mut c = s.client();
    assert_eq!(c.call(&["DBSIZE"]).int(), 90_001);
    assert_eq!(c.call(&["GET", "counter"]).text(), "10000");
    assert_eq!(c.call(&["GET", "key:99999"]).text(), "value-99999");
}

#[test]
fn redis_benchmark_runs_every_test_without_errors() {
    let s = Server::usher(&["--threads", "2", "--shards", "4"]);
    let out = Command::new("redis-benchmark")
        .args([
            "-p",
            &s.port.to_string(),
            "-q",
            "-t",
            "ping,set,get,incr,mset",
            "-P",
            "16",
            "-n",
            "20000",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("redis-benchmark must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("rror"), "{stderr}");
    // -q prints one "NAME: N requests per second" result per test (\r-separated progress).
    let results: Vec<&str> = stdout
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .collect();
    for test in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "MSET (10 keys)",
    ] {
        assert!(
            results.iter().any(|l| l.starts_with(&format!("{test}: "))),
            "no result for {test}:\n{stdout}"
        );
    }
    // The writes landed: SET used key:__rand_int__ (a single key without -r), INCR counter.
    let mut c = s.client();
    assert!(
        c.call(&["GET", "counter:__rand_int__"])
            .text()
            .parse::<i64>()
            .unwrap()
            >= 20_000
    );
    let errors = c.call(&["INFO", "errorstats"]).text();
    assert_eq!(errors.lines().count(), 1, "{errors}");
}

/// The `redis` crate's typed API for bitmaps, HyperLogLog, geo and SORT (the calls its
/// documentation shows) gets the same values from usher as from redis-server.
#[test]
fn the_redis_crate_drives_bitmaps_hyperloglogs_geo_and_sort() {
    use redis::geo::{Coord, RadiusOptions, RadiusOrder, Unit};
    /// A search hit: member, distance, (longitude, latitude).
    type Hit = (String, Option<f64>, Option<(f64, f64)>);
    #[derive(Debug, PartialEq)]
    struct Seen {
        bits: (bool, bool, usize, usize, usize),
        hll: (bool, usize, usize),
        dist: (Option<f64>, Option<f64>),
        hashes: Vec<String>,
        positions: Vec<Option<Coord<f64>>>,
        radius: Vec<Hit>,
        sorted: Vec<String>,
    }
    let run = |s: &Server| -> Seen {
        let mut con = s.redis_conn();
        let _: () = redis::cmd("FLUSHALL").query(&mut con).unwrap();
        let old: bool = con.setbit("bits", 7, true).unwrap();
        let now: bool = con.getbit("bits", 7).unwrap();
        let _: bool = con.setbit("bits", 100, true).unwrap();
        let count: usize = con.bitcount("bits").unwrap();
        let ranged: usize = con.bitcount_range("bits", 0, 0).unwrap();
        let xor: usize = con.bit_xor("x", &["bits", "none"]).unwrap();
        let added: bool = con
            .pfadd("visitors", &["alice", "bob", "carol", "bob"])
            .unwrap();
        let _: bool = con.pfadd("other", &["dave", "alice"]).unwrap();
        let one: usize = con.pfcount("visitors").unwrap();
        let _: () = con.pfmerge("all", &["visitors", "other"]).unwrap();
        let union: usize = con.pfcount("all").unwrap();
        let _: usize = con
            .geo_add(
                "sicily",
                &[
                    (Coord::lon_lat(13.361389, 38.115556), "Palermo"),
                    (Coord::lon_lat(15.087269, 37.502669), "Catania"),
                ],
            )
            .unwrap();
        let km: Option<f64> = con
            .geo_dist("sicily", "Palermo", "Catania", Unit::Kilometers)
            .unwrap();
        let none: Option<f64> = con
            .geo_dist("sicily", "Palermo", "Atlantis", Unit::Meters)
            .unwrap();
        let hashes: Vec<String> = con.geo_hash("sicily", &["Palermo", "Catania"]).unwrap();
        let positions: Vec<Option<Coord<f64>>> =
            con.geo_pos("sicily", &["Palermo", "Atlantis"]).unwrap();
        let opts = RadiusOptions::default()
            .with_dist()
            .with_coord()
            .order(RadiusOrder::Asc);
        let found: Vec<redis::geo::RadiusSearchResult> = con
            .geo_radius("sicily", 15.0, 37.0, 200.0, Unit::Kilometers, opts)
            .unwrap();
        let radius = found
            .into_iter()
            .map(|r| (r.name, r.dist, r.coord.map(|c| (c.longitude, c.latitude))))
            .collect();
        let _: usize = con.rpush("scores", &["10", "2", "33", "-1"]).unwrap();
        let sorted: Vec<String> = redis::cmd("SORT")
            .arg("scores")
            .arg("DESC")
            .query(&mut con)
            .unwrap();
        Seen {
            bits: (old, now, count, ranged, xor),
            hll: (added, one, union),
            dist: (km, none),
            hashes,
            positions,
            radius,
            sorted,
        }
    };
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let seen = run(&usher);
    assert_eq!(seen, run(&redis));
    assert_eq!(seen.hll, (true, 3, 4));
    assert_eq!(seen.dist.0, Some(166.2742));
    assert_eq!(seen.hashes, ["sqc8b49rny0", "sqdtr74hyu0"]);
    assert_eq!(seen.sorted, ["33", "10", "2", "-1"]);
}
