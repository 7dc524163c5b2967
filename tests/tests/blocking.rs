//! Blocking commands end to end (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
//! BZMPOP): several clients on different worker threads, against usher (`--threads 4
//! --shards 8`) and redis-server 7.0.15.
//!
//! Most tests are scripted multi-connection differentials ([`Step`]): the same steps run on
//! both servers and every connection's replies are compared; the replies that matter are also
//! checked against the value Redis gives ([`Expect::Is`]), so a test reads as a specification.
//! Connections are accepted round-robin over the worker threads, so a scenario's connections
//! 0..=3, opened one after another, live on four different threads. Each waiter is known to be
//! registered before the next one blocks: [`Step::Blocked`] polls `INFO clients` until the
//! expected number of clients is blocked, so the order of service is determined.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use usher_tests::resp::{Client, Reply};
use usher_tests::Server;

const USHER_ARGS: &[&str] = &["--threads", "4", "--shards", "8"];
/// A reply that has not come within this long is a hang (a lost wake-up).
const REPLY_WAIT_MAX: Duration = Duration::from_secs(5);

fn usher() -> Server {
    Server::usher(USHER_ARGS)
}

/// `blocked_clients` from `INFO clients`.
fn blocked_clients(c: &mut Client) -> usize {
    let info = c.call(&["INFO", "clients"]).text();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no blocked_clients in {info:?}"))
}

/// Waits until exactly `n` clients are blocked: the event that orders waiters.
fn wait_blocked(c: &mut Client, n: usize) {
    let deadline = Instant::now() + REPLY_WAIT_MAX;
    loop {
        let now = blocked_clients(c);
        if now == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} blocked clients, INFO says {now}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Redis's key slot: CRC16/XMODEM of the hash tag (or the whole key) mod 16384. usher puts
/// slot `s` on shard `s % shards` (`Store::new`), so this picks keys on different shards.
fn key_slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let len = key[open + 1..].iter().position(|&b| b == b'}')?;
        (len > 0).then(|| &key[open + 1..open + 1 + len])
    });
    usher_tests::crc16(tagged.unwrap_or(key)) & 0x3FFF
}

fn shard_of(key: &str) -> u16 {
    key_slot(key.as_bytes()) % 8
}

/// What a step's reply must be.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The same on both servers.
    Same,
    /// The same on both servers, and printed (`Reply`'s Debug) exactly as given.
    Is(&'static str),
    /// Not compared (HELLO's server description, CLIENT ID).
    Ignore,
}

/// One step of a multi-connection script. Commands are space-separated words; `$ID<n>` is
/// replaced by connection n's client id on the server being run.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Sends without reading: a command that blocks, or a `|`-separated pipeline in one write.
    Start(usize, &'static str),
    /// Sends one command and reads its reply.
    Call(usize, &'static str, Expect),
    /// Reads the next reply of a connection that was sent commands earlier.
    Read(usize, Expect),
    /// Waits until exactly n clients are blocked.
    Blocked(usize),
    /// Closes a connection (with whatever it is blocked in).
    Close(usize),
}

use Expect::{Ignore, Is, Same};
use Step::{Blocked, Call, Close, Read, Start};

fn words(cmd: &str, ids: &[i64]) -> Vec<String> {
    cmd.split_whitespace()
        .map(|w| match w.strip_prefix("$ID") {
            Some(n) => ids[n.parse::<usize>().unwrap()].to_string(),
            None => w.to_string(),
        })
        .collect()
}

fn conn(conns: &mut [Option<Client>], i: usize) -> &mut Client {
    conns[i].as_mut().expect("connection closed")
}

/// Runs `steps` on `server` with `n` fresh connections; returns the reply of each step (None
/// for steps without one).
fn transcript(server: &Server, n: usize, steps: &[Step]) -> Vec<Option<Reply>> {
    let mut ctl = server.client();
    wait_blocked(&mut ctl, 0);
    ctl.call(&["FLUSHALL"]);
    let mut conns: Vec<Option<Client>> = (0..n).map(|_| Some(server.client())).collect();
    let ids: Vec<i64> = conns
        .iter_mut()
        .map(|c| {
            let c = c.as_mut().unwrap();
            c.set_timeout(REPLY_WAIT_MAX);
            c.call(&["CLIENT", "ID"]).int()
        })
        .collect();
    let mut replies = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let reply = match *step {
            Start(c, cmds) => {
                let bytes: Vec<u8> = cmds
                    .split('|')
                    .flat_map(|cmd| Client::encode(&words(cmd, &ids)))
                    .collect();
                conn(&mut conns, c).send_raw(&bytes);
                None
            }
            Call(c, _, _) | Read(c, _) => {
                if let Call(_, cmd, _) = step {
                    conn(&mut conns, c).send(&words(cmd, &ids));
                }
                Some(conn(&mut conns, c).read().unwrap_or_else(|e| {
                    panic!(
                        "{:?}: step {i} {step:?}: no reply ({e}); replies so far: {replies:?}",
                        server.kind
                    )
                }))
            }
            Blocked(n) => {
                wait_blocked(&mut ctl, n);
                None
            }
            Close(c) => {
                conns[c] = None;
                None
            }
        };
        replies.push(reply);
    }
    replies
}

/// Runs the script on usher and on redis-server; every reply must match, and match its
/// expectation.
fn same_on_both(usher: &Server, redis: &Server, n: usize, steps: &[Step]) {
    let u = transcript(usher, n, steps);
    let r = transcript(redis, n, steps);
    let render = |replies: &[Option<Reply>]| {
        steps
            .iter()
            .zip(replies)
            .map(|(s, r)| format!("    {s:?} -> {r:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (i, step) in steps.iter().enumerate() {
        let expect = match step {
            Call(_, _, e) | Read(_, e) => *e,
            _ => continue,
        };
        let (a, b) = (u[i].as_ref().unwrap(), r[i].as_ref().unwrap());
        let wrong = match expect {
            Ignore => continue,
            Same => a != b,
            Is(text) => a != b || format!("{a:?}") != text || format!("{b:?}") != text,
        };
        assert!(
            !wrong,
            "step {i} {step:?}: usher {a:?}, redis {b:?}\n  usher:\n{}\n  redis:\n{}",
            render(&u),
            render(&r)
        );
    }
}

fn pair() -> (Server, Server) {
    (usher(), Server::redis(&[]))
}

// ---------------------------------------------------------------------------------------------
// Order of service

#[test]
fn clients_blocked_on_one_list_on_different_threads_are_served_first_come_first_served() {
    let (u, r) = pair();
    // Three waiters on three threads, the pusher on a fourth. Each pops from its own end.
    same_on_both(
        &u,
        &r,
        4,
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Start(1, "BRPOP l 0"),
            Blocked(2),
            Start(2, "BLPOP l 0"),
            Blocked(3),
            Call(3, "RPUSH l a b c d", Is(":4")),
            Read(0, Is(r#"["l", "a"]"#)),
            Read(1, Is(r#"["l", "d"]"#)),
            Read(2, Is(r#"["l", "b"]"#)),
            Blocked(0),
            Call(3, "LRANGE l 0 -1", Is(r#"["c"]"#)),
        ],
    );
    // Waiters on several keys are queued on each: the order on `l` is still arrival order.
    same_on_both(
        &u,
        &r,
        4,
        &[
            Start(0, "BLPOP a l 0"),
            Blocked(1),
            Start(1, "BLPOP l 0"),
            Blocked(2),
            Start(2, "BLPOP b l a 0"),
            Blocked(3),
            Call(3, "RPUSH l x y z", Is(":3")),
            Read(0, Is(r#"["l", "x"]"#)),
            Read(1, Is(r#"["l", "y"]"#)),
            Read(2, Is(r#"["l", "z"]"#)),
            Call(3, "EXISTS l", Is(":0")),
        ],
    );
}

#[test]
fn clients_blocked_on_one_sorted_set_on_different_threads_are_served_first_come_first_served() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        4,
        &[
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Start(1, "BZPOPMAX z 0"),
            Blocked(2),
            Start(2, "BZPOPMIN z 0"),
            Blocked(3),
            Call(3, "ZADD z 1 a 2 b 3 c 4 d", Is(":4")),
            Read(0, Is(r#"["z", "a", "1"]"#)),
            Read(1, Is(r#"["z", "d", "4"]"#)),
            Read(2, Is(r#"["z", "b", "2"]"#)),
            Blocked(0),
            Call(3, "ZRANGE z 0 -1 WITHSCORES", Is(r#"["c", "3"]"#)),
        ],
    );
}

#[test]
fn a_push_of_fewer_elements_than_waiters_serves_the_earliest_and_later_pushes_the_rest() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        4,
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Start(1, "BLPOP l 0"),
            Blocked(2),
            Start(2, "BLPOP l 0"),
            Blocked(3),
            Call(3, "RPUSH l a", Is(":1")),
            Read(0, Is(r#"["l", "a"]"#)),
            Blocked(2),
            Call(3, "LLEN l", Is(":0")),
            Call(3, "RPUSH l b", Is(":1")),
            Read(1, Is(r#"["l", "b"]"#)),
            Blocked(1),
            Call(3, "LPUSH l c d", Is(":2")),
            Read(2, Is(r#"["l", "d"]"#)),
            Blocked(0),
            Call(3, "LRANGE l 0 -1", Is(r#"["c"]"#)),
        ],
    );
    same_on_both(
        &u,
        &r,
        4,
        &[
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Start(1, "BZPOPMIN z 0"),
            Blocked(2),
            Start(2, "BZPOPMIN z 0"),
            Blocked(3),
            Call(3, "ZADD z 5 e", Is(":1")),
            Read(0, Is(r#"["z", "e", "5"]"#)),
            Blocked(2),
            Call(3, "ZADD z 2 b 1 a", Is(":2")),
            Read(1, Is(r#"["z", "a", "1"]"#)),
            Read(2, Is(r#"["z", "b", "2"]"#)),
            Blocked(0),
            Call(3, "EXISTS z", Is(":0")),
        ],
    );
}

#[test]
fn a_waiter_is_served_from_its_own_database_once_and_in_its_own_protocol() {
    let (u, r) = pair();
    let scenarios: &[&[Step]] = &[
        // The same key name in another database is another key.
        &[
            Call(0, "SELECT 1", Same),
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Start(1, "BLPOP l 0"),
            Blocked(2),
            Call(2, "RPUSH l a", Is(":1")),
            Read(1, Is(r#"["l", "a"]"#)),
            Blocked(1),
            Call(2, "SELECT 1", Same),
            Call(2, "RPUSH l b", Is(":1")),
            Read(0, Is(r#"["l", "b"]"#)),
        ],
        // A key named twice is waited on once.
        &[
            Start(0, "BLPOP l l 0"),
            Blocked(1),
            Start(1, "BLMPOP 0 2 l l RIGHT COUNT 2"),
            Blocked(2),
            Call(2, "RPUSH l a b c", Is(":3")),
            Read(0, Is(r#"["l", "a"]"#)),
            Read(1, Is(r#"["l", ["c", "b"]]"#)),
            Blocked(0),
        ],
        // A RESP3 waiter gets a RESP3 reply, whoever pushes.
        &[
            Call(0, "HELLO 3", Ignore),
            Call(1, "HELLO 3", Ignore),
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Start(1, "BZMPOP 0 1 z MAX COUNT 2"),
            Blocked(2),
            Call(2, "ZADD z 1.5 a 2 b 3 c", Is(":3")),
            Read(0, Is(r#"["z", "a", ,1.5]"#)),
            Read(1, Is(r#"["z", [["c", ,3], ["b", ,2]]]"#)),
            Start(0, "BLMOVE l d LEFT LEFT 0"),
            Blocked(1),
            Call(2, "RPUSH l x", Same),
            Read(0, Is(r#""x""#)),
        ],
        // BLMOVE from a list to itself rotates it; the waiter behind it sees the same element.
        &[
            Start(0, "BLMOVE k k RIGHT LEFT 0"),
            Blocked(1),
            Start(1, "BLPOP k 0"),
            Blocked(2),
            Call(2, "RPUSH k a", Is(":1")),
            Read(0, Same),
            Read(1, Same),
            Call(2, "LRANGE k 0 -1", Same),
        ],
    ];
    for steps in scenarios {
        same_on_both(&u, &r, 3, steps);
    }
}

// ---------------------------------------------------------------------------------------------
// Timeouts

#[test]
fn a_timeout_answers_nil_no_sooner_than_asked_while_timeout_zero_waits_for_its_push() {
    let server = usher();
    let mut ctl = server.client();
    let mut forever = server.client();
    forever.set_timeout(REPLY_WAIT_MAX);
    let forever_id = forever.call(&["CLIENT", "ID"]).int().to_string();
    forever.send(&["BLPOP", "f", "0"]);
    wait_blocked(&mut ctl, 1);
    let listed = ctl.call(&["CLIENT", "LIST", "ID", &forever_id]).text();
    assert!(
        listed.contains(" flags=b ") && listed.contains(" cmd=blpop "),
        "{listed}"
    );
    // Five timed waits at once, each on its own connection: the reply each gives on timeout,
    // in RESP2 and RESP3.
    let cases: [(&[&str], bool, Reply); 5] = [
        (&["BLPOP", "k1", "0.3"], false, Reply::NilArray),
        (&["BRPOP", "k2", "0.3"], true, Reply::Null),
        (
            &["BLMOVE", "k3", "d", "LEFT", "RIGHT", "0.3"],
            false,
            Reply::NilArray,
        ),
        (&["BZPOPMIN", "k4", "0.3"], false, Reply::NilArray),
        (&["BZMPOP", "0.3", "1", "k5", "MIN"], true, Reply::Null),
    ];
    let waits: Vec<JoinHandle<(Reply, Duration)>> = cases
        .iter()
        .map(|(cmd, resp3, _)| {
            let mut c = server.client();
            c.set_timeout(REPLY_WAIT_MAX);
            if *resp3 {
                c.call(&["HELLO", "3"]);
            }
            let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
            std::thread::spawn(move || {
                let started = Instant::now();
                let reply = c.call(&cmd);
                (reply, started.elapsed())
            })
        })
        .collect();
    for ((cmd, _, want), wait) in cases.iter().zip(waits) {
        let (reply, took) = wait.join().unwrap();
        assert_eq!(&reply, want, "{cmd:?}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(1000),
            "{cmd:?} answered after {took:?}"
        );
    }
    // The timed-out clients are no longer blocked; the one with timeout 0 still is.
    assert_eq!(blocked_clients(&mut ctl), 1);
    assert_eq!(ctl.call(&["RPUSH", "f", "x"]), Reply::Int(1));
    assert_eq!(forever.read().unwrap(), reply_strings(&["f", "x"]));
    wait_blocked(&mut ctl, 0);
}

fn reply_strings(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|s| Reply::bulk(s)).collect())
}

#[test]
fn timeout_replies_and_invalid_timeouts_match_redis() {
    // A timed-out BLMOVE or BRPOPLPUSH answers a null array in Redis 7.0.15 (not the null bulk
    // it answers inside MULTI): `replyToBlockedClientTimedOut` treats every list waiter alike.
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        1,
        &[
            Call(0, "BLPOP k 0.01", Is("nil-array")),
            Call(0, "BRPOP k 1e-2", Is("nil-array")),
            Call(0, "BLMOVE k d LEFT RIGHT 0.01", Is("nil-array")),
            Call(0, "BRPOPLPUSH k d 0.01", Is("nil-array")),
            Call(0, "BLMPOP 0.01 2 k k2 LEFT COUNT 3", Is("nil-array")),
            Call(0, "BZPOPMAX k 0.01", Is("nil-array")),
            Call(0, "BZMPOP 0.01 1 k MIN", Is("nil-array")),
            Call(0, "BLPOP k -1", Is(r#"-"ERR timeout is negative""#)),
            Call(0, "BLPOP k -0.5", Same),
            Call(
                0,
                "BLPOP k abc",
                Is(r#"-"ERR timeout is not a float or out of range""#),
            ),
            Call(0, "BLPOP k 1x", Same),
            Call(0, "BLPOP k inf", Same),
            Call(0, "BLPOP k -inf", Same),
            Call(0, "BLPOP k 1e400", Same),
            Call(0, "BLPOP k 9223372036854775807", Same),
            Call(0, "BLPOP k nan", Same),
            Call(0, "BZPOPMIN k -1", Same),
            Call(0, "BZPOPMIN k x", Same),
            Call(0, "BLMOVE k d LEFT RIGHT -1", Same),
            Call(0, "BLMOVE k d UP RIGHT 0", Same),
            Call(0, "BRPOPLPUSH k d abc", Same),
            Call(0, "BLMPOP -1 1 k LEFT", Same),
            Call(0, "BLMPOP 0 1 k UP", Same),
            Call(0, "BLMPOP 0 0 k LEFT", Same),
            Call(0, "BZMPOP abc 1 k MIN", Same),
            Call(0, "BZMPOP 0 1 k MIN COUNT 0", Same),
            // A key of the wrong type answers at once, whatever the timeout.
            Call(0, "SET s v", Is(r#"+"OK""#)),
            Call(0, "BLPOP missing s 0", Same),
            Call(0, "BZPOPMIN s 0", Same),
            Call(0, "BLMOVE s d LEFT LEFT 0", Same),
            Call(0, "RPUSH l a", Is(":1")),
            Call(0, "BLMOVE l s LEFT LEFT 0", Same),
            Call(0, "LRANGE l 0 -1", Is(r#"["a"]"#)),
            // RESP3: timeouts are nulls.
            Call(0, "HELLO 3", Ignore),
            Call(0, "BLPOP k 0.01", Is("null")),
            Call(0, "BLMOVE k d LEFT RIGHT 0.01", Is("null")),
            Call(0, "BZMPOP 0.01 1 k MAX", Is("null")),
            Blocked(0),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// MULTI

#[test]
fn blocking_commands_inside_multi_answer_nil_at_once_instead_of_blocking() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        1,
        &[
            Call(0, "MULTI", Is(r#"+"OK""#)),
            Call(0, "BLPOP e 0", Is(r#"+"QUEUED""#)),
            Call(0, "BRPOP e 0", Same),
            Call(0, "BZPOPMIN ez 0", Same),
            Call(0, "BZPOPMAX ez 0", Same),
            Call(0, "BLMOVE e e2 LEFT RIGHT 0", Same),
            Call(0, "BRPOPLPUSH e e2 0", Same),
            Call(0, "BLMPOP 0 1 e LEFT", Same),
            Call(0, "BZMPOP 0 2 ez ez2 MAX", Same),
            Call(
                0,
                "EXEC",
                Is("[nil-array, nil-array, nil-array, nil-array, nil, nil, nil-array, nil-array]"),
            ),
            Blocked(0),
            // With data they pop like their non-blocking twins.
            Call(0, "MULTI", Same),
            Call(0, "RPUSH l a b c", Same),
            Call(0, "BLPOP l 0", Same),
            Call(0, "BLMOVE l l2 LEFT LEFT 0", Same),
            Call(0, "BLMPOP 0 1 l RIGHT COUNT 5", Same),
            Call(0, "BLPOP l 0", Same),
            Call(
                0,
                "EXEC",
                Is(r#"[:3, ["l", "a"], "b", ["l", ["c"]], nil-array]"#),
            ),
            // RESP3 nulls inside EXEC.
            Call(0, "HELLO 3", Ignore),
            Call(0, "MULTI", Same),
            Call(0, "BLPOP e 0", Same),
            Call(0, "BLMOVE e e2 LEFT RIGHT 0", Same),
            Call(0, "BZPOPMIN ez 0", Same),
            Call(0, "EXEC", Is("[null, null, null]")),
            Blocked(0),
        ],
    );
}

#[test]
fn a_multi_that_pushes_several_elements_serves_blocked_clients_after_exec_in_order() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        3,
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Start(1, "BLPOP l 0"),
            Blocked(2),
            Call(2, "MULTI", Same),
            Call(2, "RPUSH l a", Same),
            Call(2, "RPUSH l b", Same),
            Call(2, "EXEC", Is("[:1, :2]")),
            Read(0, Is(r#"["l", "a"]"#)),
            Read(1, Is(r#"["l", "b"]"#)),
            Blocked(0),
            Call(2, "EXISTS l", Is(":0")),
        ],
    );
    // What the transaction itself pops first is not served to anyone.
    same_on_both(
        &u,
        &r,
        2,
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "MULTI", Same),
            Call(1, "RPUSH l a", Same),
            Call(1, "LPOP l", Same),
            Call(1, "EXEC", Is(r#"[:1, "a"]"#)),
            Blocked(1),
            Call(1, "RPUSH l b", Is(":1")),
            Read(0, Is(r#"["l", "b"]"#)),
        ],
    );
    same_on_both(
        &u,
        &r,
        3,
        &[
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Start(1, "BZPOPMIN z 0"),
            Blocked(2),
            Call(2, "MULTI", Same),
            Call(2, "ZADD z 2 b", Same),
            Call(2, "ZADD z 1 a", Same),
            Call(2, "EXEC", Is("[:1, :1]")),
            Read(0, Is(r#"["z", "a", "1"]"#)),
            Read(1, Is(r#"["z", "b", "2"]"#)),
        ],
    );
    // A move inside the transaction fills the waiter's key.
    same_on_both(
        &u,
        &r,
        2,
        &[
            Start(0, "BLPOP dst 0"),
            Blocked(1),
            Call(1, "MULTI", Same),
            Call(1, "RPUSH src a b", Same),
            Call(1, "BLMOVE src dst LEFT LEFT 0", Same),
            Call(1, "EXEC", Is(r#"[:2, "a"]"#)),
            Read(0, Is(r#"["dst", "a"]"#)),
            Call(1, "LRANGE src 0 -1", Is(r#"["b"]"#)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Every way a key can be filled, from another thread

#[test]
fn every_write_that_fills_a_key_serves_its_waiter_from_another_thread() {
    let (u, r) = pair();
    let scenarios: &[&[Step]] = &[
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "LPUSHX l x", Is(":0")),
            Call(1, "RPUSHX l x", Is(":0")),
            Call(1, "LPUSH l a b", Is(":2")),
            Read(0, Is(r#"["l", "b"]"#)),
            Call(1, "LRANGE l 0 -1", Is(r#"["a"]"#)),
        ],
        &[
            Start(0, "BRPOP l 0"),
            Blocked(1),
            Call(1, "RPUSH l a b", Is(":2")),
            Read(0, Is(r#"["l", "b"]"#)),
        ],
        // LINSERT needs an existing list, so it only ever adds to a key inside a transaction.
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Start(1, "BLPOP l 0"),
            Blocked(2),
            Call(2, "MULTI", Same),
            Call(2, "RPUSH l a", Same),
            Call(2, "LINSERT l BEFORE a b", Same),
            Call(2, "EXEC", Is("[:1, :2]")),
            Read(0, Is(r#"["l", "b"]"#)),
            Read(1, Is(r#"["l", "a"]"#)),
        ],
        &[
            Call(1, "RPUSH src x y", Same),
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "LMOVE src l RIGHT LEFT", Is(r#""y""#)),
            Read(0, Is(r#"["l", "y"]"#)),
            Call(1, "RPOPLPUSH src l", Is(r#""x""#)),
            Call(1, "LRANGE l 0 -1", Is(r#"["x"]"#)),
        ],
        &[
            Call(1, "RPUSH src x y", Same),
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "RPOPLPUSH src l", Is(r#""y""#)),
            Read(0, Is(r#"["l", "y"]"#)),
        ],
        &[
            Call(1, "RPUSH tmp a b", Same),
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "RENAME tmp l", Is(r#"+"OK""#)),
            Read(0, Is(r#"["l", "a"]"#)),
            Call(1, "LRANGE l 0 -1", Is(r#"["b"]"#)),
        ],
        &[
            Call(1, "ZADD tz 1 m", Same),
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Call(1, "RENAME tz z", Is(r#"+"OK""#)),
            Read(0, Is(r#"["z", "m", "1"]"#)),
            Call(1, "EXISTS z tz", Is(":0")),
        ],
        &[
            Call(1, "RPUSH tmp a b", Same),
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "COPY tmp l", Is(":1")),
            Read(0, Is(r#"["l", "a"]"#)),
            Call(1, "LRANGE tmp 0 -1", Is(r#"["a", "b"]"#)),
            Call(1, "LRANGE l 0 -1", Is(r#"["b"]"#)),
        ],
        // Into another database: the waiter there is served.
        &[
            Call(1, "RPUSH tmp a b", Same),
            Call(0, "SELECT 1", Same),
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "COPY tmp l DB 1", Is(":1")),
            Read(0, Is(r#"["l", "a"]"#)),
        ],
        &[
            Call(1, "RPUSH tmp a", Same),
            Call(0, "SELECT 1", Same),
            Start(0, "BLPOP tmp 0"),
            Blocked(1),
            Call(1, "MOVE tmp 1", Is(":1")),
            Read(0, Is(r#"["tmp", "a"]"#)),
        ],
        &[
            Start(0, "BZPOPMAX z 0"),
            Blocked(1),
            Call(1, "ZADD z 1 a 2 b", Is(":2")),
            Read(0, Is(r#"["z", "b", "2"]"#)),
        ],
        &[
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Call(1, "ZINCRBY z 5 m", Is(r#""5""#)),
            Read(0, Is(r#"["z", "m", "5"]"#)),
        ],
        &[
            Call(1, "ZADD s1 1 a 3 c", Same),
            Call(1, "ZADD s2 2 b 3 c", Same),
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Call(1, "ZUNIONSTORE z 2 s1 s2", Is(":3")),
            Read(0, Is(r#"["z", "a", "1"]"#)),
            Start(0, "BZPOPMIN z2 0"),
            Blocked(1),
            Call(1, "ZINTERSTORE z2 2 s1 s2", Is(":1")),
            Read(0, Is(r#"["z2", "c", "6"]"#)),
            Start(0, "BZPOPMAX z3 0"),
            Blocked(1),
            Call(1, "ZRANGESTORE z3 s1 0 0", Is(":1")),
            Read(0, Is(r#"["z3", "a", "1"]"#)),
            Start(0, "BZPOPMAX z4 0"),
            Blocked(1),
            Call(1, "ZDIFFSTORE z4 2 s1 s2", Is(":1")),
            Read(0, Is(r#"["z4", "a", "1"]"#)),
            // An empty result stores nothing and serves nobody.
            Start(0, "BZPOPMAX z5 0"),
            Blocked(1),
            Call(1, "ZINTERSTORE z5 2 s1 nosuch", Is(":0")),
            Call(1, "ZADD z5 7 q", Is(":1")),
            Read(0, Is(r#"["z5", "q", "7"]"#)),
        ],
        // A key that appears by swapping databases serves its waiters (Redis 7.0).
        &[
            Call(1, "SELECT 1", Same),
            Call(1, "RPUSH l a b", Same),
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "SWAPDB 0 1", Is(r#"+"OK""#)),
            Read(0, Is(r#"["l", "a"]"#)),
            Call(1, "LRANGE l 0 -1", Is("[]")),
            Call(1, "SELECT 0", Same),
            Call(1, "LRANGE l 0 -1", Is(r#"["b"]"#)),
        ],
        &[
            Call(1, "ZADD z 1 a", Same),
            Call(0, "SELECT 1", Same),
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Call(1, "SWAPDB 1 0", Is(r#"+"OK""#)),
            Read(0, Is(r#"["z", "a", "1"]"#)),
        ],
    ];
    for steps in scenarios {
        same_on_both(&u, &r, 3, steps);
    }
}

// ---------------------------------------------------------------------------------------------
// BLMOVE across shards

#[test]
fn blmove_between_keys_on_different_shards_moves_each_element_once_in_order() {
    assert_eq!(key_slot(b"foo"), 12182, "CRC16 self-check");
    assert_ne!(shard_of("foo"), shard_of("bar"));
    assert_eq!(shard_of("{t}src"), shard_of("{t}dst"));
    let (u, r) = pair();
    let scenarios: &[&[Step]] = &[
        &[
            Start(0, "BLMOVE foo bar LEFT RIGHT 0"),
            Blocked(1),
            Call(1, "RPUSH foo a b", Is(":2")),
            Read(0, Is(r#""a""#)),
            Call(1, "LRANGE foo 0 -1", Is(r#"["b"]"#)),
            Call(1, "LRANGE bar 0 -1", Is(r#"["a"]"#)),
        ],
        // The mover is served first; the next waiter on the same key gets the next element.
        &[
            Start(0, "BRPOPLPUSH foo bar 0"),
            Blocked(1),
            Start(1, "BLPOP foo 0"),
            Blocked(2),
            Call(2, "RPUSH foo a b", Is(":2")),
            Read(0, Is(r#""b""#)),
            Read(1, Is(r#"["foo", "a"]"#)),
            Blocked(0),
            Call(2, "EXISTS foo", Is(":0")),
            Call(2, "LRANGE bar 0 -1", Is(r#"["b"]"#)),
        ],
        // The moved element serves a client blocked on the destination.
        &[
            Start(0, "BLPOP bar 0"),
            Blocked(1),
            Start(1, "BLMOVE foo bar RIGHT LEFT 0"),
            Blocked(2),
            Call(2, "RPUSH foo x", Is(":1")),
            Read(1, Is(r#""x""#)),
            Read(0, Is(r#"["bar", "x"]"#)),
            Call(2, "EXISTS foo bar", Is(":0")),
        ],
        // A destination of the wrong type: the mover gets WRONGTYPE when served, the element
        // stays and goes to the next waiter.
        &[
            Call(2, "SET bar s", Same),
            Start(0, "BLMOVE foo bar LEFT RIGHT 0"),
            Blocked(1),
            Start(1, "BLPOP foo 0"),
            Blocked(2),
            Call(2, "RPUSH foo a", Is(":1")),
            Read(
                0,
                Is(r#"-"WRONGTYPE Operation against a key holding the wrong kind of value""#),
            ),
            Read(1, Is(r#"["foo", "a"]"#)),
            Call(2, "GET bar", Is(r#""s""#)),
        ],
        // The same on one shard (no retry).
        &[
            Call(2, "SET {t}dst s", Same),
            Start(0, "BLMOVE {t}src {t}dst LEFT RIGHT 0"),
            Blocked(1),
            Start(1, "BLPOP {t}src 0"),
            Blocked(2),
            Call(2, "RPUSH {t}src a", Is(":1")),
            Read(
                0,
                Is(r#"-"WRONGTYPE Operation against a key holding the wrong kind of value""#),
            ),
            Read(1, Is(r#"["{t}src", "a"]"#)),
        ],
        &[
            Call(2, "SET bar s", Same),
            Start(0, "BLMOVE foo bar LEFT RIGHT 0"),
            Blocked(1),
            Call(2, "RPUSH foo a b", Is(":2")),
            Read(0, Same),
            Call(2, "LRANGE foo 0 -1", Is(r#"["a", "b"]"#)),
        ],
    ];
    for steps in scenarios {
        same_on_both(&u, &r, 3, steps);
    }
}

/// Runs `f` on a thread with its own connection; the connection is opened here, in order, so
/// consecutive calls land on consecutive worker threads.
fn on_thread<T: Send + 'static>(
    server: &Server,
    f: impl FnOnce(Client) -> T + Send + 'static,
) -> (i64, JoinHandle<T>) {
    let mut c = server.client();
    c.set_timeout(REPLY_WAIT_MAX);
    let id = c.call(&["CLIENT", "ID"]).int();
    (id, std::thread::spawn(move || f(c)))
}

/// Stops blocked loops: sets `done`, then unblocks each id until every thread has finished (a
/// loop may be between two commands when the first CLIENT UNBLOCK comes).
fn stop_all<T>(ctl: &mut Client, done: &AtomicBool, workers: Vec<(i64, JoinHandle<T>)>) -> Vec<T> {
    done.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + REPLY_WAIT_MAX;
    while workers.iter().any(|(_, h)| !h.is_finished()) {
        assert!(Instant::now() < deadline, "a blocked loop did not stop");
        for (id, h) in &workers {
            if !h.is_finished() {
                ctl.call(&["CLIENT", "UNBLOCK", &id.to_string()]);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    workers
        .into_iter()
        .map(|(_, h)| h.join().unwrap())
        .collect()
}

/// Waits until `counter` reaches `target`, failing with `what` after [`REPLY_WAIT_MAX`].
fn wait_count(counter: &AtomicUsize, target: usize, what: &str) {
    let deadline = Instant::now() + REPLY_WAIT_MAX;
    while counter.load(Ordering::SeqCst) < target {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {target} after {REPLY_WAIT_MAX:?}",
            counter.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn concurrent_blmove_across_shards_moves_every_element_exactly_once() {
    let server = usher();
    let mut ctl = server.client();
    const PUSHED: usize = 1000;
    let done = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicUsize::new(0));
    // Four movers from foo to bar (another shard: each serve takes the retry path) and two
    // plain poppers competing for the same elements.
    let mut workers = Vec::new();
    for i in 0..6 {
        let (done, taken) = (done.clone(), taken.clone());
        workers.push(on_thread(&server, move |mut c| {
            let mut got: Vec<(bool, String)> = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let (mover, reply) = if i < 4 {
                    (
                        true,
                        c.call(&["BLMOVE", "foo", "bar", "LEFT", "RIGHT", "0"]),
                    )
                } else {
                    (false, c.call(&["BLPOP", "foo", "0"]))
                };
                match reply {
                    Reply::Nil | Reply::NilArray => continue,
                    Reply::Bulk(b) if mover => got.push((true, String::from_utf8(b).unwrap())),
                    Reply::Array(v) if !mover => got.push((false, v[1].text())),
                    other => panic!("unexpected {other:?}"),
                }
                taken.fetch_add(1, Ordering::SeqCst);
            }
            got
        }));
    }
    wait_blocked(&mut ctl, 6);
    let pushers: Vec<_> = (0..2)
        .map(|p| {
            on_thread(&server, move |mut c| {
                let mut n = 0;
                while n < PUSHED / 2 {
                    let batch = (1 + n % 3).min(PUSHED / 2 - n);
                    let mut cmd = vec!["RPUSH".to_string(), "foo".to_string()];
                    cmd.extend((n..n + batch).map(|i| format!("p{p}-{i}")));
                    c.call(&cmd).int();
                    n += batch;
                }
            })
        })
        .collect();
    for (_, p) in pushers {
        p.join().unwrap();
    }
    wait_count(&taken, PUSHED, "elements taken from foo");
    let got: Vec<(bool, String)> = stop_all(&mut ctl, &done, workers)
        .into_iter()
        .flatten()
        .collect();
    let all: BTreeSet<&String> = got.iter().map(|(_, e)| e).collect();
    assert_eq!(all.len(), PUSHED, "an element was delivered twice");
    assert_eq!(got.len(), PUSHED);
    let moved: BTreeSet<String> = got
        .iter()
        .filter(|(mover, _)| *mover)
        .map(|(_, e)| e.clone())
        .collect();
    let in_bar: BTreeSet<String> = ctl
        .call(&["LRANGE", "bar", "0", "-1"])
        .strings()
        .into_iter()
        .collect();
    assert_eq!(moved, in_bar, "bar holds exactly what the movers were told");
    assert_eq!(
        ctl.call(&["LLEN", "bar"]).int() as usize,
        moved.len(),
        "nothing moved twice"
    );
    assert_eq!(ctl.call(&["EXISTS", "foo"]).int(), 0);
    wait_blocked(&mut ctl, 0);
}

// ---------------------------------------------------------------------------------------------
// Several keys, COUNT

#[test]
fn blmpop_and_bzmpop_with_count_are_served_from_the_key_that_became_ready() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        4,
        &[
            Start(0, "BLMPOP 0 3 a b c LEFT COUNT 2"),
            Blocked(1),
            Start(1, "BZMPOP 0 2 z1 z2 MAX COUNT 5"),
            Blocked(2),
            Start(2, "BRPOP a b c 0"),
            Blocked(3),
            // b gets three elements: the BLMPOP waiter takes two, the BRPOP waiter the last.
            Call(3, "RPUSH b 1 2 3", Is(":3")),
            Read(0, Is(r#"["b", ["1", "2"]]"#)),
            Read(2, Is(r#"["b", "3"]"#)),
            Call(3, "ZADD z2 1 x 2 y", Is(":2")),
            Read(1, Is(r#"["z2", [["y", "2"], ["x", "1"]]]"#)),
            Blocked(0),
            Call(3, "EXISTS a b c z1 z2", Is(":0")),
            // COUNT larger than the list, RIGHT end; the key reported is the one served.
            Start(0, "BLMPOP 0 2 a c RIGHT COUNT 10"),
            Blocked(1),
            Start(1, "BZMPOP 0 2 z1 z2 MIN COUNT 2"),
            Blocked(2),
            Call(3, "LPUSH c p q", Is(":2")),
            Read(0, Is(r#"["c", ["p", "q"]]"#)),
            Call(3, "ZADD z1 3 m 1 n 2 o", Is(":3")),
            Read(1, Is(r#"["z1", [["n", "1"], ["o", "2"]]]"#)),
            Call(3, "ZRANGE z1 0 -1", Is(r#"["m"]"#)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Disconnects, CLIENT UNBLOCK

#[test]
fn a_client_that_disconnects_while_blocked_is_forgotten_and_loses_no_push() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        5,
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Start(1, "BLPOP l 0"),
            Blocked(2),
            Close(0),
            Blocked(1),
            Call(2, "RPUSH l a", Is(":1")),
            Read(1, Is(r#"["l", "a"]"#)),
            Call(2, "LLEN l", Is(":0")),
            // The last waiter leaves: the element stays in the list.
            Start(3, "BLPOP x l 0"),
            Blocked(1),
            Close(3),
            Blocked(0),
            Call(2, "RPUSH l b", Is(":1")),
            Call(2, "LRANGE l 0 -1", Is(r#"["b"]"#)),
            Start(1, "BZPOPMIN z 0"),
            Blocked(1),
            Close(1),
            Blocked(0),
            Call(2, "ZADD z 1 m", Is(":1")),
            Call(2, "ZCARD z", Is(":1")),
            // Killed while blocked: the same.
            Start(4, "BLPOP l2 0"),
            Blocked(1),
            Call(2, "CLIENT KILL ID $ID4", Is(":1")),
            Blocked(0),
            Call(2, "RPUSH l2 a", Is(":1")),
            Call(2, "LLEN l2", Is(":1")),
        ],
    );
    // Many at once, from every thread.
    let server = usher();
    let mut ctl = server.client();
    let mut waiters: Vec<Client> = (0..24).map(|_| server.client()).collect();
    for (i, c) in waiters.iter_mut().enumerate() {
        c.send(&["BLPOP", &format!("k{}", i % 3), "l", "0"]);
    }
    wait_blocked(&mut ctl, 24);
    drop(waiters);
    wait_blocked(&mut ctl, 0);
    assert_eq!(ctl.call(&["RPUSH", "l", "a"]), Reply::Int(1));
    assert_eq!(ctl.call(&["LLEN", "l"]), Reply::Int(1));
}

#[test]
fn client_unblock_answers_the_timeout_reply_or_an_error_as_redis_does() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        2,
        &[
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Call(1, "CLIENT UNBLOCK $ID0", Is(":1")),
            Read(0, Is("nil-array")),
            Blocked(0),
            Call(1, "CLIENT UNBLOCK $ID0", Is(":0")),
            Start(0, "BLMOVE l d LEFT RIGHT 0"),
            Blocked(1),
            Call(1, "CLIENT UNBLOCK $ID0 TIMEOUT", Is(":1")),
            Read(0, Is("nil-array")),
            Start(0, "BZPOPMIN z 0"),
            Blocked(1),
            Call(1, "CLIENT UNBLOCK $ID0 ERROR", Is(":1")),
            Read(0, Is(r#"-"UNBLOCKED client unblocked via CLIENT UNBLOCK""#)),
            // A second CLIENT UNBLOCK right after the first finds nothing to unblock.
            Start(0, "BLMPOP 5 1 l LEFT"),
            Blocked(1),
            Call(1, "CLIENT UNBLOCK $ID0", Is(":1")),
            Call(1, "CLIENT UNBLOCK $ID0 ERROR", Is(":0")),
            Read(0, Is("nil-array")),
            Call(1, "CLIENT UNBLOCK $ID1", Is(":0")),
            Call(1, "CLIENT UNBLOCK 999999", Is(":0")),
            Call(1, "CLIENT UNBLOCK $ID0 MAYBE", Same),
            Call(1, "CLIENT UNBLOCK abc", Same),
            // An unblocked client waits no more: a push stays in the list.
            Call(1, "RPUSH l x", Is(":1")),
            Call(1, "LRANGE l 0 -1", Is(r#"["x"]"#)),
            Call(0, "HELLO 3", Ignore),
            Start(0, "BRPOP e 0"),
            Blocked(1),
            Call(1, "CLIENT UNBLOCK $ID0", Is(":1")),
            Read(0, Is("null")),
            Start(0, "BZMPOP 0 1 e MIN"),
            Blocked(1),
            Call(1, "CLIENT UNBLOCK $ID0 ERROR", Is(":1")),
            Read(0, Same),
            Call(0, "PING", Is(r#"+"PONG""#)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Wrong types

#[test]
fn a_key_of_the_wrong_type_keeps_its_waiters_blocked_until_a_fitting_push() {
    let (u, r) = pair();
    let scenarios: &[&[Step]] = &[
        &[
            Start(0, "BLPOP k 0"),
            Blocked(1),
            Call(2, "SET k s", Is(r#"+"OK""#)),
            Call(2, "ZADD k2 1 m", Same),
            Call(2, "DEL k", Is(":1")),
            Call(2, "RENAME k2 k", Same),
            Blocked(1),
            Call(2, "DEL k", Is(":1")),
            Call(2, "RPUSH k a", Is(":1")),
            Read(0, Is(r#"["k", "a"]"#)),
        ],
        // A sorted set on a key with list waiters: they keep waiting, and a sorted-set waiter
        // behind them is served (Redis serves by the key's type).
        &[
            Start(0, "BLPOP k 0"),
            Blocked(1),
            Start(1, "BZPOPMIN k 0"),
            Blocked(2),
            Call(2, "ZADD k 1 m", Is(":1")),
            Read(1, Is(r#"["k", "m", "1"]"#)),
            Blocked(1),
            Call(2, "RPUSH k a", Is(":1")),
            Read(0, Is(r#"["k", "a"]"#)),
        ],
        &[
            Start(0, "BZPOPMAX k 0"),
            Blocked(1),
            Start(1, "BLMOVE k d LEFT LEFT 0"),
            Blocked(2),
            Call(2, "RPUSH k a b", Is(":2")),
            Read(1, Is(r#""a""#)),
            Blocked(1),
            Call(2, "LRANGE k 0 -1", Is(r#"["b"]"#)),
            Call(2, "DEL k", Is(":1")),
            Call(2, "ZADD k 1 m", Is(":1")),
            Read(0, Is(r#"["k", "m", "1"]"#)),
        ],
        // A transaction that leaves a string under the key serves nobody.
        &[
            Start(0, "BLMPOP 0 1 k LEFT"),
            Blocked(1),
            Call(2, "MULTI", Same),
            Call(2, "RPUSH k a", Same),
            Call(2, "DEL k", Same),
            Call(2, "SET k s", Same),
            Call(2, "EXEC", Is(r#"[:1, :1, +"OK"]"#)),
            Blocked(1),
            Call(2, "DEL k", Is(":1")),
            Call(2, "RPUSH k b", Is(":1")),
            Read(0, Is(r#"["k", ["b"]]"#)),
        ],
    ];
    for steps in scenarios {
        same_on_both(&u, &r, 3, steps);
    }
}

// ---------------------------------------------------------------------------------------------
// Pipelines

#[test]
fn commands_pipelined_after_a_blocking_command_wait_for_it_then_run_in_order() {
    let (u, r) = pair();
    same_on_both(
        &u,
        &r,
        2,
        &[
            Start(0, "BLPOP l 0|SET x 1|GET x|RPOP l"),
            Blocked(1),
            Call(1, "GET x", Is("nil")),
            Call(1, "RPUSH l a b", Is(":2")),
            Read(0, Is(r#"["l", "a"]"#)),
            Read(0, Is(r#"+"OK""#)),
            Read(0, Is(r#""1""#)),
            Read(0, Is(r#""b""#)),
            Call(1, "EXISTS l", Is(":0")),
            // Two blocking commands in one pipeline block one after the other.
            Start(0, "BLPOP l 0|BZPOPMIN z 0|INCR x"),
            Blocked(1),
            Call(1, "RPUSH l c", Is(":1")),
            Read(0, Is(r#"["l", "c"]"#)),
            Blocked(1),
            Call(1, "GET x", Is(r#""1""#)),
            Call(1, "ZADD z 1 m", Is(":1")),
            Read(0, Is(r#"["z", "m", "1"]"#)),
            Read(0, Is(":2")),
            // After a timeout, too.
            Start(0, "BLPOP e 0.05|PING"),
            Read(0, Is("nil-array")),
            Read(0, Is(r#"+"PONG""#)),
            // And after CLIENT UNBLOCK.
            Start(0, "BLPOP e 0|ECHO after"),
            Blocked(1),
            Call(1, "CLIENT UNBLOCK $ID0", Is(":1")),
            Read(0, Is("nil-array")),
            Read(0, Is(r#""after""#)),
            // Commands sent in a later write, while blocked, wait too.
            Start(0, "BLPOP l 0"),
            Blocked(1),
            Start(0, "SET y 1|GET y"),
            Call(1, "GET y", Is("nil")),
            Call(1, "LPUSH l v", Is(":1")),
            Read(0, Is(r#"["l", "v"]"#)),
            Read(0, Is(r#"+"OK""#)),
            Read(0, Is(r#""1""#)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Stress

#[test]
fn sixteen_waiters_on_four_threads_receive_every_pushed_element_exactly_once() {
    const CONSUMERS: usize = 16;
    const PUSHERS: usize = 4;
    const PUSHED: usize = 4000;
    let server = usher();
    let mut ctl = server.client();
    let keys: Vec<String> = (0..4).map(|i| format!("k{i}")).collect();
    let done = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicUsize::new(0));
    // Each consumer waits on two of the four keys (so waiters span shards), four per thread.
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|i| {
            let (done, received) = (done.clone(), received.clone());
            let mine = [keys[i % 4].clone(), keys[(i + 1) % 4].clone()];
            on_thread(&server, move |mut c| {
                let mut got = Vec::new();
                while !done.load(Ordering::SeqCst) {
                    match c.call(&["BLPOP", &mine[0], &mine[1], "0"]) {
                        Reply::NilArray => {}
                        Reply::Array(v) => {
                            assert!(mine.contains(&v[0].text()), "served from {:?}", v[0]);
                            got.push(v[1].text());
                            received.fetch_add(1, Ordering::SeqCst);
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                got
            })
        })
        .collect();
    let pushers: Vec<_> = (0..PUSHERS)
        .map(|p| {
            let keys = keys.clone();
            on_thread(&server, move |mut c| {
                let (per, mut n, mut round) = (PUSHED / PUSHERS, 0, 0);
                while n < per {
                    let batch = (1 + round % 5).min(per - n);
                    let verb = if round % 2 == 0 { "RPUSH" } else { "LPUSH" };
                    let mut cmd = vec![verb.to_string(), keys[(p + round) % 4].clone()];
                    cmd.extend((n..n + batch).map(|i| format!("p{p}-{i}")));
                    c.call(&cmd).int();
                    n += batch;
                    round += 1;
                }
            })
        })
        .collect();
    for (_, p) in pushers {
        p.join().unwrap();
    }
    wait_count(&received, PUSHED, "elements received");
    let got: Vec<String> = stop_all(&mut ctl, &done, consumers)
        .into_iter()
        .flatten()
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &got {
        *counts.entry(e.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    assert_eq!(got.len(), PUSHED);
    for k in &keys {
        assert_eq!(ctl.call(&["LLEN", k]).int(), 0, "{k} still holds elements");
    }
    wait_blocked(&mut ctl, 0);
}
