//! DUMP and RESTORE against redis-server 7.0.15: payloads move both ways for every type and
//! encoding, DUMP bytes are identical where both servers hold the same encoding, and every
//! RESTORE error is Redis's text.

use usher_tests::diff::Differ;
use usher_tests::resp::{Client, Reply};
use usher_tests::server::Server;

use usher_tests::dataset as rdb;

fn dump(c: &mut Client, key: &str) -> Vec<u8> {
    match c.call(&["DUMP", key]) {
        Reply::Bulk(b) => b,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

fn keys(c: &mut Client) -> Vec<String> {
    let mut k = c.call(&["KEYS", "*"]).strings();
    k.sort();
    k
}

#[test]
fn dumps_are_byte_identical_to_redis_and_restore_both_ways() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    rdb::populate(&mut u);
    rdb::populate(&mut r);
    let names = keys(&mut r);
    assert_eq!(keys(&mut u), names);
    for k in &names {
        let (du, dr) = (dump(&mut u, k), dump(&mut r, k));
        let enc = r.call(&["OBJECT", "ENCODING", k]).text();
        // A hashtable's iteration order is the table's own: same content, other bytes.
        if enc != "hashtable" {
            assert_eq!(du, dr, "DUMP {k} ({enc}) differs from Redis's");
        }
        // Redis's payload restores on usher, usher's on Redis.
        let copy = format!("{k}:copy");
        assert!(u
            .call(&[b"RESTORE".as_slice(), copy.as_bytes(), b"0", &dr])
            .is_simple("OK"));
        assert!(r
            .call(&[b"RESTORE".as_slice(), copy.as_bytes(), b"0", &du])
            .is_simple("OK"));
    }
    // Both servers now hold the originals and the copies: equal everywhere.
    assert_eq!(rdb::dataset(&mut u), rdb::dataset(&mut r));
    // rdbcompression no: long strings go out raw, on both servers alike.
    let compressed = dump(&mut u, "str:lzf");
    for c in [&mut u, &mut r] {
        assert!(c
            .call(&["CONFIG", "SET", "rdbcompression", "no"])
            .is_simple("OK"));
    }
    let raw = dump(&mut u, "str:lzf");
    assert_eq!(raw, dump(&mut r, "str:lzf"));
    assert!(
        raw.len() > compressed.len() + 60,
        "{} vs {}",
        raw.len(),
        compressed.len()
    );
}

fn same(d: &mut Differ, commands: &[&[&[u8]]]) {
    for c in commands {
        let args: Vec<Vec<u8>> = c.iter().map(|a| a.to_vec()).collect();
        d.run(&args);
    }
}

#[test]
fn restore_options_and_errors_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut r = redis.client();
    r.call(&["RPUSH", "src", "a", "b"]);
    let payload = dump(&mut r, "src");
    let mut bad_crc = payload.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut newer = payload.clone();
    let n = newer.len();
    newer[n - 10] = 11;
    // A right footer over a wrong body: "Bad data format".
    let mut body = vec![4u8, 0xff, 0xff];
    body.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    let p = payload.as_slice();
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &[b"RESTORE", b"k", b"0", p],
            &[b"LRANGE", b"k", b"0", b"-1"],
            &[b"RESTORE", b"k", b"0", p],
            &[b"RESTORE", b"k", b"0", p, b"REPLACE"],
            &[b"RESTORE", b"k2", b"-1", p],
            &[b"RESTORE", b"k2", b"abc", p],
            &[b"RESTORE", b"k2", b"0", &bad_crc],
            &[b"RESTORE", b"k2", b"0", &newer],
            &[b"RESTORE", b"k2", b"0", b"short"],
            &[b"RESTORE", b"k2", b"0", &body],
            &[b"RESTORE", b"k2", b"0", p, b"IDLETIME", b"-1"],
            &[b"RESTORE", b"k2", b"0", p, b"IDLETIME", b"x"],
            &[b"RESTORE", b"k2", b"0", p, b"FREQ", b"256"],
            &[b"RESTORE", b"k2", b"0", p, b"FREQ", b"1", b"IDLETIME", b"2"],
            &[b"RESTORE", b"k2", b"0", p, b"BOGUS"],
            &[b"RESTORE", b"k2", b"0", p, b"FREQ"],
            &[b"RESTORE", b"k2", b"0", p, b"IDLETIME", b"10", b"REPLACE"],
            &[b"EXISTS", b"k2"],
            &[b"RESTORE", b"k3", b"100000", p],
            &[b"RESTORE", b"k4", b"1", p, b"ABSTTL"],
            &[b"EXISTS", b"k4"],
            &[b"RESTORE", b"k", b"1", p, b"ABSTTL", b"REPLACE"],
            &[b"EXISTS", b"k"],
            &[b"DUMP", b"nosuchkey"],
            &[b"RESTORE", b"k5", b"0"],
            &[b"DUMP"],
        ],
    );
    let ttl = d.usher.call(&["PTTL", "k3"]).int();
    assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
}

/// Redis's CRC-64 (Jones), for building a payload footer by hand.
fn crc64(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[test]
fn a_restored_policy_hash_runs_again() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let (q, a) = ("q:{mv}", "a:{mv}");
    assert!(c
        .call(&["QPOLICY", "SET", q, a, "RATE", "6000", "MAXACTIVE", "10"])
        .is_simple("OK"));
    let payload = dump(&mut c, "q:{mv}:policy");
    assert_eq!(c.call(&["QPOLICY", "DEL", q]).int(), 1);
    assert!(matches!(
        c.call(&["QPOLICY", "GET", q]),
        Reply::Nil | Reply::NilArray | Reply::Null
    ));
    for i in 0..5 {
        c.call(&["ENTER", q, a, &format!("u{i}")]);
    }
    assert!(c
        .call(&[b"RESTORE".as_slice(), b"q:{mv}:policy", b"0", &payload])
        .is_simple("OK"));
    // The policy is in force again: the server admits the line by itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while c.call(&["ZCARD", a]).int() < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "restored policy never admitted"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
