//! redis-py (the Python client applications use) drives its documented stream API (xadd,
//! xread, xreadgroup, xack, xpending_range, xautoclaim, xinfo_stream, ...) against usher and
//! against redis-server 7.0.15: the script asserts the documented shapes, and its results
//! (times blanked) must be the same on both servers.

use usher_tests::{client_scripts::redis_py, Server};

#[test]
fn redis_py_stream_api_gives_the_same_results_on_usher_and_redis() {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let script = "stream_redis_py.py";
    let (u, r) = (redis_py(script, usher.port), redis_py(script, redis.port));
    assert!(u.contains("\"xinfo_stream_full\""), "{u}");
    assert_eq!(u, r, "usher (left) and redis-server (right) differ");
}
