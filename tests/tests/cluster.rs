//! Cluster mode end to end: the emulated one-node mode against a one-node redis-server
//! cluster (same slots, same errors, same transaction rule), and three usher nodes, each on
//! its own loopback address (127.0.0.11-13), given one topology: MOVED redirections that
//! `redis-cli -c` and the `redis` crate's cluster client follow, CROSSSLOT, and a topology
//! replaced at run time with CLUSTER SETTOPOLOGY.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::process::Command;
use usher_tests::server::free_port;
use usher_tests::{diff, Client, Reply, Server};

fn text(r: &Reply) -> String {
    match r {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn info_field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing in {info}"))
        .trim()
        .to_string()
}

#[test]
fn the_emulated_mode_answers_like_a_one_node_redis_cluster() {
    let (redis, conf) = Server::redis_one_node_cluster(&[]);
    let usher = Server::usher(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "/nonexistent/usher-topology.json",
    ]);
    let (mut u, mut r) = (usher.client(), redis.client());
    let seed = diff::seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    for _ in 0..300 {
        let key: String = match rng.random_range(0..3) {
            0 => format!("user:{}", rng.random_range(0..100_000)),
            1 => format!("queue:{{event{}}}:hb", rng.random_range(0..50)),
            _ => format!("{{}}{{{}}}", rng.random_range(0..9)),
        };
        let args = ["CLUSTER", "KEYSLOT", &key];
        assert_eq!(u.call(&args), r.call(&args), "seed {seed}: {key}");
    }
    let same = |u: &mut Client, r: &mut Client, args: &[&str]| {
        let (a, b) = (u.call(args), r.call(args));
        assert_eq!(a, b, "{args:?}");
        a
    };
    let crossed = same(&mut u, &mut r, &["MSET", "a", "1", "b", "2"]);
    assert!(crossed.err().starts_with("CROSSSLOT"));
    same(
        &mut u,
        &mut r,
        &["MSET", "{a}1", "1", "{a}2", "2", "{a}3", "3"],
    );
    let slot = same(&mut u, &mut r, &["CLUSTER", "KEYSLOT", "{a}"])
        .int()
        .to_string();
    same(&mut u, &mut r, &["CLUSTER", "COUNTKEYSINSLOT", &slot]);
    let keys = |c: &mut Client| {
        let mut k = c.call(&["CLUSTER", "GETKEYSINSLOT", &slot, "10"]).strings();
        k.sort();
        k
    };
    assert_eq!(keys(&mut u), keys(&mut r));
    for bad in [
        ["CLUSTER", "COUNTKEYSINSLOT", "16384"],
        ["CLUSTER", "COUNTKEYSINSLOT", "x"],
    ] {
        same(&mut u, &mut r, &bad);
    }
    // A transaction over two slots: queued, then refused at EXEC, which discards it.
    for c in [&mut u, &mut r] {
        c.call(&["MULTI"]);
    }
    same(&mut u, &mut r, &["SET", "{x}1", "1"]);
    same(&mut u, &mut r, &["SET", "{y}1", "1"]);
    assert!(same(&mut u, &mut r, &["EXEC"])
        .err()
        .starts_with("CROSSSLOT"));
    same(&mut u, &mut r, &["EXISTS", "{x}1"]);
    same(&mut u, &mut r, &["EXEC"]);
    // A script that declared `no-cluster` does not run in cluster mode; one that did not does.
    same(
        &mut u,
        &mut r,
        &["EVAL", "#!lua flags=no-cluster\nreturn 1", "0"],
    );
    same(&mut u, &mut r, &["EVAL", "#!lua\nreturn 2", "0"]);
    // No cluster-bus links on a lone node (and none ever on usher's nodes).
    assert_eq!(
        same(&mut u, &mut r, &["CLUSTER", "LINKS"]),
        Reply::Array(vec![])
    );
    // The summary fields a client reads agree.
    let (ui, ri) = (
        text(&u.call(&["CLUSTER", "INFO"])),
        text(&r.call(&["CLUSTER", "INFO"])),
    );
    for field in [
        "cluster_state",
        "cluster_slots_assigned",
        "cluster_known_nodes",
        "cluster_size",
    ] {
        assert_eq!(info_field(&ui, field), info_field(&ri, field), "{field}");
    }
    let (us, rs) = (u.call(&["CLUSTER", "SLOTS"]), r.call(&["CLUSTER", "SLOTS"]));
    assert_eq!(us.items().len(), rs.items().len());
    assert_eq!(us.items()[0].items()[..2], rs.items()[0].items()[..2]);
    assert_eq!(us.items()[0].items()[2].items()[1].int(), usher.port as i64);
    let myid = text(&u.call(&["CLUSTER", "MYID"]));
    assert!(text(&u.call(&["CLUSTER", "NODES"]))
        .starts_with(&format!("{myid} 127.0.0.1:{}@", usher.port)));
    assert!(u.call(&["READONLY"]).is_simple("OK"));
    assert!(info_field(&text(&u.call(&["INFO", "cluster"])), "cluster_enabled") == "1");
    // SORT's BY and GET patterns name keys in any slot: Redis 7.0 refuses them in cluster
    // mode (BY without `*`, which only turns sorting off, stays allowed).
    for args in [
        &["RPUSH", "l", "3", "1", "2"][..],
        &["SORT", "l", "BY", "w_*"],
        &["SORT", "l", "BY", "{l}w_*", "GET", "#"],
        &["SORT", "l", "GET", "#"],
        &["SORT", "l", "LIMIT", "x", "1", "BY", "w_*"],
        &["SORT_RO", "l", "GET", "o_*"],
        &["SORT", "l", "BY", "nosort", "DESC"],
        &["SORT", "l", "STORE", "{l}out"],
        &["CLUSTER", "SAVECONFIG"],
    ] {
        same(&mut u, &mut r, args);
    }
    let _ = std::fs::remove_file(conf);
}

#[test]
fn a_scripts_calls_are_routed_as_in_a_redis_cluster() {
    // Redis's scriptVerifyClusterState: each redis.call is routed as the command sent alone.
    // Redis 7.0 lets a script reach a local key it did not declare, in another slot, but not
    // one call over several slots.
    let (redis, conf) = Server::redis_one_node_cluster(&[]);
    let usher = Server::usher(&["--cluster-enabled", "yes"]);
    let (mut u, mut r) = (usher.client(), redis.client());
    for args in [
        &["EVAL", "return redis.call('mset', 'a', 1, 'b', 2)", "0"][..],
        &["EVAL", "return redis.pcall('exists', 'a', 'b')", "0"],
        &["EVAL", "return redis.call('del', '{x}a', 'q')", "1", "{x}"],
        &["EVAL", "return redis.call('rename', 'a', 'b')", "0"],
        &[
            "EVAL",
            "return redis.call('mset', '{x}a', 1, '{x}b', 2)",
            "0",
        ],
        &["EVAL", "return redis.call('set', 'zz', 1)", "1", "a"],
        &[
            "EVAL",
            "return {redis.call('set', 'a', 2), redis.call('get', 'b')}",
            "0",
        ],
        &[
            "EVAL",
            "#!lua flags=allow-cross-slot-keys\nreturn redis.call('mget', 'a', 'b')",
            "0",
        ],
        &[
            "EVAL",
            "local ok = redis.pcall('mset', 'a', 1, 'b', 2) return redis.call('get', 'a')",
            "0",
        ],
        &["MGET", "a", "zz", "{x}a"],
    ] {
        assert_eq!(u.call(args), r.call(args), "{args:?}");
    }
    assert!(u
        .call(&["EVAL", "return redis.call('mset', 'a', 1, 'b', 2)", "0"])
        .err()
        .starts_with("ERR Script attempted to access a non local key in a cluster node script:"));
    drop(redis);
    let _ = std::fs::remove_file(conf);
}

#[test]
fn outside_cluster_mode_cluster_commands_say_so_as_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for args in [
        vec!["CLUSTER", "INFO"],
        vec!["CLUSTER", "KEYSLOT", "a"],
        vec!["CLUSTER", "NODES"],
        vec!["CLUSTER", "LINKS"],
        vec!["READONLY"],
        vec!["READWRITE"],
        vec!["ASKING"],
        vec!["CLUSTER", "NOSUCH"],
    ] {
        assert_eq!(u.call(&args), r.call(&args), "{args:?}");
    }
    // Outside cluster mode keys of any slots combine, as in Redis.
    assert!(u.call(&["MSET", "a", "1", "b", "2"]).is_simple("OK"));
}

const IDS: [&str; 3] = [
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2",
    "ccccccccccccccccccccccccccccccccccccccc3",
];

fn topology(ports: &[u16; 3], ranges: [&[&str]; 3], epoch: u64) -> String {
    let nodes: Vec<String> = (0..3)
        .map(|i| {
            let slots: Vec<String> = ranges[i].iter().map(|r| format!("\"{r}\"")).collect();
            format!(
                r#"{{"id":"{}","host":"127.0.0.1{}","port":{},"slots":[{}]}}"#,
                IDS[i],
                i + 1,
                ports[i],
                slots.join(",")
            )
        })
        .collect();
    format!(r#"{{"epoch":{epoch},"nodes":[{}]}}"#, nodes.join(","))
}

/// Three nodes on 127.0.0.11-13 (and loopback for the harness), one topology file.
fn three_nodes() -> (Vec<Server>, [u16; 3], std::path::PathBuf) {
    let ports = [free_port(), free_port(), free_port()];
    let file = std::env::temp_dir().join(format!("usher-topology-{}.json", ports[0]));
    std::fs::write(
        &file,
        topology(&ports, [&["0-5460"], &["5461-10922"], &["10923-16383"]], 1),
    )
    .unwrap();
    let nodes = (0..3)
        .map(|i| {
            let host = format!("127.0.0.1{}", i + 1);
            Server::usher_cluster_node(&host, ports[i], &file, IDS[i], &[])
        })
        .collect();
    (nodes, ports, file)
}

fn owner(slot: i64) -> usize {
    match slot {
        0..=5460 => 0,
        5461..=10922 => 1,
        _ => 2,
    }
}

#[test]
fn three_nodes_redirect_and_cluster_clients_follow() {
    let (nodes, ports, file) = three_nodes();
    let mut clients: Vec<Client> = (0..3)
        .map(|i| Client::connect_addr(&format!("127.0.0.1{}:{}", i + 1, ports[i])).unwrap())
        .collect();
    // Every key answers on its owner and redirects elsewhere, naming the owner's address.
    for k in 0..60 {
        let key = format!("key:{k}");
        let slot = clients[0].call(&["CLUSTER", "KEYSLOT", &key]).int();
        let o = owner(slot);
        for (i, c) in clients.iter_mut().enumerate() {
            let r = c.call(&["SET", &key, "v"]);
            if i == o {
                assert!(r.is_simple("OK"), "{key} on its owner: {r:?}");
            } else {
                assert_eq!(
                    r,
                    Reply::Error(format!("MOVED {slot} 127.0.0.1{}:{}", o + 1, ports[o])),
                    "{key} on node {i}"
                );
            }
        }
    }
    let total: i64 = clients.iter_mut().map(|c| c.call(&["DBSIZE"]).int()).sum();
    assert_eq!(total, 60, "each key stored once, on its owner");
    assert!(clients[1]
        .call(&["MSET", "a", "1", "b", "2"])
        .err()
        .starts_with("CROSSSLOT"));
    // redis-cli -c follows the redirections.
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-c", "-h", "127.0.0.11", "-p", &ports[0].to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for k in 0..10 {
        assert_eq!(cli(&["SET", &format!("cli:{k}"), &k.to_string()]), "OK");
        assert_eq!(cli(&["GET", &format!("cli:{k}")]), k.to_string());
    }
    // The redis crate's cluster client discovers the nodes from CLUSTER SLOTS.
    let client =
        redis::cluster::ClusterClient::new(vec![format!("redis://127.0.0.11:{}/", ports[0])])
            .unwrap();
    let mut conn = client.get_connection().expect("cluster connection");
    for k in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("rc:{k}"))
            .arg(k)
            .query(&mut conn)
            .unwrap();
    }
    for k in 0..50 {
        let v: i64 = redis::cmd("GET")
            .arg(format!("rc:{k}"))
            .query(&mut conn)
            .unwrap();
        assert_eq!(v, k);
    }
    let total: i64 = clients.iter_mut().map(|c| c.call(&["DBSIZE"]).int()).sum();
    assert_eq!(total, 120);
    // CLUSTER SAVECONFIG writes the topology file again, as the node serves it.
    std::fs::remove_file(&file).unwrap();
    assert!(clients[0].call(&["CLUSTER", "SAVECONFIG"]).is_simple("OK"));
    let saved = std::fs::read_to_string(&file).expect("topology written");
    assert!(IDS.iter().all(|id| saved.contains(id)), "{saved}");
    drop(nodes);
    let _ = std::fs::remove_file(file);
}

#[test]
fn a_topology_replaced_at_run_time_moves_the_redirections() {
    let (nodes, ports, file) = three_nodes();
    let mut clients: Vec<Client> = (0..3)
        .map(|i| Client::connect_addr(&format!("127.0.0.1{}:{}", i + 1, ports[i])).unwrap())
        .collect();
    let key = "{a}"; // slot 15495: node 3's
    assert!(clients[2].call(&["SET", key, "1"]).is_simple("OK"));
    // Node 3 gives its slots to node 1 (the operator moved the data first, e.g. DUMP/RESTORE).
    let next = topology(
        &ports,
        [&["0-5460", "10923-16383"], &["5461-10922"], &[]],
        2,
    );
    for c in clients.iter_mut() {
        let r = c.call(&["CLUSTER", "SETTOPOLOGY", &next]);
        assert!(r.is_simple("OK"), "{r:?}");
    }
    assert_eq!(
        clients[2].call(&["GET", key]),
        Reply::Error(format!("MOVED 15495 127.0.0.11:{}", ports[0]))
    );
    assert!(clients[0].call(&["SET", key, "2"]).is_simple("OK"));
    let info = text(&clients[2].call(&["CLUSTER", "INFO"]));
    assert_eq!(info_field(&info, "cluster_current_epoch"), "2");
    assert_eq!(info_field(&info, "cluster_size"), "2");
    // A topology that overlaps, or leaves this node out, is refused and changes nothing.
    let overlapping = topology(&ports, [&["0-6000"], &["5461-10922"], &["10923-16383"]], 3);
    let r = clients[1].call(&["CLUSTER", "SETTOPOLOGY", &overlapping]);
    assert!(r.err().contains("slot 5461"), "{r:?}");
    assert_eq!(
        info_field(
            &text(&clients[1].call(&["CLUSTER", "INFO"])),
            "cluster_current_epoch"
        ),
        "2"
    );
    let r = clients[1].call(&["CLUSTER", "SETTOPOLOGY", "not json"]);
    assert!(r.err().starts_with("ERR invalid topology"), "{r:?}");
    drop(nodes);
    let _ = std::fs::remove_file(file);
}

#[test]
fn a_script_cannot_write_a_key_another_node_owns() {
    // Without the check, the call wrote the key here, in a slot this node does not serve:
    // no client would ever be sent to find it.
    let (nodes, ports, file) = three_nodes();
    let mut c0 = Client::connect_addr(&format!("127.0.0.11:{}", ports[0])).unwrap();
    let mut owned_by = |here: bool| {
        (0..)
            .map(|i| format!("key:{i}"))
            .find(|k| (owner(c0.call(&["CLUSTER", "KEYSLOT", k]).int()) == 0) == here)
            .unwrap()
    };
    let (mine, theirs) = (owned_by(true), owned_by(false));
    let (mine, theirs) = (mine.as_str(), theirs.as_str());
    let slot = c0.call(&["CLUSTER", "KEYSLOT", theirs]).int();
    let script = "redis.call('set', KEYS[1], 'a') return redis.call('set', ARGV[1], 'b')";
    assert!(c0
        .call(&["EVAL", script, "1", mine, theirs])
        .err()
        .starts_with("ERR Script attempted to access a non local key in a cluster node script:"));
    assert_eq!(
        c0.call(&["DBSIZE"]),
        Reply::Int(1),
        "only the local key was written"
    );
    // pcall sees the refusal as an error reply and the script goes on.
    let script = "local r = redis.pcall('get', ARGV[1]) return r['err']";
    assert_eq!(
        c0.call(&["EVAL", script, "1", mine, theirs]),
        Reply::Bulk(b"ERR Script attempted to access a non local key in a cluster node".to_vec())
    );
    // Sent to the key's own node, the same script runs there.
    let o = owner(slot);
    let mut co = Client::connect_addr(&format!("127.0.0.1{}:{}", o + 1, ports[o])).unwrap();
    assert!(co
        .call(&[
            "EVAL",
            "return redis.call('set', KEYS[1], 'b')",
            "1",
            theirs
        ])
        .is_simple("OK"));
    drop(nodes);
    let _ = std::fs::remove_file(file);
}
