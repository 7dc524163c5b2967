//! The waiting room end to end: policies the server runs itself, the pre-queue shuffle,
//! heartbeats, admission announcements and tokens (verified here without the server, as a
//! booking service would), and the invariants under concurrent clients: never beyond the cap,
//! nobody admitted twice, one holder per seat, fencing tokens only grow, strict FIFO.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use usher_tests::wait::{eventually, map, now_ms};
use usher_tests::{Client, Reply, Server};

fn s(v: impl ToString) -> String {
    v.to_string()
}

#[test]
fn a_policy_admits_at_its_rate_under_its_cap_and_announces_each_admission() {
    let usher = Server::usher(&["--token-secret", "test-secret"]);
    let mut c = usher.client();
    let mut sub = usher.client();
    assert_eq!(sub.call(&["SUBSCRIBE", "admitted:{show}"]).items().len(), 3);
    for i in 0..40 {
        assert_eq!(
            c.call(&[
                "ENTER",
                "queue:{show}",
                "active:{show}",
                &format!("user:{i}")
            ])
            .items()[0]
                .text(),
            "NEW"
        );
    }
    let started = Instant::now();
    assert!(c
        .call(&[
            "QPOLICY",
            "SET",
            "queue:{show}",
            "active:{show}",
            "MAXACTIVE",
            "25",
            "RATE",
            "1200",
            "CHANNEL",
            "admitted:{show}",
            "TOKENS",
            "60000"
        ])
        .is_simple("OK"));
    // 1200 per minute is 20 per second: 25 admissions (the cap) take about 1.2 s.
    assert!(eventually(Duration::from_secs(5), || c
        .call(&["ZCARD", "active:{show}"])
        .int()
        == 25));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "admitted too fast for 20/s: {elapsed:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        c.call(&["ZCARD", "active:{show}"]).int(),
        25,
        "never beyond the cap"
    );
    assert_eq!(c.call(&["ZCARD", "queue:{show}"]).int(), 15);
    // Admitted in arrival order, each announced (without its token, which only its user gets,
    // from QPOS) with a token a booking service can verify.
    let mut announced = Vec::new();
    for _ in 0..25 {
        let msg = sub.read().unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(msg.items()[2].text().as_bytes()).unwrap();
        assert_eq!(json["event"], "admitted");
        assert_eq!(json["queue"], "queue:{show}");
        assert!(json.get("token").is_none(), "{json}");
        assert_eq!(json["token_issued"], true);
        let user = json["user"].as_str().unwrap().to_string();
        let pos = c.call(&["QPOS", "queue:{show}", "active:{show}", &user]);
        assert_eq!(pos.items()[0].text(), "ACTIVE");
        let token = pos.items()[5].text();
        let claims = verify_jwt_independently(b"test-secret", &token);
        assert_eq!(claims["sub"], json["user"]);
        assert_eq!(claims["aud"], "queue:{show}");
        announced.push(user);
    }
    let expected: Vec<String> = (0..25).map(|i| format!("user:{i}")).collect();
    assert_eq!(announced, expected);
    // QSTATS sees the measured rate and the admissions.
    let stats = map(c.call(&["QSTATS", "queue:{show}", "active:{show}"]));
    assert_eq!(stats["admitted"].int(), 25);
    assert_eq!(stats["waiting"].int(), 15);
    // Measured over the ticks (20 a second is 1200 a minute).
    let rate = stats["admit_rate"].text().parse::<f64>().unwrap();
    assert!((600.0..=2400.0).contains(&rate), "{rate}");
    // An admitted user's one-time token is consumed once.
    let token_key = "queue:{show}:token:user:3";
    assert_eq!(
        c.call(&["TOKENCONSUME", token_key]).items()[1].text(),
        "Success"
    );
    assert_eq!(
        c.call(&["TOKENCONSUME", token_key]).items()[1].text(),
        "Already consumed"
    );
    // ... and QPOS stops handing it out.
    let pos = c.call(&["QPOS", "queue:{show}", "active:{show}", "user:3"]);
    assert_eq!(pos.items()[5], Reply::Nil);
}

/// Checks an HS256 JWT with nothing but HMAC-SHA256 and base64, and returns its claims.
fn verify_jwt_independently(secret: &[u8], token: &str) -> serde_json::Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .expect("signature verifies with the shared secret");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[test]
fn early_arrivals_are_shuffled_ahead_of_everyone_who_comes_after_opening() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let open_at = now_ms() + 800;
    assert!(c
        .call(&[
            "QPOLICY",
            "SET",
            "q:{sale}",
            "a:{sale}",
            "OPENAT",
            &s(open_at)
        ])
        .is_simple("OK"));
    let early: Vec<String> = (0..200).map(|i| format!("early:{i:03}")).collect();
    for u in &early {
        c.call(&["ENTER", "q:{sale}", "a:{sale}", u]);
    }
    std::thread::sleep(Duration::from_millis(
        (open_at - now_ms()).max(0) as u64 + 50,
    ));
    for i in 0..20 {
        assert_eq!(
            c.call(&["ENTER", "q:{sale}", "a:{sale}", &format!("late:{i}")])
                .items()[0]
                .text(),
            "NEW"
        );
    }
    let order = c.call(&["ZRANGE", "q:{sale}", "0", "-1"]).strings();
    let (head, tail) = order.split_at(200);
    assert!(
        head.iter().all(|u| u.starts_with("early:")),
        "every early arrival is ahead of every later one"
    );
    let late: Vec<String> = (0..20).map(|i| format!("late:{i}")).collect();
    assert_eq!(
        tail,
        late.as_slice(),
        "after opening the line is strict FIFO"
    );
    assert_ne!(
        head,
        early.as_slice(),
        "early arrivals are shuffled, not kept in arrival order"
    );
    let unique: HashSet<String> = c
        .call(&["ZRANGE", "q:{sale}", "0", "-1", "WITHSCORES"])
        .strings()
        .chunks(2)
        .map(|p| p[1].clone())
        .collect();
    assert_eq!(unique.len(), 220, "every place has its own exact score");
}

#[test]
fn silent_waiters_are_swept_never_counted_and_never_admitted() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    assert!(c
        .call(&["QPOLICY", "SET", "q:{hb}", "a:{hb}", "HEARTBEAT", "600"])
        .is_simple("OK"));
    for i in 0..10 {
        c.call(&["ENTER", "q:{hb}", "a:{hb}", &format!("u{i}")]);
    }
    // u0..u4 keep polling (a poll is a heartbeat); u5..u9 go silent.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(900) {
        for i in 0..5 {
            assert_eq!(
                c.call(&["QPOS", "q:{hb}", "a:{hb}", &format!("u{i}")])
                    .items()[0]
                    .text(),
                "WAITING"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The silent ones are no longer counted as waiting, and the server sweeps them out.
    assert!(eventually(Duration::from_secs(3), || {
        for i in 0..5 {
            c.call(&["QHEARTBEAT", "q:{hb}", &format!("u{i}")]);
        }
        c.call(&["ZCARD", "q:{hb}"]).int() == 5
    }));
    let pos = c.call(&["QPOS", "q:{hb}", "a:{hb}", "u7"]);
    assert_eq!(pos.items()[0].text(), "NONE");
    assert_eq!(pos.items()[2].int(), 5, "waiting counts only live waiters");
    let admitted = c.call(&["ADMIT", "q:{hb}", "a:{hb}", "10"]);
    assert_eq!(
        admitted.items()[1].strings(),
        vec!["u0", "u1", "u2", "u3", "u4"]
    );
}

#[test]
fn qsweep_drops_stale_users_in_bounded_batches() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    for i in 0..2500 {
        let user = format!("u{i}");
        c.call(&["ZADD", "q:{x}", &s(1000 + i), &user]);
        c.call(&[
            "ZADD",
            "hb:{x}",
            &s(if i % 2 == 0 { 10 } else { 5000 }),
            &user,
        ]);
    }
    let mut removed = 0;
    loop {
        let batch = c
            .call(&["QSWEEP", "hb:{x}", "q:{x}", "100", "LIMIT", "500"])
            .items()
            .len();
        assert!(batch <= 500);
        removed += batch;
        if batch < 500 {
            break;
        }
    }
    assert_eq!(removed, 1250);
    assert_eq!(c.call(&["ZCARD", "q:{x}"]).int(), 1250);
}

#[test]
fn positions_and_estimated_waits_follow_admissions() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let t0 = 1_795_000_000_000i64;
    for i in 0..100 {
        c.call(&["ENTER", "q:{e}", "a:{e}", &format!("u{i}"), "NOW", &s(t0)]);
    }
    assert_eq!(
        c.call(&["QPOS", "q:{e}", "a:{e}", "u99", "NOW", &s(t0)])
            .items(),
        &[
            Reply::bulk("WAITING"),
            Reply::Int(100),
            Reply::Int(100),
            Reply::Int(-1),
            Reply::Int(1000),
            Reply::Nil,
            Reply::bulk("open"),
            Reply::Nil,
            Reply::Int(-1),
        ]
    );
    // 10 users a second for 5 seconds.
    for step in 1..=5 {
        c.call(&["ADMIT", "q:{e}", "a:{e}", "10", "NOW", &s(t0 + step * 1000)]);
    }
    let pos = c.call(&["QPOS", "q:{e}", "a:{e}", "u99", "NOW", &s(t0 + 5000)]);
    assert_eq!(pos.items()[1].int(), 50);
    let eta = pos.items()[3].int();
    assert!(
        (4_000..=6_500).contains(&eta),
        "50 users at ~10/s is ~5 s, got {eta} ms"
    );
    assert_eq!(
        c.call(&["QPOS", "q:{e}", "a:{e}", "u3", "NOW", &s(t0 + 5000)])
            .items()[0]
            .text(),
        "ACTIVE"
    );
    assert_eq!(
        c.call(&["QRENEW", "a:{e}", "u3", "1000", "NOW", &s(t0 + 5000)])
            .int(),
        1
    );
    assert_eq!(c.call(&["QREVOKE", "a:{e}", "u3"]).int(), 1);
    assert_eq!(
        c.call(&["ENTER", "q:{e}", "a:{e}", "u3", "NOW", &s(t0 + 5000)])
            .items()[0]
            .text(),
        "NEW"
    );
    assert_eq!(c.call(&["QLEAVE", "q:{e}", "u3"]).int(), 1);
    assert_eq!(c.call(&["QLEAVE", "q:{e}", "u3"]).int(), 0);
}

#[test]
fn signed_tokens_verify_expire_and_are_single_use_with_consume() {
    let usher = Server::usher(&["--token-secret", "k", "--queue-now-max-skew", "0"]);
    let mut c = usher.client();
    let now = now_ms();
    let token = c
        .call(&["TOKENSIGN", "queue:{evt}", "user:7", "60000"])
        .text();
    let claims = verify_jwt_independently(b"k", &token);
    assert_eq!(
        (claims["sub"].as_str(), claims["aud"].as_str()),
        (Some("user:7"), Some("queue:{evt}"))
    );
    let ok = c.call(&["TOKENVERIFY", &token]);
    assert_eq!(
        ok.items()[..3],
        [
            Reply::Int(1),
            Reply::bulk("user:7"),
            Reply::bulk("queue:{evt}")
        ]
    );
    assert_eq!(
        c.call(&["TOKENVERIFY", &token, "CONSUME"]).items()[0],
        Reply::Int(1)
    );
    assert_eq!(
        c.call(&["TOKENVERIFY", &token, "CONSUME"]).items(),
        &[Reply::Int(0), Reply::bulk("Already consumed")]
    );
    assert_eq!(
        c.call(&["TOKENVERIFY", &token, "NOW", &s(now + 120_000)])
            .items()[1],
        Reply::bulk("Token expired")
    );
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(c.call(&["TOKENVERIFY", &forged]).items()[0], Reply::Int(0));
    assert_eq!(
        c.call(&["TOKENVERIFY", "not-a-token"]).items()[1],
        Reply::bulk("Malformed token")
    );
}

#[test]
fn seatlockall_holds_all_seats_or_none() {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let mut c = usher.client();
    assert_eq!(
        c.call(&["SEATLOCK", "seat:{b}2", "bob", "60"]).items()[0],
        Reply::Int(1)
    );
    let refused = c.call(&[
        "SEATLOCKALL",
        "alice",
        "60",
        "seat:{b}1",
        "seat:{b}2",
        "seat:{b}3",
    ]);
    assert_eq!(refused.items()[0], Reply::Int(0));
    assert_eq!(refused.items()[1].strings(), vec!["seat:{b}2"]);
    assert_eq!(
        c.call(&["EXISTS", "seat:{b}1", "seat:{b}3"]).int(),
        0,
        "nothing held when one seat is taken"
    );
    let held = c.call(&["SEATLOCKALL", "alice", "60", "seat:{b}1", "seat:{b}3"]);
    assert_eq!(held.items()[0], Reply::Int(1));
    let tokens: Vec<i64> = held.items()[1].items().iter().map(Reply::int).collect();
    assert_eq!(tokens, vec![1, 1]);
    let status = map(c.call(&["SEATSTATUS", "seat:{b}1"]));
    assert_eq!(status["status"].text(), "HELD");
    assert_eq!(status["user"].text(), "alice");
    assert_eq!(c.call(&["SEATRELEASE", "seat:{b}1", "alice", "1"]).int(), 1);
    assert_eq!(
        map(c.call(&["SEATSTATUS", "seat:{b}1"]))["status"].text(),
        "FREE"
    );
    assert_eq!(
        c.call(&["SEATLOCK", "seat:{b}1", "carol", "60"]).items()[1],
        Reply::Int(2),
        "tokens keep growing after a release"
    );
    // Seats of different events (no common hash tag) cannot be held together.
    let cross = c.call(&["SEATLOCKALL", "alice", "60", "seat:{b}5", "seat:{c}5"]);
    assert!(cross.err().starts_with("CROSSSLOT"), "{cross:?}");
    assert_eq!(c.call(&["EXISTS", "seat:{b}5", "seat:{c}5"]).int(), 0);
}

/// Many clients on several threads joining, admitting and locking seats at once.
#[test]
fn concurrent_clients_never_break_the_cap_admit_twice_share_a_seat_or_shrink_a_token() {
    let usher = Server::usher(&["--threads", "4", "--shards", "8"]);
    let port = usher.port;
    const CAP: i64 = 300;
    let joiners: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                for i in 0..500 {
                    let r = c.call(&["ENTER", "q:{rush}", "a:{rush}", &format!("t{t}:u{i}")]);
                    assert_ne!(
                        r.items()[0].text(),
                        "WAITING",
                        "a first ENTER is never WAITING"
                    );
                }
            })
        })
        .collect();
    let admitters: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                let mut admitted = Vec::new();
                for _ in 0..200 {
                    let r = c.call(&[
                        "ADMIT",
                        "q:{rush}",
                        "a:{rush}",
                        "7",
                        "MAXACTIVE",
                        &s(CAP),
                        "TTL",
                        "600000",
                    ]);
                    admitted.extend(r.items()[1].strings());
                    let live = c.call(&["ZCARD", "a:{rush}"]).int();
                    assert!(live <= CAP, "active set above the cap: {live}");
                }
                admitted
            })
        })
        .collect();
    let lockers: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                let mut wins = Vec::new();
                let mut last_token: HashMap<String, i64> = HashMap::new();
                for i in 0..400 {
                    let seat = format!("seat:{{rush}}:{}", i % 20);
                    let r = c.call(&["SEATLOCK", &seat, &format!("buyer{t}"), "60"]);
                    if r.items()[0] == Reply::Int(1) {
                        let token = r.items()[1].int();
                        let prev = last_token.insert(seat.clone(), token);
                        assert!(prev.is_none_or(|p| token > p), "tokens only grow");
                        wins.push((seat.clone(), token));
                        if i % 3 == 0 {
                            assert_eq!(
                                c.call(&["SEATRELEASE", &seat, &format!("buyer{t}"), &s(token)])
                                    .int(),
                                1
                            );
                        }
                    }
                }
                wins
            })
        })
        .collect();
    for j in joiners {
        j.join().unwrap();
    }
    let mut everyone = Vec::new();
    for a in admitters {
        everyone.extend(a.join().unwrap());
    }
    let unique: HashSet<&String> = everyone.iter().collect();
    assert_eq!(unique.len(), everyone.len(), "nobody admitted twice");
    assert!(everyone.len() as i64 <= CAP);
    let mut grants: HashMap<(String, i64), usize> = HashMap::new();
    for l in lockers {
        for (seat, token) in l.join().unwrap() {
            *grants.entry((seat, token)).or_default() += 1;
        }
    }
    assert!(
        grants.values().all(|&n| n == 1),
        "one holder per (seat, token)"
    );
    let mut c = usher.client();
    let total = c.call(&["ZCARD", "q:{rush}"]).int() + c.call(&["ZCARD", "a:{rush}"]).int();
    assert_eq!(
        total, 3000,
        "every joiner is waiting or active, exactly once"
    );
    let scores: Vec<String> = c
        .call(&["ZRANGE", "q:{rush}", "0", "-1", "WITHSCORES"])
        .strings()
        .chunks(2)
        .map(|p| p[1].clone())
        .collect();
    let distinct: HashSet<&String> = scores.iter().collect();
    assert_eq!(
        distinct.len(),
        scores.len(),
        "strict FIFO: no two arrivals share a score"
    );
}
