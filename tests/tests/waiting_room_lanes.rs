//! The waiting room's last operator controls (issue 12) on a real server: priority lanes that
//! receive a set share of every admission batch, an event reset in one command, buyers ending
//! their own sessions (QEND), and sessions that do not renew (`RENEW no`). The lanes' picks are
//! replayed from the append-only file to the same users.

use std::path::PathBuf;
use std::time::Duration;
use usher_tests::wait::map;
use usher_tests::{Client, Reply, Server};

/// The tests' clock: now, so that tokens and sessions given at `T0() + ...` are still live by
/// the server's own clock (a key's TTL runs on it).
static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

#[allow(non_snake_case)]
fn T0() -> i64 {
    *START.get_or_init(usher_tests::wait::now_ms)
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn ok(r: Reply) {
    assert!(r.is_simple("OK"), "expected OK, got {r:?}");
}

fn admit(c: &mut Client, q: &str, a: &str, n: usize, now: i64) -> Vec<String> {
    let r = c.call(&["ADMIT", q, a, &s(n), "NOW", &s(now)]);
    assert!(!r.is_error(), "{r:?}");
    r.items()[1].items().iter().map(Reply::text).collect()
}

/// A line with a 30% presale lane and a 10% VIP lane: main m0.., presale p0.., vip v0...
fn lanes_event(c: &mut Client, q: &str, a: &str, per_line: usize) {
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "LANES",
        "presale:30,vip:10",
        "TOKENS",
        "600000",
    ]));
    for i in 0..per_line {
        for (prefix, lane) in [("m", None), ("p", Some("presale")), ("v", Some("vip"))] {
            let user = format!("{prefix}{i:03}");
            let mut args = vec!["ENTER", q, a, &user];
            if let Some(lane) = lane {
                args.extend(["LANE", lane]);
            }
            let now = s(T0() + i as i64);
            args.extend(["NOW", &now]);
            let r = c.call(&args);
            assert_eq!(r.items()[0].text(), "NEW", "{user}: {r:?}");
            // Positions count within the user's own lane.
            assert_eq!(r.items()[1], Reply::Int(i as i64 + 1), "{user}");
        }
    }
}

#[test]
fn lanes_receive_their_share_of_every_batch_in_arrival_order() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a) = ("q:{lanes}", "a:{lanes}");
    lanes_event(&mut c, q, a, 40);

    // Everyone waiting counts, whichever line they are in.
    let r = c.call(&["ENTER", q, a, "p005", "NOW", &s(T0() + 100)]);
    assert_eq!(r.items()[0].text(), "WAITING");
    assert_eq!(r.items()[1], Reply::Int(6));
    assert_eq!(r.items()[2], Reply::Int(120));
    // Entering again with another lane keeps the place the user has.
    let r = c.call(&["ENTER", q, a, "m003", "LANE", "vip", "NOW", &s(T0() + 100)]);
    assert_eq!(r.items()[0].text(), "WAITING");
    assert_eq!(r.items()[1], Reply::Int(4));
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(T0() + 100)]));
    assert_eq!(stats["waiting"], Reply::Int(120));
    let lanes = map(stats["lanes"].clone());
    assert_eq!(lanes["main"], Reply::Int(40));
    assert_eq!(lanes["presale"], Reply::Int(40));
    assert_eq!(lanes["vip"], Reply::Int(40));

    // Batches of 10: 6 from the main line, 3 presale, 1 VIP, each line in arrival order.
    let mut taken = std::collections::HashMap::<char, Vec<String>>::new();
    for round in 0..4 {
        let batch = admit(&mut c, q, a, 10, T0() + 1000 + round);
        let count = |p: char| batch.iter().filter(|u| u.starts_with(p)).count();
        assert_eq!(
            (count('m'), count('p'), count('v')),
            (6, 3, 1),
            "round {round}: {batch:?}"
        );
        for u in batch {
            taken.entry(u.chars().next().unwrap()).or_default().push(u);
        }
    }
    for (prefix, n) in [('m', 24), ('p', 12), ('v', 4)] {
        let want: Vec<String> = (0..n).map(|i| format!("{prefix}{i:03}")).collect();
        assert_eq!(taken[&prefix], want, "{prefix} in arrival order");
    }
    // Single admissions keep the shares too (no lane starves at a low rate).
    let singles: Vec<String> = (0..10)
        .flat_map(|i| admit(&mut c, q, a, 1, T0() + 2000 + i))
        .collect();
    let count = |p: char| singles.iter().filter(|u| u.starts_with(p)).count();
    assert_eq!(
        (count('m'), count('p'), count('v')),
        (6, 3, 1),
        "{singles:?}"
    );

    // A lane user's place: position in the lane, and a wait at the lane's share of the rate.
    let pos = c.call(&["QPOS", q, a, "p020", "NOW", &s(T0() + 3000)]);
    assert_eq!(pos.items()[0].text(), "WAITING");
    assert_eq!(pos.items()[1], Reply::Int(6)); // p000-p014 were admitted: p015-p019 are ahead
                                               // Admitted lane users hold tokens like anyone else.
    let pos = c.call(&["QPOS", q, a, "p000", "NOW", &s(T0() + 3000)]);
    assert_eq!(pos.items()[0].text(), "ACTIVE");
    assert!(matches!(pos.items()[5], Reply::Bulk(_)), "{pos:?}");

    // Leaving a lane; an empty lane gives its share to the others (no burst when it refills).
    assert_eq!(c.call(&["QLEAVE", q, "v039"]), Reply::Int(1));
    let rest = admit(&mut c, q, a, 1000, T0() + 4000);
    assert_eq!(rest.len(), 120 - 50 - 1);
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(T0() + 4000)]));
    assert_eq!(stats["waiting"], Reply::Int(0));
    let r = c.call(&["ENTER", q, a, "late", "LANE", "vip", "NOW", &s(T0() + 5000)]);
    assert_eq!(r.items()[0].text(), "NEW");
    assert_eq!(
        admit(&mut c, q, a, 5, T0() + 5001),
        vec!["late".to_string()]
    );
}

#[test]
fn lanes_are_validated_and_bad_input_changes_nothing() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("q:{lv}", "a:{lv}");
    for bad in [
        "presale",
        "presale:0",
        "a:60,b:41",
        "main:5",
        "x y:5",
        "a:5,a:5",
    ] {
        let r = c.call(&["QPOLICY", "SET", q, a, "LANES", bad]);
        assert!(
            r.is_error() && r.err().contains("LANES must be"),
            "{bad}: {r:?}"
        );
    }
    assert_eq!(c.call(&["QPOLICY", "GET", q]), Reply::Nil);
    // LANE on a queue without a policy, or naming a lane the policy lacks.
    let r = c.call(&["ENTER", q, a, "u1", "LANE", "presale"]);
    assert!(
        r.is_error() && r.err().contains("no lane 'presale'"),
        "{r:?}"
    );
    ok(c.call(&["QPOLICY", "SET", q, a, "LANES", "presale:25"]));
    let r = c.call(&["ENTER", q, a, "u1", "LANE", "vip"]);
    assert!(r.is_error() && r.err().contains("no lane 'vip'"), "{r:?}");
    assert_eq!(
        c.call(&["EXISTS", q, "{q:{lv}}:lane:presale"]),
        Reply::Int(0)
    );
    // A lane key of another type is refused before anything changes.
    ok(c.call(&["SET", "q:{lv}:lane:presale", "x"]));
    let r = c.call(&["ENTER", q, a, "u1"]);
    assert!(r.is_error() && r.err().starts_with("WRONGTYPE"), "{r:?}");
    assert_eq!(c.call(&["EXISTS", q]), Reply::Int(0));
    c.call(&["DEL", "q:{lv}:lane:presale"]);
    // The policy lists its lanes; UNSET removes them.
    let policy = map(c.call(&["QPOLICY", "GET", q]));
    assert_eq!(policy["lanes"].text(), "presale:25");
    ok(c.call(&["QPOLICY", "UNSET", q, "lanes"]));
    assert!(!map(c.call(&["QPOLICY", "GET", q])).contains_key("lanes"));
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("usher-lanes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn lane_picks_replay_from_the_append_only_file_to_the_same_users() {
    let dir = scratch("aof");
    let args = [
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--queue-now-max-skew",
        "0",
    ];
    let (q, a) = ("q:{lr}", "a:{lr}");
    let (active, waiting);
    {
        let mut usher = Server::usher(&args);
        let mut c = usher.client();
        ok(c.call(&["QPOLICY", "SET", q, a, "LANES", "presale:35,vip:15"]));
        for i in 0..30 {
            let now = s(T0() + i);
            c.call(&["ENTER", q, a, &format!("m{i}"), "NOW", &now]);
            c.call(&[
                "ENTER",
                q,
                a,
                &format!("p{i}"),
                "LANE",
                "presale",
                "NOW",
                &now,
            ]);
            if i % 3 == 0 {
                c.call(&["ENTER", q, a, &format!("v{i}"), "LANE", "vip", "NOW", &now]);
            }
        }
        for (i, n) in [3, 7, 1, 1, 11, 2, 9].into_iter().enumerate() {
            admit(&mut c, q, a, n, T0() + 1000 + i as i64);
        }
        active = c.call(&["ZRANGE", a, "0", "-1", "WITHSCORES"]);
        waiting = c.call(&["QSTATS", q, a, "NOW", &s(T0() + 2000)]);
        usher.signal(15);
        assert!(usher.wait_exit(Duration::from_secs(10)).is_some());
    }
    let usher = Server::usher(&args);
    let mut c = usher.client();
    assert_eq!(c.call(&["ZRANGE", a, "0", "-1", "WITHSCORES"]), active);
    assert_eq!(c.call(&["QSTATS", q, a, "NOW", &s(T0() + 2000)]), waiting);
    // The weights came back too: the next picks continue the same sequence.
    let next = admit(&mut c, q, a, 10, T0() + 3000);
    let count = |p: char| next.iter().filter(|u| u.starts_with(p)).count();
    assert!(count('p') >= 3 && count('v') >= 1, "{next:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn qpolicy_reset_starts_the_event_over_and_keeps_its_policy_and_feed() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let mut sub = usher.client();
    let (q, a) = ("q:{rs}", "a:{rs}");
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "LANES",
        "vip:20",
        "TOKENS",
        "600000",
        "FEED",
        "100",
        "MAXPERCLIENT",
        "5",
        "CHANNEL",
        "ch:{rs}",
    ]));
    sub.call(&["SUBSCRIBE", "ch:{rs}"]);
    // Four places per client key (MAXPERCLIENT 5 leaves room for one more each).
    for i in 0..20 {
        let (user, now, ip) = (format!("u{i}"), s(T0() + i), format!("10.0.0.{}", i / 4));
        let mut args = vec!["ENTER", q, a, &user, "CLIENT", &ip, "NOW", &now];
        if i % 4 == 0 {
            args.splice(4..4, ["LANE", "vip"]);
        }
        let r = c.call(&args);
        assert_eq!(r.items()[0].text(), "NEW", "{user}: {r:?}");
    }
    assert_eq!(admit(&mut c, q, a, 5, T0() + 100).len(), 5);
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(T0() + 200)]));
    assert_eq!(stats["admitted"], Reply::Int(5));

    // Unknown options and a queue without a policy are refused, changing nothing.
    assert!(c.call(&["QPOLICY", "RESET", q, "NOPE"]).is_error());
    let r = c.call(&["QPOLICY", "RESET", "q:{none}"]);
    assert!(
        r.is_error() && r.err().contains("needs a queue with a policy"),
        "{r:?}"
    );
    assert_eq!(
        map(c.call(&["QSTATS", q, a, "NOW", &s(T0() + 200)]))["waiting"],
        Reply::Int(15)
    );

    let r = c.call(&["QPOLICY", "RESET", q, "NOW", &s(T0() + 300)]);
    assert_eq!(r, Reply::Array(vec![Reply::Int(15), Reply::Int(5)]));
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(T0() + 400)]));
    assert_eq!(stats["waiting"], Reply::Int(0));
    assert_eq!(stats["active"], Reply::Int(0));
    assert_eq!(stats["admitted"], Reply::Int(0));
    assert_eq!(map(stats["lanes"].clone())["vip"], Reply::Int(0));
    // Sessions ended and tokens withdrawn; the client key's places are free again.
    let pos = c.call(&["QPOS", q, a, "u0", "NOW", &s(T0() + 400)]);
    assert_eq!(pos.items()[0].text(), "NONE");
    assert_eq!(c.call(&["EXISTS", "q:{rs}:token:u0"]), Reply::Int(0));
    assert_eq!(c.call(&["EXISTS", "q:{rs}:clients"]), Reply::Int(0));
    // The policy stays; the feed says what happened; the channel announces it.
    assert!(map(c.call(&["QPOLICY", "GET", q])).contains_key("lanes"));
    let feed = c.call(&["XREVRANGE", "q:{rs}:feed", "+", "-", "COUNT", "1"]);
    let fields: Vec<String> = feed.items()[0].items()[1]
        .items()
        .iter()
        .map(Reply::text)
        .collect();
    assert_eq!(
        fields,
        [
            "event",
            "reset",
            "waiting_removed",
            "15",
            "sessions_ended",
            "5"
        ]
    );
    let announced = loop {
        let msg = sub.read().unwrap().items()[2].text();
        if msg.contains("\"reset\"") {
            break msg;
        }
    };
    assert!(announced.contains("\"sessions_ended\":true"), "{announced}");
    // The line fills again from an empty start.
    let r = c.call(&[
        "ENTER",
        q,
        a,
        "fresh",
        "CLIENT",
        "10.0.0.1",
        "NOW",
        &s(T0() + 500),
    ]);
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::Bulk(b"NEW".to_vec()),
            Reply::Int(1),
            Reply::Int(1)
        ])
    );

    // KEEPACTIVE lets buyers in checkout finish.
    assert_eq!(
        admit(&mut c, q, a, 1, T0() + 600),
        vec!["fresh".to_string()]
    );
    c.call(&["ENTER", q, a, "waiter", "NOW", &s(T0() + 700)]);
    let r = c.call(&["QPOLICY", "RESET", q, "KEEPACTIVE", "NOW", &s(T0() + 800)]);
    assert_eq!(r, Reply::Array(vec![Reply::Int(1), Reply::Int(0)]));
    let pos = c.call(&["QPOS", q, a, "fresh", "NOW", &s(T0() + 900)]);
    assert_eq!(pos.items()[0].text(), "ACTIVE");
}

#[test]
fn buyers_end_their_own_sessions_and_the_outcomes_are_counted() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a) = ("q:{end}", "a:{end}");
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "MAXACTIVE",
        "2",
        "TOKENS",
        "600000",
        "FEED",
        "100",
    ]));
    for (i, u) in ["alice", "bob", "carol"].iter().enumerate() {
        c.call(&["ENTER", q, a, u, "NOW", &s(T0() + i as i64)]);
    }
    assert_eq!(admit(&mut c, q, a, 3, T0() + 10).len(), 2);
    let r = c.call(&["QEND", q, "alice", "SOLD"]);
    assert!(r.is_error() && r.err().contains("syntax"), "{r:?}");
    assert!(c
        .call(&["QEND", "q:{none}", "alice", "COMPLETED"])
        .is_error());
    assert_eq!(
        c.call(&["QEND", q, "alice", "COMPLETED", "NOW", &s(T0() + 20)]),
        Reply::Int(1)
    );
    assert_eq!(
        c.call(&["QEND", q, "alice", "COMPLETED", "NOW", &s(T0() + 21)]),
        Reply::Int(0)
    );
    assert_eq!(
        c.call(&["QEND", q, "bob", "abandoned", "NOW", &s(T0() + 22)]),
        Reply::Int(1)
    );
    // Their places under the cap went to the next in line at once.
    assert_eq!(admit(&mut c, q, a, 3, T0() + 30), vec!["carol".to_string()]);
    let pos = c.call(&["QPOS", q, a, "alice", "NOW", &s(T0() + 40)]);
    assert_eq!(pos.items()[0].text(), "NONE");
    assert_eq!(c.call(&["EXISTS", "q:{end}:token:alice"]), Reply::Int(0));
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(T0() + 40)]));
    assert_eq!(stats["completed"], Reply::Int(1));
    assert_eq!(stats["abandoned"], Reply::Int(1));
    let feed = c.call(&["XRANGE", "q:{end}:feed", "-", "+"]);
    let events: Vec<String> = feed
        .items()
        .iter()
        .map(|e| e.items()[1].items()[1].text())
        .collect();
    assert!(
        events.contains(&"completed".to_string()) && events.contains(&"abandoned".to_string()),
        "{events:?}"
    );
}

#[test]
fn sessions_renew_on_activity_unless_renewal_is_off() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a) = ("q:{rn}", "a:{rn}");
    ok(c.call(&["QPOLICY", "SET", q, a, "TTL", "60000"]));
    c.call(&["ENTER", q, a, "u1", "NOW", &s(T0())]);
    admit(&mut c, q, a, 1, T0());
    let expiry = |c: &mut Client| c.call(&["ZSCORE", a, "u1"]).text();
    assert_eq!(expiry(&mut c), s(T0() + 60_000));
    assert_eq!(
        c.call(&["QRENEW", a, "u1", "60000", "NOW", &s(T0() + 30_000)]),
        Reply::Int(1)
    );
    assert_eq!(expiry(&mut c), s(T0() + 90_000));
    ok(c.call(&["QPOLICY", "SET", q, a, "RENEW", "no"]));
    assert_eq!(map(c.call(&["QPOLICY", "GET", q]))["renew"].text(), "no");
    // Still a live session (the origin may serve the buyer), but it keeps its end.
    assert_eq!(
        c.call(&["QRENEW", a, "u1", "60000", "NOW", &s(T0() + 60_000)]),
        Reply::Int(1)
    );
    assert_eq!(expiry(&mut c), s(T0() + 90_000));
    let r = c.call(&["QPOLICY", "SET", q, a, "RENEW", "maybe"]);
    assert!(
        r.is_error() && r.err().contains("RENEW must be yes or no"),
        "{r:?}"
    );
}

/// Many clients on several threads joining the main line and two lanes while the policy's
/// tick and a manual admitter admit: the cap holds at every sample, nobody is admitted twice,
/// each client's users in one line are admitted in the order they joined (a prefix), and
/// every admitted user has left the line.
#[test]
fn lanes_under_concurrent_clients_keep_the_cap_fifo_and_nobody_twice() {
    let usher = Server::usher(&["--threads", "2"]);
    let port = usher.port;
    let (q, a) = ("q:{crowd}", "a:{crowd}");
    const CAP: i64 = 400;
    let mut c = usher.client();
    ok(c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "MAXACTIVE",
        &s(CAP),
        "RATE",
        "30000",
        "TTL",
        "600000",
        "LANES",
        "presale:30,vip:10",
    ]));
    let lane_of = |i: usize| match i % 3 {
        0 => None,
        1 => Some("presale"),
        _ => Some("vip"),
    };
    let joiners: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                for i in 0..150 {
                    let user = format!("t{t}:u{i:03}");
                    let mut args = vec!["ENTER", q, a, &user];
                    if let Some(lane) = lane_of(i) {
                        args.extend(["LANE", lane]);
                    }
                    let r = c.call(&args);
                    let status = r.items()[0].text();
                    assert!(status == "NEW" || status == "ACTIVE", "{user}: {r:?}");
                }
            })
        })
        .collect();
    let admitter = std::thread::spawn(move || {
        let mut c = Client::connect(port).unwrap();
        for _ in 0..200 {
            let r = c.call(&["ADMIT", q, a, "3"]);
            assert!(!r.is_error(), "{r:?}");
        }
    });
    let mut samples = 0;
    while !joiners.iter().all(|j| j.is_finished()) || !admitter.is_finished() {
        let live = c.call(&["ZCARD", a]).int();
        assert!(live <= CAP, "{live} sessions under a cap of {CAP}");
        samples += 1;
    }
    for j in joiners {
        j.join().unwrap();
    }
    admitter.join().unwrap();
    // Let the tick admit up to the cap.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.call(&["ZCARD", a]).int() < CAP && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(samples > 0);
    let active: Vec<String> = c
        .call(&["ZRANGE", a, "0", "-1"])
        .items()
        .iter()
        .map(Reply::text)
        .collect();
    assert_eq!(active.len() as i64, CAP);
    let stats = map(c.call(&["QSTATS", q, a]));
    // Every admission counted once: nobody was admitted twice.
    assert_eq!(stats["admitted"], Reply::Int(CAP));
    assert_eq!(stats["waiting"], Reply::Int(900 - CAP));
    let admitted: std::collections::HashSet<&str> = active.iter().map(String::as_str).collect();
    for t in 0..6 {
        for line in [None, Some("presale"), Some("vip")] {
            let users: Vec<String> = (0..150)
                .filter(|&i| lane_of(i) == line)
                .map(|i| format!("t{t}:u{i:03}"))
                .collect();
            let taken = users
                .iter()
                .take_while(|u| admitted.contains(u.as_str()))
                .count();
            assert!(
                users[taken..]
                    .iter()
                    .all(|u| !admitted.contains(u.as_str())),
                "t{t} {line:?}: admitted out of order"
            );
        }
    }
    for user in &active {
        let key_of = |lane: &str| format!("q:{{crowd}}:lane:{lane}");
        for key in [q.to_string(), key_of("presale"), key_of("vip")] {
            assert_eq!(
                c.call(&["ZSCORE", &key, user]),
                Reply::Nil,
                "{user} in {key}"
            );
        }
    }
    // No line starved (the exact shares are checked without concurrency above).
    for lane in ["presale", "vip"] {
        let n = active
            .iter()
            .filter(|u| lane_of(u[u.len() - 3..].parse::<usize>().unwrap()) == Some(lane))
            .count();
        assert!(n > 0, "nobody admitted from {lane}");
    }
}
