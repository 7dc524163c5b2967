//! The ticketing example (`examples/ticketing`) end to end in a real browser: its Node web
//! tier (ioredis) in front of a real usher on native commands, and of a real redis-server on
//! the seed Lua scripts; headless Chromium (Debian's, driven by playwright-core from
//! `tests/node/example_app_browser.js`) opens the page as two buyers, who watch their place
//! in line, are admitted at the event's rate, and race for a seat held with a fencing token.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use usher_tests::client_scripts::{install_node_modules, node_args};
use usher_tests::server::free_port;
use usher_tests::wait::eventually;
use usher_tests::{Reply, Server};

/// The example's web tier, killed when dropped.
struct App(Child);

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_app(redis_port: u16, mode: &str) -> (App, u16) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/ticketing");
    install_node_modules(&dir);
    let chromium = std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Debian's chromium is required for the browser test: `apt-get install chromium` \
         (scripts/test and .ci/run install it)"
    );
    let port = free_port();
    let child = Command::new("node")
        .arg(dir.join("server.js"))
        .args(["--redis-port", &redis_port.to_string()])
        .args(["--http-port", &port.to_string(), "--mode", mode])
        // Ten admissions a second, once the operator opens the sale (the test's browser
        // driver does, after both buyers saw their place).
        .args(["--rate", "600", "--max-active", "1000", "--paused"])
        .stdout(Stdio::null())
        .spawn()
        .expect("start the example's web tier (node)");
    let app = App(child);
    assert!(
        eventually(Duration::from_secs(20), || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "the example app never listened on {port}"
    );
    (app, port)
}

fn run(server: &Server, mode: &str) {
    let mut c = server.client();
    // Twenty buyers are already in line, so alice and bob see a place and an estimate.
    for i in 0..20 {
        let u = format!("early{i:02}");
        if mode == "native" {
            c.call(&["ENTER", "queue:{demo}", "active:{demo}", &u]);
        } else {
            c.call(&["ZADD", "queue:{demo}", &i.to_string(), &u]);
        }
    }
    let (_app, port) = start_app(server.port, mode);
    let args = [port.to_string(), server.port.to_string(), mode.to_string()];
    let out = node_args("example_app_browser.js", &args);
    let r: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    // alice joined behind the three early buyers and saw her place before her turn came.
    assert_eq!(r["alice_first"]["status"], "WAITING", "{mode}: {r}");
    let place = |who: &str| -> i64 { r[who]["position"].as_str().unwrap().parse().unwrap() };
    assert_eq!(place("alice_first"), 21, "{mode}: {r}");
    assert!(
        !r["alice_first"]["eta"].as_str().unwrap().is_empty(),
        "{mode}: {r}"
    );
    assert_eq!(r["bob_first"]["status"], "WAITING", "{mode}: {r}");
    assert_eq!(place("bob_first"), 22, "{mode}: {r}");
    assert_eq!(r["alice_eta"], "now", "{mode}: {r}");
    assert!(
        r["alice"]
            .as_str()
            .unwrap()
            .starts_with("Seat A1 confirmed (token "),
        "{mode}: {r}"
    );
    // bob, admitted after her, saw A1 sold and bought A2.
    assert_eq!(r["bob_a1_disabled"], true, "{mode}: {r}");
    assert!(
        r["bob"].as_str().unwrap().starts_with("Seat A2 confirmed"),
        "{mode}: {r}"
    );
    // The server agrees: two seats sold, each to its buyer, under its fencing token.
    for (seat, user) in [("A1", "alice"), ("A2", "bob")] {
        let key = format!("seat:{{demo}}:{seat}");
        let fields = c.call(&["HMGET", &key, "status", "userId", "token"]);
        assert_eq!(
            fields,
            Reply::Array(vec![
                Reply::bulk("CONFIRMED"),
                Reply::bulk(user),
                Reply::bulk("1")
            ]),
            "{mode}: {key}"
        );
    }
}

#[test]
fn the_ticketing_page_queues_admits_and_sells_a_seat_on_usher_native_commands() {
    run(&Server::usher(&[]), "native");
}

#[test]
fn the_same_page_runs_on_redis_server_with_the_seed_scripts() {
    run(&Server::redis(&[]), "scripts");
}
