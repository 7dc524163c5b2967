//! The connection family (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT ...) against
//! usher and redis-server 7.0.15. Replies without per-connection values are compared exactly
//! through the differential harness; scenarios whose replies carry ids or addresses run the
//! same assertions on both servers, so every expectation is one Redis itself meets.
//! CLIENT SETINFO is Redis 7.2, so it is checked against the documented behaviour instead.

use std::time::Duration;
use usher_tests::resp::{exchange, Client, Reply};
use usher_tests::{Differ, Server};

/// Runs each command on both servers and requires identical replies.
fn same(d: &mut Differ, commands: &[&[&str]]) {
    for c in commands {
        let args: Vec<Vec<u8>> = c.iter().map(|a| a.as_bytes().to_vec()).collect();
        d.run(&args);
    }
}

/// HELLO's reply with the connection id (which differs by design) set to 0.
fn hello_without_id(reply: Reply) -> Reply {
    let fix = |k: &Reply, v: Reply| {
        if *k == Reply::bulk("id") {
            Reply::Int(0)
        } else {
            v
        }
    };
    match reply {
        Reply::Map(pairs) => Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    let v = fix(&k, v);
                    (k, v)
                })
                .collect(),
        ),
        Reply::Array(items) => {
            let mut out = Vec::new();
            for pair in items.chunks(2) {
                out.push(pair[0].clone());
                out.push(fix(&pair[0], pair[1].clone()));
            }
            Reply::Array(out)
        }
        other => other,
    }
}

/// The `key=value` fields of one CLIENT LIST / CLIENT INFO line, in order.
fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("field without '=' in {line:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field(line: &str, name: &str) -> String {
    fields(line)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
        .1
}

#[test]
fn ping_and_echo_reply_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["PING"],
            &["ping", "hello world"],
            &["PING", "a", "b"],
            &["ECHO", ""],
            &["ECHO", "bytes\r\nand more"],
            &["ECHO"],
            &["ECHO", "a", "b"],
            &["PiNg"],
        ],
    );
    assert_eq!(d.usher.call(&["PING"]), Reply::Simple("PONG".into()));
}

#[test]
fn hello_answers_redis_map_in_resp2_and_resp3() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut replies = Vec::new();
    for server in [&usher, &redis] {
        let mut c = server.client();
        let id = c.call(&["CLIENT", "ID"]).int();
        let plain = c.call(&["HELLO"]);
        let two = c.call(&["HELLO", "2"]);
        let three = c.call(&["HELLO", "3"]);
        // The id HELLO reports is the connection's own.
        let Reply::Map(pairs) = &three else {
            panic!("HELLO 3 must answer a RESP3 map, got {three:?}")
        };
        assert!(pairs.contains(&(Reply::bulk("id"), Reply::Int(id))));
        assert!(pairs.contains(&(Reply::bulk("proto"), Reply::Int(3))));
        // RESP3 now: a null is `_`, and HELLO 2 goes back to RESP2 (flat array).
        let null = c.call(&["GET", "missing"]);
        let back = c.call(&["HELLO", "2"]);
        let null2 = c.call(&["GET", "missing"]);
        replies.push(
            [plain, two, three, null, back, null2]
                .into_iter()
                .map(hello_without_id)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[0][3], Reply::Null);
    assert_eq!(replies[0][5], Reply::Nil);
    // Errors and options, compared exactly.
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["HELLO", "4"],
            &["HELLO", "1"],
            &["HELLO", "abc"],
            &["HELLO", "3", "FOO"],
            &["HELLO", "2", "AUTH", "default"],
            &["HELLO", "2", "AUTH", "nobody", "pw"],
            &["HELLO", "2", "SETNAME", "bad name"],
            &["HELLO", "2", "SETNAME"],
            &["CLIENT", "GETNAME"],
        ],
    );
    // SETNAME through HELLO, and AUTH with any password for the nopass default user.
    for c in [&mut d.usher, &mut d.redis] {
        let r = c.call(&[
            "HELLO", "2", "AUTH", "default", "anything", "SETNAME", "viahello",
        ]);
        assert!(matches!(r, Reply::Array(_)), "{r:?}");
        assert_eq!(c.call(&["CLIENT", "GETNAME"]), Reply::bulk("viahello"));
    }
}

#[test]
fn hello_with_requirepass_authenticates_or_refuses_like_redis() {
    let usher = Server::usher(&["--requirepass", "s3cret"]);
    let redis = Server::redis(&["--requirepass", "s3cret"]);
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["HELLO"],
            &["HELLO", "3"],
            &["HELLO", "3", "AUTH", "default", "wrong"],
            &["HELLO", "3", "AUTH", "someone", "s3cret"],
            &["GET", "k"],
        ],
    );
    for c in [&mut d.usher, &mut d.redis] {
        let r = c.call(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "n"]);
        assert!(matches!(r, Reply::Map(_)), "{r:?}");
        assert_eq!(c.call(&["GET", "k"]), Reply::Null);
        assert_eq!(c.call(&["CLIENT", "GETNAME"]), Reply::bulk("n"));
    }
}

#[test]
fn auth_without_requirepass_matches_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["AUTH", "x"],
            &["AUTH", "default", "anything"],
            &["AUTH", "other", "x"],
            &["AUTH", "a", "b", "c"],
            &["AUTH"],
            &["GET", "k"],
        ],
    );
}

#[test]
fn the_noauth_gate_and_auth_with_requirepass_match_redis() {
    let usher = Server::usher(&["--requirepass", "pw"]);
    let redis = Server::redis(&["--requirepass", "pw"]);
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            // Lookup and arity are checked before authentication, as in Redis.
            &["NOSUCHCMD", "x"],
            &["GET"],
            &["GET", "k"],
            &["PING"],
            &["SELECT", "1"],
            &["CLIENT", "ID"],
            &["AUTH", "wrong"],
            &["AUTH", "default", "wrong"],
            &["AUTH", "nobody", "pw"],
            &["GET", "k"],
            &["AUTH", "pw"],
            &["GET", "k"],
            &["SET", "k", "v"],
            &["AUTH", "default", "pw"],
            &["GET", "k"],
            // A failed AUTH after a good one does not log the client out (Redis 7.0).
            &["AUTH", "bad"],
            &["GET", "k"],
        ],
    );
    // QUIT needs no authentication.
    let out = exchange(usher.port, b"GET k\r\nQUIT\r\n");
    assert_eq!(
        String::from_utf8_lossy(&out),
        "-NOAUTH Authentication required.\r\n+OK\r\n"
    );
}

#[test]
fn select_switches_databases_and_refuses_bad_indexes_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["SET", "k", "db0"],
            &["SELECT", "1"],
            &["GET", "k"],
            &["SET", "k", "db1"],
            &["SELECT", "15"],
            &["DBSIZE"],
            &["SELECT", "16"],
            &["SELECT", "-1"],
            &["SELECT", "abc"],
            &["SELECT", "1.5"],
            &["SELECT", "99999999999"],
            &["SELECT", "0"],
            &["GET", "k"],
            &["SELECT", "1"],
            &["GET", "k"],
            &["SELECT"],
        ],
    );
    // Each connection has its own selected database.
    assert_eq!(usher.client().call(&["GET", "k"]), Reply::bulk("db0"));
}

#[test]
fn quit_replies_ok_closes_and_skips_the_rest_of_the_pipeline() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    for s in [&usher, &redis] {
        let wire = [
            Client::encode(&["SET", "before", "1"]),
            Client::encode(&["QUIT"]),
            Client::encode(&["SET", "after", "1"]),
        ]
        .concat();
        assert_eq!(exchange(s.port, &wire), b"+OK\r\n+OK\r\n");
        let mut c = s.client();
        assert_eq!(c.call(&["EXISTS", "before", "after"]), Reply::Int(1));
    }
}

#[test]
fn reset_restores_a_fresh_connection_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["SELECT", "3"],
            &["SET", "k", "in3"],
            &["CLIENT", "SETNAME", "before-reset"],
            &["WATCH", "k"],
            &["MULTI"],
            &["SET", "k", "queued"],
            // RESET runs at once inside MULTI.
            &["RESET"],
            &["EXEC"],
            &["CLIENT", "GETNAME"],
            &["GET", "k"],
            &["SELECT", "3"],
            &["GET", "k"],
        ],
    );
    // After HELLO 3, RESET brings RESP2 back (the HELLO reply itself differs by id).
    for c in [&mut d.usher, &mut d.redis] {
        assert!(matches!(c.call(&["HELLO", "3"]), Reply::Map(_)));
        assert_eq!(c.call(&["GET", "nope"]), Reply::Null);
        assert_eq!(c.call(&["RESET"]), Reply::Simple("RESET".into()));
        assert_eq!(c.call(&["GET", "nope"]), Reply::Nil);
        // And it leaves subscriber mode.
        c.send(&["SUBSCRIBE", "ch"]);
        assert_eq!(c.read().unwrap().items()[0], Reply::bulk("subscribe"));
        assert_eq!(c.call(&["RESET"]), Reply::Simple("RESET".into()));
        assert!(c.call(&["SET", "x", "1"]).is_simple("OK"));
    }
}

#[test]
fn reset_logs_the_client_out_when_a_password_is_set() {
    for s in [
        Server::usher(&["--requirepass", "pw"]),
        Server::redis(&["--requirepass", "pw"]),
    ] {
        let mut c = s.client();
        assert!(c.call(&["AUTH", "pw"]).is_simple("OK"));
        assert!(c.call(&["SET", "k", "v"]).is_simple("OK"));
        assert!(c.call(&["RESET"]).is_simple("RESET"));
        assert_eq!(
            c.call(&["GET", "k"]),
            Reply::Error("NOAUTH Authentication required.".into()),
            "{:?}",
            s.kind
        );
    }
}

#[test]
fn client_setname_and_getname_validate_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["CLIENT", "GETNAME"],
            &["CLIENT", "SETNAME", "worker-1"],
            &["CLIENT", "GETNAME"],
            &["CLIENT", "SETNAME", "has space"],
            &["CLIENT", "SETNAME", "new\nline"],
            &["CLIENT", "SETNAME", "caf\u{e9}"],
            &["CLIENT", "GETNAME"],
            &["CLIENT", "SETNAME", ""],
            &["CLIENT", "GETNAME"],
            &["CLIENT", "SETNAME"],
            &["CLIENT", "SETNAME", "a", "b"],
            &["CLIENT", "NOSUCH"],
            &["CLIENT"],
            &["CLIENT", "REPLY", "MAYBE"],
            &["CLIENT", "NO-EVICT", "maybe"],
            &["CLIENT", "NO-EVICT", "on"],
            &["CLIENT", "NO-EVICT", "OFF"],
            &["CLIENT", "LIST", "TYPE", "bogus"],
            &["CLIENT", "LIST", "ID", "abc"],
            &["CLIENT", "LIST", "bogus"],
            &["CLIENT", "LIST", "TYPE", "pubsub"],
            &["CLIENT", "KILL", "nosuch:1"],
            &["CLIENT", "KILL", "ID", "0"],
            &["CLIENT", "KILL", "ID", "abc"],
            &["CLIENT", "KILL", "ID", "999999"],
            &["CLIENT", "KILL", "TYPE", "bogus"],
            &["CLIENT", "KILL", "SKIPME", "maybe"],
            &["CLIENT", "KILL", "FOO", "bar"],
            &["CLIENT", "KILL", "ADDR", "1.2.3.4:5"],
            &["CLIENT", "KILL", "ID", "1", "SKIPME"],
        ],
    );
}

#[test]
fn client_list_and_info_lines_have_redis_fields_in_redis_order() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut names = Vec::new();
    for s in [&usher, &redis] {
        let mut a = s.client();
        let mut b = s.client();
        assert!(a.call(&["CLIENT", "SETNAME", "alpha"]).is_simple("OK"));
        assert!(b.call(&["SELECT", "2"]).is_simple("OK"));
        let (a_id, b_id) = (
            a.call(&["CLIENT", "ID"]).int(),
            b.call(&["CLIENT", "ID"]).int(),
        );
        let list = a.call(&["CLIENT", "LIST"]).text();
        assert!(list.ends_with('\n'), "{list:?}");
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 2, "{list}");
        let line_a = lines
            .iter()
            .find(|l| field(l, "id") == a_id.to_string())
            .expect("a is listed");
        let line_b = lines
            .iter()
            .find(|l| field(l, "id") == b_id.to_string())
            .expect("b is listed");
        assert_eq!(field(line_a, "name"), "alpha");
        assert_eq!(field(line_a, "cmd"), "client|list");
        assert_eq!(field(line_b, "db"), "2");
        assert_eq!(field(line_b, "cmd"), "client|id");
        assert_eq!(field(line_a, "flags"), "N");
        assert_eq!(field(line_a, "resp"), "2");
        assert_eq!(field(line_a, "user"), "default");
        assert!(field(line_a, "addr").starts_with("127.0.0.1:"));
        // CLIENT INFO is this client's own line; CLIENT LIST ID filters.
        let info = a.call(&["CLIENT", "INFO"]).text();
        assert_eq!(field(info.trim_end(), "id"), a_id.to_string());
        assert_eq!(field(info.trim_end(), "cmd"), "client|info");
        let only_b = a
            .call(&["CLIENT", "LIST", "ID", &b_id.to_string(), "99999"])
            .text();
        assert_eq!(only_b.lines().count(), 1);
        assert_eq!(field(only_b.trim_end(), "id"), b_id.to_string());
        assert_eq!(
            a.call(&["CLIENT", "LIST", "TYPE", "normal"])
                .text()
                .lines()
                .count(),
            2
        );
        names.push(
            fields(line_a)
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>(),
        );
    }
    // usher prints every field Redis 7.0 prints, in the same order; it may add Redis 7.2's
    // lib-name and lib-ver at the end.
    let (u, r) = (&names[0], &names[1]);
    assert_eq!(&u[..r.len()], &r[..], "usher {u:?}\nredis {r:?}");
    assert!(u[r.len()..]
        .iter()
        .all(|f| f == "lib-name" || f == "lib-ver"));
}

#[test]
fn client_kill_closes_the_chosen_connections_like_redis() {
    for s in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut admin = s.client();
        let admin_id = admin.call(&["CLIENT", "ID"]).int();
        let mut victims: Vec<Client> = (0..3).map(|_| s.client()).collect();
        let ids: Vec<i64> = victims
            .iter_mut()
            .map(|v| v.call(&["CLIENT", "ID"]).int())
            .collect();
        let addr_of = |admin: &mut Client, id: i64| {
            let list = admin
                .call(&["CLIENT", "LIST", "ID", &id.to_string()])
                .text();
            field(list.trim_end(), "addr")
        };
        for v in &mut victims {
            v.set_timeout(Duration::from_secs(5));
        }
        // By ID (new form): one killed, the connection closes.
        assert_eq!(
            admin.call(&["CLIENT", "KILL", "ID", &ids[0].to_string()]),
            Reply::Int(1)
        );
        assert!(victims[0].closes(), "{:?}: KILL ID left it open", s.kind);
        // By ADDR (new form) and by address alone (old form, +OK).
        let addr1 = addr_of(&mut admin, ids[1]);
        assert_eq!(
            admin.call(&["CLIENT", "KILL", "ADDR", &addr1]),
            Reply::Int(1)
        );
        assert!(victims[1].closes());
        let addr2 = addr_of(&mut admin, ids[2]);
        assert!(admin.call(&["CLIENT", "KILL", &addr2]).is_simple("OK"));
        assert!(victims[2].closes());
        // Killing an already closed client finds nobody.
        assert_eq!(
            admin.call(&["CLIENT", "KILL", "ID", &ids[0].to_string()]),
            Reply::Int(0)
        );
        // SKIPME: by default the caller is spared; SKIPME no kills it after the reply.
        assert_eq!(
            admin.call(&["CLIENT", "KILL", "ID", &admin_id.to_string()]),
            Reply::Int(0)
        );
        assert!(admin.call(&["PING"]).is_simple("PONG"));
        assert_eq!(
            admin.call(&[
                "CLIENT",
                "KILL",
                "ID",
                &admin_id.to_string(),
                "SKIPME",
                "no"
            ]),
            Reply::Int(1)
        );
        admin.set_timeout(Duration::from_secs(5));
        assert!(admin.closes(), "{:?}: SKIPME no spared the caller", s.kind);
        // The server goes on serving.
        assert!(s.client().call(&["PING"]).is_simple("PONG"));
    }
}

#[test]
fn client_kill_by_type_pubsub_reaches_subscribers_on_other_threads() {
    let s = Server::usher(&["--threads", "4"]);
    let mut subs: Vec<Client> = (0..4).map(|_| s.client()).collect();
    for c in &mut subs {
        c.send(&["SUBSCRIBE", "news"]);
        c.read().unwrap();
        c.set_timeout(Duration::from_secs(5));
    }
    let mut normal = s.client();
    let mut admin = s.client();
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "TYPE", "pubsub"]),
        Reply::Int(4)
    );
    for c in &mut subs {
        assert!(c.closes());
    }
    assert!(normal.call(&["PING"]).is_simple("PONG"));
}

#[test]
fn client_reply_off_skip_and_on_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let wire = [
        Client::encode(&["CLIENT", "REPLY", "OFF"]),
        Client::encode(&["SET", "a", "1"]),
        Client::encode(&["GET", "a"]),
        Client::encode(&["NOSUCH"]),
        Client::encode(&["CLIENT", "REPLY", "SKIP"]),
        Client::encode(&["CLIENT", "REPLY", "ON"]),
        Client::encode(&["GET", "a"]),
        Client::encode(&["CLIENT", "REPLY", "SKIP"]),
        Client::encode(&["INCR", "a"]),
        Client::encode(&["GET", "a"]),
        Client::encode(&["CLIENT", "REPLY", "SKIP"]),
        Client::encode(&["CLIENT", "REPLY", "SKIP"]),
        Client::encode(&["ECHO", "skipped"]),
        Client::encode(&["ECHO", "shown"]),
        // RESET turns replies back on and answers itself.
        Client::encode(&["CLIENT", "REPLY", "OFF"]),
        Client::encode(&["RESET"]),
        Client::encode(&["QUIT"]),
    ]
    .concat();
    let u = exchange(usher.port, &wire);
    let r = exchange(redis.port, &wire);
    assert_eq!(String::from_utf8_lossy(&u), String::from_utf8_lossy(&r));
    assert_eq!(
        String::from_utf8_lossy(&u),
        "+OK\r\n$1\r\n1\r\n$1\r\n2\r\n$5\r\nshown\r\n+RESET\r\n+OK\r\n"
    );
}

/// CLIENT SETINFO is Redis 7.2 (redis.io/commands/client-setinfo): LIB-NAME and LIB-VER are
/// shown by CLIENT LIST and CLIENT INFO, may not contain spaces, newlines or other
/// non-printable characters, and are not cleared by RESET.
#[test]
fn client_setinfo_follows_the_redis_7_2_documentation() {
    let s = Server::usher(&[]);
    let mut c = s.client();
    assert!(c
        .call(&["CLIENT", "SETINFO", "LIB-NAME", "redis-rs"])
        .is_simple("OK"));
    assert!(c
        .call(&["CLIENT", "SETINFO", "lib-ver", "1.8.1"])
        .is_simple("OK"));
    let info = c.call(&["CLIENT", "INFO"]).text();
    assert_eq!(field(info.trim_end(), "lib-name"), "redis-rs");
    assert_eq!(field(info.trim_end(), "lib-ver"), "1.8.1");
    assert_eq!(
        c.call(&["CLIENT", "SETINFO", "LIB-NAME", "has space"]),
        Reply::Error("ERR LIB-NAME cannot contain spaces, newlines or special characters.".into())
    );
    assert_eq!(
        c.call(&["CLIENT", "SETINFO", "lib-ver", "1\n2"]),
        Reply::Error("ERR lib-ver cannot contain spaces, newlines or special characters.".into())
    );
    // The attribute is checked before the value.
    assert_eq!(
        c.call(&["CLIENT", "SETINFO", "Other", "bad value"]),
        Reply::Error("ERR Unrecognized option 'Other'".into())
    );
    assert_eq!(
        c.call(&["CLIENT", "SETINFO", "LIB-NAME"]),
        Reply::Error("ERR wrong number of arguments for 'client|setinfo' command".into())
    );
    assert!(c.call(&["RESET"]).is_simple("RESET"));
    let info = c.call(&["CLIENT", "INFO"]).text();
    assert_eq!(field(info.trim_end(), "lib-name"), "redis-rs");
    // Another client sees it in CLIENT LIST.
    let list = s.client().call(&["CLIENT", "LIST"]).text();
    assert!(list.lines().any(|l| field(l, "lib-name") == "redis-rs"));
    // An empty value clears it.
    assert!(c
        .call(&["CLIENT", "SETINFO", "LIB-NAME", ""])
        .is_simple("OK"));
    let info = c.call(&["CLIENT", "INFO"]).text();
    assert_eq!(field(info.trim_end(), "lib-name"), "");
}

#[test]
fn client_id_is_unique_and_increasing() {
    let s = Server::usher(&["--threads", "2"]);
    let ids: Vec<i64> = (0..6)
        .map(|_| s.client().call(&["CLIENT", "ID"]).int())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let mut c = s.client();
    let id = c.call(&["CLIENT", "ID"]).int();
    let info = c.call(&["CLIENT", "INFO"]).text();
    assert_eq!(field(info.trim_end(), "id"), id.to_string());
}

#[test]
fn resp3_replies_have_redis_types() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    for c in [&mut d.usher, &mut d.redis] {
        assert!(matches!(c.call(&["HELLO", "3"]), Reply::Map(_)));
    }
    same(
        &mut d,
        &[
            &["GET", "missing"],
            &["SET", "k", "1.5"],
            &["INCRBYFLOAT", "k", "1"],
            &["GET", "k"],
            &["MGET", "k", "missing"],
            &["SET", "k", "v", "GET"],
            &["SET", "nx", "v", "NX", "GET"],
            &["SET", "nx", "w", "NX"],
            &["EXISTS", "k"],
            &["TTL", "k"],
            &["CONFIG", "GET", "hz"],
            &["COMMAND", "INFO", "get"],
            &["COMMAND", "GETKEYS", "MSET", "a", "1"],
            &["PUBSUB", "NUMSUB", "a", "b"],
            &["PUBSUB", "CHANNELS"],
            &["PUBSUB", "NUMPAT"],
            &["OBJECT", "ENCODING", "k"],
            &["OBJECT", "ENCODING", "missing"],
            &["CLIENT", "GETNAME"],
            &["MULTI"],
            &["GET", "missing"],
            &["EXEC"],
            &["EXEC"],
            &["SCAN", "0", "MATCH", "k", "COUNT", "100"],
            &["KEYS", "*"],
            &["RANDOMKEY"],
            &["CLIENT", "NO-EVICT", "on"],
            &["PING"],
            &["ECHO", "x"],
            &["TYPE", "k"],
            &["GETEX", "missing"],
        ],
    );
    // Verbatim strings for INFO and CLIENT LIST / INFO, as Redis.
    for c in [&mut d.usher, &mut d.redis] {
        for cmd in [
            &["INFO", "server"][..],
            &["CLIENT", "LIST"],
            &["CLIENT", "INFO"],
        ] {
            assert!(
                matches!(c.call(cmd), Reply::Verbatim(f, _) if f == "txt"),
                "{cmd:?}"
            );
        }
    }
}

#[test]
fn client_kill_closes_a_client_that_stopped_reading_its_replies() {
    for s in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut admin = s.client();
        let big = "z".repeat(4 * 1024 * 1024);
        assert!(admin.call(&["SET", "big", &big]).is_simple("OK"));
        // 16 pipelined GETs of 4 MB that are never read: the server's writes block.
        let mut stuck = s.client();
        let id = stuck.call(&["CLIENT", "ID"]).int();
        let wire: Vec<u8> = (0..16)
            .flat_map(|_| Client::encode(&["GET", "big"]))
            .collect();
        stuck.send_raw(&wire);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(
            admin.call(&["CLIENT", "KILL", "ID", &id.to_string()]),
            Reply::Int(1)
        );
        // Its slot is freed: the server no longer lists it.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while admin
            .call(&["CLIENT", "LIST", "ID", &id.to_string()])
            .text()
            .contains(&format!("id={id} "))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{:?} kept a killed client blocked on its writes",
                s.kind
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(admin.call(&["PING"]).is_simple("PONG"));
    }
}

#[test]
fn setting_requirepass_at_run_time_keeps_connected_clients_logged_in_like_redis() {
    let mut transcripts = Vec::new();
    for s in [Server::usher(&[]), Server::redis(&[])] {
        let mut early = s.client();
        let mut t = vec![
            early.call(&["CONFIG", "SET", "requirepass", "pw"]),
            early.call(&["SET", "k", "v"]),
        ];
        let mut late = s.client();
        t.push(late.call(&["GET", "k"]));
        t.push(late.call(&["AUTH", "pw"]));
        t.push(late.call(&["GET", "k"]));
        // RESET logs out when a password is set, even a client that never needed one.
        t.push(early.call(&["RESET"]));
        t.push(early.call(&["GET", "k"]));
        t.push(early.call(&["AUTH", "pw"]));
        // Clearing the password lets everyone in again, including RESET clients.
        t.push(early.call(&["CONFIG", "SET", "requirepass", ""]));
        let mut third = s.client();
        t.push(third.call(&["GET", "k"]));
        t.push(third.call(&["RESET"]));
        t.push(third.call(&["GET", "k"]));
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
    assert_eq!(transcripts[0][1], Reply::Simple("OK".into()));
}

#[test]
fn client_list_flags_show_multi_pubsub_dirty_watch_and_no_evict_like_redis() {
    let mut seen = Vec::new();
    for s in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut admin = s.client();
        let mut clients: Vec<Client> = (0..5).map(|_| s.client()).collect();
        let ids: Vec<String> = clients
            .iter_mut()
            .map(|c| c.call(&["CLIENT", "ID"]).int().to_string())
            .collect();
        assert!(clients[0].call(&["MULTI"]).is_simple("OK"));
        clients[1].send(&["SUBSCRIBE", "ch"]);
        clients[1].read().unwrap();
        assert!(clients[2].call(&["WATCH", "k"]).is_simple("OK"));
        assert!(admin.call(&["SET", "k", "changed"]).is_simple("OK"));
        assert!(clients[3]
            .call(&["CLIENT", "NO-EVICT", "on"])
            .is_simple("OK"));
        assert!(clients[4].call(&["WATCH", "k"]).is_simple("OK"));
        assert!(clients[4].call(&["MULTI"]).is_simple("OK"));
        assert!(admin.call(&["SET", "k", "again"]).is_simple("OK"));
        let flags: Vec<String> = ids
            .iter()
            .map(|id| {
                let line = admin.call(&["CLIENT", "LIST", "ID", id]).text();
                field(line.trim_end(), "flags")
            })
            .collect();
        seen.push(flags);
    }
    assert_eq!(seen[0], seen[1]);
}
