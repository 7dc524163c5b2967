//! Pub/sub against usher and redis-server 7.0.15: delivery to subscribers on every worker
//! thread, patterns, unsubscribing, PUBSUB introspection, RESP3 push frames, the RESP2
//! subscriber-mode restriction, and the slow-subscriber cutoff of
//! `client-output-buffer-limit pubsub`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use usher_tests::resp::{Client, Reply};
use usher_tests::Server;

/// A step of a multi-client pub/sub script.
enum Step<'a> {
    /// Send and read one reply.
    Call(usize, &'a [&'a str]),
    /// Send without reading (SUBSCRIBE's replies are read with `Read`).
    Send(usize, &'a [&'a str]),
    /// Read one reply (a confirmation or a message).
    Read(usize),
}
use Step::*;

fn transcript(server: &Server, clients: usize, steps: &[Step]) -> Vec<Reply> {
    let mut c: Vec<Client> = (0..clients).map(|_| server.client()).collect();
    let mut out = Vec::new();
    for step in steps {
        match step {
            Call(i, cmd) => out.push(c[*i].call(cmd)),
            Send(i, cmd) => c[*i].send(cmd),
            Read(i) => out.push(c[*i].read().expect("a reply")),
        }
    }
    out
}

/// The same script must give the same replies on usher and redis-server.
fn same_transcript(clients: usize, steps: &[Step]) -> Vec<Reply> {
    let (usher, redis) = (Server::usher(&["--threads", "4"]), Server::redis(&[]));
    let u = transcript(&usher, clients, steps);
    let r = transcript(&redis, clients, steps);
    assert_eq!(u.len(), r.len());
    for (i, (a, b)) in u.iter().zip(&r).enumerate() {
        assert_eq!(a, b, "reply {i} differs");
    }
    u
}

fn push(parts: &[&str]) -> Reply {
    Reply::Array(
        parts
            .iter()
            .map(|p| match p.parse::<i64>() {
                Ok(n)
                    if p.starts_with(|c: char| c.is_ascii_digit())
                        && parts[0].ends_with("subscribe") =>
                {
                    Reply::Int(n)
                }
                _ => Reply::bulk(p),
            })
            .collect(),
    )
}

#[test]
fn messages_reach_subscribers_on_every_thread_in_order() {
    let server = Server::usher(&["--threads", "4"]);
    let mut subs: Vec<Client> = (0..8).map(|_| server.client()).collect();
    for (i, s) in subs.iter_mut().enumerate() {
        s.send(&["SUBSCRIBE", "news", &format!("own{i}")]);
        assert_eq!(s.read().unwrap(), push(&["subscribe", "news", "1"]));
        assert_eq!(
            s.read().unwrap(),
            push(&["subscribe", &format!("own{i}"), "2"])
        );
    }
    let mut publisher = server.client();
    for m in 0..200 {
        assert_eq!(
            publisher.call(&["PUBLISH", "news", &format!("msg-{m}")]),
            Reply::Int(8)
        );
    }
    for i in 0..8 {
        assert_eq!(
            publisher.call(&["PUBLISH", &format!("own{i}"), "just you"]),
            Reply::Int(1)
        );
    }
    assert_eq!(publisher.call(&["PUBLISH", "nobody", "x"]), Reply::Int(0));
    for (i, s) in subs.iter_mut().enumerate() {
        for m in 0..200 {
            assert_eq!(
                s.read().unwrap(),
                push(&["message", "news", &format!("msg-{m}")])
            );
        }
        assert_eq!(
            s.read().unwrap(),
            push(&["message", &format!("own{i}"), "just you"])
        );
    }
    // Several publishers on different threads at once: every message arrives exactly once.
    let port = server.port;
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            std::thread::spawn(move || {
                let mut c = Client::connect(port).unwrap();
                for m in 0..100 {
                    assert_eq!(
                        c.call(&["PUBLISH", "news", &format!("p{p}-{m}")]),
                        Reply::Int(8)
                    );
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().unwrap();
    }
    for s in &mut subs {
        let mut got: Vec<String> = (0..400)
            .map(|_| s.read().unwrap().items()[2].text())
            .collect();
        // Each publisher's messages keep their order.
        for p in 0..4 {
            let mine: Vec<&String> = got
                .iter()
                .filter(|m| m.starts_with(&format!("p{p}-")))
                .collect();
            let want: Vec<String> = (0..100).map(|m| format!("p{p}-{m}")).collect();
            assert_eq!(mine, want.iter().collect::<Vec<_>>());
        }
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 400);
    }
}

#[test]
fn patterns_and_channels_deliver_like_redis() {
    let replies = same_transcript(
        3,
        &[
            Send(0, &["PSUBSCRIBE", "news.*", "h?llo"]),
            Read(0),
            Read(0),
            Send(1, &["SUBSCRIBE", "news.sports"]),
            Read(1),
            Send(1, &["PSUBSCRIBE", "news.*"]),
            Read(1),
            Call(2, &["PUBLISH", "news.sports", "goal"]),
            Read(0),
            Read(1),
            Read(1),
            Call(2, &["PUBLISH", "hello", "hi"]),
            Read(0),
            Call(2, &["PUBLISH", "news", "no match"]),
            // Subscribing twice keeps one subscription.
            Send(0, &["PSUBSCRIBE", "news.*"]),
            Read(0),
            Call(2, &["PUBLISH", "news.x", "once"]),
            Read(0),
            Read(1),
            Send(0, &["PUNSUBSCRIBE", "news.*", "never-subscribed"]),
            Read(0),
            Read(0),
            Call(2, &["PUBLISH", "news.x", "only 1"]),
            Read(1),
            Call(2, &["PUBLISH", "hallo", "still h?llo"]),
            Read(0),
            Send(0, &["SUBSCRIBE", "binary\r\nchannel"]),
            Read(0),
            Call(2, &["PUBLISH", "binary\r\nchannel", ""]),
            Read(0),
        ],
    );
    assert_eq!(replies[4], Reply::Int(3));
    assert_eq!(
        replies[5],
        push(&["pmessage", "news.*", "news.sports", "goal"])
    );
}

#[test]
fn unsubscribe_without_arguments_leaves_everything() {
    for server in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut c = server.client();
        c.send(&["SUBSCRIBE", "a", "b", "c"]);
        for n in 1..=3 {
            assert_eq!(c.read().unwrap().items()[2], Reply::Int(n));
        }
        c.send(&["PSUBSCRIBE", "p*"]);
        assert_eq!(c.read().unwrap(), push(&["psubscribe", "p*", "4"]));
        c.send(&["UNSUBSCRIBE"]);
        let mut left = BTreeSet::new();
        for n in (1..=3).rev() {
            let r = c.read().unwrap();
            assert_eq!(r.items()[0], Reply::bulk("unsubscribe"));
            // Redis walks its dict: the order is unspecified, the counts are not.
            assert_eq!(r.items()[2], Reply::Int(n), "{:?}", server.kind);
            left.insert(r.items()[1].text());
        }
        assert_eq!(left, ["a", "b", "c"].map(String::from).into());
        // Nothing left to unsubscribe: one reply with a null channel.
        c.send(&["UNSUBSCRIBE"]);
        assert_eq!(
            c.read().unwrap(),
            Reply::Array(vec![Reply::bulk("unsubscribe"), Reply::Nil, Reply::Int(1)])
        );
        c.send(&["PUNSUBSCRIBE"]);
        assert_eq!(c.read().unwrap(), push(&["punsubscribe", "p*", "0"]));
        c.send(&["PUNSUBSCRIBE"]);
        assert_eq!(
            c.read().unwrap(),
            Reply::Array(vec![Reply::bulk("punsubscribe"), Reply::Nil, Reply::Int(0)])
        );
        // Out of subscriber mode: ordinary commands work again.
        assert!(c.call(&["SET", "k", "v"]).is_simple("OK"));
        let mut p = server.client();
        assert_eq!(p.call(&["PUBLISH", "a", "x"]), Reply::Int(0));
    }
}

#[test]
fn pubsub_introspection_matches_redis() {
    let (usher, redis) = (Server::usher(&["--threads", "4"]), Server::redis(&[]));
    let mut results = Vec::new();
    for s in [&usher, &redis] {
        let mut subs: Vec<Client> = (0..3).map(|_| s.client()).collect();
        subs[0].send(&["SUBSCRIBE", "news", "sport"]);
        subs[1].send(&["SUBSCRIBE", "news"]);
        subs[2].send(&["PSUBSCRIBE", "n*", "s*"]);
        subs[1].send(&["PSUBSCRIBE", "n*"]);
        for (i, n) in [(0, 2), (1, 2), (2, 2)] {
            for _ in 0..n {
                subs[i].read().unwrap();
            }
        }
        let mut c = s.client();
        let mut channels = c.call(&["PUBSUB", "CHANNELS"]).strings();
        channels.sort();
        let mut matching = c.call(&["PUBSUB", "CHANNELS", "n*"]).strings();
        matching.sort();
        results.push(vec![
            Reply::Array(channels.iter().map(|c| Reply::bulk(c)).collect()),
            Reply::Array(matching.iter().map(|c| Reply::bulk(c)).collect()),
            c.call(&["PUBSUB", "NUMSUB", "news", "sport", "none"]),
            c.call(&["PUBSUB", "NUMSUB"]),
            c.call(&["PUBSUB", "NUMPAT"]),
            c.call(&["PUBSUB", "CHANNELS", "a", "b"]),
            c.call(&["PUBSUB", "NUMPAT", "x"]),
            c.call(&["PUBSUB", "NOSUCH"]),
            c.call(&["PUBSUB"]),
            c.call(&["PUBLISH", "news", "x"]),
            c.call(&["PUBLISH", "news"]),
        ]);
        // A subscriber going away is forgotten: its channels and then its patterns (a closing
        // connection leaves them one after the other, so wait for both).
        drop(subs);
        let deadline = Instant::now() + Duration::from_secs(5);
        while c.call(&["PUBSUB", "NUMSUB", "news"]).items()[1] != Reply::Int(0)
            || c.call(&["PUBSUB", "NUMPAT"]) != Reply::Int(0)
        {
            assert!(
                Instant::now() < deadline,
                "closed subscribers still counted"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0][4], Reply::Int(2));
}

#[test]
fn resp3_subscribers_get_push_frames_and_may_run_any_command() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    let mut transcripts = Vec::new();
    for s in [&usher, &redis] {
        let mut sub = s.client();
        assert!(matches!(sub.call(&["HELLO", "3"]), Reply::Map(_)));
        let mut t = vec![sub.call(&["SUBSCRIBE", "ch"])];
        t.push(sub.call(&["PSUBSCRIBE", "c*"]));
        // In RESP3 a subscriber is not restricted.
        t.push(sub.call(&["SET", "k", "v"]));
        t.push(sub.call(&["GET", "k"]));
        t.push(sub.call(&["PING"]));
        let mut p = s.client();
        t.push(p.call(&["PUBLISH", "ch", "hello"]));
        t.push(sub.read().unwrap());
        t.push(sub.read().unwrap());
        t.push(sub.call(&["UNSUBSCRIBE", "ch"]));
        t.push(sub.call(&["PUNSUBSCRIBE"]));
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
    let t = &transcripts[0];
    assert_eq!(
        t[0],
        Reply::Push(vec![
            Reply::bulk("subscribe"),
            Reply::bulk("ch"),
            Reply::Int(1)
        ])
    );
    assert_eq!(t[3], Reply::bulk("v"));
    assert_eq!(
        t[6],
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("ch"),
            Reply::bulk("hello")
        ])
    );
}

#[test]
fn resp2_subscribers_may_only_run_subscriber_commands_like_redis() {
    let steps = [
        Send(0, &["SUBSCRIBE", "ch"]),
        Read(0),
        Call(0, &["GET", "k"]),
        Call(0, &["SET", "k", "v"]),
        Call(0, &["CLIENT", "ID"]),
        Call(0, &["NOSUCH"]),
        Call(0, &["PING"]),
        Call(0, &["PING", "hi"]),
        Call(0, &["PUBLISH", "ch", "self"]),
        Send(0, &["SUBSCRIBE", "other"]),
        Read(0),
        Call(1, &["PUBLISH", "ch", "from 1"]),
        Read(0),
        Call(0, &["RESET"]),
        Call(0, &["GET", "k"]),
        Send(0, &["PSUBSCRIBE", "x*"]),
        Read(0),
        Call(0, &["ECHO", "no"]),
        Call(0, &["QUIT"]),
    ];
    let replies = same_transcript(2, &steps);
    assert_eq!(
        replies[1],
        Reply::Error("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context".into())
    );
    assert_eq!(
        replies[5],
        Reply::Array(vec![Reply::bulk("pong"), Reply::bulk("")])
    );
}

fn used_memory(c: &mut Client) -> u64 {
    let text = c.call(&["INFO", "memory"]).text();
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

#[test]
fn a_subscriber_that_never_reads_is_cut_off_and_memory_stays_bounded() {
    for server in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut admin = server.client();
        assert!(admin
            .call(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1mb 256kb 1"
            ])
            .is_simple("OK"));
        let baseline = used_memory(&mut admin);
        let mut slow = server.client();
        slow.send(&["SUBSCRIBE", "flood"]);
        slow.read().unwrap();
        let mut healthy = server.client();
        healthy.send(&["SUBSCRIBE", "other"]);
        healthy.read().unwrap();
        // Flood with 16 KiB messages, pipelined, until the slow subscriber is dropped (at most
        // 200 MB: far beyond what socket buffers can absorb).
        let mut publisher = server.client();
        let payload = "x".repeat(16 * 1024);
        let batch: Vec<u8> = (0..64)
            .flat_map(|_| Client::encode(&["PUBLISH", "flood", &payload]))
            .collect();
        let mut cut_off = false;
        let mut peak = baseline;
        for _ in 0..200 {
            publisher.send_raw(&batch);
            let receivers: Vec<i64> = (0..64).map(|_| publisher.read().unwrap().int()).collect();
            peak = peak.max(used_memory(&mut admin));
            if receivers.last() == Some(&0) {
                cut_off = true;
                break;
            }
        }
        assert!(
            cut_off,
            "{:?} kept a subscriber that never reads",
            server.kind
        );
        assert_eq!(
            admin.call(&["PUBSUB", "NUMSUB", "flood"]).items()[1],
            Reply::Int(0)
        );
        // Memory never grew far past the 1 MB hard limit (plus socket and allocator slack).
        assert!(
            peak < baseline + 48 * 1024 * 1024,
            "{:?}: used_memory peaked at {peak} from {baseline}",
            server.kind
        );
        // The slow client's connection is closed; everyone else is served.
        slow.set_timeout(Duration::from_secs(10));
        assert!(slow.closes());
        assert_eq!(
            publisher.call(&["PUBLISH", "other", "still here"]),
            Reply::Int(1)
        );
        assert_eq!(
            healthy.read().unwrap(),
            push(&["message", "other", "still here"])
        );
        assert!(admin.call(&["PING"]).is_simple("PONG"));
        if server.kind == usher_tests::server::Kind::Usher {
            assert!(
                server.log_shows(
                    "closed for overcoming of output buffer limits",
                    Duration::from_secs(5)
                ),
                "{}",
                server.log()
            );
        }
    }
}

#[test]
fn a_subscriber_over_the_soft_limit_for_its_seconds_is_cut_off() {
    for server in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut admin = server.client();
        // No hard limit: only the soft one (256 KiB for 2 s) applies.
        assert!(admin
            .call(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 0 256kb 2"
            ])
            .is_simple("OK"));
        let mut slow = server.client();
        slow.send(&["SUBSCRIBE", "soft"]);
        slow.read().unwrap();
        let mut publisher = server.client();
        let payload = "y".repeat(16 * 1024);
        let batch: Vec<u8> = (0..64)
            .flat_map(|_| Client::encode(&["PUBLISH", "soft", &payload]))
            .collect();
        // 24 MB at once: far past the socket buffers, so the backlog sits over the soft limit.
        for _ in 0..24 {
            publisher.send_raw(&batch);
            for _ in 0..64 {
                assert_eq!(
                    publisher.read().unwrap(),
                    Reply::Int(1),
                    "{:?}",
                    server.kind
                );
            }
        }
        // Over the soft limit for less than its two seconds: still subscribed.
        assert_eq!(
            admin.call(&["PUBSUB", "NUMSUB", "soft"]).items()[1],
            Reply::Int(1),
            "{:?} cut off before soft_seconds",
            server.kind
        );
        std::thread::sleep(Duration::from_millis(2300));
        // The next message finds it over the limit for more than two seconds.
        publisher.call(&["PUBLISH", "soft", "one more"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while admin.call(&["PUBSUB", "NUMSUB", "soft"]).items()[1] != Reply::Int(0) {
            assert!(
                Instant::now() < deadline,
                "{:?} kept a subscriber over its soft limit",
                server.kind
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        slow.set_timeout(Duration::from_secs(10));
        assert!(slow.closes());
    }
}

/// Redis 7.0's sharded pub/sub: its own namespace (a PUBLISH does not reach a shard
/// subscriber), `smessage` pushes, counts of shard subscriptions only, and PUBSUB
/// SHARDCHANNELS / SHARDNUMSUB, compared with redis-server on both protocols.
#[test]
fn sharded_pubsub_matches_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    for proto in ["2", "3"] {
        let mut got = Vec::new();
        for server in [&usher, &redis] {
            let (mut sub, mut publisher) = (server.client(), server.client());
            let mut seen: Vec<Reply> = Vec::new();
            sub.call(&["HELLO", proto]);
            sub.send(&["SUBSCRIBE", "a"]);
            sub.send(&["SSUBSCRIBE", "b", "c"]);
            for _ in 0..3 {
                seen.push(sub.read().unwrap());
            }
            seen.push(publisher.call(&["SPUBLISH", "b", "hi"]));
            seen.push(publisher.call(&["PUBLISH", "b", "not for shard subscribers"]));
            seen.push(publisher.call(&["SPUBLISH", "nobody", "x"]));
            seen.push(sub.read().unwrap());
            let mut all = publisher.call(&["PUBSUB", "SHARDCHANNELS"]).strings();
            all.sort();
            seen.push(Reply::Array(all.iter().map(|c| Reply::bulk(c)).collect()));
            seen.push(publisher.call(&["PUBSUB", "SHARDCHANNELS", "b*"]));
            seen.push(publisher.call(&["PUBSUB", "SHARDNUMSUB", "b", "c", "z"]));
            seen.push(publisher.call(&["PUBSUB", "CHANNELS"]));
            seen.push(publisher.call(&["PUBSUB", "HELP"]));
            seen.push(publisher.call(&["PUBSUB", "SHARDCHANNELS", "a", "b"]));
            // One left for the argument-less form: Redis's order over several is its dict's.
            sub.send(&["SUNSUBSCRIBE", "x", "b"]);
            sub.send(&["SUNSUBSCRIBE"]);
            sub.send(&["SUNSUBSCRIBE"]);
            sub.send(&["UNSUBSCRIBE"]);
            for _ in 0..5 {
                seen.push(sub.read().unwrap());
            }
            seen.push(sub.call(&["PING"]));
            got.push(seen);
        }
        assert_eq!(got[0], got[1], "RESP{proto}");
    }
}
