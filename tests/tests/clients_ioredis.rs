//! ioredis (the Node client) drives streams (xadd, xreadgroup, xack, xpending), geo, bitfield
//! and client tracking (RESP2 `CLIENT TRACKING ON REDIRECT` with a subscriber on
//! `__redis__:invalidate`, as ioredis has no RESP3) against usher and redis-server 7.0.15; the
//! script's JSON results must match. Needs node and npm: it fails, never skips, without them.

use usher_tests::{client_scripts::node, Server};

#[test]
fn ioredis_streams_geo_bitfield_and_tracking_give_the_same_results_on_usher_and_redis() {
    let usher = Server::usher(&["--shards", "4", "--threads", "2"]);
    let redis = Server::redis(&[]);
    let (u, r) = (
        node("clients.js", usher.port),
        node("clients.js", redis.port),
    );
    assert!(u.contains("\"invalidated\":\"price\""), "{u}");
    assert!(u.contains("\"reread\":\"120\""), "{u}");
    assert_eq!(u, r, "usher (left) and redis-server (right) differ");
}
