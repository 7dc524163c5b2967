//! The local sale stack in `deploy/` agrees with the server: Prometheus's config and alert
//! rules pass `promtool`, every metric the Grafana dashboard and the alerts read is one the
//! endpoint really exports during a sale, and the compose file wires usher's metrics port to
//! Prometheus's scrape target. (This machine has no Docker engine: the stack itself is not
//! started here.)

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use usher_tests::server::free_port;
use usher_tests::Server;

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `usher_...` name in `text`, histogram series folded into their family.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("usher_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|_| name.contains("latency")))
            .unwrap_or(name);
        out.insert(family.to_string());
        rest = &tail[end..];
    }
    out
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_dashboard_alerts_and_compose_file_agree_with_the_server() {
    promtool(&[
        "check",
        "config",
        deploy("prometheus/prometheus.yml").to_str().unwrap(),
    ]);
    promtool(&[
        "check",
        "rules",
        deploy("prometheus/alerts.yml").to_str().unwrap(),
    ]);
    // A small sale, so that every family has samples.
    let port = free_port();
    let usher = Server::usher(&["--metrics-port", &port.to_string()]);
    let mut c = usher.client();
    for i in 0..20 {
        c.call(&["ENTER", "queue:{s}", "active:{s}", &format!("u{i}")]);
    }
    c.call(&[
        "QPOLICY",
        "SET",
        "queue:{s}",
        "active:{s}",
        "MAXACTIVE",
        "10",
        "RATE",
        "600",
    ]);
    // Three batches over 1.5 s: enough for the server's admission-rate window to know a pace.
    let now = usher_now();
    for ago in [1500, 750, 0] {
        c.call(&[
            "ADMIT",
            "queue:{s}",
            "active:{s}",
            "2",
            "NOW",
            &(now - ago).to_string(),
        ]);
    }
    c.call(&["SEATLOCK", "seat:{s}:1", "u0", "60"]);
    c.call(&["SEATLOCK", "seat:{s}:1", "u1", "60"]);
    c.call(&["SEATCONFIRM", "seat:{s}:1", "u0", "1"]);
    c.call(&["SEATLOCK", "seat:{s}:1"]); // an error, so the error series exist
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut scrape = String::new();
    s.read_to_string(&mut scrape).unwrap();
    let exported: BTreeSet<String> = scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(metric_names)
        .collect();
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("grafana/dashboards/usher-sale.json")).expect("dashboard JSON");
    let mut wanted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            wanted.extend(metric_names(target["expr"].as_str().expect("expr")));
        }
    }
    wanted.extend(metric_names(&read("prometheus/alerts.yml")));
    assert!(wanted.len() >= 12, "{wanted:?}");
    let missing: Vec<&String> = wanted.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "read but not exported: {missing:?}\nexported: {exported:?}"
    );
    // The compose file: three services, usher's metrics port published and scraped.
    let compose = Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(deploy("compose.yaml"))
        .output()
        .expect("python3 with PyYAML");
    assert!(
        compose.status.success(),
        "{}",
        String::from_utf8_lossy(&compose.stderr)
    );
    let compose: serde_json::Value = serde_json::from_slice(&compose.stdout).unwrap();
    let services = &compose["services"];
    for name in ["usher", "prometheus", "grafana"] {
        assert!(services.get(name).is_some(), "service {name}");
    }
    let command: Vec<&str> = services["usher"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let metrics_port = command[command.iter().position(|a| *a == "--metrics-port").unwrap() + 1];
    assert!(services["usher"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str() == Some(&format!("{metrics_port}:{metrics_port}"))));
    assert!(read("prometheus/prometheus.yml").contains(&format!("usher:{metrics_port}")));
}

fn usher_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
