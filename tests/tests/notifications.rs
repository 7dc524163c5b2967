//! Keyspace notifications against redis-server 7.0.15: the same commands run on both servers
//! with a subscriber on `__key*__:*` on each, and the two event streams must be identical
//! (channels, messages, order). Random sequences of every family cover event names, the `del`
//! after a collection empties, `new`, `expired` (lazy and active), RENAME/MOVE/COPY; fixed
//! scripts cover CONFIG's canonical flag order, Lua's `redis.call`, and the waiting-room
//! commands' documented events.

use usher_tests::gen::{self, Cmd, Gen};
use usher_tests::{diff, Client, Reply, Server};

/// Runs `cmds` on `server` with notifications set to `flags` and returns the (channel,
/// message) pairs a pattern subscriber received, in order.
fn events(server: &Server, flags: &str, cmds: &[Cmd]) -> Vec<(String, String)> {
    let mut c = server.client();
    c.call(&["FLUSHALL"]);
    assert!(c
        .call(&["CONFIG", "SET", "notify-keyspace-events", flags])
        .is_simple("OK"));
    let mut sub = server.client();
    sub.send(&["PSUBSCRIBE", "__key*__:*"]);
    sub.read().expect("psubscribe confirmation");
    for cmd in cmds {
        c.call(cmd);
    }
    // A marker through the same pattern: everything before it has been delivered.
    c.call(&["PUBLISH", "__keyspace@0__:end-of-test", "end"]);
    let mut out = Vec::new();
    loop {
        let m = sub.read().expect("a message");
        let parts = m.strings();
        if parts[3] == "end" && parts[2] == "__keyspace@0__:end-of-test" {
            return out;
        }
        out.push((parts[2].clone(), parts[3].clone()));
    }
}

fn same_events(usher: &Server, redis: &Server, flags: &str, cmds: &[Cmd], seed: Option<u64>) {
    let u = events(usher, flags, cmds);
    let r = events(redis, flags, cmds);
    if u != r {
        let first = u
            .iter()
            .zip(&r)
            .position(|(a, b)| a != b)
            .unwrap_or(u.len().min(r.len()));
        panic!(
            "event streams differ at {first} (seed {seed:?}, flags {flags}):\n usher {:?}\n redis {:?}\ncommands: {}",
            &u[first.saturating_sub(2)..u.len().min(first + 4)],
            &r[first.saturating_sub(2)..r.len().min(first + 4)],
            cmds.iter()
                .map(|c| diff::render(&c[..c.len().min(6)]))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
}

fn cmds(lines: &[&[&str]]) -> Vec<Cmd> {
    lines
        .iter()
        .map(|l| l.iter().map(|a| a.as_bytes().to_vec()).collect())
        .collect()
}

#[test]
fn random_command_sequences_publish_the_same_events_as_redis() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    let mut families: Vec<fn(&mut Gen) -> Cmd> = vec![
        gen::strings,
        gen::keyspace,
        gen::list::lists,
        gen::hash::hashes,
        gen::set::sets,
        gen::zset::zsets,
        gen::bitmap::bitmap,
        gen::hll::hll,
        gen::geo::geo,
        gen::sort::sort,
    ];
    // Streams with consumer groups: xadd, xtrim, xdel, xsetid, xgroup-* events.
    families.extend(gen::stream::stream_mix());
    for round in 0..4 {
        let seed = diff::seed().wrapping_add(round);
        let seq = Gen::new(seed).sequence(diff::ops(300), &families);
        same_events(&usher, &redis, "AKEn", &seq, Some(seed));
    }
}

#[test]
fn read_misses_publish_keymiss_as_redis_does() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    let families: &[fn(&mut Gen) -> Cmd] = &[
        gen::strings,
        gen::keyspace,
        gen::list::lists,
        gen::hash::hashes,
        gen::set::sets,
        gen::zset::zsets,
    ];
    for round in 0..3 {
        let seed = diff::seed().wrapping_add(100 + round);
        let seq = Gen::new(seed).sequence(diff::ops(300), families);
        same_events(&usher, &redis, "Km", &seq, Some(seed));
    }
}

#[test]
fn each_class_letter_filters_as_redis_does() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let script = cmds(&[
        &["SET", "s", "1"],
        &["LPUSH", "l", "a"],
        &["SADD", "set", "a"],
        &["HSET", "h", "f", "v"],
        &["ZADD", "z", "1", "a"],
        &["DEL", "s", "l"],
        &["SET", "x", "1", "PX", "1"],
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 'v'); redis.call('incr', 'n'); return 1",
            "1",
            "lua",
        ],
        &["SELECT", "0"],
    ]);
    for flags in [
        "KEA", "Kg", "E$", "Kl", "Es", "Kh", "Ez", "KEn", "Kx", "K", "A", "KEA",
    ] {
        same_events(&usher, &redis, flags, &script, None);
    }
}

#[test]
fn expiry_lazy_and_active_publish_expired() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    // Lazy: GET finds the key past its deadline. Active: the cron finds `b` (no one reads it).
    let script = cmds(&[
        &["SET", "a", "1", "PX", "30"],
        &["SET", "b", "1", "PX", "30"],
    ]);
    for server in [&usher, &redis] {
        let mut c = server.client();
        c.call(&["CONFIG", "SET", "hz", "100"]);
    }
    let run = |server: &Server| {
        let mut c = server.client();
        c.call(&["FLUSHALL"]);
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]);
        let mut sub = server.client();
        sub.send(&["SUBSCRIBE", "__keyevent@0__:expired"]);
        sub.read().unwrap();
        for cmd in &script[..2] {
            c.call(cmd);
        }
        std::thread::sleep(std::time::Duration::from_millis(60));
        c.call(&["GET", "a"]);
        let mut got: Vec<String> = (0..2)
            .map(|_| sub.read().unwrap().strings()[2].clone())
            .collect();
        got.sort();
        got
    };
    assert_eq!(run(&usher), vec!["a", "b"]);
    assert_eq!(run(&redis), vec!["a", "b"]);
}

#[test]
fn config_shows_the_flags_in_redis_canonical_order() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for flags in [
        "KEA",
        "Ex",
        "g$lshzxetdn",
        "AKEmn",
        "nK",
        "m",
        "d",
        "",
        "Kq",
        "A",
        "$lshzxe",
    ] {
        let set = ["CONFIG", "SET", "notify-keyspace-events", flags];
        assert_eq!(u.call(&set), r.call(&set), "CONFIG SET {flags:?}");
        let get = ["CONFIG", "GET", "notify-keyspace-events"];
        assert_eq!(u.call(&get), r.call(&get), "after {flags:?}");
    }
}

/// The waiting-room commands publish the events of the plain commands they stand for
/// (docs/commands.md): ENTER is a ZADD on the line, ADMIT pops the line (`zpopmin`) and adds to
/// the active set (`zadd`), QLEAVE a ZREM, an emptied key a `del`.
#[test]
fn waiting_room_commands_publish_their_plain_equivalents() {
    let usher = Server::usher(&[]);
    let got = events(
        &usher,
        "KEA",
        &cmds(&[
            &["ENTER", "{q}", "{q}act", "u1"],
            &["ENTER", "{q}", "{q}act", "u2"],
            &[
                "ADMIT",
                "{q}",
                "{q}act",
                "1",
                "MAXACTIVE",
                "10",
                "TTL",
                "60000",
            ],
            &["QLEAVE", "{q}", "u2"],
        ]),
    );
    let keyspace: Vec<(&str, &str)> = got
        .iter()
        .filter(|(ch, _)| ch.starts_with("__keyspace"))
        .map(|(ch, m)| (ch.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        keyspace,
        vec![
            ("__keyspace@0__:{q}", "zadd"),
            ("__keyspace@0__:{q}", "zadd"),
            ("__keyspace@0__:{q}", "zpopmin"),
            ("__keyspace@0__:{q}act", "zadd"),
            ("__keyspace@0__:{q}", "zrem"),
            ("__keyspace@0__:{q}", "del"),
        ]
    );
}

#[test]
fn nothing_is_published_with_notifications_off() {
    let usher = Server::usher(&[]);
    let got = events(&usher, "", &cmds(&[&["SET", "a", "1"], &["DEL", "a"]]));
    assert!(got.is_empty(), "{got:?}");
    let mut c: Client = usher.client();
    assert_eq!(
        c.call(&["CONFIG", "GET", "notify-keyspace-events"]),
        Reply::Array(vec![Reply::bulk("notify-keyspace-events"), Reply::bulk("")])
    );
}
