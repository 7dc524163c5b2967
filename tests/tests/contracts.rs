//! The waiting-room contracts: each native command against its seed script, run through
//! `EVALSHA` on redis-server 7.0.15, over the same random workload. Replies must be identical
//! and so must every resulting key (type, members, scores, TTL).
//!
//! - `ADMIT queue active count MAXACTIVE m TTL t NOW n` ≡ `admission_zpopmin.lua`
//! - `ENTER queue active user NOW n` ≡ `enter_native.lua`
//! - `QSWEEP heartbeats queue max LIMIT k` ≡ `cleanup_stale.lua`
//! - `SEATLOCK seat user ttl` ≡ `seat_lock_with_token.lua` (for ttl > 0)
//! - `SEATCONFIRM seat user token KEEPTTL` ≡ `payment_verify.lua`
//!
//! Where the native command deliberately differs (keys in two slots, a hold TTL ≤ 0, a line
//! that empties within a millisecond), the test checks the native behaviour instead and that
//! it changed nothing. usher runs with `--queue-now-max-skew 0`: the workloads use their own
//! clock, far from the server's.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use usher_tests::{diff, Client, Reply, Server};

fn script(name: &str) -> String {
    std::fs::read_to_string(format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("seed script")
}

/// One usher and one redis-server, kept in step.
struct Pair {
    usher: Client,
    redis: Client,
    log: Vec<String>,
    seed: u64,
}

impl Pair {
    fn new(usher: &Server, redis: &Server, seed: u64) -> Pair {
        let mut p = Pair {
            usher: usher.client(),
            redis: redis.client(),
            log: Vec::new(),
            seed,
        };
        p.both(&["FLUSHALL"]);
        p
    }

    fn fail(&self, what: String) -> ! {
        let start = self.log.len().saturating_sub(30);
        panic!(
            "{what}\n(seed {}; rerun with USHER_DIFF_SEED={})\nlast commands:\n  {}",
            self.seed,
            self.seed,
            self.log[start..].join("\n  ")
        );
    }

    fn load(&mut self, name: &str) -> String {
        self.redis.call(&["SCRIPT", "LOAD", &script(name)]).text()
    }

    fn both(&mut self, args: &[&str]) -> Reply {
        self.log.push(args.join(" "));
        let (u, r) = (self.usher.call(args), self.redis.call(args));
        if u != r {
            self.fail(format!(
                "setup command differs: {args:?}\n usher: {u:?}\n redis: {r:?}"
            ));
        }
        r
    }

    /// Runs the native form on usher and the script on redis; replies must match.
    fn contract(&mut self, native: &[String], script: &[String]) -> Reply {
        self.log.push(format!(
            "usher: {} | redis: {}",
            native.join(" "),
            script.join(" ")
        ));
        let (u, r) = (self.usher.call(native), self.redis.call(script));
        if u != r {
            self.fail(format!("reply differs\n usher: {u:?}\n redis: {r:?}"));
        }
        u
    }

    /// Every key must hold the same value on both servers.
    fn same_keys(&mut self, keys: &[&str]) {
        for key in keys {
            let (tu, tr) = (
                self.usher.call(&["TYPE", key]),
                self.redis.call(&["TYPE", key]),
            );
            if tu != tr {
                self.fail(format!("TYPE {key}: usher {tu:?}, redis {tr:?}"));
            }
            let read: Vec<&str> = match tr.text().as_str() {
                "zset" => vec!["ZRANGE", key, "0", "-1", "WITHSCORES"],
                "hash" => vec!["HGETALL", key],
                "string" => vec!["GET", key],
                _ => continue,
            };
            let (u, r) = (self.usher.call(&read), self.redis.call(&read));
            let (u, r) = if tr.text() == "hash" {
                (sorted_pairs(u), sorted_pairs(r))
            } else {
                (u, r)
            };
            let u = clock_tolerant(u, &r);
            if u != r {
                self.fail(format!("{key} differs\n usher: {u:?}\n redis: {r:?}"));
            }
            let (pu, pr) = (
                self.usher.call(&["PTTL", key]).int(),
                self.redis.call(&["PTTL", key]).int(),
            );
            if (pu < 0 || pr < 0) && pu != pr || (pu - pr).abs() > 2000 {
                self.fail(format!("PTTL {key}: usher {pu}, redis {pr}"));
            }
        }
    }
}

fn sorted_pairs(r: Reply) -> Reply {
    let mut pairs: Vec<(Reply, Reply)> = r
        .items()
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    pairs.sort_by_key(|(k, _)| format!("{k:?}"));
    Reply::Array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())
}

/// Both servers stamp `heldAt` from their own clock: a value one second apart is the same.
fn clock_tolerant(usher: Reply, redis: &Reply) -> Reply {
    let (Reply::Array(u), Reply::Array(r)) = (&usher, redis) else {
        return usher;
    };
    if u.len() != r.len() {
        return usher;
    }
    let mut out = u.clone();
    for i in (0..u.len().saturating_sub(1)).step_by(2) {
        if u[i] == Reply::bulk("heldAt") && r[i] == u[i] {
            let (a, b) = (
                u[i + 1].text().parse::<i64>(),
                r[i + 1].text().parse::<i64>(),
            );
            if let (Ok(a), Ok(b)) = (a, b) {
                if (a - b).abs() <= 1 {
                    out[i + 1] = r[i + 1].clone();
                }
            }
        }
    }
    Reply::Array(out)
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

/// usher for the contracts: the workloads' `NOW` is their own clock.
fn usher(extra: &[&str]) -> Server {
    let mut args = vec!["--queue-now-max-skew", "0"];
    args.extend_from_slice(extra);
    Server::usher(&args)
}

/// A native command that must fail with `code` and leave `keys` as they were.
fn refused_unchanged(c: &mut Client, args: &[String], code: &str, keys: &[&str]) {
    // Type, value and whether there is a TTL (its exact ms tick on).
    let dump = |c: &mut Client| -> Vec<Reply> {
        let mut d = Vec::new();
        for k in keys {
            let t = c.call(&["TYPE", k]);
            let read: Vec<&str> = match t.text().as_str() {
                "zset" => vec!["ZRANGE", k, "0", "-1", "WITHSCORES"],
                "hash" => vec!["HGETALL", k],
                "string" => vec!["GET", k],
                _ => vec!["EXISTS", k],
            };
            let value = c.call(&read);
            let ttl = Reply::Int(c.call(&["PTTL", k]).int().max(0).signum());
            d.extend([t, value, ttl]);
        }
        d
    };
    let before = dump(c);
    let r = c.call(args);
    assert!(
        r.is_error() && r.err().starts_with(code),
        "{args:?}: expected {code}, got {r:?}"
    );
    assert_eq!(dump(c), before, "{args:?} changed something");
}

/// ADMIT ≡ admission_zpopmin.lua, with queue and active on different shards (no hash tag) and
/// on one (a shared tag).
#[test]
fn admit_matches_the_admission_script() {
    for (queue, active) in [("queue:{evt}", "active:{evt}"), ("q:{a}b", "{a}:active")] {
        let usher = usher(&["--shards", "4", "--threads", "2"]);
        let redis = Server::redis(&[]);
        let seed = diff::seed();
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut p = Pair::new(&usher, &redis, seed);
        let sha = p.load("admission_zpopmin.lua");
        let mut now: i64 = 1_795_000_000_000;
        let mut next_user = 0;
        for _ in 0..diff::ops(3000) {
            match rng.random_range(0..10) {
                0..=5 => {
                    let user = if rng.random_range(0..4) == 0 && next_user > 0 {
                        rng.random_range(0..next_user)
                    } else {
                        next_user += 1;
                        next_user
                    };
                    let score = s(now + rng.random_range(0..50));
                    p.both(&["ZADD", queue, "NX", &score, &format!("user:{user}")]);
                }
                _ => {
                    now += rng.random_range(0..4000);
                    let count = rng.random_range(0..25);
                    let ttl = rng.random_range(1000..20_000);
                    let cap = (rng.random_range(0..3) > 0).then(|| rng.random_range(0..40));
                    let mut native = vec![s("ADMIT"), s(queue), s(active), s(count)];
                    if let Some(cap) = cap {
                        native.extend([s("MAXACTIVE"), s(cap)]);
                    }
                    native.extend([s("TTL"), s(ttl), s("NOW"), s(now)]);
                    let no_cap = "1000000000000000";
                    let script = vec![
                        s("EVALSHA"),
                        sha.clone(),
                        s(2),
                        s(queue),
                        s(active),
                        s(count),
                        s(now),
                        s(ttl),
                        cap.map_or(s(no_cap), s),
                    ];
                    p.contract(&native, &script);
                    p.same_keys(&[queue, active]);
                }
            }
        }
    }
}

/// ENTER ≡ enter_native.lua, interleaved with admissions so that ACTIVE, expired-session and
/// same-millisecond paths all run.
#[test]
fn enter_matches_its_script_including_same_millisecond_arrivals() {
    let usher = usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut p = Pair::new(&usher, &redis, seed);
    let enter_sha = p.load("enter_native.lua");
    let admit_sha = p.load("admission_zpopmin.lua");
    let (queue, active) = ("queue:{concert}", "active:{concert}");
    let mut now: i64 = 1_795_000_000_000;
    for _ in 0..diff::ops(4000) {
        // Many arrivals share a millisecond: the sub-millisecond slots must order them.
        if rng.random_range(0..8) == 0 {
            now += rng.random_range(0..300);
        }
        if rng.random_range(0..10) < 8 {
            let user = format!("user:{}", rng.random_range(0..400));
            // usher keeps arrival scores growing after the line empties (the script restarts
            // them at `now`): step the clock past an emptied line so both agree.
            if p.both(&["ZCARD", queue]).int() == 0 {
                now += 1;
            }
            let native = vec![
                s("ENTER"),
                s(queue),
                s(active),
                user.clone(),
                s("NOW"),
                s(now),
            ];
            let script = vec![
                s("EVALSHA"),
                enter_sha.clone(),
                s(2),
                s(queue),
                s(active),
                user,
                s(now),
            ];
            p.contract(&native, &script);
        } else {
            let (count, ttl) = (rng.random_range(0..10), rng.random_range(100..3000));
            let native = vec![
                s("ADMIT"),
                s(queue),
                s(active),
                s(count),
                s("MAXACTIVE"),
                s(50),
                s("TTL"),
                s(ttl),
                s("NOW"),
                s(now),
            ];
            let script = vec![
                s("EVALSHA"),
                admit_sha.clone(),
                s(2),
                s(queue),
                s(active),
                s(count),
                s(now),
                s(ttl),
                s(50),
            ];
            p.contract(&native, &script);
        }
        if rng.random_range(0..20) == 0 {
            p.same_keys(&[queue, active]);
        }
    }
    p.same_keys(&[queue, active]);
}

/// QSWEEP ≡ cleanup_stale.lua.
#[test]
fn qsweep_matches_the_cleanup_script() {
    let usher = usher(&[]);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut p = Pair::new(&usher, &redis, seed);
    let sha = p.load("cleanup_stale.lua");
    let (hb, queue) = ("queue_heartbeat:{evt}", "queue:{evt}");
    let mut now: i64 = 1_795_000_000_000;
    for _ in 0..diff::ops(3000) {
        now += rng.random_range(0..200);
        let user = format!("user:{}", rng.random_range(0..300));
        match rng.random_range(0..10) {
            0..=3 => {
                p.both(&["ZADD", queue, "NX", &s(now), &user]);
                p.both(&["ZADD", hb, &s(now), &user]);
            }
            4..=7 => {
                p.both(&["ZADD", hb, "XX", &s(now), &user]);
            }
            _ => {
                let max = s(now - rng.random_range(0..5000));
                let limit = rng.random_range(1..40);
                let native = vec![
                    s("QSWEEP"),
                    s(hb),
                    s(queue),
                    max.clone(),
                    s("LIMIT"),
                    s(limit),
                ];
                let script = vec![
                    s("EVALSHA"),
                    sha.clone(),
                    s(2),
                    s(hb),
                    s(queue),
                    max,
                    s(limit),
                ];
                p.contract(&native, &script);
                p.same_keys(&[hb, queue]);
            }
        }
    }
}

/// SEATLOCK ≡ seat_lock_with_token.lua and SEATCONFIRM ≡ payment_verify.lua, over seats that
/// are locked, confirmed with right and wrong tokens (including numerically equal spellings),
/// released and re-locked, so fencing tokens keep growing.
#[test]
fn seat_commands_match_the_fencing_token_scripts() {
    let usher = usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut p = Pair::new(&usher, &redis, seed);
    let lock = p.load("seat_lock_with_token.lua");
    let confirm = p.load("payment_verify.lua");
    let seats: Vec<String> = (0..6).map(|i| format!("seat:{{concert}}:A{i}")).collect();
    // A seat without a hash tag has its counter in another slot: refused, nothing held.
    refused_unchanged(
        &mut p.usher,
        &[s("SEATLOCK"), s("seat:B1"), s("u"), s(60)],
        "CROSSSLOT",
        &["seat:B1", "seat:B1:token"],
    );
    // An empty tag is no tag (keyHashSlot hashes the whole key).
    refused_unchanged(
        &mut p.usher,
        &[s("SEATLOCK"), s("seat:{}B2"), s("u"), s(60)],
        "CROSSSLOT",
        &["seat:{}B2", "seat:{}B2:token"],
    );
    // Its other commands take untagged seats (they have no counter to reach), as the scripts do.
    assert_eq!(p.usher.call(&["SEATCONFIRM", "seat:B1", "u", "1"]).int(), 0);
    for _ in 0..diff::ops(3000) {
        let seat = seats[rng.random_range(0..seats.len())].clone();
        let user = format!("user:{}", rng.random_range(0..5));
        match rng.random_range(0..10) {
            0..=4 => {
                if rng.random_range(0..20) == 0 {
                    // The script reports a hold it deletes at once; usher refuses the TTL.
                    let ttl = s(-rng.random_range(0..3));
                    let native = vec![s("SEATLOCK"), seat.clone(), user, ttl];
                    let token_key = format!("{seat}:token");
                    refused_unchanged(
                        &mut p.usher,
                        &native,
                        "ERR invalid expire time",
                        &[&seat, &token_key],
                    );
                } else {
                    let ttl = s(rng.random_range(1..600));
                    let native = vec![s("SEATLOCK"), seat.clone(), user.clone(), ttl.clone()];
                    let script = vec![s("EVALSHA"), lock.clone(), s(1), seat.clone(), user, ttl];
                    p.contract(&native, &script);
                }
            }
            5..=7 => {
                let current = p.redis.call(&["HGET", &seat, "token"]);
                let token = match (rng.random_range(0..6), &current) {
                    (0, _) => s("abc"),
                    (1, _) => s(rng.random_range(0..20)),
                    (2, Reply::Bulk(t)) => format!("{}.0", String::from_utf8_lossy(t)),
                    (3, Reply::Bulk(t)) => format!(" {} ", String::from_utf8_lossy(t)),
                    (_, Reply::Bulk(t)) => String::from_utf8_lossy(t).into_owned(),
                    _ => s(1),
                };
                let holder = match p.redis.call(&["HGET", &seat, "userId"]) {
                    Reply::Bulk(u) if rng.random_range(0..4) > 0 => {
                        String::from_utf8_lossy(&u).into_owned()
                    }
                    _ => user,
                };
                let native = vec![
                    s("SEATCONFIRM"),
                    seat.clone(),
                    holder.clone(),
                    token.clone(),
                    s("KEEPTTL"),
                ];
                let script = vec![
                    s("EVALSHA"),
                    confirm.clone(),
                    s(1),
                    seat.clone(),
                    holder,
                    token,
                ];
                p.contract(&native, &script);
            }
            8 => {
                // A hold that expired (or was released): the seat is free, the counter stays.
                p.both(&["DEL", &seat]);
            }
            _ => {
                p.both(&["HSET", &seat, "price", "120"]);
            }
        }
        let token_key = format!("{seat}:token");
        p.same_keys(&[&seat, &token_key]);
    }
}

/// TOKENCONSUME ≡ consume_token.lua: found once, then already consumed; missing tokens.
#[test]
fn tokenconsume_matches_the_consume_script() {
    let usher = usher(&[]);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut p = Pair::new(&usher, &redis, seed);
    let sha = p.load("consume_token.lua");
    for _ in 0..diff::ops(2000) {
        let key = format!("token:{{evt}}:{}", rng.random_range(0..30));
        match rng.random_range(0..10) {
            0..=2 => {
                p.both(&["HSET", &key, "userId", "u1", "issuedAt", "1000"]);
            }
            3 => {
                p.both(&["DEL", &key]);
            }
            _ => {
                let now = s(1_795_000_000_000i64 + rng.random_range(0..100_000));
                let native = vec![s("TOKENCONSUME"), key.clone(), s("NOW"), now.clone()];
                let script = vec![s("EVALSHA"), sha.clone(), s(1), key.clone(), now];
                p.contract(&native, &script);
            }
        }
        p.same_keys(&[&key]);
    }
}
