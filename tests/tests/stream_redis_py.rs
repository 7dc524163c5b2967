//! redis-py (the Python client applications use) drives its documented stream API (xadd,
//! xread, xreadgroup, xack, xpending_range, xautoclaim, xinfo_stream, ...) against usher and
//! against redis-server 7.0.15: the script asserts the documented shapes, and its results
//! (times blanked) must be the same on both servers.

use std::process::Command;
use usher_tests::Server;

fn run_script(port: u16) -> String {
    let script = format!("{}/scripts/stream_redis_py.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .output()
        .expect("python3 with the redis package (pip install redis)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn redis_py_stream_api_gives_the_same_results_on_usher_and_redis() {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let (u, r) = (run_script(usher.port), run_script(redis.port));
    assert!(u.contains("\"xinfo_stream_full\""), "{u}");
    assert_eq!(u, r, "usher (left) and redis-server (right) differ");
}
