//! redis-py's own test suite (8.2.0, fetched by `tests/redis-py/fetch.sh`, which
//! `scripts/test` runs) against usher and against redis-server 7.0.15: the files that test
//! the commands, pipelines, pub/sub, scripting, functions, locks, connections and the client
//! cache, sync and asyncio. A test that passes on Redis must pass on usher. Tests that fail on
//! Redis too (cluster-only tests run on a single node, a redis-stack module on another port,
//! newer-Redis behaviour) say nothing about usher and are left out of the comparison.
//!
//! A test that fails on usher alone is run once more on both servers before it counts, so a
//! timing test that lost a race on this shared machine does not fail the suite; a real
//! difference fails twice. Fails, never skips, when the suite has not been fetched.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use usher_tests::Server;

/// The test files compared, relative to the suite's folder.
const FILES: &[&str] = &[
    "tests/test_commands.py",
    "tests/test_pipeline.py",
    "tests/test_pubsub.py",
    "tests/test_scripting.py",
    "tests/test_function.py",
    "tests/test_lock.py",
    "tests/test_monitor.py",
    "tests/test_keyspace_notifications.py",
    "tests/test_hash.py",
    "tests/test_encoding.py",
    "tests/test_connection.py",
    "tests/test_connection_pool.py",
    "tests/test_retry.py",
    "tests/test_cache.py",
    "tests/test_asyncio/test_commands.py",
    "tests/test_asyncio/test_pipeline.py",
    "tests/test_asyncio/test_pubsub.py",
    "tests/test_asyncio/test_scripting.py",
    "tests/test_asyncio/test_lock.py",
    "tests/test_asyncio/test_connection.py",
];

fn suite_dir() -> PathBuf {
    let dir = std::env::var_os("REDIS_PY_SUITE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/redis-py-suite/redis-8.2.0")
        });
    assert!(
        dir.join("tests/conftest.py").exists(),
        "redis-py's test suite is not at {}: run tests/redis-py/fetch.sh (scripts/test does)",
        dir.display()
    );
    dir
}

/// What one pytest run reported.
struct Outcome {
    passed: usize,
    /// Node ids of the tests that failed or errored.
    failed: BTreeSet<String>,
    summary: String,
}

/// Runs `tests` (files or node ids) against the server on `port`.
fn pytest(dir: &PathBuf, port: u16, tests: &[String]) -> Outcome {
    let out = Command::new("python3")
        .current_dir(dir)
        .args([
            "-m",
            "pytest",
            "-q",
            "-rfE",
            "-p",
            "no:cacheprovider",
            "--timeout",
            "60",
        ])
        .arg(format!("--redis-url=redis://127.0.0.1:{port}/0"))
        .args(tests)
        .output()
        .expect("run python3 -m pytest (tests/redis-py/fetch.sh installs pytest)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let failed = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("FAILED ")
                .or_else(|| l.strip_prefix("ERROR "))
        })
        .map(|l| l.split(" - ").next().unwrap_or(l).trim().to_string())
        .collect();
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" passed") || l.contains(" failed") || l.contains(" error"))
        .unwrap_or("")
        .to_string();
    let passed = summary
        .split(", ")
        .find_map(|part| part.trim_start_matches('=').trim().strip_suffix(" passed"))
        .and_then(|n| n.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        !summary.is_empty(),
        "pytest printed no summary (exit {:?}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Outcome {
        passed,
        failed,
        summary,
    }
}

#[test]
fn redis_py_test_suite_passes_on_usher_wherever_it_passes_on_redis() {
    let dir = suite_dir();
    // DEBUG ERROR simulates server errors in the connection tests; Redis 7.0 refuses DEBUG
    // by default, so both servers allow it.
    let usher = Server::usher(&["--enable-debug-command", "yes", "--threads", "2"]);
    let redis = Server::redis(&["--enable-debug-command", "yes"]);
    let files: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    let on_redis = pytest(&dir, redis.port, &files);
    let on_usher = pytest(&dir, usher.port, &files);
    eprintln!(
        "redis-server: {}\nusher: {}",
        on_redis.summary, on_usher.summary
    );
    // The comparison means something only if most of the suite ran.
    assert!(on_redis.passed > 2000, "redis-server: {}", on_redis.summary);
    let only_usher: Vec<String> = on_usher
        .failed
        .difference(&on_redis.failed)
        .cloned()
        .collect();
    if only_usher.is_empty() {
        return;
    }
    // Once more, on both: a race lost on a busy machine passes now; a difference fails again.
    let again_usher = pytest(&dir, usher.port, &only_usher);
    let again_redis = pytest(&dir, redis.port, &only_usher);
    let still: Vec<&String> = again_usher.failed.difference(&again_redis.failed).collect();
    assert!(
        still.is_empty(),
        "redis-py tests that pass on redis-server 7.0.15 and fail on usher, twice:\n{}\n\
         (run one with: cd {} && python3 -m pytest --redis-url=redis://127.0.0.1:<port>/0 <id>)",
        still
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        dir.display()
    );
}
