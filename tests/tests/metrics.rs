//! The Prometheus endpoint: its output passes `promtool check metrics` (Debian's prometheus
//! package, installed by scripts/test), and its numbers move with the commands that run,
//! the waiting-room gauges included.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use usher_tests::server::free_port;
use usher_tests::Server;

fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP reply");
    (head.to_string(), body.to_string())
}

/// The value of the sample whose name and labels are exactly `series`.
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
}

/// `promtool check metrics` accepts the exposition.
fn promtool_accepts(body: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_endpoint_passes_promtool_and_follows_the_sale() {
    let metrics_port = free_port();
    let usher = Server::usher(&["--metrics-port", &metrics_port.to_string()]);
    let mut c = usher.client();
    let (head, body) = get(metrics_port, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"));
    let before = value(&body, "usher_commands_total{command=\"set\"}").unwrap_or(0.0);
    for i in 0..25 {
        c.call(&["SET", &format!("k{i}"), "v"]);
    }
    for i in 0..40 {
        c.call(&["ENTER", "queue:{show}", "active:{show}", &format!("u{i}")]);
    }
    c.call(&[
        "QPOLICY",
        "SET",
        "queue:{show}",
        "active:{show}",
        "MAXACTIVE",
        "100",
        "RATE",
        "600",
    ]);
    c.call(&["ADMIT", "queue:{show}", "active:{show}", "15"]);
    let (_, body) = get(metrics_port, "/metrics");
    assert_eq!(
        value(&body, "usher_commands_total{command=\"set\"}"),
        Some(before + 25.0)
    );
    assert_eq!(
        value(&body, "usher_commands_total{command=\"qpolicy|set\"}"),
        Some(1.0)
    );
    let event = "{db=\"0\",queue=\"queue:{show}\"}";
    let waiting = value(&body, &format!("usher_queue_waiting{event}")).unwrap();
    let active = value(&body, &format!("usher_queue_active{event}")).unwrap();
    let admitted = value(&body, &format!("usher_queue_admitted_total{event}")).unwrap();
    assert_eq!(waiting + active, 40.0, "every user is waiting or active");
    assert!(admitted >= 15.0 && active >= 15.0, "{admitted} {active}");
    assert_eq!(
        value(&body, &format!("usher_queue_policy_max_active{event}")),
        Some(100.0)
    );
    assert_eq!(
        value(&body, &format!("usher_queue_policy_rate_per_second{event}")),
        Some(10.0)
    );
    assert!(value(&body, "usher_db_keys{db=\"0\"}").unwrap() >= 27.0);
    assert!(body.contains("usher_command_latency_seconds_bucket{command=\"set\",le=\"+Inf\"}"));
    promtool_accepts(&body);
    let (head, _) = get(metrics_port, "/elsewhere");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

/// A split line's waiters live on other shards' keys: the gauge counts them all (through the
/// line's arrival index), split or merged back.
#[test]
fn a_split_line_counts_every_sub_queue_in_the_waiting_gauge() {
    let metrics_port = free_port();
    let usher = Server::usher(&["--metrics-port", &metrics_port.to_string(), "--shards", "4"]);
    let mut c = usher.client();
    let (q, a) = ("queue:{split}", "active:{split}");
    for i in 0..30 {
        c.call(&["ENTER", q, a, &format!("u{i}")]);
    }
    let gauge = || {
        let (_, body) = get(metrics_port, "/metrics");
        value(
            &body,
            "usher_queue_waiting{db=\"0\",queue=\"queue:{split}\"}",
        )
    };
    assert_eq!(gauge(), Some(30.0));
    assert!(c.call(&["QSPLIT", q, "4"]).is_simple("OK"));
    assert_eq!(gauge(), Some(30.0));
    c.call(&["ADMIT", q, a, "4"]);
    c.call(&["QLEAVE", q, "u20"]);
    assert_eq!(gauge(), Some(25.0));
    assert!(c.call(&["QSPLIT", q, "1"]).is_simple("OK"));
    assert_eq!(gauge(), Some(25.0));
}

#[test]
fn seats_tokens_abandoners_and_persistence_are_counted_per_event() {
    let metrics_port = free_port();
    let usher = Server::usher(&[
        "--metrics-port",
        &metrics_port.to_string(),
        "--queue-now-max-skew",
        "0",
    ]);
    let mut c = usher.client();
    let (q, a) = ("q:{m}", "a:{m}");
    c.call(&[
        "QPOLICY",
        "SET",
        q,
        a,
        "TOKENS",
        "600000",
        "HEARTBEAT",
        "1000",
    ]);
    let start = usher_tests::wait::now_ms();
    let t0 = start.to_string();
    for u in ["u1", "u2", "u3"] {
        c.call(&["ENTER", q, a, u, "NOW", &t0]);
    }
    // Two admitted (two tokens), one of them spent; u3 goes silent and is swept.
    c.call(&["ADMIT", q, a, "2", "NOW", &t0]);
    let token = c.call(&["QPOS", q, a, "u1", "NOW", &t0]).items()[5].text();
    assert_eq!(
        c.call(&["TOKENVERIFY", &token, "CONSUME", "NOW", &t0])
            .items()[0]
            .int(),
        1
    );
    let later = (start + 60_000).to_string();
    assert_eq!(c.call(&["QSWEEP", "q:{m}:hb", q, &later]).items().len(), 1);
    // Seats: two holds, one conflict, one sale, one refund.
    let t1 = c.call(&["SEATLOCK", "seat:{m}:A1", "u1", "60"]).items()[1]
        .int()
        .to_string();
    c.call(&["SEATLOCK", "seat:{m}:A1", "u2", "60"]);
    c.call(&["SEATLOCK", "seat:{m}:A2", "u2", "60"]);
    c.call(&["SEATCONFIRM", "seat:{m}:A1", "u1", &t1]);
    c.call(&["SEATCANCEL", "seat:{m}:A1", "u1", &t1]);
    let (_, body) = get(metrics_port, "/metrics");
    promtool_accepts(&body);
    let ev = |name: &str| value(&body, &format!("{name}{{db=\"0\",event=\"m\"}}"));
    assert_eq!(ev("usher_event_seat_holds_total"), Some(2.0));
    assert_eq!(ev("usher_event_seat_conflicts_total"), Some(1.0));
    assert_eq!(ev("usher_event_seat_confirmations_total"), Some(1.0));
    assert_eq!(ev("usher_event_seat_cancellations_total"), Some(1.0));
    let queue = |name: &str| value(&body, &format!("{name}{{db=\"0\",queue=\"q:{{m}}\"}}"));
    assert_eq!(queue("usher_queue_tokens_issued_total"), Some(2.0));
    assert_eq!(queue("usher_queue_tokens_consumed_total"), Some(1.0));
    assert_eq!(queue("usher_queue_dropped_total"), Some(1.0));
    assert_eq!(value(&body, "usher_aof_enabled"), Some(0.0));
    assert_eq!(value(&body, "usher_replication_is_replica"), Some(0.0));
    assert_eq!(
        value(&body, "usher_replication_connected_replicas"),
        Some(0.0)
    );
    assert!(value(&body, "usher_rdb_changes_since_last_save").unwrap() > 0.0);
}
