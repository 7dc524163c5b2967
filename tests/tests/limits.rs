//! Connection and memory limits against usher and redis-server 7.0.15: `maxclients`,
//! protected mode (a real non-loopback connection from 192.0.2.2), `timeout`,
//! `tcp-keepalive`, and `maxmemory` with DENYOOM commands.

use std::process::Command;
use std::time::Duration;
use usher_tests::resp::{Client, Reply};
use usher_tests::Server;

/// The machine's non-loopback address (eth0), which both servers also bind.
const OUTSIDE_IP: &str = "192.0.2.2";

fn stat(c: &mut Client, name: &str) -> String {
    let text = c.call(&["INFO", "stats"]).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO stats"))
        .trim()
        .to_string()
}

#[test]
fn maxclients_refuses_the_extra_connection_like_redis() {
    let mut refusals = Vec::new();
    for s in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut admin = s.client();
        assert!(admin
            .call(&["CONFIG", "SET", "maxclients", "3"])
            .is_simple("OK"));
        let mut two: Vec<Client> = (0..2).map(|_| s.client()).collect();
        for c in &mut two {
            assert!(c.call(&["PING"]).is_simple("PONG"));
        }
        // The fourth is answered with the error and closed.
        let mut extra = s.client();
        extra.set_timeout(Duration::from_secs(5));
        extra.send(&["PING"]);
        refusals.push(extra.read_to_close());
        assert_eq!(stat(&mut admin, "rejected_connections"), "1");
        // Once one leaves, a new client gets in.
        drop(two.pop());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut c = s.client();
            c.set_timeout(Duration::from_secs(5));
            c.send(&["PING"]);
            match c.read() {
                Ok(r) if r.is_simple("PONG") => break,
                _ => assert!(
                    std::time::Instant::now() < deadline,
                    "no room after a client left"
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&refusals[0]),
        String::from_utf8_lossy(&refusals[1])
    );
    assert_eq!(refusals[0], b"-ERR max number of clients reached\r\n");
}

#[test]
fn protected_mode_denies_outside_clients_with_redis_text() {
    let bind = ["--bind", "127.0.0.1", OUTSIDE_IP];
    let (usher, redis) = (Server::usher(&bind), Server::redis(&bind));
    let mut denials = Vec::new();
    for s in [&usher, &redis] {
        let mut outside = Client::connect_addr(&format!("{OUTSIDE_IP}:{}", s.port))
            .expect("connect from 192.0.2.2");
        outside.set_timeout(Duration::from_secs(5));
        outside.send(&["PING"]);
        denials.push(outside.read_to_close());
        // Loopback clients are served, and count the refusal.
        let mut local = s.client();
        assert!(local.call(&["PING"]).is_simple("PONG"));
        // With protected mode off, outside clients are served too.
        assert!(local
            .call(&["CONFIG", "SET", "protected-mode", "no"])
            .is_simple("OK"));
        let mut outside = Client::connect_addr(&format!("{OUTSIDE_IP}:{}", s.port)).unwrap();
        assert!(outside.call(&["PING"]).is_simple("PONG"), "{:?}", s.kind);
    }
    assert_eq!(
        String::from_utf8_lossy(&denials[0]),
        String::from_utf8_lossy(&denials[1])
    );
    assert!(denials[0].starts_with(b"-DENIED Redis is running in protected mode"));
}

#[test]
fn protected_mode_lets_outside_clients_in_when_a_password_is_set() {
    let args = ["--bind", "127.0.0.1", OUTSIDE_IP, "--requirepass", "pw"];
    for s in [Server::usher(&args), Server::redis(&args)] {
        let mut outside = Client::connect_addr(&format!("{OUTSIDE_IP}:{}", s.port)).unwrap();
        assert_eq!(
            outside.call(&["PING"]),
            Reply::Error("NOAUTH Authentication required.".into())
        );
        assert!(outside.call(&["AUTH", "pw"]).is_simple("OK"));
        assert!(outside.call(&["PING"]).is_simple("PONG"));
    }
}

#[test]
fn timeout_closes_idle_clients_but_not_subscribers() {
    let servers = [Server::usher(&["--threads", "2"]), Server::redis(&[])];
    let mut clients = Vec::new();
    for s in &servers {
        let mut admin = s.client();
        assert!(admin
            .call(&["CONFIG", "SET", "timeout", "1"])
            .is_simple("OK"));
        let mut idle = s.client();
        assert!(idle.call(&["PING"]).is_simple("PONG"));
        let mut sub = s.client();
        sub.send(&["SUBSCRIBE", "ch"]);
        sub.read().unwrap();
        let mut psub = s.client();
        psub.send(&["PSUBSCRIBE", "p*"]);
        psub.read().unwrap();
        clients.push((idle, sub, psub));
    }
    // Both servers' clients idle at once: timeout 1 s, checked about once a second.
    std::thread::sleep(Duration::from_millis(3000));
    for (s, (idle, sub, psub)) in servers.iter().zip(&mut clients) {
        idle.set_timeout(Duration::from_secs(3));
        assert!(idle.closes(), "{:?} kept an idle client", s.kind);
        assert_eq!(
            sub.call(&["PING"]),
            Reply::Array(vec![Reply::bulk("pong"), Reply::bulk("")]),
            "{:?} closed an idle subscriber",
            s.kind
        );
        assert!(matches!(psub.call(&["PING"]), Reply::Array(_)));
        // A client that keeps talking is never idle.
        let mut busy = s.client();
        for _ in 0..4 {
            assert!(busy.call(&["PING"]).is_simple("PONG"));
            std::thread::sleep(Duration::from_millis(400));
        }
    }
}

/// The keepalive timer `ss` shows on the server's side of connections to `port`, if any.
fn keepalive_timers(port: u16) -> Vec<String> {
    let out = Command::new("ss")
        .args([
            "-tnoH",
            "state",
            "established",
            &format!("( sport = :{port} )"),
        ])
        .output()
        .expect("ss (iproute2)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("timer:(").nth(1).map(|t| t.to_string()))
        .collect()
}

#[test]
fn tcp_keepalive_sets_the_socket_keepalive_timer() {
    let on = Server::usher(&["--tcp-keepalive", "60"]);
    let mut c = on.client();
    assert!(c.call(&["PING"]).is_simple("PONG"));
    let timers = keepalive_timers(on.port);
    assert!(
        !timers.is_empty() && timers.iter().all(|t| t.starts_with("keepalive,")),
        "{timers:?}"
    );
    // The first probe is due within the configured 60 s.
    let secs: f64 = timers[0]
        .split(',')
        .nth(1)
        .and_then(|t| t.strip_suffix("sec").or(t.strip_suffix("min")))
        .and_then(|t| t.parse().ok())
        .unwrap_or(f64::MAX);
    assert!(secs <= 60.0, "{timers:?}");
    let off = Server::usher(&["--tcp-keepalive", "0"]);
    let mut c = off.client();
    assert!(c.call(&["PING"]).is_simple("PONG"));
    assert!(keepalive_timers(off.port).is_empty());
}

#[test]
fn maxmemory_refuses_denyoom_commands_and_keeps_serving_reads() {
    let mut transcripts = Vec::new();
    for s in [Server::usher(&["--threads", "2"]), Server::redis(&[])] {
        let mut c = s.client();
        let used: u64 = c
            .call(&["INFO", "memory"])
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(c.call(&["SET", "keep", "1"]).is_simple("OK"));
        let limit = (used + 2 * 1024 * 1024).to_string();
        assert!(c
            .call(&["CONFIG", "SET", "maxmemory", &limit])
            .is_simple("OK"));
        let value = "v".repeat(10 * 1024);
        let mut oom = None;
        for i in 0..2000 {
            let r = c.call(&["SET", &format!("k{i}"), &value]);
            if r.is_error() {
                oom = Some(r);
                break;
            }
        }
        let oom = oom.unwrap_or_else(|| panic!("{:?} never refused a write", s.kind));
        // Right at the limit a server's own buffers tip the balance either way; lower it by
        // a megabyte so every following check is well over it. From here on both servers
        // must answer alike.
        let lower = (used + 1024 * 1024).to_string();
        assert!(c
            .call(&["CONFIG", "SET", "maxmemory", &lower])
            .is_simple("OK"));
        let t = vec![
            oom,
            c.call(&["SET", "small", "1"]),
            c.call(&["INCR", "keep"]),
            c.call(&["APPEND", "keep", "x"]),
            c.call(&["GET", "keep"]),
            c.call(&["EXISTS", "k0"]),
            c.call(&["EXPIRE", "keep", "1000"]),
            c.call(&["PING"]),
            // Inside MULTI even reads are refused while over the limit (queueing costs
            // memory), and EXEC then aborts; DISCARD is always allowed.
            c.call(&["MULTI"]),
            c.call(&["GET", "keep"]),
            c.call(&["EXEC"]),
            c.call(&["MULTI"]),
            c.call(&["GET", "keep"]),
            c.call(&["DISCARD"]),
            // Freeing memory or raising the limit lets writes in again.
            c.call(&["CONFIG", "SET", "maxmemory", "0"]),
            c.call(&["SET", "after", "1"]),
        ];
        assert_eq!(
            t[0],
            Reply::Error("OOM command not allowed when used memory > 'maxmemory'.".into())
        );
        transcripts.push(t);
    }
    assert_eq!(transcripts[0], transcripts[1]);
}
