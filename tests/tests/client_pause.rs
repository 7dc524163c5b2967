//! CLIENT PAUSE / UNPAUSE: writes (or everything) wait, in order, until the pause ends or an
//! operator lifts it; reads go on during a WRITE pause; errors as redis-server words them.

use std::time::{Duration, Instant};
use usher_tests::{Reply, Server};

#[test]
fn pause_errors_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for args in [
        &["CLIENT", "PAUSE", "abc"][..],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "sometimes"],
        &["CLIENT", "PAUSE"],
        &["CLIENT", "UNPAUSE", "x"],
        &["CLIENT", "UNPAUSE"],
    ] {
        assert_eq!(u.call(args), r.call(args), "{args:?}");
    }
}

#[test]
fn a_write_pause_holds_writes_in_order_lets_reads_through_and_unpause_lifts_it() {
    let usher = Server::usher(&["--threads", "2"]);
    let (mut operator, mut app) = (usher.client(), usher.client());
    app.call(&["SET", "x", "0"]);
    assert!(operator
        .call(&["CLIENT", "PAUSE", "600", "WRITE"])
        .is_simple("OK"));
    let started = Instant::now();
    assert_eq!(app.call(&["GET", "x"]), Reply::bulk("0"), "reads go on");
    assert!(started.elapsed() < Duration::from_millis(300));
    // A pipeline: the write waits, and the read after it waits with it (order is kept).
    app.send(&["SET", "x", "1"]);
    app.send(&["GET", "x"]);
    assert!(app.read().unwrap().is_simple("OK"));
    assert_eq!(app.read().unwrap(), Reply::bulk("1"));
    let held = started.elapsed();
    assert!(
        held >= Duration::from_millis(450),
        "released after {held:?}"
    );
    // A long pause lifted by UNPAUSE (not a write: it runs during a WRITE pause).
    operator.call(&["CLIENT", "PAUSE", "60000", "WRITE"]);
    let mut writer = usher.client();
    writer.send(&["INCR", "n"]);
    std::thread::sleep(Duration::from_millis(200));
    let lifted = Instant::now();
    assert!(operator.call(&["CLIENT", "UNPAUSE"]).is_simple("OK"));
    assert_eq!(writer.read().unwrap(), Reply::Int(1));
    assert!(
        lifted.elapsed() < Duration::from_secs(5),
        "{:?}",
        lifted.elapsed()
    );
}

#[test]
fn an_all_pause_holds_every_command_until_it_ends() {
    let usher = Server::usher(&[]);
    let (mut operator, mut app) = (usher.client(), usher.client());
    let started = Instant::now();
    assert!(operator.call(&["CLIENT", "PAUSE", "400"]).is_simple("OK"));
    assert!(app.call(&["PING"]).is_simple("PONG"));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}
