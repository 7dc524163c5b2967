//! MEMORY USAGE and INFO memory report real numbers: a key's footprint grows with its value,
//! errors match Redis, and a big sorted set is measured at under half of what Redis reports.

use usher_tests::{Client, Reply, Server};

fn fill_zset(c: &mut Client, key: &str, n: usize) {
    let mut batch = Vec::new();
    for i in 0..n {
        batch.extend(Client::encode(&[
            "ZADD",
            key,
            &i.to_string(),
            &format!("m{i:015}"),
        ]));
        if i % 10_000 == 9_999 || i == n - 1 {
            c.send_raw(&batch);
            batch.clear();
        }
    }
    for _ in 0..n {
        c.read().unwrap();
    }
}

#[test]
fn memory_usage_is_nil_for_missing_keys_and_errors_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    for mut c in [usher.client(), redis.client()] {
        c.call(&["SET", "k", "v"]);
        assert_eq!(c.call(&["MEMORY", "USAGE", "missing"]), Reply::Nil);
        assert!(c.call(&["MEMORY", "USAGE", "k"]).int() > 0);
        assert_eq!(
            c.call(&["MEMORY", "USAGE", "k", "SAMPLES", "-1"]).err(),
            "ERR syntax error"
        );
        assert_eq!(
            c.call(&["MEMORY", "USAGE", "k", "FOO"]).err(),
            "ERR syntax error"
        );
        assert!(c.call(&["MEMORY", "USAGE", "k", "SAMPLES", "0"]).int() > 0);
    }
}

#[test]
fn memory_usage_grows_with_the_value_and_a_big_sorted_set_is_half_of_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for (c, _) in [(&mut u, "usher"), (&mut r, "redis")] {
        c.call(&["RPUSH", "small", "a"]);
        c.call(&["RPUSH", "big", "a"]);
        for i in 0..1000 {
            c.call(&["RPUSH", "big", &format!("element-{i:08}")]);
        }
        assert!(
            c.call(&["MEMORY", "USAGE", "big"]).int()
                > c.call(&["MEMORY", "USAGE", "small"]).int() * 20
        );
    }
    fill_zset(&mut u, "line", 200_000);
    fill_zset(&mut r, "line", 200_000);
    let (mu, mr) = (
        u.call(&["MEMORY", "USAGE", "line"]).int(),
        r.call(&["MEMORY", "USAGE", "line"]).int(),
    );
    assert!(
        mu * 2 <= mr,
        "usher {mu} bytes vs redis {mr} for 200k members"
    );
    let used = |c: &mut Client| -> i64 {
        let info = c.call(&["INFO", "memory"]).text();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert!(used(&mut u) >= mu, "INFO's used_memory covers the key");
}
