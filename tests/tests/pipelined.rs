//! Pipelined batches answer exactly as the same commands sent one at a time.
//!
//! A read that holds several commands is looked ahead over and its sorted-set member lookups
//! are prefetched before any of them runs (`server/src/warm.rs`), while earlier commands of
//! the same batch still change the sets the later ones read. These tests make sure that
//! warming never shows in a reply: random sorted-set traffic in random-size pipelines against
//! redis-server, and the waiting-room commands pipelined against themselves unpipelined.

use usher_tests::gen::zset::zsets;
use usher_tests::{cmd, diff, gen, Client, Differ, Reply, Server};

/// Small listpack limits, so sets convert to the big encoding (the one warming touches) and
/// back through every path the generator knows.
const SMALL_LIMITS: &[&str] = &["--zset-max-listpack-entries", "16"];

#[test]
fn random_sorted_set_pipelines_match_redis() {
    for (label, usher_args) in [("1 shard", vec![]), ("4 shards", vec!["--threads", "4"])] {
        let mut usher_args: Vec<&str> = usher_args;
        usher_args.extend_from_slice(SMALL_LIMITS);
        let usher = Server::usher(&usher_args);
        let redis = Server::redis(SMALL_LIMITS);
        let seed = diff::seed();
        let mut g = gen::Gen::new(seed);
        let mut d = Differ::new(&usher, &redis);
        let families: Vec<fn(&mut gen::Gen) -> gen::Cmd> = vec![zsets, zsets, zsets, gen::keyspace];
        let seq = g.sequence(diff::ops(6000), &families);
        let mut rest = &seq[..];
        while !rest.is_empty() {
            let n = (g.range(1, 48) as usize).min(rest.len());
            let (batch, tail) = rest.split_at(n);
            if let Err(m) = d.check_pipelined(batch) {
                panic!("{label}: {}", d.report(&m, Some(seed)));
            }
            rest = tail;
        }
    }
}

/// Sends `batch` as one pipeline and reads every reply.
fn pipelined(c: &mut Client, batch: &[Vec<Vec<u8>>]) -> Vec<Reply> {
    let bytes: Vec<u8> = batch.iter().flat_map(|a| Client::encode(a)).collect();
    c.send_raw(&bytes);
    batch.iter().map(|_| c.read().expect("reply")).collect()
}

/// The waiting-room traffic of one event, for queue key `q` and active set `a`.
fn rush(g: &mut gen::Gen, q: &str, a: &str, users: i64, now: i64) -> Vec<Vec<u8>> {
    let user = format!("u{}", g.range(0, users));
    let now = now.to_string();
    match g.range(0, 20) {
        0..=3 => cmd!("ENTER", q, a, user, "NOW", now),
        4..=15 => cmd!("QPOS", q, a, user, "NOW", now),
        16 => cmd!("QLEAVE", q, user),
        17 => cmd!("ADMIT", q, a, "3", "MAXACTIVE", "50", "NOW", now),
        18 => cmd!("ZRANK", q, user),
        _ => cmd!("ZSCORE", q, user),
    }
}

#[test]
fn waiting_room_pipelines_answer_as_single_commands() {
    let usher = Server::usher(&["--queue-now-max-skew", "0"]);
    let (mut piped, mut single) = (usher.client(), usher.client());
    let seed = diff::seed();
    let (mut g1, mut g2) = (gen::Gen::new(seed), gen::Gen::new(seed));
    let users = 3000;
    // Fill both lines past the listpack limit so lookups run on the big encoding.
    let fill = |c: &mut Client, q: &str, a: &str| {
        let batch: Vec<_> = (0..users / 2)
            .map(|i| cmd!("ENTER", q, a, format!("u{i}"), "NOW", "1000"))
            .collect();
        pipelined(c, &batch);
    };
    fill(&mut piped, "q:{p}", "a:{p}");
    fill(&mut single, "q:{s}", "a:{s}");
    let mut now = 2000;
    // Polls answered from deep in a big line: the lookups warming prefetches.
    let mut deep_waiters = 0;
    for round in 0..300 {
        now += 7;
        let n = g1.range(1, 40);
        assert_eq!(n, g2.range(1, 40));
        let p: Vec<_> = (0..n)
            .map(|_| rush(&mut g1, "q:{p}", "a:{p}", users, now))
            .collect();
        let s: Vec<_> = (0..n)
            .map(|_| rush(&mut g2, "q:{s}", "a:{s}", users, now))
            .collect();
        let got = pipelined(&mut piped, &p);
        let want: Vec<Reply> = s.iter().map(|c| single.call(c)).collect();
        deep_waiters += got
            .iter()
            .filter(|r| matches!(r, Reply::Array(v) if v.len() == 9 && v[0] == Reply::bulk("WAITING") && v[1].int() > 128))
            .count();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g,
                w,
                "seed {seed}, round {round}, command {i}: {}",
                diff::render(&p[i])
            );
        }
    }
    assert!(
        deep_waiters > 1000,
        "only {deep_waiters} polls found a deep waiter"
    );
    // The lines ended the same, member for member.
    let range = |c: &mut Client, q: &str| c.call(&["ZRANGE", q, "0", "-1", "WITHSCORES"]);
    assert_eq!(range(&mut piped, "q:{p}"), range(&mut single, "q:{s}"));
}
