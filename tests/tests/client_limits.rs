//! What a client can make the server hold, bounded as Redis 7.0 bounds it, checked on usher
//! and redis-server side by side: `client-output-buffer-limit normal` (the hard limit, and the
//! soft limit held for its seconds) closes a client that does not read its replies, and
//! `maxmemory-clients` evicts the clients holding the most memory (query buffers here) but
//! never one with `CLIENT NO-EVICT on`, counting them in INFO's `evicted_clients`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use usher_tests::Server;

const BIG: usize = 200_000;

/// Reads until the server closes the connection (or 5 s of silence); returns the bytes read
/// and whether the server closed it.
fn drain(s: &mut TcpStream) -> (usize, bool) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

/// Whether the server still holds the connection open.
fn alive(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 16];
    match s.read(&mut b) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

fn both() -> [Server; 2] {
    [Server::usher(&["--threads", "2"]), Server::redis(&[])]
}

#[test]
fn the_normal_hard_limit_closes_a_client_whose_replies_pile_up() {
    let mut outcomes = Vec::new();
    for s in both() {
        let mut admin = s.client();
        assert!(admin
            .call(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "normal 1mb 0 0"
            ])
            .is_simple("OK"));
        admin.call(&["SET", "big", &"x".repeat(BIG)]);
        let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        // 40 MB of replies asked in one pipeline: far past the 1 MB hard limit.
        c.write_all(&b"GET big\r\n".repeat(200)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let (got, closed) = drain(&mut c);
        assert!(closed, "{:?}: the client was not closed", s.kind);
        assert!(got < 200 * BIG, "{:?}: every reply arrived", s.kind);
        // Everyone else is served; a pipeline under the limit is not cut.
        assert_eq!(admin.call(&["STRLEN", "big"]).int(), BIG as i64);
        let mut ok = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        ok.write_all(&b"GET big\r\n".repeat(3)).unwrap();
        let mut want = vec![0u8; 3 * (BIG + 11)];
        ok.read_exact(&mut want).unwrap();
        outcomes.push((closed, got == 0));
    }
    assert_eq!(outcomes[0], outcomes[1], "usher, redis");
}

#[test]
fn the_normal_soft_limit_closes_a_client_over_it_for_its_seconds() {
    for s in both() {
        let mut admin = s.client();
        assert!(admin
            .call(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "normal 0 256kb 1"
            ])
            .is_simple("OK"));
        admin.call(&["SET", "big", &"x".repeat(BIG)]);
        let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        // 8 MB of replies that the client does not read for 2.5 s, then one more request
        // (Redis checks the soft limit when output is added).
        c.write_all(&b"GET big\r\n".repeat(40)).unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        let _ = c.write_all(b"GET big\r\n");
        let (got, closed) = drain(&mut c);
        assert!(closed, "{:?}: the client was not closed", s.kind);
        assert!(got < 41 * BIG, "{:?}: every reply arrived", s.kind);
        // Under the soft limit nothing happens.
        let mut fine = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        fine.write_all(b"GET big\r\n").unwrap();
        let mut want = vec![0u8; BIG + 11];
        fine.read_exact(&mut want).unwrap();
        assert!(alive(&mut fine));
    }
}

/// A client that sent most of a 3 MB `SET` and stops: its query buffer holds about 3 MB.
fn partial_set(port: u16, no_evict: bool) -> TcpStream {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    if no_evict {
        c.write_all(b"CLIENT NO-EVICT on\r\n").unwrap();
        let mut ok = [0u8; 5];
        c.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"+OK\r\n");
    }
    c.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        .unwrap();
    c.write_all(&vec![b'y'; 2_999_000]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    c
}

#[test]
fn maxmemory_clients_evicts_the_biggest_clients_but_not_no_evict_ones() {
    let mut outcomes = Vec::new();
    for s in both() {
        let mut admin = s.client();
        assert!(admin
            .call(&["CONFIG", "SET", "maxmemory-clients", "5mb"])
            .is_simple("OK"));
        let mut a = partial_set(s.port, false);
        let mut b = partial_set(s.port, false);
        let mut protected = partial_set(s.port, true);
        std::thread::sleep(Duration::from_millis(300));
        let outcome = (
            alive(&mut a),
            alive(&mut b),
            alive(&mut protected),
            admin.info_field("stats", "evicted_clients"),
        );
        assert!(outcome.2, "{:?}: the NO-EVICT client was evicted", s.kind);
        assert_eq!(outcome.3, "2", "{:?}: {outcome:?}", s.kind);
        // The survivor finishes its command normally.
        protected.write_all(&vec![b'y'; 1000]).unwrap();
        protected.write_all(b"\r\n").unwrap();
        let mut reply = [0u8; 5];
        protected.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+OK\r\n", "{:?}", s.kind);
        assert_eq!(admin.call(&["STRLEN", "k"]).int(), 3_000_000);
        assert!(admin
            .call(&["CONFIG", "GET", "maxmemory-clients"])
            .strings()
            .contains(&"5242880".to_string()));
        outcomes.push(outcome);
    }
    assert_eq!(outcomes[0], outcomes[1], "usher, redis");
}

#[test]
fn maxmemory_clients_takes_a_percentage_of_maxmemory_with_redis_errors() {
    for s in both() {
        let mut c = s.client();
        assert!(c
            .call(&["CONFIG", "SET", "maxmemory-clients", "10%"])
            .is_simple("OK"));
        assert_eq!(
            c.call(&["CONFIG", "GET", "maxmemory-clients"]).strings(),
            ["maxmemory-clients", "10%"]
        );
        let e = c.call(&["CONFIG", "SET", "maxmemory-clients", "101%"]);
        assert!(
            e.err()
                .contains("percentage argument must be less or equal to 100"),
            "{:?}: {e:?}",
            s.kind
        );
        let e = c.call(&["CONFIG", "SET", "maxmemory-clients", "lots"]);
        assert!(e.is_error(), "{:?}: {e:?}", s.kind);
        assert!(c
            .call(&["CONFIG", "SET", "maxmemory-clients", "0"])
            .is_simple("OK"));
    }
}
