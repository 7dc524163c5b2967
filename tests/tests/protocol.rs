//! The wire protocol, driven with raw bytes: pipelining, commands split across writes, inline
//! commands, big bulks, and every protocol error the parser can raise. Each error case is sent
//! byte for byte to usher and to redis-server 7.0.15 and everything each server sends back
//! until it closes the connection must be identical (the error text, the replies of commands
//! before the bad bytes, and the close itself).

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;
use usher_tests::resp::{exchange, Client, Reply};
use usher_tests::{diff, Server};

/// `QUIT` as a multibulk command: ends an exchange whose bytes leave the connection open.
const QUIT: &[u8] = b"*1\r\n$4\r\nQUIT\r\n";

fn both() -> (Server, Server) {
    (Server::usher(&[]), Server::redis(&[]))
}

/// Sends `bytes` to both servers and asserts they answer identically up to the close.
fn same_bytes(usher: &Server, redis: &Server, bytes: &[u8]) -> String {
    let u = exchange(usher.port, bytes);
    let r = exchange(redis.port, bytes);
    let (u, r) = (
        String::from_utf8_lossy(&u).into_owned(),
        String::from_utf8_lossy(&r).into_owned(),
    );
    assert_eq!(
        u,
        r,
        "usher and redis-server answer differently to {:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
    );
    u
}

#[test]
fn pipelined_commands_reply_in_order() {
    let (usher, redis) = both();
    let mut wire = Vec::new();
    for i in 0..2000 {
        wire.extend(Client::encode(&[
            "SET",
            &format!("k{}", i % 7),
            &i.to_string(),
        ]));
        wire.extend(Client::encode(&["GET", &format!("k{}", i % 7)]));
        wire.extend(Client::encode(&["INCR", "counter"]));
    }
    wire.extend_from_slice(QUIT);
    let out = same_bytes(&usher, &redis, &wire);
    // Spot-check the order: the last GET returns the last SET, the counter reached 2000.
    assert!(
        out.ends_with("$4\r\n1999\r\n:2000\r\n+OK\r\n"),
        "{}",
        &out[out.len() - 40..]
    );

    // The same through one client reading replies one by one.
    let mut c = usher.client();
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(Client::encode(&["ECHO", &i.to_string()]));
    }
    c.send_raw(&batch);
    for i in 0..500 {
        assert_eq!(c.read().unwrap(), Reply::bulk(&i.to_string()));
    }
}

#[test]
fn a_command_written_one_byte_at_a_time_runs_once_complete() {
    let usher = Server::usher(&[]);
    let stream = TcpStream::connect(("127.0.0.1", usher.port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut c = usher.client();
    let mut w = stream.try_clone().unwrap();
    let multibulk = Client::encode(&["SET", "split", "value with spaces"]);
    for b in &multibulk {
        w.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_micros(300));
    }
    // Inline form too, byte by byte.
    for b in b"APPEND split \" and more\"\r\n" {
        w.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_micros(300));
    }
    let mut reader = std::io::BufReader::new(stream);
    assert_eq!(
        usher_tests::resp::read_reply(&mut reader).unwrap(),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        usher_tests::resp::read_reply(&mut reader).unwrap(),
        Reply::Int(26)
    );
    assert_eq!(
        c.call(&["GET", "split"]),
        Reply::bulk("value with spaces and more")
    );
}

#[test]
fn commands_split_across_writes_at_every_boundary_match_redis() {
    let (usher, redis) = both();
    let wire = [
        Client::encode(&["SET", "key", "0123456789"]),
        b"GET key\r\n".to_vec(),
        Client::encode(&["STRLEN", "key"]),
    ]
    .concat();
    for server in [&usher, &redis] {
        for cut in [1, 5, 13, 20, 33, wire.len() - 1] {
            let mut c = server.client();
            c.send_raw(&wire[..cut]);
            std::thread::sleep(Duration::from_millis(5));
            c.send_raw(&wire[cut..]);
            assert_eq!(c.read().unwrap(), Reply::Simple("OK".into()));
            assert_eq!(c.read().unwrap(), Reply::bulk("0123456789"));
            assert_eq!(c.read().unwrap(), Reply::Int(10), "cut at {cut}");
        }
    }
}

#[test]
fn inline_commands_handle_quotes_and_escapes_like_redis() {
    let (usher, redis) = both();
    let script: &[&[u8]] = &[
        b"SET k \"hello world\"\r\n",
        b"GET k\r\n",
        b"SET k \"tab\\there\\x41\\n\\\"q\\\"\"\r\n",
        b"GET k\r\n",
        b"SET k 'it\\'s single'\r\n",
        b"GET k\r\n",
        b"   SET   spaced    value   \n",
        b"GET spaced\n",
        b"ECHO \"\"\r\n",
        b"ECHO ''\r\n",
        b"set lower case\r\n",
        b"get lower\r\n",
        b"ECHO \"nonescape\\q\"\r\n",
        b"EXISTS k spaced lower missing\r\n",
        b"\r\n",
        b"\n",
        b"    \r\n",
        b"*0\r\n",
        b"*-1\r\n",
        b"PING\r\n",
    ];
    let mut wire = script.concat();
    wire.extend_from_slice(QUIT);
    let out = same_bytes(&usher, &redis, &wire);
    assert!(out.contains("$11\r\nhello world\r\n"), "{out}");
    assert!(out.contains("$11\r\nit's single\r\n"), "{out}");
    assert!(out.contains(":3\r\n+PONG\r\n+OK\r\n"), "{out}");
}

#[test]
fn empty_lines_and_empty_multibulks_are_ignored() {
    let (usher, redis) = both();
    let wire = [
        &b"\r\n\r\n*0\r\n*-1\r\n\n"[..],
        &Client::encode(&["PING"]),
        b"*0\r\n",
        &Client::encode(&["ECHO", "x"]),
        QUIT,
    ]
    .concat();
    let out = same_bytes(&usher, &redis, &wire);
    assert_eq!(out, "+PONG\r\n$1\r\nx\r\n+OK\r\n");
}

#[test]
fn a_ten_megabyte_value_round_trips_intact() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    let value: Vec<u8> = (0..10 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    assert!(c.call(&[&b"SET"[..], b"big", &value]).is_simple("OK"));
    assert_eq!(c.call(&["STRLEN", "big"]), Reply::Int(value.len() as i64));
    match c.call(&["GET", "big"]) {
        Reply::Bulk(got) => assert!(got == value, "10 MB value came back changed"),
        other => panic!("expected the value, got {other:?}"),
    }
    // The connection is still usable after the big transfer.
    assert!(c.call(&["PING"]).is_simple("PONG"));
}

/// Every protocol error the parser raises, with commands before it that must still run.
#[test]
fn protocol_errors_reply_like_redis_then_close_after_earlier_commands_ran() {
    let (usher, redis) = both();
    let before = [
        Client::encode(&["SET", "before", "1"]),
        b"PING\r\n".to_vec(),
    ]
    .concat();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("invalid multibulk length", b"*abc\r\n".to_vec()),
        ("invalid multibulk length", b"*3000000000\r\n".to_vec()),
        ("invalid multibulk length", b"*-\r\n".to_vec()),
        ("invalid bulk length", b"*1\r\n$abc\r\n".to_vec()),
        ("invalid bulk length", b"*1\r\n$-1\r\n".to_vec()),
        (
            "invalid bulk length",
            b"*2\r\n$3\r\nGET\r\n$600000000\r\n".to_vec(),
        ),
        ("expected '$', got 'f'", b"*1\r\nfoo\r\n".to_vec()),
        (
            "expected '$', got ':'",
            b"*2\r\n$4\r\nECHO\r\n:1\r\n".to_vec(),
        ),
        ("unbalanced quotes", b"SET k \"open\r\n".to_vec()),
        ("unbalanced quotes", b"SET k 'open\r\n".to_vec()),
        ("unbalanced quotes", b"ECHO \"closed\"x\r\n".to_vec()),
    ];
    // Oversized count lines and inline requests: exactly one byte over 64 KiB, so the server
    // has read everything when it refuses (no unread bytes turn the close into a reset).
    let mut inline = vec![b'a'; 64 * 1024 + 1];
    inline[1] = b' ';
    cases.push(("too big inline request", inline));
    let mut mbulk = vec![b'1'; 64 * 1024 + 1];
    mbulk[0] = b'*';
    cases.push(("too big mbulk count string", mbulk));
    let mut bulk = b"*1\r\n".to_vec();
    bulk.push(b'$');
    bulk.extend(vec![b'1'; 64 * 1024]);
    cases.push(("too big bulk count string", bulk));
    for (what, bad) in cases {
        let wire = [&before[..], &bad].concat();
        let out = same_bytes(&usher, &redis, &wire);
        let want = format!("+OK\r\n+PONG\r\n-ERR Protocol error: {what}");
        assert!(out.starts_with(&want), "expected {want:?}, got {out:?}");
    }
    // The commands before the bad bytes took effect.
    assert_eq!(usher.client().call(&["GET", "before"]), Reply::bulk("1"));
}

#[test]
fn unauthenticated_clients_get_redis_limits_on_argument_count_and_size() {
    let usher = Server::usher(&["--requirepass", "pw"]);
    let redis = Server::redis(&["--requirepass", "pw"]);
    let mut eleven = b"*11\r\n".to_vec();
    for _ in 0..11 {
        eleven.extend(b"$1\r\nx\r\n");
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unauthenticated multibulk length", eleven.clone()),
        (
            "unauthenticated bulk length",
            b"*2\r\n$4\r\nAUTH\r\n$16385\r\n".to_vec(),
        ),
    ];
    for (what, bad) in cases {
        let out = same_bytes(&usher, &redis, &[b"PING\r\n", &bad[..]].concat());
        assert_eq!(
            out,
            format!("-NOAUTH Authentication required.\r\n-ERR Protocol error: {what}\r\n")
        );
    }
    // Ten arguments and 16 KiB bulks are still fine, and after AUTH the limits are gone.
    let mut ten = b"*10\r\n".to_vec();
    for _ in 0..10 {
        ten.extend(b"$1\r\nx\r\n");
    }
    let big = Client::encode(&["AUTH", &"p".repeat(16384)]);
    let authed = [
        &ten[..],
        &big,
        &Client::encode(&["AUTH", "pw"]),
        &eleven,
        QUIT,
    ]
    .concat();
    let out = same_bytes(&usher, &redis, &authed);
    // Redis looks the command up before checking authentication.
    assert!(out.starts_with("-ERR unknown command 'x'"), "{out}");
    assert!(out.contains("-WRONGPASS"), "{out}");
    assert!(out.contains("+OK\r\n-ERR unknown command 'x'"), "{out}");
}

#[test]
fn a_query_buffer_over_client_query_buffer_limit_closes_the_connection() {
    for server in [Server::usher(&[]), Server::redis(&[])] {
        let mut admin = server.client();
        assert!(admin
            .call(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"])
            .is_simple("OK"));
        let mut c = server.client();
        c.set_timeout(Duration::from_secs(10));
        // A 2 MB bulk that never ends: the buffer passes 1 MB before the command completes.
        let mut wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n".to_vec();
        wire.extend(vec![b'x'; 1_500_000]);
        let _ = c.try_send_raw(&wire);
        assert!(
            c.closes(),
            "{:?} kept a client whose query buffer passed the limit",
            server.kind
        );
        // Nothing was stored, and the server still serves others.
        assert_eq!(admin.call(&["EXISTS", "k"]), Reply::Int(0));
        assert!(server.client().call(&["PING"]).is_simple("PONG"));
    }
}

#[test]
fn a_bulk_over_proto_max_bulk_len_is_refused_like_redis() {
    let (usher, redis) = both();
    for s in [&usher, &redis] {
        assert!(s
            .client()
            .call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"])
            .is_simple("OK"));
    }
    let at_limit = Client::encode(&[&b"SET"[..], b"k", &vec![b'v'; 1024 * 1024]]);
    let over = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n".to_vec();
    let out = same_bytes(&usher, &redis, &[&at_limit[..], &over].concat());
    assert_eq!(out, "+OK\r\n-ERR Protocol error: invalid bulk length\r\n");
    // The refused value never replaced the stored one.
    assert_eq!(
        usher.client().call(&["STRLEN", "k"]),
        Reply::Int(1024 * 1024)
    );
}

/// Deliberate difference (docs/compatibility.md): Redis looks for the newline with `strchr`,
/// which stops at a NUL, so there an inline request with a NUL before its newline never
/// completes and the connection stalls. usher ends the request at the NUL, as `sdssplitargs`
/// would read it, and carries on.
#[test]
fn an_inline_request_ends_at_a_nul_byte() {
    let usher = Server::usher(&[]);
    let out = exchange(
        usher.port,
        &[&b"ECHO before\x00after\r\nPING\r\n"[..], QUIT].concat(),
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "$6\r\nbefore\r\n+PONG\r\n+OK\r\n"
    );
}

/// Sends `bytes`, half-closes, and returns everything the server sent until it closed.
fn exchange_then_eof(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut c = Client::connect(port).expect("connect");
    c.set_timeout(Duration::from_secs(10));
    let _ = c.try_send_raw(bytes);
    c.shutdown_write();
    c.read_to_close()
}

/// One random piece of a request stream: valid commands, odd framing, malformed counts,
/// inline quoting, stray bytes.
fn fragment(rng: &mut SmallRng) -> Vec<u8> {
    const VALID: &[&[&str]] = &[
        &["PING"],
        &["ECHO", "hi there"],
        &["SET", "k", "v"],
        &["GET", "k"],
        &["INCR", "n"],
        &["DEL", "k", "n"],
        &["ECHO", ""],
        &["GET"],
        &["NOSUCH", "a"],
    ];
    const ODD: &[&[u8]] = &[
        b"*0\r\n",
        b"*-1\r\n",
        b"*-5\r\n",
        b"\r\n",
        b"\n",
        b"   \r\n",
        b"*1\r\n$4\r\nPINGxx",
        b"*abc\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$x\r\n",
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        b"*1\r\nfoo\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"*1\r\n$01\r\nx\r\n",
        b"$4\r\nPING\r\n",
        b":1\r\n",
        b"+PING\r\n",
        b"-ERR\r\n",
        b"PING\rPING\r\n",
        b"ECHO a\tb\x0bc\r\n",
        b"ECHO \"a b\" 'c d'\r\n",
        b"ECHO \"\\x41\\x4a\\n\\q\"\n",
        b"ECHO 'it\\'s'\r\n",
        b"ECHO \"open\r\n",
        b"ECHO 'open\r\n",
        b"ECHO \"a\"b\r\n",
        b"ECHO 'a'b\r\n",
        b"ECHO \"\\x4\"\r\n",
        b"ECHO \"\\xZZ\"\r\n",
        b"ECHO \"trailing\\\"\r\n",
    ];
    match rng.random_range(0..10) {
        0..=3 => Client::encode(VALID[rng.random_range(0..VALID.len())]),
        4..=7 => ODD[rng.random_range(0..ODD.len())].to_vec(),
        8 => {
            // An inline command from quoting-heavy tokens.
            let tokens = [
                "ECHO", "\"x y\"", "'z'", "plain", "\"\"", "''", "\"\\t\"", "  ", "\t",
            ];
            let mut line = b"ECHO".to_vec();
            for _ in 0..rng.random_range(0..4) {
                line.push(b' ');
                line.extend(tokens[rng.random_range(0..tokens.len())].bytes());
            }
            line.extend(if rng.random_range(0..2) == 0 {
                &b"\r\n"[..]
            } else {
                b"\n"
            });
            line
        }
        _ => {
            // Printable noise (no NUL: see an_inline_request_ends_at_a_nul_byte).
            let n = rng.random_range(1..12);
            let mut v: Vec<u8> = (0..n).map(|_| rng.random_range(0x20..0x7f)).collect();
            v.extend(b"\r\n");
            v
        }
    }
}

#[test]
fn random_request_streams_get_byte_identical_answers_from_usher_and_redis() {
    let (usher, redis) = both();
    let seed = diff::seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    for case in 0..diff::ops(300) {
        let mut wire = Vec::new();
        for _ in 0..rng.random_range(1..8) {
            wire.extend(fragment(&mut rng));
        }
        // Sometimes end mid-command: both servers must then just close at EOF.
        if rng.random_range(0..4) == 0 {
            let cut = rng.random_range(0..wire.len());
            wire.truncate(cut.max(1));
        }
        let u = exchange_then_eof(usher.port, &wire);
        let r = exchange_then_eof(redis.port, &wire);
        assert_eq!(
            String::from_utf8_lossy(&u),
            String::from_utf8_lossy(&r),
            "case {case} (seed {seed}; rerun with USHER_DIFF_SEED={seed}): {:?}",
            String::from_utf8_lossy(&wire)
        );
    }
}
