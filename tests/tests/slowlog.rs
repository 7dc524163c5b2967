//! SLOWLOG against redis-server 7.0.15: the same commands logged with the same arguments
//! (long argument lists and long strings trimmed the same way, secrets redacted), the same
//! errors, the same limits.

use usher_tests::{Client, Reply, Server};

fn entries(c: &mut Client, n: &str) -> Vec<Reply> {
    c.call(&["SLOWLOG", "GET", n]).items().to_vec()
}

#[test]
fn the_slow_log_records_what_redis_records() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    let long = "x".repeat(200);
    let mut many: Vec<String> = vec!["RPUSH".into(), "list".into()];
    many.extend((0..40).map(|i| format!("e{i}")));
    let script: Vec<Vec<String>> = vec![
        vec![
            "CONFIG".into(),
            "SET".into(),
            "slowlog-log-slower-than".into(),
            "0".into(),
        ],
        vec!["SLOWLOG".into(), "RESET".into()],
        vec!["SET".into(), "k".into(), long.clone()],
        many,
        vec!["AUTH".into(), "someone".into(), "secret".into()],
        vec![
            "CONFIG".into(),
            "SET".into(),
            "requirepass".into(),
            "".into(),
        ],
        vec!["GET".into(), "k".into()],
    ];
    for c in [&mut u, &mut r] {
        for args in &script {
            c.call(args);
        }
    }
    let (ue, re) = (entries(&mut u, "10"), entries(&mut r, "10"));
    assert_eq!(ue.len(), re.len(), "usher {ue:?}\nredis {re:?}");
    for (a, b) in ue.iter().zip(&re) {
        let (a, b) = (a.items(), b.items());
        assert_eq!(a.len(), 6);
        assert_eq!(a[3], b[3], "arguments");
        assert_eq!(a[5], b[5], "client name");
        assert!(a[2].int() >= 0 && a[1].int() > 1_700_000_000);
    }
    // Newest first, ids growing.
    assert!(ue[0].items()[0].int() > ue[1].items()[0].int());
    for args in [
        &["SLOWLOG", "GET", "-2"][..],
        &["SLOWLOG", "GET", "x"],
        &["SLOWLOG", "NOPE"],
        &["SLOWLOG", "HELP"],
        &["SLOWLOG", "LEN", "extra"],
    ] {
        assert_eq!(u.call(args), r.call(args), "{args:?}");
    }
    // The log keeps at most slowlog-max-len entries; a negative threshold turns it off.
    for c in [&mut u, &mut r] {
        c.call(&["CONFIG", "SET", "slowlog-max-len", "3"]);
        c.call(&["PING"]);
        c.call(&["PING"]);
    }
    assert_eq!(u.call(&["SLOWLOG", "LEN"]), r.call(&["SLOWLOG", "LEN"]));
    for c in [&mut u, &mut r] {
        c.call(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
        c.call(&["SLOWLOG", "RESET"]);
        c.call(&["PING"]);
    }
    assert_eq!(u.call(&["SLOWLOG", "LEN"]), Reply::Int(0));
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), Reply::Int(0));
}
