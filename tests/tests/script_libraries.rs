//! Libraries whose logic is Lua sent with EVALSHA, run unchanged against usher and
//! redis-server 7.0.15 (issue 9's "every queue library's scripts"): BullMQ and bee-queue, Node
//! job queues (their job state machines are scripts that build key names from the job id at
//! run time), Dramatiq (Python), whose Redis broker is one script that declares only its
//! namespace and builds every other key, rate-limiter-flexible (Node) and `limits` (Python),
//! rate limiters (moving window, sliding-window counter, a KEYS-driven reset). usher runs on
//! two threads with eight shards, so a script's keys, declared or built, sit on different
//! shards and threads. The scripts (`tests/node/bullmq.js`,
//! `tests/node/queue_and_limiter_libraries.js`, `tests/scripts/dramatiq_redis_py.py`,
//! `tests/scripts/limits_redis_py.py`) print what an application sees; both servers must
//! print the same.

use usher_tests::{
    client_scripts::{node, redis_py},
    Server,
};

const SPREAD: &[&str] = &["--threads", "2", "--shards", "8"];

/// Runs one library script (`run(port)` returns its JSON line) against a fresh usher and a
/// fresh redis-server; no scenario may fail on either, and both must print the same. Returns
/// usher's output for the test's own checks.
fn same_on_both(run: impl Fn(u16) -> String) -> String {
    let usher = Server::usher(SPREAD);
    let redis = Server::redis(&[]);
    let (u, r) = (run(usher.port), run(redis.port));
    assert!(!u.contains("\"error\""), "a scenario failed on usher: {u}");
    assert!(
        !r.contains("\"error\""),
        "a scenario failed on redis-server: {r}"
    );
    assert_eq!(u, r, "usher (left) and redis-server (right) differ");
    u
}

#[test]
fn bullmq_queues_flows_schedulers_and_workers_behave_as_on_redis() {
    let u = same_on_both(|port| node("bullmq.js", port));
    // 600 jobs from three producers, taken by four workers at once: each ran exactly once.
    assert!(
        u.contains("\"jobs_run\":600,\"runs_per_job\":[1],\"distinct_returns\":600"),
        "{u}"
    );
    // A worker that died holding a job: the job was found stalled and finished elsewhere.
    assert!(u.contains("\"stalled\":[\"1\"]"), "{u}");
}

#[test]
fn bee_queue_and_rate_limiter_flexible_behave_as_on_redis() {
    let u = same_on_both(|port| node("queue_and_limiter_libraries.js", port));
    // 80 concurrent consumers of a 50-point key: exactly 50 allowed.
    assert!(u.contains("\"concurrent_allowed\":50"), "{u}");
    // A job whose worker died was found stalled and run again.
    assert!(u.contains("\"same_job\":true"), "{u}");
}

#[test]
fn limits_rate_limiters_allow_and_refuse_as_on_redis() {
    let u = same_on_both(|port| redis_py("limits_redis_py.py", port));
    assert!(
        u.contains("\"hits\": [true, true, true, true, true, false, false]"),
        "{u}"
    );
}

#[test]
fn dramatiq_runs_retries_dead_letters_and_requeues_as_on_redis() {
    let u = same_on_both(|port| redis_py("dramatiq_redis_py.py", port));
    // Every message ran and its result came back; the one that always fails is a dead letter;
    // a stopped worker's fetched messages were run by the next one.
    assert!(u.contains("\"delayed_result\": 1001"), "{u}");
    assert!(u.contains("\"dead_letters\": 1"), "{u}");
    assert!(u.contains("\"slow_queue_left\": 0"), "{u}");
}
