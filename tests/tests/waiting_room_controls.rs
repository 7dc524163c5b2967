//! The waiting room's operator controls (issue 12) on a real server: the random method and
//! its wait percentiles, the auditable pre-queue shuffle, automatic queueing, held ("infinite
//! queue") users, per-client caps, event resets, and the completed seat family.
//!
//! Audits recompute orders with Python's `hashlib` from the documented formula
//! (`docs/commands.md`, "Auditing a shuffle or a draw"), never with usher's own code.

use std::process::Command;
use usher_tests::wait::{map, now_ms};
use usher_tests::{Client, Reply, Server};

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn enter_all(c: &mut Client, q: &str, a: &str, users: &[String], now: i64) -> Vec<String> {
    users
        .iter()
        .map(|u| c.call(&["ENTER", q, a, u, "NOW", &s(now)]).items()[0].text())
        .collect()
}

/// Runs a Python program and returns its standard output's lines.
fn python(program: &str) -> Vec<String> {
    let out = Command::new("python3")
        .args(["-c", program])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The next message on a subscribed channel announcing `event` (admissions share the channel).
fn next_event(sub: &mut Client, event: &str) -> String {
    let tag = format!("\"event\":\"{event}\"");
    loop {
        let msg = sub.read().unwrap().items()[2].text();
        if msg.contains(&tag) {
            return msg;
        }
    }
}

const H64: &str = "import hashlib\n\
def h64(b): return int.from_bytes(hashlib.sha256(b).digest()[:8], 'big')\n";

#[test]
fn a_random_queue_draws_uniformly_and_anyone_with_the_seed_can_replay_the_draws() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a) = ("q:{rnd}", "a:{rnd}");
    let t0 = 1_795_000_000_000i64;
    assert_eq!(
        c.call(&["QPOLICY", "SET", q, a, "METHOD", "random", "SEED", "audit-me"]),
        Reply::Simple("OK".into())
    );
    let users: Vec<String> = (0..200).map(|i| format!("u{i:03}")).collect();
    let statuses = enter_all(&mut c, q, a, &users, t0);
    assert!(statuses.iter().all(|st| st == "NEW"));
    // A random line shows no position: everyone has the same chance at each draw.
    assert_eq!(
        c.call(&["ENTER", q, a, "u005", "NOW", &s(t0)]).items()[1],
        Reply::Int(0)
    );
    let mut admitted = Vec::new();
    for (step, n) in [(1, 30), (2, 30), (3, 30)] {
        let r = c.call(&["ADMIT", q, a, &s(n), "NOW", &s(t0 + step * 1000)]);
        admitted.extend(r.items()[1].items().iter().map(Reply::text));
    }
    assert_eq!(admitted.len(), 90);
    let fifo: Vec<String> = users[..90].to_vec();
    assert_ne!(
        admitted, fifo,
        "a random line does not admit in arrival order"
    );
    // The audit: recompute every draw from the seed, the clock and the line's length.
    let replayed = python(&format!(
        "{H64}line = ['u%03d' % i for i in range(200)]\n\
         for step in (1, 2, 3):\n\
         \x20   now = {t0} + step * 1000\n\
         \x20   for i in range(30):\n\
         \x20       r = h64(b'audit-me|draw|%d|%d|%d' % (now, len(line), i)) % len(line)\n\
         \x20       print(line.pop(r))\n"
    ));
    assert_eq!(admitted, replayed);
    // Late arrivals had the same chance: some of the last 100 were drawn.
    assert!(admitted.iter().filter(|u| u.as_str() >= "u100").count() >= 20);
    // A waiter sees wait percentiles instead of a position (median before the 90th).
    let left = users.iter().find(|u| !admitted.contains(u)).unwrap();
    let pos = c.call(&["QPOS", q, a, left, "NOW", &s(t0 + 3000)]);
    let items = pos.items();
    assert_eq!((items[0].text(), items[1].int()), ("WAITING".into(), 0));
    let (p50, p90) = (items[3].int(), items[8].int());
    assert!(0 < p50 && p50 < p90, "p50 {p50} p90 {p90}");
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(t0 + 3000)]));
    assert_eq!(stats["method"].text(), "random");
}

#[test]
fn the_prequeue_shuffle_is_recomputable_from_the_published_seed() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a) = ("q:{pre}", "a:{pre}");
    let open = 1_795_000_100_000i64;
    c.call(&["QPOLICY", "SET", q, a, "OPENAT", &s(open)]);
    // The seed is drawn by the server when the operator gives none: 128 bits in hex.
    let policy = map(c.call(&["QPOLICY", "GET", q]));
    let seed = policy["seed"].text();
    assert_eq!(seed.len(), 32, "{seed}");
    assert!(seed.bytes().all(|b| b.is_ascii_hexdigit()));
    let users: Vec<String> = (0..300).map(|i| format!("fan{i}")).collect();
    let statuses = enter_all(&mut c, q, a, &users, open - 60_000);
    assert!(statuses.iter().all(|st| st == "PREQUEUE"), "{statuses:?}");
    let order: Vec<String> = c
        .call(&["ZRANGE", q, "0", "-1"])
        .items()
        .iter()
        .map(Reply::text)
        .collect();
    let recomputed = python(&format!(
        "{H64}users = ['fan%d' % i for i in range(300)]\n\
         slot = lambda u: h64(b'{seed}|prequeue|' + u.encode()) % (1 << 24)\n\
         for u in sorted(users, key=lambda u: (slot(u), u)): print(u)\n"
    ));
    assert_eq!(order, recomputed);
    // Arrival order did not decide anything: the first arrivals are spread over the line.
    let first_ten_ranks: Vec<usize> = users[..10]
        .iter()
        .map(|u| order.iter().position(|o| o == u).unwrap())
        .collect();
    assert!(
        first_ten_ranks.iter().any(|&r| r >= 100),
        "{first_ten_ranks:?}"
    );
    // The same seed given twice shuffles the same way: a restart or a replay agrees.
    let (q2, a2) = ("q2:{pre}", "a2:{pre}");
    c.call(&["QPOLICY", "SET", q2, a2, "OPENAT", &s(open), "SEED", &seed]);
    enter_all(
        &mut c,
        q2,
        a2,
        &users.iter().rev().cloned().collect::<Vec<_>>(),
        open - 1,
    );
    let order2: Vec<String> = c
        .call(&["ZRANGE", q2, "0", "-1"])
        .items()
        .iter()
        .map(Reply::text)
        .collect();
    assert_eq!(order, order2, "arrival order does not change the shuffle");
}

#[test]
fn automatic_queueing_admits_at_once_until_the_rate_or_the_cap_and_announces_each_switch() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let mut sub = usher.client();
    sub.call(&["SUBSCRIBE", "ev:{auto}"]);
    let (q, a) = ("q:{auto}", "a:{auto}");
    let t0 = now_ms();
    c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "METHOD",
        "auto",
        "RATE",
        "3",
        "MAXACTIVE",
        "10",
        "CHANNEL",
        "ev:{auto}",
        "TTL",
        "600000",
    ]);
    // Under the rate: straight in.
    for u in ["u1", "u2", "u3"] {
        let r = c.call(&["ENTER", q, a, u, "NOW", &s(t0)]);
        assert_eq!(r.items()[0].text(), "ACTIVE", "{u}: {r:?}");
    }
    // Three admissions this minute: the fourth arrival queues, and the switch is announced.
    assert_eq!(
        c.call(&["ENTER", q, a, "u4", "NOW", &s(t0)]).items()[0].text(),
        "NEW"
    );
    let msg = next_event(&mut sub, "queueing");
    assert!(msg.contains("\"queueing\":true"), "{msg}");
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(t0)]));
    assert_eq!(
        (stats["method"].text(), stats["queueing"].int()),
        ("auto".into(), 1)
    );
    // While someone waits, later arrivals queue behind them, whatever the rate says.
    assert_eq!(
        c.call(&["ENTER", q, a, "u5", "NOW", &s(t0 + 61_000)])
            .items()[0]
            .text(),
        "NEW"
    );
    // Once the line has drained and the minute has passed, arrivals go straight in again.
    let r = c.call(&["ADMIT", q, a, "10", "NOW", &s(t0 + 61_000)]);
    assert_eq!(r.items()[0].int(), 2);
    assert_eq!(
        c.call(&["ENTER", q, a, "u6", "NOW", &s(t0 + 122_000)])
            .items()[0]
            .text(),
        "ACTIVE"
    );
    let msg = next_event(&mut sub, "queueing");
    assert!(msg.contains("\"queueing\":false"), "{msg}");
    // The cap: ten live sessions, the eleventh arrival queues although the rate allows it.
    c.call(&["QPOLICY", "SET", q, a, "RATE", "1000"]);
    for i in 7..=10 {
        let u = format!("u{i}");
        assert_eq!(
            c.call(&["ENTER", q, a, &u, "NOW", &s(t0 + 122_000)])
                .items()[0]
                .text(),
            "ACTIVE"
        );
    }
    assert_eq!(c.call(&["ZCARD", a]).int(), 10);
    assert_eq!(
        c.call(&["ENTER", q, a, "u11", "NOW", &s(t0 + 122_000)])
            .items()[0]
            .text(),
        "NEW"
    );
}

#[test]
fn seats_extend_cancel_cap_per_user_and_show_a_section_map() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let seat = |n: u32| format!("seat:{{gig}}:A{n}");
    let lock = |c: &mut Client, n: u32, user: &str| {
        c.call(&["SEATLOCK", &seat(n), user, "60", "MAXHELD", "2"])
    };
    // Two holds at once per user: the third is refused and nothing changes.
    assert_eq!(lock(&mut c, 1, "ann").items()[0].int(), 1);
    let t2 = lock(&mut c, 2, "ann").items()[1].int();
    let r = lock(&mut c, 3, "ann");
    assert!(r.is_error() && r.err().starts_with("LIMIT"), "{r:?}");
    assert_eq!(c.call(&["EXISTS", &seat(3)]).int(), 0);
    assert_eq!(
        lock(&mut c, 3, "bob").items()[0].int(),
        1,
        "the limit is per user"
    );
    // Confirming a seat frees a place under the limit.
    assert_eq!(c.call(&["SEATCONFIRM", &seat(2), "ann", &s(t2)]).int(), 1);
    assert_eq!(lock(&mut c, 4, "ann").items()[0].int(), 1);
    // A section's map, without holders.
    let map_reply = c.call(&["SEATMAP", &seat(1), &seat(2), &seat(3), &seat(5)]);
    let statuses: Vec<String> = map_reply.items().iter().map(Reply::text).collect();
    assert_eq!(statuses, ["HELD", "CONFIRMED", "HELD", "FREE"]);
    // Extending: only the holder with the current token, never shorter.
    let t1 = c.call(&["SEATSTATUS", &seat(1)]);
    let t1 = map(t1)["token"].text();
    assert_eq!(
        c.call(&["SEATEXTEND", &seat(1), "bob", &t1, "600"]).int(),
        0
    );
    assert_eq!(
        c.call(&["SEATEXTEND", &seat(1), "ann", &t1, "600"]).int(),
        1
    );
    let ttl = c.call(&["PTTL", &seat(1)]).int();
    assert!(ttl > 590_000, "{ttl}");
    assert_eq!(c.call(&["SEATEXTEND", &seat(1), "ann", &t1, "5"]).int(), 1);
    assert!(
        c.call(&["PTTL", &seat(1)]).int() > 590_000,
        "never shortened"
    );
    let r = c.call(&["SEATEXTEND", &seat(1), "ann", &t1, "0"]);
    assert!(r.is_error(), "{r:?}");
    // Cancelling a sale (a refund): the seat is free again, and its next token is larger.
    assert_eq!(c.call(&["SEATCANCEL", &seat(2), "ann", "999"]).int(), 0);
    assert_eq!(c.call(&["SEATCANCEL", &seat(2), "ann", &s(t2)]).int(), 1);
    assert_eq!(
        map(c.call(&["SEATSTATUS", &seat(2)]))["status"].text(),
        "FREE"
    );
    let again = c.call(&["SEATLOCK", &seat(2), "cat", "60"]).items()[1].int();
    assert!(again > t2);
    // A stale payment for the cancelled sale is refused.
    assert_eq!(c.call(&["SEATCONFIRM", &seat(2), "ann", &s(t2)]).int(), 0);
    // The index follows releases too, and MAXHELD needs a hash tag.
    let t4 = map(c.call(&["SEATSTATUS", &seat(4)]))["token"].text();
    assert_eq!(c.call(&["SEATRELEASE", &seat(4), "ann", &t4]).int(), 1);
    assert_eq!(c.call(&["ZCARD", "{gig}:holds:ann"]).int(), 1);
    let r = c.call(&["SEATLOCK", "plainseat", "ann", "60", "MAXHELD", "2"]);
    assert!(r.is_error(), "{r:?}");
    let r = c.call(&["SEATLOCK", &seat(9), "ann", "60", "MAXHELD", "0"]);
    assert!(r.is_error(), "{r:?}");
}

#[test]
fn a_held_user_sees_a_moving_position_and_is_never_admitted_and_client_keys_are_capped() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let (q, a) = ("q:{inf}", "a:{inf}");
    let t0 = 1_795_000_000_000i64;
    let r = c.call(&["QHOLD", q, "bot"]);
    assert!(r.is_error(), "needs a policy: {r:?}");
    c.call(&["QPOLICY", "SET", q, a, "MAXPERCLIENT", "2"]);
    let users: Vec<String> = (0..6).map(|i| format!("u{i}")).collect();
    enter_all(&mut c, q, a, &users[..3], t0);
    assert_eq!(
        c.call(&["ENTER", q, a, "bot", "NOW", &s(t0)]).items()[1].int(),
        4
    );
    enter_all(&mut c, q, a, &users[3..], t0);
    assert_eq!(c.call(&["QHOLD", q, "bot"]).int(), 1);
    assert_eq!(c.call(&["QHOLD", q, "bot"]).int(), 0);
    // The bot still sees its place, fourth, as if nothing happened...
    let pos = c.call(&["QPOS", q, a, "bot", "NOW", &s(t0)]);
    assert_eq!(
        (pos.items()[0].text(), pos.items()[1].int()),
        ("WAITING".into(), 4)
    );
    let again = c.call(&["ENTER", q, a, "bot", "NOW", &s(t0)]);
    assert_eq!(
        (again.items()[0].text(), again.items()[1].int()),
        ("WAITING".into(), 4)
    );
    // ... which moves as others are admitted, but admission passes it by.
    let admitted = c.call(&["ADMIT", q, a, "10", "NOW", &s(t0 + 1000)]);
    let admitted: Vec<String> = admitted.items()[1]
        .items()
        .iter()
        .map(Reply::text)
        .collect();
    assert_eq!(admitted, users);
    let pos = c.call(&["QPOS", q, a, "bot", "NOW", &s(t0 + 1000)]);
    assert_eq!(
        (pos.items()[0].text(), pos.items()[1].int()),
        ("WAITING".into(), 1)
    );
    // A mistaken flag costs nothing: released, the user is back at their arrival.
    enter_all(&mut c, q, a, &["late".to_string()], t0 + 2000);
    assert_eq!(c.call(&["QUNHOLD", q, "bot"]).int(), 1);
    assert_eq!(c.call(&["ZRANGE", q, "0", "-1"]).items()[0].text(), "bot");
    assert_eq!(c.call(&["QUNHOLD", q, "bot"]).int(), 0);
    // Per client key: two places per device or IP in this event; retries are free.
    let enter_from = |c: &mut Client, user: &str, ip: &str| {
        c.call(&["ENTER", q, a, user, "CLIENT", ip, "NOW", &s(t0 + 3000)])
            .items()[0]
            .text()
    };
    assert_eq!(enter_from(&mut c, "v1", "10.0.0.1"), "NEW");
    assert_eq!(enter_from(&mut c, "v1", "10.0.0.1"), "WAITING");
    assert_eq!(enter_from(&mut c, "v2", "10.0.0.1"), "NEW");
    assert_eq!(enter_from(&mut c, "v3", "10.0.0.1"), "LIMITED");
    assert_eq!(c.call(&["ZSCORE", q, "v3"]), Reply::Nil, "nobody joined");
    assert_eq!(enter_from(&mut c, "v3", "10.0.0.2"), "NEW");
    assert_eq!(c.call(&["HGET", "q:{inf}:clients", "10.0.0.1"]).text(), "2");
    // 50 concurrent clients racing from one IP: exactly two places.
    let port = usher.port;
    let handles: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                c.call(&[
                    "ENTER",
                    "q:{inf}",
                    "a:{inf}",
                    &format!("w{i}"),
                    "CLIENT",
                    "10.9.9.9",
                ])
                .items()[0]
                    .text()
            })
        })
        .collect();
    let statuses: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "NEW").count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| *s == "LIMITED").count(), 48);
}

#[test]
fn an_event_runs_its_schedule_idle_prequeue_open_closed_and_announces_each_step() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let mut sub = usher.client();
    sub.call(&["SUBSCRIBE", "ev:{life}"]);
    let (q, a) = ("q:{life}", "a:{life}");
    let t = now_ms();
    let (pre, open, close) = (t + 1500, t + 3000, t + 4500);
    let r = c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "OPENAT",
        &s(pre),
        "PREQUEUEAT",
        &s(open),
    ]);
    assert!(r.is_error(), "a schedule out of order is refused: {r:?}");
    c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "PREQUEUEAT",
        &s(pre),
        "OPENAT",
        &s(open),
        "CLOSEAT",
        &s(close),
        "CHANNEL",
        "ev:{life}",
    ]);
    let msg = next_event(&mut sub, "state");
    assert!(msg.contains("\"state\":\"idle\""), "{msg}");
    // Idle: nobody joins yet, and every reply says why.
    assert_eq!(
        c.call(&["ENTER", q, a, "early"]).items()[0].text(),
        "CLOSED"
    );
    assert_eq!(map(c.call(&["QSTATS", q, a]))["state"].text(), "idle");
    assert_eq!(c.call(&["QPOS", q, a, "early"]).items()[6].text(), "idle");
    for (state, user, status) in [
        ("prequeue", "p1", "PREQUEUE"),
        ("open", "o1", "NEW"),
        ("closed", "c1", "CLOSED"),
    ] {
        let msg = next_event(&mut sub, "state");
        assert!(msg.contains(&format!("\"state\":\"{state}\"")), "{msg}");
        assert_eq!(
            c.call(&["ENTER", q, a, user]).items()[0].text(),
            status,
            "{state}"
        );
    }
    // Closed by schedule: those in line are still admitted (a drain).
    let r = c.call(&["ADMIT", q, a, "10"]);
    assert_eq!(r.items()[0].int(), 2, "{r:?}");
}

#[test]
fn admitted_users_who_never_show_up_free_their_place_and_are_counted() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("q:{ns}", "a:{ns}");
    c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "NOSHOW",
        "400",
        "TOKENS",
        "60000",
        "MAXACTIVE",
        "4",
    ]);
    let users: Vec<String> = (1..=4).map(|i| format!("u{i}")).collect();
    for u in &users {
        c.call(&["ENTER", q, a, u]);
    }
    assert_eq!(c.call(&["ADMIT", q, a, "4"]).items()[0].int(), 4);
    assert_eq!(c.call(&["ZCARD", "q:{ns}:pending"]).int(), 4);
    // u1 renews its session at the origin, u2 presents its token: both showed up.
    assert_eq!(c.call(&["QRENEW", a, "u1", "60000"]).int(), 1);
    let token = c.call(&["QPOS", q, a, "u2"]).items()[5].text();
    assert_eq!(c.call(&["TOKENVERIFY", &token]).items()[0].int(), 1);
    // u3 and u4 never come: the tick ends their sessions, withdraws their tokens, counts them.
    let swept = usher_tests::wait::eventually(std::time::Duration::from_secs(5), || {
        c.call(&["ZCARD", a]).int() == 2
    });
    assert!(swept, "no-shows still active");
    let active: Vec<String> = c
        .call(&["ZRANGE", a, "0", "-1"])
        .items()
        .iter()
        .map(Reply::text)
        .collect();
    assert_eq!(active, ["u1", "u2"]);
    assert_eq!(c.call(&["EXISTS", "q:{ns}:token:u3"]).int(), 0);
    let stats = map(c.call(&["HGETALL", "q:{ns}:stats"]));
    assert_eq!(
        (stats["shows"].text(), stats["noshows"].text()),
        ("2".into(), "2".into())
    );
    // Their places under the cap are free again.
    c.call(&["ENTER", q, a, "u5"]);
    assert_eq!(c.call(&["ADMIT", q, a, "4"]).items()[0].int(), 1);
}

/// The release rate compensates for no-shows: with half of the admitted users never showing
/// up (the counts live in the event's keys, seeded here as a sale's first minute left them),
/// the server releases about twice RATE, so the origin sees the rate the operator set; without
/// no-shows it releases RATE. Measured on the server's own tick over two seconds of a
/// 600-a-minute event (10 a second, at most one second's worth at once).
#[test]
fn the_release_rate_compensates_for_no_shows() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let released = |c: &mut Client, q: &str, a: &str, shows: &str, noshows: &str| -> i64 {
        for i in 0..500 {
            c.call(&["ENTER", q, a, &format!("u{i}")]);
        }
        let stats = format!("{q}:stats");
        c.call(&["HSET", &stats, "shows", shows, "noshows", noshows]);
        c.call(&[
            "QPOLICY", "SET", q, a, "RATE", "600", "NOSHOW", "600000", "TTL", "600000",
        ]);
        // From the first admission on, two seconds of the tick's releases.
        assert!(usher_tests::wait::eventually(
            std::time::Duration::from_secs(5),
            || c.call(&["ZCARD", a]).int() > 0
        ));
        let first = c.call(&["ZCARD", a]).int();
        std::thread::sleep(std::time::Duration::from_secs(2));
        c.call(&["ZCARD", a]).int() - first
    };
    let plain = released(&mut c, "q:{cp0}", "a:{cp0}", "100", "0");
    let compensated = released(&mut c, "q:{cp1}", "a:{cp1}", "50", "50");
    // 10 a second for two seconds, and twice that with half of them no-shows.
    assert!((14..=26).contains(&plain), "plain: {plain}");
    assert!(
        (32..=48).contains(&compensated),
        "compensated: {compensated}"
    );
}

#[test]
fn the_events_statistics_live_in_its_keys_and_survive_a_reload() {
    let usher = Server::usher(&["--queue-now-max-skew", "0", "--enable-debug-command", "yes"]);
    let mut c = usher.client();
    let (q, a) = ("queue:{stats}", "active:{stats}");
    // On a minute boundary, so the admissions' minutes are known.
    let t0 = (now_ms() - 600_000) / 60_000 * 60_000;
    assert!(c
        .call(&["QPOLICY", "SET", q, a, "MAXACTIVE", "1000"])
        .is_simple("OK"));
    // 100 users a second apart; admitted 20 at a time from t0 + 100 s, 10 s apart.
    for i in 0..100 {
        c.call(&["ENTER", q, a, &format!("u{i:03}"), "NOW", &s(t0 + i * 1000)]);
    }
    let mut waits = Vec::new();
    for round in 0..5 {
        let at = t0 + 100_000 + round * 10_000;
        let r = c.call(&["ADMIT", q, a, "20", "NOW", &s(at)]);
        for u in r.items()[1].strings() {
            let i: i64 = u[1..].parse().unwrap();
            waits.push(at - (t0 + i * 1000));
        }
    }
    assert_eq!(waits.len(), 100);
    let at = t0 + 150_000;
    let stats = map(c.call(&["QSTATS", q, a, "NOW", &s(at)]));
    assert_eq!(stats["admitted"].int(), 100);
    // The last complete minute (t0 + 60 s .. t0 + 120 s) saw the rounds at 100 s and 110 s.
    assert_eq!(stats["admitted_last_minute"].int(), 40);
    // Every wait is between 20 s and 140 s: the percentiles fall in the 50-100 s and 100-200 s
    // buckets, ordered.
    let (p50, p90, p99) = (
        stats["wait_p50_ms"].int(),
        stats["wait_p90_ms"].int(),
        stats["wait_p99_ms"].int(),
    );
    assert!(
        (50_000..=100_000).contains(&p50) && p50 <= p90 && p90 <= p99 && p99 <= 200_000,
        "{p50} {p90} {p99}"
    );
    // The stats hash holds the histogram: its buckets count every admission.
    let hash = map(c.call(&["HGETALL", "queue:{stats}:stats"]));
    let bucketed: i64 = hash
        .iter()
        .filter(|(f, _)| f.starts_with("wait_le_"))
        .map(|(_, v)| v.text().parse::<i64>().unwrap())
        .sum();
    assert_eq!(bucketed, 100);
    assert_eq!(
        hash["wait_sum_ms"].text().parse::<i64>().unwrap(),
        waits.iter().sum::<i64>()
    );
    // A reload (as a restart or a failover to a replica) keeps them all.
    // (The measured admit_rate is the server's own, from memory: it starts again.)
    assert!(c.call(&["DEBUG", "RELOAD"]).is_simple("OK"));
    let mut after = map(c.call(&["QSTATS", q, a, "NOW", &s(at)]));
    let mut before = stats;
    after.remove("admit_rate");
    before.remove("admit_rate");
    assert_eq!(after, before);
    // A queue without a policy writes no statistics key (ADMIT stays its seed script).
    c.call(&[
        "ENTER",
        "queue:{plain}",
        "active:{plain}",
        "x",
        "NOW",
        &s(t0),
    ]);
    c.call(&[
        "ADMIT",
        "queue:{plain}",
        "active:{plain}",
        "1",
        "NOW",
        &s(t0 + 1),
    ]);
    assert_eq!(c.call(&["EXISTS", "queue:{plain}:stats"]).int(), 0);
}
