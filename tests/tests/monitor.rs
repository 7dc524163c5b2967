//! MONITOR against redis-server 7.0.15: the same lines for the same commands (timestamps and
//! client addresses aside), quoting and redaction included, and commands run by a script shown
//! as `[db lua]` after the script's own line, and a transaction's commands as they run.

use std::time::Duration;
use usher_tests::{Client, Server};

/// The monitor's lines with the timestamp and address cut off: `[0 ...] "cmd" "arg"`.
fn lines(m: &mut Client, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let line = m.read().expect("a monitor line").text();
            let (_, rest) = line.split_once(' ').expect("timestamp");
            let (origin, args) = rest.split_once("] ").expect("origin");
            let db_and_kind = origin
                .trim_start_matches('[')
                .split(' ')
                .enumerate()
                .map(|(i, w)| if i == 1 && w != "lua" { "client" } else { w })
                .collect::<Vec<_>>()
                .join(" ");
            format!("[{db_and_kind}] {args}")
        })
        .collect()
}

#[test]
fn monitor_shows_what_redis_shows() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut seen = Vec::new();
    for server in [&usher, &redis] {
        let mut m = server.client();
        m.set_timeout(Duration::from_secs(3));
        assert!(m.call(&["MONITOR"]).is_simple("OK"));
        let mut c = server.client();
        c.call(&["SET", "k", "a \"quoted\"\nline\t\x01"]);
        c.call(&["AUTH", "nobody", "secret"]);
        c.call(&["SELECT", "3"]);
        c.call(&["GET", "k"]);
        c.call(&["CONFIG", "GET", "maxmemory"]); // admin: not shown
        c.call(&["EVAL", "return redis.call('INCR', KEYS[1])", "1", "n"]);
        c.call(&["MULTI"]);
        c.call(&["SET", "x", "1"]);
        c.call(&["EXEC"]);
        c.call(&["PING"]);
        seen.push(lines(&mut m, 10));
    }
    assert_eq!(seen[0], seen[1]);
    // A monitor that goes away is forgotten; the server keeps serving.
    assert!(usher.client().call(&["PING"]).is_simple("PONG"));
}
