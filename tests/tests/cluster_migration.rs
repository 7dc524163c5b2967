//! Moving slots between live nodes, Redis Cluster's way: `CLUSTER SETSLOT ... IMPORTING /
//! MIGRATING / NODE`, keys sent with `MIGRATE`, clients redirected with `ASK` (and `TRYAGAIN`
//! for a multi-key command caught half-moved). Three usher nodes on 127.0.0.11-13; the slot
//! moves are made by an unmodified `redis-cli --cluster reshard` while cluster clients keep
//! writing, and every acknowledged write is found afterwards, exactly once. redis-py's
//! `RedisCluster`, ioredis's `Cluster` and `redis-benchmark --cluster` run against the nodes
//! across a reshard. MIGRATE also moves keys between usher and `redis-server`, both ways.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use usher_tests::client_scripts::{node_args, redis_py_args};
use usher_tests::server::free_port;
use usher_tests::{Client, Reply, Server};

const IDS: [&str; 3] = [
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2",
    "ccccccccccccccccccccccccccccccccccccccc3",
];

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

struct Cluster {
    nodes: Vec<Server>,
    ports: [u16; 3],
    file: std::path::PathBuf,
    extra: Vec<String>,
}

fn start_node(ports: &[u16; 3], file: &std::path::Path, i: usize, extra: &[String]) -> Server {
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let host = format!("127.0.0.1{}", i + 1);
    Server::usher_cluster_node(&host, ports[i], file, IDS[i], &extra)
}

/// Opens the move of `slot` from node `from` (client `source`) to node `to` (client
/// `target`), as redis-cli does: IMPORTING on the target first, then MIGRATING on the source.
fn begin_move(source: &mut Client, target: &mut Client, slot: &str, from: usize, to: usize) {
    let r = target.call(&["CLUSTER", "SETSLOT", slot, "IMPORTING", IDS[from]]);
    assert!(r.is_simple("OK"), "{r:?}");
    let r = source.call(&["CLUSTER", "SETSLOT", slot, "MIGRATING", IDS[to]]);
    assert!(r.is_simple("OK"), "{r:?}");
}

/// `redis-cli --cluster reshard` of `slots` slots from node `from` to node `to`, through the
/// node at `entry`, plus `extra` options; its output, once it succeeded.
fn reshard(entry: &str, from: &str, to: &str, slots: u32, extra: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["--cluster", "reshard", entry])
        .args(["--cluster-from", from, "--cluster-to", to])
        .args(["--cluster-slots", &slots.to_string(), "--cluster-yes"])
        .args(extra)
        .output()
        .expect("redis-cli --cluster reshard");
    let log = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "reshard failed: {log}");
    log
}

impl Cluster {
    /// Three nodes on 127.0.0.11-13 owning 0-5460, 5461-10922, 10923-16383.
    fn start() -> Cluster {
        Cluster::start_with(&[])
    }

    /// [`Cluster::start`], each node also given `extra` flags.
    fn start_with(extra: &[&str]) -> Cluster {
        let ports = [free_port(), free_port(), free_port()];
        let file = std::env::temp_dir().join(format!("usher-migration-{}.json", ports[0]));
        let ranges = ["0-5460", "5461-10922", "10923-16383"];
        let nodes: Vec<String> = (0..3)
            .map(|i| {
                format!(
                    r#"{{"id":"{}","host":"127.0.0.1{}","port":{},"slots":["{}"]}}"#,
                    IDS[i],
                    i + 1,
                    ports[i],
                    ranges[i]
                )
            })
            .collect();
        std::fs::write(
            &file,
            format!(r#"{{"epoch":1,"nodes":[{}]}}"#, nodes.join(",")),
        )
        .unwrap();
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        let nodes = (0..3)
            .map(|i| start_node(&ports, &file, i, &extra))
            .collect();
        Cluster {
            nodes,
            ports,
            file,
            extra,
        }
    }

    /// Stops node `i` and starts it again from its topology file.
    fn restart(&mut self, i: usize) {
        drop(self.nodes.remove(i));
        let node = start_node(&self.ports, &self.file, i, &self.extra);
        self.nodes.insert(i, node);
    }

    fn addr(&self, i: usize) -> String {
        format!("127.0.0.1{}:{}", i + 1, self.ports[i])
    }

    fn client(&self, i: usize) -> Client {
        Client::connect_addr(&self.addr(i)).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = std::fs::remove_file(&self.file);
    }
}

/// `n` keys whose slots are below `below` (node 1's lowest slots, the ones a reshard moves
/// first), found with CLUSTER KEYSLOT.
fn keys_in_low_slots(c: &mut Client, n: usize, below: i64) -> Vec<String> {
    let mut keys = Vec::new();
    let mut i = 0;
    while keys.len() < n {
        let key = format!("seat:{i}");
        if c.call(&["CLUSTER", "KEYSLOT", &key]).int() < below {
            keys.push(key);
        }
        i += 1;
    }
    keys
}

#[test]
fn a_reshard_under_concurrent_writes_loses_and_duplicates_nothing() {
    let cluster = Cluster::start();
    let mut c0 = cluster.client(0);
    let keys = keys_in_low_slots(&mut c0, 400, 300);
    let url = format!("redis://{}/", cluster.addr(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Four writers, each incrementing its own keys through the redis crate's cluster client
    // (which follows MOVED and ASK), counting what was acknowledged.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mine: Vec<String> = keys.iter().skip(w).step_by(4).cloned().collect();
            let (url, stop) = (url.clone(), stop.clone());
            std::thread::spawn(move || {
                let client = redis::cluster::ClusterClient::new(vec![url]).unwrap();
                let mut conn = client.get_connection().expect("cluster connection");
                let mut acked = vec![0i64; mine.len()];
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) || round < 3 * mine.len() {
                    let i = round % mine.len();
                    let v: i64 = redis::cmd("INCR")
                        .arg(&mine[i])
                        .query(&mut conn)
                        .unwrap_or_else(|e| panic!("INCR {} failed: {e}", mine[i]));
                    acked[i] += 1;
                    assert_eq!(v, acked[i], "{} jumped: a write lost or doubled", mine[i]);
                    round += 1;
                }
                (mine, acked)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // An unmodified redis-cli moves node 1's first 300 slots to node 2, key by key.
    let log = reshard(
        &cluster.addr(0),
        IDS[0],
        IDS[1],
        300,
        &["--cluster-pipeline", "5"],
    );
    assert!(log.contains("Moving slot 299 from"), "{log}");
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let mut expected = Vec::new();
    for w in writers {
        let (mine, acked) = w.join().expect("a writer failed");
        expected.extend(mine.into_iter().zip(acked));
    }
    // Every key is on node 2 now, once, holding exactly the acknowledged count.
    let mut c1 = cluster.client(1);
    for (key, count) in &expected {
        assert_eq!(
            c1.call(&["GET", key]),
            Reply::Bulk(count.to_string().into_bytes()),
            "{key}"
        );
        let slot = c0.call(&["CLUSTER", "KEYSLOT", key]).int();
        assert_eq!(
            c0.call(&["GET", key]),
            Reply::Error(format!("MOVED {slot} {}", cluster.addr(1)))
        );
    }
    assert_eq!(c0.call(&["DBSIZE"]).int(), 0);
    // The writers were redirected while the slots moved (ASK during a move is likely but
    // timing-dependent, so only printed).
    let errors = text(&c0.call(&["INFO", "errorstats"]));
    eprintln!("source node errorstats: {errors}");
    assert!(errors.contains("errorstat_MOVED:"), "{errors}");
    assert_eq!(c1.call(&["DBSIZE"]).int(), keys.len() as i64);
    // Every node agrees on the new map, as redis-cli's own check reads it.
    for i in 0..3 {
        let nodes = text(&cluster.client(i).call(&["CLUSTER", "NODES"]));
        let line = nodes.lines().find(|l| l.starts_with(IDS[1])).unwrap();
        assert!(line.ends_with(" 0-299 5461-10922"), "node {i}: {line}");
        assert!(!nodes.contains("->-") && !nodes.contains("-<-"), "{nodes}");
    }
    // A map written before the reshard is refused: it would give the slots back to a node
    // that no longer holds their keys.
    let stale = std::fs::read_to_string(&cluster.file).unwrap();
    let stale = stale.replace(&format!("\"epoch\": {}", 301), "\"epoch\": 2");
    let r = c1.call(&["CLUSTER", "SETTOPOLOGY", &stale]);
    assert!(
        r.err().contains("is not above this node's current epoch"),
        "{r:?}"
    );
    // The new map was saved (as Redis saves nodes.conf): a restarted source does not take
    // back the slots it handed over.
    let mut cluster = cluster;
    drop(c0);
    cluster.restart(0);
    let mut c0 = cluster.client(0);
    let (key, _) = &expected[0];
    let slot = c0.call(&["CLUSTER", "KEYSLOT", key]).int();
    assert_eq!(
        c0.call(&["GET", key]),
        Reply::Error(format!("MOVED {slot} {}", cluster.addr(1)))
    );
    let nodes = text(&c0.call(&["CLUSTER", "NODES"]));
    assert!(nodes.contains(" 0-299 5461-10922\n"), "{nodes}");
    let check = Command::new("redis-cli")
        .args(["--cluster", "check", &cluster.addr(2)])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        report.contains("[OK] All nodes agree about slots configuration.")
            && report.contains("[OK] All 16384 slots covered."),
        "{report}"
    );
}

#[test]
fn redis_py_ioredis_and_redis_benchmark_cluster_clients_work_across_a_reshard() {
    let cluster = Cluster::start();
    let seed = |i: usize| vec![format!("127.0.0.1{}", i + 1), cluster.ports[i].to_string()];
    let phase = |p: &str| {
        let mut args = seed(0);
        args.push(p.to_string());
        let out = redis_py_args("cluster_redis_py.py", &args);
        serde_json::from_str::<serde_json::Value>(&out).expect("one JSON line")
    };
    let written = phase("write");
    let expected: Vec<i64> = (1..=50).collect();
    assert_eq!(written["entered"], serde_json::json!(expected), "{written}");
    assert_eq!(written["nodes"], 3, "{written}");
    // Slots move under the client's feet: its slot map is stale, MOVED puts it right.
    reshard(&cluster.addr(1), IDS[1], IDS[2], 2000, &[]);
    let read = phase("read");
    assert_eq!(read["sum"], (0..300).sum::<i64>(), "{read}");
    assert_eq!(read["missing"], serde_json::json!([]), "{read}");
    assert_eq!(read["positions"], serde_json::json!(expected), "{read}");
    assert_eq!(read["counters"], serde_json::json!(vec![1; 20]), "{read}");
    // ioredis discovers the moved map from CLUSTER SLOTS.
    let io = node_args("cluster.js", &seed(2));
    let io: serde_json::Value = serde_json::from_str(&io).expect("one JSON line");
    assert_eq!(io["sum"], (0..200).sum::<i64>(), "{io}");
    assert_eq!(
        io["positions"],
        serde_json::json!((1..=20).collect::<Vec<i64>>())
    );
    assert_eq!(io["mset"], "OK");
    assert_eq!(io["mget"], serde_json::json!(["1", "2"]));
    assert_eq!(io["masters"], 3);
    // redis-benchmark finds the three masters and spreads its keys over them.
    let bench = Command::new("redis-benchmark")
        .args([
            "--cluster",
            "-h",
            "127.0.0.11",
            "-p",
            &cluster.ports[0].to_string(),
        ])
        .args(["-t", "set,get", "-n", "3000", "-r", "10000", "-q"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&bench.stdout);
    assert!(bench.status.success(), "{report}");
    assert!(report.contains("Cluster has 3 master nodes"), "{report}");
    for t in ["SET: ", "GET: "] {
        assert!(
            report
                .split(['\r', '\n'])
                .any(|l| l.starts_with(t) && l.contains("requests per second")),
            "{report}"
        );
    }
    let mut keys_by_node = Vec::new();
    for i in 0..3 {
        keys_by_node.push(cluster.client(i).call(&["DBSIZE"]).int());
    }
    assert!(keys_by_node.iter().all(|&n| n > 0), "{keys_by_node:?}");
}

#[test]
fn a_node_added_mid_sale_takes_slots_while_a_line_keeps_filling() {
    let cluster = Cluster::start();
    let mut c0 = cluster.client(0);
    // A fourth node, 127.0.0.14, named in a topology of epoch 2 that gives it no slots yet.
    const NEW: &str = "ddddddddddddddddddddddddddddddddddddddd4";
    let port = free_port();
    let topology = |epoch: u64| {
        let mut nodes: Vec<String> = ["0-5460", "5461-10922", "10923-16383"]
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    r#"{{"id":"{}","host":"127.0.0.1{}","port":{},"slots":["{r}"]}}"#,
                    IDS[i],
                    i + 1,
                    cluster.ports[i]
                )
            })
            .collect();
        nodes.push(format!(
            r#"{{"id":"{NEW}","host":"127.0.0.14","port":{port},"slots":[]}}"#
        ));
        format!(r#"{{"epoch":{epoch},"nodes":[{}]}}"#, nodes.join(","))
    };
    let file = std::env::temp_dir().join(format!("usher-new-node-{port}.json"));
    std::fs::write(&file, topology(2)).unwrap();
    let node = Server::usher_cluster_node("127.0.0.14", port, &file, NEW, &[]);
    for i in 0..3 {
        let r = cluster
            .client(i)
            .call(&["CLUSTER", "SETTOPOLOGY", &topology(2)]);
        assert!(r.is_simple("OK"), "{r:?}");
    }
    // A sale is on: an event whose line sits in slot 3696 on node 1 keeps filling.
    let (q, a) = ("queue:{w}", "active:{w}");
    let url = format!("redis://{}/", cluster.addr(0));
    let stop = Arc::new(AtomicBool::new(false));
    let filler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let client = redis::cluster::ClusterClient::new(vec![url]).unwrap();
            let mut conn = client.get_connection().unwrap();
            let mut entered = 0i64;
            while !stop.load(Ordering::Relaxed) || entered < 200 {
                let r: redis::Value = redis::cmd("ENTER")
                    .arg(q)
                    .arg(a)
                    .arg(format!("fan{entered}"))
                    .query(&mut conn)
                    .unwrap_or_else(|e| panic!("ENTER fan{entered}: {e}"));
                let redis::Value::Array(r) = r else {
                    panic!("{r:?}")
                };
                entered += 1;
                assert_eq!(r[1], redis::Value::Int(entered), "place in line");
            }
            entered
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    reshard(&cluster.addr(0), IDS[0], NEW, 4000, &[]);
    stop.store(true, Ordering::Relaxed);
    let entered = filler.join().expect("the filler saw every place in order");
    // The line moved with its slot (the reshard takes 0-3999) and nobody was lost.
    let mut new = Client::connect_addr(&format!("127.0.0.14:{port}")).unwrap();
    assert_eq!(new.call(&["ZCARD", q]).int(), entered);
    let slot = c0.call(&["CLUSTER", "KEYSLOT", q]).int();
    assert_eq!(
        c0.call(&["ZCARD", q]),
        Reply::Error(format!("MOVED {slot} 127.0.0.14:{port}"))
    );
    let nodes = text(&new.call(&["CLUSTER", "NODES"]));
    assert!(
        nodes.contains(&format!("{NEW} 127.0.0.14:{port}@")),
        "{nodes}"
    );
    assert!(nodes.contains(" 0-3999\n"), "{nodes}");
    drop(node);
    let _ = std::fs::remove_file(file);
}

#[test]
fn a_moving_slot_answers_ask_asking_and_tryagain_as_redis() {
    let cluster = Cluster::start();
    let (mut a, mut b) = (cluster.client(0), cluster.client(1));
    let slot = a.call(&["CLUSTER", "KEYSLOT", "{w}"]).int();
    assert!(slot <= 5460, "node 1's slot");
    let s = slot.to_string();
    assert!(a.call(&["SET", "{w}here", "1"]).is_simple("OK"));
    assert!(a.call(&["SET", "{w}also", "2"]).is_simple("OK"));
    // Errors worded as Redis's clusterCommand.
    assert_eq!(
        b.call(&["CLUSTER", "SETSLOT", &s, "MIGRATING", IDS[0]]),
        Reply::Error(format!("ERR I'm not the owner of hash slot {slot}"))
    );
    assert_eq!(
        a.call(&["CLUSTER", "SETSLOT", &s, "IMPORTING", IDS[1]]),
        Reply::Error(format!("ERR I'm already the owner of hash slot {slot}"))
    );
    assert_eq!(
        a.call(&["CLUSTER", "SETSLOT", &s, "MIGRATING", &"d".repeat(40)]),
        Reply::Error(format!("ERR I don't know about node {}", "d".repeat(40)))
    );
    assert_eq!(
        a.call(&["CLUSTER", "SETSLOT", "16384", "STABLE"]),
        Reply::Error("ERR Invalid or out of range slot".into())
    );
    begin_move(&mut a, &mut b, &s, 0, 1);
    let marker = format!("[{slot}->-{}]", IDS[1]);
    assert!(text(&a.call(&["CLUSTER", "NODES"])).contains(&marker));
    assert!(text(&b.call(&["CLUSTER", "NODES"])).contains(&format!("[{slot}-<-{}]", IDS[0])));

    // The source serves keys still here, sends the rest to the target with ASK, and refuses a
    // command whose keys are split between the two.
    assert_eq!(a.call(&["GET", "{w}here"]), Reply::Bulk(b"1".to_vec()));
    let ask = Reply::Error(format!("ASK {slot} {}", cluster.addr(1)));
    assert_eq!(a.call(&["GET", "{w}new"]), ask);
    assert_eq!(a.call(&["SET", "{w}new", "x"]), ask);
    let tryagain = Reply::Error("TRYAGAIN Multiple keys request during rehashing of slot".into());
    assert_eq!(a.call(&["MGET", "{w}here", "{w}new"]), tryagain);
    assert_eq!(
        a.call(&["MGET", "{w}here", "{w}also"]),
        Reply::Array(vec![Reply::Bulk(b"1".to_vec()), Reply::Bulk(b"2".to_vec())])
    );
    // Each command is checked as it is queued (Redis's getNodeByQuery runs for every queued
    // command): a redirection answers at once and flags the transaction, which EXEC discards.
    assert!(a.call(&["MULTI"]).is_simple("OK"));
    assert_eq!(a.call(&["INCR", "{w}new"]), ask);
    assert_eq!(a.call(&["MGET", "{w}here", "{w}new"]), tryagain);
    assert_eq!(a.call(&["GET", "{w}here"]), Reply::Simple("QUEUED".into()));
    assert_eq!(
        a.call(&["EXEC"]).err(),
        "EXECABORT Transaction discarded because of previous errors."
    );
    assert_eq!(a.call(&["EXEC"]).err(), "ERR EXEC without MULTI");
    // ... and the transaction is judged again by all its keys at EXEC: a key queued while here
    // but moved before EXEC redirects EXEC, which discards the transaction.
    let mut queued_before_the_move = cluster.client(0);
    assert!(queued_before_the_move.call(&["MULTI"]).is_simple("OK"));
    assert_eq!(
        queued_before_the_move.call(&["GET", "{w}also"]),
        Reply::Simple("QUEUED".into())
    );

    // The target redirects back unless the client says ASKING, which covers one command.
    let moved = Reply::Error(format!("MOVED {slot} {}", cluster.addr(0)));
    assert_eq!(b.call(&["SET", "{w}new", "x"]), moved);
    assert!(b.call(&["ASKING"]).is_simple("OK"));
    assert!(b.call(&["SET", "{w}new", "x"]).is_simple("OK"));
    assert_eq!(b.call(&["GET", "{w}new"]), moved);
    assert!(b.call(&["ASKING"]).is_simple("OK"));
    assert_eq!(b.call(&["MGET", "{w}new", "{w}here"]), tryagain);
    // A script's calls are routed as the commands sent alone: after ASKING the target's
    // script may write the importing slot; without it, or on the source for a key already
    // gone, the call is refused (Redis's scriptVerifyClusterState), nothing written.
    let set_in_script = ["EVAL", "return redis.call('set', '{w}scripted', 'y')", "0"];
    let non_local = "ERR Script attempted to access a non local key in a cluster node script:";
    assert!(b.call(&set_in_script).err().starts_with(non_local));
    assert!(b.call(&["ASKING"]).is_simple("OK"));
    assert!(b.call(&set_in_script).is_simple("OK"));
    assert!(a
        .call(&["EVAL", "return redis.call('get', '{w}gone')", "0"])
        .err()
        .starts_with(non_local));
    assert!(b.call(&["ASKING"]).is_simple("OK"));
    assert_eq!(b.call(&["DEL", "{w}scripted"]), Reply::Int(1));

    // MIGRATE moves what is here; a key already gone is NOKEY.
    let (host, port) = ("127.0.0.12", cluster.ports[1].to_string());
    assert_eq!(
        a.call(&["MIGRATE", host, &port, "{w}gone", "0", "5000"]),
        Reply::Simple("NOKEY".into())
    );
    assert_eq!(
        a.call(&["MIGRATE", host, &port, "{w}here", "0", "5000", "KEYS", "{w}also"]),
        Reply::Error(
            "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
                .into()
        )
    );
    assert_eq!(
        a.call(&["CLUSTER", "SETSLOT", &s, "NODE", IDS[1]]),
        Reply::Error(format!(
            "ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
        ))
    );
    assert!(a
        .call(&["MIGRATE", host, &port, "", "0", "5000", "KEYS", "{w}here", "{w}also"])
        .is_simple("OK"));
    assert_eq!(a.call(&["DBSIZE"]).int(), 0);
    assert_eq!(a.call(&["GET", "{w}here"]), ask);
    assert_eq!(queued_before_the_move.call(&["EXEC"]), ask);
    assert_eq!(
        queued_before_the_move.call(&["EXEC"]).err(),
        "ERR EXEC without MULTI"
    );
    assert!(b.call(&["ASKING"]).is_simple("OK"));
    assert_eq!(
        b.call(&["MGET", "{w}here", "{w}also", "{w}new"]),
        Reply::Array(vec![
            Reply::Bulk(b"1".to_vec()),
            Reply::Bulk(b"2".to_vec()),
            Reply::Bulk(b"x".to_vec())
        ])
    );
    // The hand-over: the target first, then the source; the markers go away.
    for c in [&mut b, &mut a] {
        assert!(c
            .call(&["CLUSTER", "SETSLOT", &s, "NODE", IDS[1]])
            .is_simple("OK"));
    }
    let moved_to_b = Reply::Error(format!("MOVED {slot} {}", cluster.addr(1)));
    assert_eq!(a.call(&["GET", "{w}here"]), moved_to_b);
    assert_eq!(b.call(&["GET", "{w}here"]), Reply::Bulk(b"1".to_vec()));
    assert!(!text(&a.call(&["CLUSTER", "NODES"])).contains('['));
    assert!(!text(&b.call(&["CLUSTER", "NODES"])).contains('['));
    // STABLE cancels a move that is not wanted any more.
    let other = (slot + 1).to_string();
    assert!(a
        .call(&["CLUSTER", "SETSLOT", &other, "MIGRATING", IDS[2]])
        .is_simple("OK"));
    assert!(a
        .call(&["CLUSTER", "SETSLOT", &other, "STABLE"])
        .is_simple("OK"));
    assert!(!text(&a.call(&["CLUSTER", "NODES"])).contains('['));
}

#[test]
fn a_line_admitted_by_its_policy_moves_to_another_node_and_goes_on_admitting_there() {
    let cluster = Cluster::start();
    let (mut a, mut b) = (cluster.client(0), cluster.client(1));
    let (q, act) = ("queue:{w}", "active:{w}");
    let slot = a.call(&["CLUSTER", "KEYSLOT", q]).int();
    let s = slot.to_string();
    for u in 0..600 {
        let r = a.call(&["ENTER", q, act, &format!("user{u}")]);
        assert!(matches!(r, Reply::Array(_)), "{r:?}");
    }
    // The server admits 100 a second (RATE is per minute).
    let r = a.call(&[
        "QPOLICY",
        "SET",
        q,
        act,
        "MAXACTIVE",
        "1000",
        "RATE",
        "6000",
    ]);
    assert!(r.is_simple("OK"), "{r:?}");
    std::thread::sleep(Duration::from_millis(400));
    assert!(a.call(&["ZCARD", act]).int() > 0, "the policy admits");
    // While the slot moves, neither node runs the policy.
    begin_move(&mut a, &mut b, &s, 0, 1);
    std::thread::sleep(Duration::from_millis(150));
    let paused = a.call(&["ZCARD", act]).int();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        a.call(&["ZCARD", act]).int(),
        paused,
        "no admissions mid-move"
    );
    let Reply::Array(keys) = a.call(&["CLUSTER", "GETKEYSINSLOT", &s, "100"]) else {
        panic!("keys");
    };
    let keys: Vec<String> = keys.iter().map(text).collect();
    assert!(keys.iter().any(|k| k.ends_with(":policy")), "{keys:?}");
    let mut migrate = vec!["MIGRATE", "127.0.0.12", "", "", "0", "5000", "KEYS"];
    let port = cluster.ports[1].to_string();
    migrate[2] = &port;
    migrate.extend(keys.iter().map(String::as_str));
    assert!(a.call(&migrate).is_simple("OK"));
    for i in [1, 0, 2] {
        let r = cluster
            .client(i)
            .call(&["CLUSTER", "SETSLOT", &s, "NODE", IDS[1]]);
        assert!(r.is_simple("OK"), "node {i}: {r:?}");
    }
    // The new owner picked the policy up with the keys and goes on; the old one wrote nothing.
    std::thread::sleep(Duration::from_millis(600));
    let now = b.call(&["ZCARD", act]).int();
    assert!(
        now > paused,
        "admissions resumed on the new node: {now} <= {paused}"
    );
    assert_eq!(
        a.call(&["DBSIZE"]).int(),
        0,
        "no stray keys on the old node"
    );
    let r = b.call(&["QPOS", q, act, "user599"]);
    let Reply::Array(pos) = r else {
        panic!("{r:?}")
    };
    assert_eq!(pos[0], Reply::Bulk(b"WAITING".to_vec()));
}

#[test]
fn keys_in_slot_lock_only_their_shard_and_work_inside_a_transaction() {
    // GETKEYSINSLOT / COUNTKEYSINSLOT take the slot's shard only (a reshard asks them for
    // every slot while the node serves); inside EXEC, which may hold that shard already, they
    // use it rather than wait for themselves.
    let usher = Server::usher(&["--cluster-enabled", "yes", "--shards", "4"]);
    let mut c = usher.client();
    c.set_timeout(Duration::from_secs(5));
    let slot = c.call(&["CLUSTER", "KEYSLOT", "{w}a"]).int().to_string();
    assert!(c.call(&["MULTI"]).is_simple("OK"));
    for cmd in [
        &["SET", "{w}a", "1"][..],
        &["CLUSTER", "COUNTKEYSINSLOT", &slot],
        &["CLUSTER", "GETKEYSINSLOT", &slot, "10"],
    ] {
        assert_eq!(c.call(cmd), Reply::Simple("QUEUED".into()));
    }
    assert_eq!(
        c.call(&["EXEC"]),
        Reply::Array(vec![
            Reply::Simple("OK".into()),
            Reply::Int(1),
            Reply::Array(vec![Reply::Bulk(b"{w}a".to_vec())]),
        ])
    );
    assert_eq!(c.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot]).int(), 1);
}

#[test]
fn a_client_blocked_on_a_slot_that_moves_away_is_redirected() {
    let cluster = Cluster::start();
    let addr = cluster.addr(0);
    let blocked = std::thread::spawn(move || {
        let mut c = Client::connect_addr(&addr).unwrap();
        c.call(&["BLPOP", "{w}jobs", "0"])
    });
    let mut a = cluster.client(0);
    let slot = a.call(&["CLUSTER", "KEYSLOT", "{w}jobs"]).int().to_string();
    for _ in 0..100 {
        let clients = text(&a.call(&["CLIENT", "LIST"]));
        if clients.contains("cmd=blpop") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Still served here while the slot is only being moved.
    assert!(a
        .call(&["CLUSTER", "SETSLOT", &slot, "MIGRATING", IDS[1]])
        .is_simple("OK"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!blocked.is_finished());
    for i in [1, 0] {
        let r = cluster
            .client(i)
            .call(&["CLUSTER", "SETSLOT", &slot, "NODE", IDS[1]]);
        assert!(r.is_simple("OK"), "{r:?}");
    }
    // Its pushes now go to node 2: the waiter is sent there instead of waiting forever.
    assert_eq!(
        blocked.join().unwrap(),
        Reply::Error(format!("MOVED {slot} {}", cluster.addr(1)))
    );
}

/// As Redis does when a slot leaves a node: the shard channels of that slot are dropped there
/// and each subscriber is told with `sunsubscribe` (its count going down), so an event's
/// announcements are followed on its new node; channels of other slots are untouched.
#[test]
fn shard_subscribers_of_a_slot_that_moves_away_are_unsubscribed() {
    let cluster = Cluster::start();
    let mut a = cluster.client(0);
    let slot = a.call(&["CLUSTER", "KEYSLOT", "{w}news"]).int();
    // A channel node 0 serves in another slot (SPUBLISH answers it rather than MOVED).
    let stay = (0..1000)
        .map(|i| format!("{{s{i}}}stay"))
        .find(|ch| {
            a.call(&["CLUSTER", "KEYSLOT", ch]).int() != slot
                && !a.call(&["SPUBLISH", ch, "probe"]).is_error()
        })
        .expect("a channel node 0 serves");
    let mut sub = cluster.client(0);
    // One slot per SSUBSCRIBE in cluster mode (CROSSSLOT otherwise).
    sub.send(&["SSUBSCRIBE", "{w}news", "{w}more"]);
    sub.send(&["SSUBSCRIBE", &stay]);
    for n in 1..=3 {
        assert_eq!(sub.read().unwrap().items()[2].int(), n);
    }
    let slot = slot.to_string();
    for i in [1, 0] {
        let r = cluster
            .client(i)
            .call(&["CLUSTER", "SETSLOT", &slot, "NODE", IDS[1]]);
        assert!(r.is_simple("OK"), "{r:?}");
    }
    sub.set_timeout(Duration::from_secs(5));
    let mut dropped = Vec::new();
    for count in [2, 1] {
        let msg = sub.read().unwrap();
        let items = msg.items();
        assert_eq!(text(&items[0]), "sunsubscribe", "{msg:?}");
        assert_eq!(items[2].int(), count, "{msg:?}");
        dropped.push(text(&items[1]));
    }
    dropped.sort();
    assert_eq!(dropped, ["{w}more", "{w}news"]);
    // The other slot's channel still delivers; the moved one is served by node 1 now.
    assert_eq!(a.call(&["SPUBLISH", &stay, "hello"]).int(), 1);
    let msg = sub.read().unwrap();
    assert_eq!(msg.strings(), ["smessage", stay.as_str(), "hello"]);
    assert_eq!(
        a.call(&["SPUBLISH", "{w}news", "x"]),
        Reply::Error(format!("MOVED {slot} {}", cluster.addr(1)))
    );
    let list = text(&a.call(&["CLIENT", "LIST"]));
    assert!(list.contains("ssub=1"), "{list}");
    sub.send(&["SUNSUBSCRIBE"]);
    let msg = sub.read().unwrap();
    assert_eq!(text(&msg.items()[1]), stay);
    assert_eq!(msg.items()[2].int(), 0);
}

#[test]
fn a_split_line_in_cluster_mode_keeps_its_sub_queues_on_the_node_that_serves_it() {
    let cluster = Cluster::start_with(&["--shards", "8"]);
    for (i, queue, active) in [
        (0, "queue:{w}", "active:{w}"),
        (1, "queue:{concert42}", "active:{concert42}"),
    ] {
        let mut c = cluster.client(i);
        for u in 0..40 {
            let r = c.call(&["ENTER", queue, active, &format!("user{u}")]);
            assert!(matches!(r, Reply::Array(_)), "{r:?}");
        }
        assert!(c.call(&["QSPLIT", queue, "8"]).is_simple("OK"));
        let Reply::Array(shown) = c.call(&["QSPLIT", queue]) else {
            panic!("QSPLIT shows the split");
        };
        let Reply::Array(names) = &shown[3] else {
            panic!("{shown:?}");
        };
        assert_eq!(names.len(), 8);
        let mut shards = std::collections::HashSet::new();
        for name in names {
            let name = text(name);
            let slot = c.call(&["CLUSTER", "KEYSLOT", &name]).int();
            let owner = match slot {
                0..=5460 => 0,
                5461..=10922 => 1,
                _ => 2,
            };
            assert_eq!(owner, i, "{name} (slot {slot}) must be served by node {i}");
            shards.insert(slot % 8);
        }
        assert_eq!(shards.len(), 8, "eight sub-queues on eight shards");
        // The split line answers as the plain one did.
        let r = c.call(&["QPOS", queue, active, "user39"]);
        let Reply::Array(pos) = r else {
            panic!("{r:?}")
        };
        assert_eq!(pos[1], Reply::Int(40));
        // A split line is not moved by MIGRATE (its sub-queues would stay behind).
        let (host, port) = (
            format!("127.0.0.1{}", 3 - i),
            cluster.ports[2 - i].to_string(),
        );
        let r = c.call(&["MIGRATE", &host, &port, queue, "0", "1000"]);
        assert!(r.err().contains("is a split waiting line"), "{r:?}");
        assert!(c.call(&["QSPLIT", queue, "1"]).is_simple("OK"));
        assert_eq!(c.call(&["ZCARD", queue]).int(), 40);
    }
}

#[test]
fn migrate_moves_keys_between_usher_and_redis_server_both_ways() {
    let dir = std::env::temp_dir().join(format!("usher-migrate-aof-{}", free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let usher = Server::usher(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let redis = Server::redis(&[]);
    let (mut u, mut r) = (usher.client(), redis.client());
    let (uport, rport) = (usher.port.to_string(), redis.port.to_string());
    assert!(u.call(&["RPUSH", "line", "a", "b", "c"]).int() == 3);
    assert!(u.call(&["SET", "ttl", "v", "PX", "60000"]).is_simple("OK"));
    assert!(u.call(&["ZADD", "z", "1", "m"]).int() == 1);
    // usher → redis-server (db 3), then redis-server → usher, a copy kept on the way back.
    assert!(u
        .call(&[
            "MIGRATE",
            "127.0.0.1",
            &rport,
            "",
            "3",
            "5000",
            "KEYS",
            "line",
            "ttl",
            "z"
        ])
        .is_simple("OK"));
    assert_eq!(u.call(&["DBSIZE"]).int(), 0);
    // Logged as the DEL of what moved, as Redis propagates MIGRATE.
    let aof: String = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect();
    assert!(
        aof.contains("*4\r\n$3\r\nDEL\r\n$4\r\nline\r\n$3\r\nttl\r\n$1\r\nz\r\n"),
        "{aof:?}"
    );
    assert!(!aof.contains("MIGRATE"));
    assert!(r.call(&["SELECT", "3"]).is_simple("OK"));
    assert_eq!(
        r.call(&["LRANGE", "line", "0", "-1"]),
        Reply::Array(vec![
            Reply::Bulk(b"a".to_vec()),
            Reply::Bulk(b"b".to_vec()),
            Reply::Bulk(b"c".to_vec())
        ])
    );
    let ttl = r.call(&["PTTL", "ttl"]).int();
    assert!(ttl > 50_000 && ttl <= 60_000, "{ttl}");
    assert!(r
        .call(&[
            "MIGRATE",
            "127.0.0.1",
            &uport,
            "",
            "0",
            "5000",
            "COPY",
            "KEYS",
            "line",
            "z"
        ])
        .is_simple("OK"));
    assert_eq!(r.call(&["DBSIZE"]).int(), 3);
    assert_eq!(u.call(&["ZSCORE", "z", "m"]), Reply::Bulk(b"1".to_vec()));
    assert_eq!(u.call(&["LLEN", "line"]).int(), 3);
    // BUSYKEY on the target leaves the key here; REPLACE overwrites.
    assert!(u.call(&["SET", "dup", "mine"]).is_simple("OK"));
    assert!(r.call(&["SET", "dup", "theirs"]).is_simple("OK"));
    assert_eq!(
        u.call(&["MIGRATE", "127.0.0.1", &rport, "dup", "3", "5000"]),
        Reply::Error(
            "ERR Target instance replied with error: BUSYKEY Target key name already exists."
                .into()
        )
    );
    assert_eq!(u.call(&["GET", "dup"]), Reply::Bulk(b"mine".to_vec()));
    assert!(u
        .call(&[
            "MIGRATE",
            "127.0.0.1",
            &rport,
            "dup",
            "3",
            "5000",
            "REPLACE"
        ])
        .is_simple("OK"));
    assert_eq!(r.call(&["GET", "dup"]), Reply::Bulk(b"mine".to_vec()));
    assert_eq!(u.call(&["EXISTS", "dup"]).int(), 0);
    // A target that is not there: IOERR, and the key stays.
    let closed = free_port().to_string();
    // Redis meets the refused connection at its first write, and says so.
    let refused = ["MIGRATE", "127.0.0.1", &closed, "refused:k", "0", "500"];
    for c in [&mut u, &mut r] {
        assert!(c.call(&["SET", "refused:k", "here"]).is_simple("OK"));
    }
    assert_eq!(u.call(&refused), r.call(&refused));
    assert_eq!(
        u.call(&refused),
        Reply::Error("IOERR error or timeout writing to target instance".into())
    );
    for c in [&mut u, &mut r] {
        assert_eq!(c.call(&["DEL", "refused:k"]).int(), 1, "the key stays");
    }
    // A target that refuses the password: the error is relayed and nothing is deleted.
    assert!(r
        .call(&["CONFIG", "SET", "requirepass", "secret"])
        .is_simple("OK"));
    let denied = u.call(&[
        "MIGRATE",
        "127.0.0.1",
        &rport,
        "z",
        "0",
        "5000",
        "AUTH",
        "wrong",
    ]);
    assert!(
        denied
            .err()
            .starts_with("ERR Target instance replied with error: WRONGPASS"),
        "{denied:?}"
    );
    assert_eq!(u.call(&["EXISTS", "z"]).int(), 1);
    assert!(u
        .call(&[
            "MIGRATE",
            "127.0.0.1",
            &rport,
            "z",
            "5",
            "5000",
            "AUTH2",
            "default",
            "secret"
        ])
        .is_simple("OK"));
    assert_eq!(u.call(&["EXISTS", "z"]).int(), 0);
    assert_eq!(
        u.call(&["MIGRATE", "127.0.0.1", &rport, "z", "0", "x"]),
        Reply::Error("ERR value is not an integer or out of range".into())
    );
    assert_eq!(
        u.call(&["MIGRATE", "127.0.0.1", &rport, "z", "0", "10", "BOGUS"]),
        Reply::Error("ERR syntax error".into())
    );
    drop(usher);
    let _ = std::fs::remove_dir_all(dir);
}
