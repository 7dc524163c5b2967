//! Split lines (QSPLIT): one event's waiting line over K sub-queues on different shards must
//! answer exactly as the same line unsplit. A random workload runs, command for command, on a
//! plain event and on a split one in the same server, and every reply must match; concurrent
//! clients enter while the line is split and merged back, and nobody is lost or reordered; a
//! policy (rate, cap, tokens) runs on a split event.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use usher_tests::wait::{eventually, map, now_ms};
use usher_tests::{diff, Client, Reply, Server};

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn split_server() -> Server {
    let usher = Server::usher(&["--shards", "8", "--threads", "2"]);
    // The workload gives its own clock, days ahead, so the server's policy tick (which runs on
    // the real clock) never sweeps anyone: both events see only the commands' NOW.
    assert!(usher
        .client()
        .call(&["CONFIG", "SET", "queue-now-max-skew", "0"])
        .is_simple("OK"));
    usher
}

/// The queue and active keys of one event.
fn event(name: &str) -> (String, String) {
    (format!("q:{{{name}}}"), format!("a:{{{name}}}"))
}

/// A line of `n` users (`user(i)`) for event `name`, split over eight sub-queues: its queue,
/// active set and sub-queue names.
fn split_eight_ways(
    c: &mut Client,
    name: &str,
    user: impl Fn(usize) -> String,
    n: usize,
) -> (String, String, Vec<String>) {
    let (q, a) = event(name);
    for i in 0..n {
        c.call(&["ENTER", &q, &a, &user(i)]);
    }
    assert!(c.call(&["QSPLIT", &q, "8"]).is_simple("OK"));
    let subs = map(c.call(&["QSPLIT", &q]))["queues"].strings();
    (q, a, subs)
}

/// Holds the shard of its one key for ARGV[1] microseconds.
const SPIN: &str = "local t0 = redis.call('TIME') \
    repeat local t = redis.call('TIME') \
    until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > tonumber(ARGV[1]) \
    return redis.call('ZCARD', KEYS[1])";

/// One random command of the workload, for the event `(q, a)` at clock `now`.
fn random_command(rng: &mut SmallRng, q: &str, a: &str, now: i64) -> Vec<String> {
    let user = format!("u{}", rng.random_range(0..60));
    let now = s(now);
    let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match rng.random_range(0..100) {
        0..=34 => v(&["ENTER", q, a, &user, "NOW", &now]),
        35..=59 => v(&["QPOS", q, a, &user, "NOW", &now]),
        60..=67 => v(&["QLEAVE", q, &user]),
        68..=79 => v(&["QHEARTBEAT", q, &user, "NOW", &now]),
        80..=91 => v(&["ADMIT", q, a, &s(rng.random_range(0..5)), "NOW", &now]),
        92..=95 => v(&["QSTATS", q, a, "NOW", &now]),
        96..=97 => v(&["QHOLD", q, &user, "NOW", &now]),
        _ => v(&["QUNHOLD", q, &user]),
    }
}

/// Runs the same seeded workload on a plain event and on one split `k` ways (split after a
/// few arrivals, merged back and split again midway), comparing every reply.
fn equivalent_workload(k: usize, method: &str) {
    let seed = diff::seed();
    let usher = split_server();
    let mut c = usher.client();
    let (pq, pa) = event(&format!("plain{k}{method}"));
    let (sq, sa) = event(&format!("split{k}{method}"));
    for (q, a) in [(&pq, &pa), (&sq, &sa)] {
        let r = c.call(&[
            "QPOLICY",
            "SET",
            q,
            a,
            "HEARTBEAT",
            "4000",
            "MAXACTIVE",
            "12",
            "TTL",
            "20000",
            "METHOD",
            method,
            "SEED",
            "same-draws",
        ]);
        assert!(r.is_simple("OK"), "{r:?}");
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut now = now_ms() + 5 * 86_400_000;
    let ops = diff::ops(900);
    // Replies that are not errors, by command: the workload must really enter, admit, poll.
    let mut served = std::collections::HashMap::<String, usize>::new();
    for i in 0..ops {
        match i {
            30 => assert!(c.call(&["QSPLIT", &sq, &s(k)]).is_simple("OK")),
            450 => assert!(c.call(&["QSPLIT", &sq, "1"]).is_simple("OK")),
            500 => assert!(c.call(&["QSPLIT", &sq, &s(k)]).is_simple("OK")),
            _ => {}
        }
        now += rng.random_range(0..700);
        let mut op_rng = rng.clone();
        let plain = random_command(&mut op_rng, &pq, &pa, now);
        let split = random_command(&mut rng, &sq, &sa, now);
        let (want, got) = (c.call(&plain), c.call(&split));
        assert_eq!(
            want, got,
            "seed {seed} (USHER_DIFF_SEED), k {k}, op {i}: {plain:?} vs {split:?}"
        );
        if !got.is_error() {
            *served.entry(split[0].clone()).or_default() += 1;
        }
    }
    for name in ["ENTER", "QPOS", "QLEAVE", "QHEARTBEAT", "ADMIT", "QSTATS"] {
        assert!(
            served.get(name).copied().unwrap_or(0) > ops / 50,
            "{name} was hardly served: {served:?}"
        );
    }
    // The lines hold the same users with the same scores, and the split really is split.
    let shown = map(c.call(&["QSPLIT", &sq]));
    assert_eq!(shown["k"].int(), k as i64);
    let mut whole: Vec<(String, String)> = Vec::new();
    for sub in shown["queues"].strings() {
        let pairs = c.call(&["ZRANGE", &sub, "0", "-1", "WITHSCORES"]).strings();
        whole.extend(pairs.chunks(2).map(|p| (p[0].clone(), p[1].clone())));
    }
    whole.sort_by(|x, y| {
        let (a, b) = (x.1.parse::<f64>().unwrap(), y.1.parse::<f64>().unwrap());
        a.total_cmp(&b).then(x.0.cmp(&y.0))
    });
    let plain = c.call(&["ZRANGE", &pq, "0", "-1", "WITHSCORES"]).strings();
    let plain: Vec<(String, String)> = plain
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    assert_eq!(plain, whole, "seed {seed}");
    assert_eq!(
        c.call(&["ZRANGE", &pa, "0", "-1", "WITHSCORES"]),
        c.call(&["ZRANGE", &sa, "0", "-1", "WITHSCORES"]),
        "seed {seed}: the same admissions"
    );
}

#[test]
fn a_split_line_answers_exactly_as_the_unsplit_one_k2() {
    equivalent_workload(2, "fifo");
}

#[test]
fn a_split_line_answers_exactly_as_the_unsplit_one_k3() {
    equivalent_workload(3, "fifo");
}

#[test]
fn a_split_line_answers_exactly_as_the_unsplit_one_k8() {
    equivalent_workload(8, "fifo");
}

#[test]
fn random_draws_on_a_split_line_pick_the_same_users() {
    equivalent_workload(3, "random");
}

#[test]
fn qsplit_shows_splits_merges_and_refuses_bad_input_without_changes() {
    let usher = split_server();
    let mut c = usher.client();
    let (q, a) = event("show");
    for i in 0..20 {
        c.call(&["ENTER", &q, &a, &format!("user{i}")]);
    }
    let shown = map(c.call(&["QSPLIT", &q]));
    assert_eq!(shown["k"].int(), 1);
    assert_eq!(shown["queues"].strings(), vec![q.clone()]);
    assert_eq!(shown["waiting"].items()[0].int(), 20);
    assert!(c.call(&["QSPLIT", &q, "4"]).is_simple("OK"));
    let shown = map(c.call(&["QSPLIT", &q]));
    let subs = shown["queues"].strings();
    assert_eq!(subs.len(), 4);
    assert!(subs.iter().all(|s| s.starts_with("q:{show#")), "{subs:?}");
    let total: i64 = shown["waiting"].items().iter().map(Reply::int).sum();
    assert_eq!(total, 20);
    let distinct: std::collections::HashSet<&String> = subs.iter().collect();
    assert_eq!(distinct.len(), 4);
    assert_eq!(c.call(&["EXISTS", &q]).int(), 0, "the waiters moved");
    assert_eq!(c.call(&["HGET", "q:{show}:split", "k"]).text(), "4");
    for bad in [
        &["QSPLIT", &q, "0"][..],
        &["QSPLIT", &q, "9"],
        &["QSPLIT", &q, "x"],
    ] {
        assert!(c.call(bad).is_error(), "{bad:?}");
    }
    assert!(c.call(&["QSPLIT", &q, "2", "extra"]).is_error());
    c.call(&["SET", "str", "x"]);
    assert!(c
        .call(&["QSPLIT", "str", "2"])
        .err()
        .starts_with("WRONGTYPE"));
    assert_eq!(map(c.call(&["QSPLIT", &q]))["k"].int(), 4, "unchanged");
    let before = c.call(&["QPOS", &q, &a, "user13"]).items()[..3].to_vec();
    assert_eq!(before[1].int(), 14);
    assert!(c.call(&["QSPLIT", &q, "1"]).is_simple("OK"));
    assert_eq!(c.call(&["QPOS", &q, &a, "user13"]).items()[..3], before[..]);
    assert_eq!(c.call(&["ZCARD", &q]).int(), 20);
    assert_eq!(c.call(&["EXISTS", "q:{show}:split"]).int(), 0);
    for sub in &subs {
        assert_eq!(c.call(&["EXISTS", sub]).int(), 0);
    }
}

/// A split line answers positions from an index of its arrival scores. Writes to its
/// sub-queues by plain commands (ZADD, ZREM, DEL: not the way to run a line, but possible)
/// and tied scores must still give the unsplit line's answers: the same edits on a plain line
/// and on the users' sub-queues, then every user's QPOS, ENTER and ADMIT compared.
#[test]
fn hand_written_sub_queues_and_tied_scores_answer_as_the_unsplit_line() {
    hand_edits_and_ties("fifo");
}

/// The same on a random event: a draw that lands on a tied score picks, by member, the user
/// the unsplit line's draw picks.
#[test]
fn random_draws_over_tied_scores_pick_as_the_unsplit_line() {
    hand_edits_and_ties("random");
}

fn hand_edits_and_ties(method: &str) {
    const K: usize = 4;
    let usher = split_server();
    let mut c = usher.client();
    let (pq, pa) = event(&format!("handplain{method}"));
    let (sq, sa) = event(&format!("handsplit{method}"));
    for (q, a) in [(&pq, &pa), (&sq, &sa)] {
        let r = c.call(&["QPOLICY", "SET", q, a, "METHOD", method, "SEED", "ties"]);
        assert!(r.is_simple("OK"), "{r:?}");
    }
    let mut now = now_ms() + 86_400_000;
    let users: Vec<String> = (0..40).map(|i| format!("u{i}")).collect();
    for u in &users {
        now += 3;
        for (q, a) in [(&pq, &pa), (&sq, &sa)] {
            c.call(&["ENTER", q, a, u, "NOW", &s(now)]);
        }
    }
    assert!(c.call(&["QSPLIT", &sq, &s(K)]).is_simple("OK"));
    let subs = map(c.call(&["QSPLIT", &sq]))["queues"].strings();
    // A user's sub-queue: Redis Cluster's CRC16 (XMODEM) of the user, mod K.
    let home = |user: &str| {
        let crc = usher_tests::crc16(user.as_bytes());
        subs[crc as usize % K].clone()
    };
    let compare = |c: &mut Client, now: i64, what: &str, extra: &[&str]| {
        for u in users
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
        {
            let want = c.call(&["QPOS", &pq, &pa, u, "NOW", &s(now)]);
            let got = c.call(&["QPOS", &sq, &sa, u, "NOW", &s(now)]);
            assert_eq!(want.items()[..3], got.items()[..3], "{what}: QPOS {u}");
        }
    };
    compare(&mut c, now, "split", &[]);
    // Ties on u5's score (by member, as pre-queue slots), a moved score, a removal.
    let tied = c.call(&["ZSCORE", &pq, "u5"]).text();
    let last = c.call(&["ZSCORE", &pq, "u39"]).text();
    let moved = s(last.parse::<f64>().unwrap() + 1.0);
    let more: Vec<String> = (2..10).map(|i| format!("h{i}")).collect();
    let hand = [("h1", &tied), ("a0", &tied), ("u3", &moved)]
        .into_iter()
        .chain(more.iter().map(|h| (h.as_str(), &tied)));
    for (user, score) in hand {
        c.call(&["ZADD", &pq, score, user]);
        let sub = home(user);
        c.call(&["ZADD", &sub, score, user]);
    }
    c.call(&["ZREM", &pq, "u7"]);
    let sub = home("u7");
    c.call(&["ZREM", &sub, "u7"]);
    compare(&mut c, now, "hand edits", &["h1", "a0"]);
    // A whole sub-queue deleted: its users leave the plain line too.
    let gone = c.call(&["ZRANGE", &subs[1], "0", "-1"]).strings();
    assert!(!gone.is_empty());
    c.call(&["DEL", &subs[1]]);
    for u in &gone {
        c.call(&["ZREM", &pq, u]);
    }
    compare(&mut c, now, "a sub-queue deleted", &["h1", "a0"]);
    for round in 0..6 {
        now += 10;
        let fresh = format!("late{round}");
        let want = c.call(&["ENTER", &pq, &pa, &fresh, "NOW", &s(now)]);
        let got = c.call(&["ENTER", &sq, &sa, &fresh, "NOW", &s(now)]);
        assert_eq!(want, got, "ENTER {fresh}");
        let want = c.call(&["ADMIT", &pq, &pa, "3", "NOW", &s(now)]);
        let got = c.call(&["ADMIT", &sq, &sa, "3", "NOW", &s(now)]);
        assert_eq!(want, got, "ADMIT, round {round}");
        compare(&mut c, now, "after admissions", &["h1", "a0"]);
    }
}

/// Concurrent ENTERs from several clients while the line is split, re-split and merged back;
/// an admitter with a cap and a poller run alongside. Nobody is lost or reordered, the cap
/// holds, and a waiting user's position never goes up.
#[test]
fn split_and_merge_under_concurrent_enters_lose_and_reorder_nobody() {
    let usher = split_server();
    let (q, a) = event("rush");
    let mut c = usher.client();
    c.call(&["ENTER", &q, &a, "first"]);
    c.call(&["ENTER", &q, &a, "second"]);
    let done = AtomicBool::new(false);
    let (threads, per_thread) = (4, 250);
    std::thread::scope(|scope| {
        let mut enterers = Vec::new();
        for t in 0..threads {
            let (q, a, port) = (q.clone(), a.clone(), usher.port);
            enterers.push(scope.spawn(move || {
                let mut c = Client::connect(port).unwrap();
                for j in 0..per_thread {
                    let r = c.call(&["ENTER", &q, &a, &format!("t{t}-{j:04}")]);
                    assert_eq!(r.items()[0].text(), "NEW", "{r:?}");
                }
            }));
        }
        let splitter = scope.spawn(|| {
            let mut c = Client::connect(usher.port).unwrap();
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                for k in ["4", "1", "8", "2", "1", "3"] {
                    assert!(c.call(&["QSPLIT", &q, k]).is_simple("OK"));
                    n += 1;
                }
            }
            n
        });
        let admitter = scope.spawn(|| {
            let mut c = Client::connect(usher.port).unwrap();
            let mut admitted = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let r = c.call(&["ADMIT", &q, &a, "3", "MAXACTIVE", "40"]);
                admitted.extend(r.items()[1].strings());
                assert!(c.call(&["ZCARD", &a]).int() <= 40, "MAXACTIVE exceeded");
            }
            admitted
        });
        let poller = scope.spawn(|| {
            let mut c = Client::connect(usher.port).unwrap();
            let mut last = i64::MAX;
            while !done.load(Ordering::Relaxed) {
                let r = c.call(&["QPOS", &q, &a, "second"]);
                let (status, pos) = (r.items()[0].text(), r.items()[1].int());
                if status == "WAITING" {
                    assert!(pos <= last, "position went up: {last} -> {pos}");
                    last = pos;
                }
            }
        });
        for e in enterers {
            e.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(splitter.join().unwrap() > 0);
        let admitted = admitter.join().unwrap();
        poller.join().unwrap();
        assert!(c.call(&["QSPLIT", &q, "1"]).is_simple("OK"));
        let waiting = c.call(&["ZRANGE", &q, "0", "-1"]).strings();
        // Everyone is either admitted or waiting, exactly once.
        let mut all: Vec<String> = admitted.iter().chain(&waiting).cloned().collect();
        assert_eq!(all.len(), threads * per_thread + 2);
        all.sort();
        all.dedup();
        assert_eq!(
            all.len(),
            threads * per_thread + 2,
            "someone is there twice"
        );
        // Admission took the earliest first: the two who came first, then the rest.
        assert_eq!(admitted[..2], ["first".to_string(), "second".to_string()]);
        // Each client's users stay in the order they entered, admitted ones ahead.
        let order: Vec<&String> = admitted.iter().chain(&waiting).collect();
        for t in 0..threads {
            let mine: Vec<&&String> = order
                .iter()
                .filter(|u| u.starts_with(&format!("t{t}-")))
                .collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "client {t} reordered");
        }
        assert!(c.call(&["ZCARD", &a]).int() <= 40);
    });
}

/// ENTER and QPOS on a split line lock only the user's sub-queue, and a user whose arrival
/// score ties another's needs every sub-queue: under contention (two worker threads, clients
/// entering, admitting and polling at once) the dispatcher runs such a command again with the
/// whole line locked, so no client ever sees an error, and a tied user's position only falls.
#[test]
fn tied_users_polled_under_contention_get_answers_not_errors() {
    let usher = split_server();
    let mut c = usher.client();
    let (q, a, subs) = split_eight_ways(&mut c, "ties", |i| format!("early{i:03}"), 200);
    // Twenty users on one score near the back (written by hand, as pre-queue slots would).
    let last = c.call(&["QPOS", &q, &a, "early199"]);
    assert_eq!(last.items()[1].int(), 200);
    let score: String = subs
        .iter()
        .find_map(|sub| match c.call(&["ZSCORE", sub, "early199"]) {
            Reply::Bulk(_) => Some(c.call(&["ZSCORE", sub, "early199"]).text()),
            _ => None,
        })
        .unwrap();
    let tied: Vec<String> = (0..20).map(|i| format!("tied{i:02}")).collect();
    for user in &tied {
        let r = c.call(&["ENTER", &q, &a, user]);
        assert_eq!(r.items()[0].text(), "NEW");
        // Move them onto early199's score, in their own sub-queue.
        for sub in &subs {
            c.call(&["ZADD", sub, "XX", &score, user]);
        }
    }
    let port = usher.port;
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let pollers: Vec<_> = (0..2)
            .map(|t| {
                let (q, a, tied, done) = (&q, &a, &tied, &done);
                scope.spawn(move || {
                    let mut c = Client::connect(port).unwrap();
                    let mut last = vec![i64::MAX; tied.len()];
                    let mut polls = 0;
                    while !done.load(Ordering::Relaxed) || polls < 200 {
                        let i = (polls * 7 + t) % tied.len();
                        let r = c.call(&["QPOS", q, a, &tied[i]]);
                        assert!(!r.is_error(), "{r:?}");
                        if r.items()[0].text() == "WAITING" {
                            let pos = r.items()[1].int();
                            assert!(pos <= last[i], "{}: {} -> {pos}", tied[i], last[i]);
                            last[i] = pos;
                        }
                        polls += 1;
                    }
                    polls
                })
            })
            .collect();
        let enterer = scope.spawn(|| {
            let mut c = Client::connect(port).unwrap();
            for j in 0..1500 {
                let r = c.call(&["ENTER", &q, &a, &format!("late{j:04}")]);
                assert!(!r.is_error(), "{r:?}");
            }
        });
        let admitter = scope.spawn(|| {
            let mut c = Client::connect(port).unwrap();
            // At most 150 of the 200 ahead of the tied users: however long a loaded machine
            // makes this run, they stay waiting, and their order is checked below.
            let mut admitted = 0;
            while !done.load(Ordering::Relaxed) && admitted < 150 {
                let r = c.call(&["ADMIT", &q, &a, "1"]);
                assert!(!r.is_error(), "{r:?}");
                admitted += r.items()[0].int();
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        enterer.join().unwrap();
        done.store(true, Ordering::Relaxed);
        admitter.join().unwrap();
        for p in pollers {
            assert!(p.join().unwrap() >= 200);
        }
    });
    // A script holding one sub-queue's shard for a while (each in turn): a tied user's QPOS
    // that needs it waits and answers, whichever side of the queue's shard it lies on.

    for sub in &subs {
        std::thread::scope(|scope| {
            let script = scope.spawn(|| {
                let mut c = Client::connect(port).unwrap();
                c.call(&["EVAL", SPIN, "1", sub, "150000"])
            });
            std::thread::sleep(Duration::from_millis(50));
            let r = c.call(&["QPOS", &q, &a, &tied[3]]);
            assert!(!r.is_error(), "QPOS beside a script on {sub}: {r:?}");
            assert!(!script.join().unwrap().is_error());
        });
    }
    // Tied users are ordered by id among themselves, as in one sorted set.
    let places: Vec<i64> = tied
        .iter()
        .map(|u| c.call(&["QPOS", &q, &a, u]).items()[1].int())
        .collect();
    assert!(places.windows(2).all(|w| w[1] == w[0] + 1), "{places:?}");
}

/// A write by hand to a sub-queue (ZADD, a transaction, a script) holds the line's queue's
/// shard too, so it is ordered with ENTER and QPOS, which lock only that shard and their
/// user's sub-queue: while a script holds the queue's shard, such writes wait for it, to every
/// sub-queue whatever shard it lies on; reads of a sub-queue do not wait.
#[test]
fn hand_writes_to_sub_queues_wait_for_the_lines_queue_shard() {
    let usher = split_server();
    let mut c = usher.client();
    let (q, a, subs) = split_eight_ways(&mut c, "byhand", |i| format!("u{i:02}"), 40);
    // A script's first run locks every shard (it is probed for undeclared keys): not this one.
    assert!(!c.call(&["EVAL", SPIN, "1", &q, "0"]).is_error());
    let port = usher.port;
    let hold_queue_shard = |each: &dyn Fn(&mut Client) -> Reply| -> (Duration, Reply) {
        std::thread::scope(|scope| {
            let script = scope.spawn(|| {
                let mut c = Client::connect(port).unwrap();
                c.call(&["EVAL", SPIN, "1", &q, "400000"])
            });
            std::thread::sleep(Duration::from_millis(60));
            // Connected while the script runs: served by the other worker thread.
            let mut other = Client::connect(port).unwrap();
            let started = std::time::Instant::now();
            let reply = each(&mut other);
            let took = started.elapsed();
            assert!(!script.join().unwrap().is_error());
            (took, reply)
        })
    };
    let mut reads_waited = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        let user = format!("hand{i}");
        let (took, r) = hold_queue_shard(&|o| o.call(&["ZADD", sub, "1", &user]));
        assert_eq!(r.int(), 1);
        assert!(
            took >= Duration::from_millis(200),
            "ZADD {sub} did not wait: {took:?}"
        );
        // A read that really waits for the script waits every time: one slow answer on a
        // loaded machine is asked again before it counts.
        let read_waits = || {
            let (took, r) = hold_queue_shard(&|o| o.call(&["ZCARD", sub]));
            assert!(r.int() > 0);
            took >= Duration::from_millis(200)
        };
        if read_waits() && read_waits() {
            reads_waited.push(sub);
        }
    }
    // Eight sub-queues on eight shards: one may share the queue's shard, the script's.
    assert!(reads_waited.len() <= 1, "reads waited: {reads_waited:?}");
    let (took, r) = hold_queue_shard(&|o| {
        o.call(&["MULTI"]);
        o.call(&["ZREM", &subs[1], "hand1"]);
        o.call(&["EXEC"])
    });
    assert_eq!(r.items()[0].int(), 1);
    assert!(
        took >= Duration::from_millis(200),
        "EXEC did not wait: {took:?}"
    );
    let (took, r) = hold_queue_shard(&|o| {
        o.call(&[
            "EVAL",
            "return redis.call('ZREM', KEYS[1], ARGV[1])",
            "1",
            &subs[2],
            "hand2",
        ])
    });
    assert_eq!(r.int(), 1);
    assert!(
        took >= Duration::from_millis(200),
        "EVAL did not wait: {took:?}"
    );
    // The hand-written users (score 1, ahead of everyone) count in the line.
    let pos = c.call(&["QPOS", &q, &a, "u00"]);
    assert_eq!(pos.items()[1].int(), 1 + subs.len() as i64 - 2, "{pos:?}");
}

/// A policy on a split event: the server's tick admits at the rate under the cap, and each
/// admitted user's token reaches them through QPOS; the split survives a restart.
#[test]
fn a_policy_runs_on_a_split_event_and_the_split_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("usher-split-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir_s = dir.display().to_string();
    let mut usher = Server::usher(&["--shards", "8", "--threads", "2", "--dir", &dir_s]);
    let mut c = usher.client();
    let (q, a) = event("sale");
    for i in 0..60 {
        c.call(&["ENTER", &q, &a, &format!("user{i:02}")]);
    }
    assert!(c.call(&["QSPLIT", &q, "4"]).is_simple("OK"));
    let r = c.call(&[
        "QPOLICY",
        "SET",
        &q,
        &a,
        "RATE",
        "6000",
        "MAXACTIVE",
        "25",
        "TOKENS",
        "60000",
    ]);
    assert!(r.is_simple("OK"), "{r:?}");
    let mut most = 0;
    assert!(eventually(Duration::from_secs(10), || {
        let n = c.call(&["ZCARD", &a]).int();
        most = most.max(n);
        n == 25
    }));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.call(&["ZCARD", &a]).int(), 25, "MAXACTIVE holds");
    assert!(most <= 25);
    // The earliest 25 were admitted, in order, and hold tokens.
    let active = c.call(&["ZRANGE", &a, "0", "-1"]).strings();
    let mut sorted = active.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (0..25).map(|i| format!("user{i:02}")).collect::<Vec<_>>()
    );
    let pos = c.call(&["QPOS", &q, &a, "user03"]);
    assert_eq!(pos.items()[0].text(), "ACTIVE");
    assert!(matches!(pos.items()[5], Reply::Bulk(_)), "token: {pos:?}");
    let pos = c.call(&["QPOS", &q, &a, "user40"]);
    assert_eq!(
        pos.items()[..3],
        [Reply::bulk("WAITING"), Reply::Int(16), Reply::Int(35)]
    );
    assert_eq!(map(c.call(&["QSTATS", &q, &a]))["waiting"].int(), 35);

    c.send(&["SHUTDOWN", "SAVE"]);
    assert_eq!(
        usher
            .wait_exit(Duration::from_secs(10))
            .and_then(|s| s.code()),
        Some(0)
    );
    let usher = Server::usher(&["--shards", "8", "--threads", "2", "--dir", &dir_s]);
    let mut c = usher.client();
    assert_eq!(map(c.call(&["QSPLIT", &q]))["k"].int(), 4);
    let pos = c.call(&["QPOS", &q, &a, "user40"]);
    assert_eq!(
        pos.items()[..3],
        [Reply::bulk("WAITING"), Reply::Int(16), Reply::Int(35)]
    );
    let r = c.call(&["ENTER", &q, &a, "late"]);
    assert_eq!(
        r.items()[..3],
        [Reply::bulk("NEW"), Reply::Int(36), Reply::Int(36)]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
