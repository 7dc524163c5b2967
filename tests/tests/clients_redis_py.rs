//! redis-py drives its documented geo and bitmap APIs (geoadd ... geosearchstore, the
//! bitfield builder with overflow, bitfield_ro, setbit ... bitop) and its client-side cache
//! (RESP3, `cache_config=CacheConfig()`) against usher and against redis-server 7.0.15. The
//! scripts assert what redis-py documents; their JSON results must match between the servers.

use usher_tests::{client_scripts::redis_py, Server};

fn same_on_both(script: &str, usher_args: &[&str]) -> String {
    let usher = Server::usher(usher_args);
    let redis = Server::redis(&[]);
    let (u, r) = (redis_py(script, usher.port), redis_py(script, redis.port));
    assert_eq!(u, r, "usher (left) and redis-server (right) differ");
    u
}

#[test]
fn redis_py_geo_and_bitfield_api_gives_the_same_results_on_usher_and_redis() {
    let out = same_on_both(
        "geo_bitfield_redis_py.py",
        &["--shards", "4", "--threads", "2"],
    );
    // The script ran to the end: its last geo and bitmap results are present.
    assert!(out.contains("\"geosearchstore_dist\": 3"), "{out}");
    assert!(out.contains("\"bitop_NOT\""), "{out}");
}

#[test]
fn redis_py_client_side_cache_sees_writes_from_another_client() {
    // Two threads: the writer and the cached reader may sit on different workers, so the
    // invalidation crosses threads as it would in production.
    let out = same_on_both("client_cache_redis_py.py", &["--threads", "2"]);
    // Five repeated reads reached the server once; the write made the next read go back.
    assert!(out.contains("\"server_gets_after_repeats\": 1"), "{out}");
    assert!(out.contains("\"after_set\": \"120\""), "{out}");
    assert!(
        out.contains("\"hash_after_hset\": {\"state\": \"held\"}"),
        "{out}"
    );
}
