//! Starting the usher binary like redis-server: a config file, flags that override it, fatal
//! configuration errors worded (and line-numbered) exactly as redis-server 7.0.15 words them,
//! `--port 0`, `--version`, and `loglevel`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use usher_tests::resp::Reply;
use usher_tests::server::{free_port, run_usher_to_exit};
use usher_tests::Server;

/// A config file under the target directory, unique to this test.
fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("startup");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.conf", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs redis-server with `args` until it exits; (exit code, stderr + stdout).
fn run_redis_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("redis-server")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-server");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout),
    )
}

/// The lines of a FATAL CONFIG FILE ERROR report after its banner (which names the server).
fn fatal_report(output: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().collect();
    let banner = lines
        .iter()
        .position(|l| l.starts_with("*** FATAL CONFIG FILE ERROR"))
        .unwrap_or_else(|| panic!("no fatal config report in {output:?}"));
    lines[banner + 1..].iter().map(|l| l.to_string()).collect()
}

#[test]
fn a_good_config_file_is_read_with_quotes_comments_and_units() {
    let path = config_file(
        "good",
        "# usher test configuration\n\
         \n\
         databases 4\n\
         maxclients 50\n\
         \x20  hz 20   \n\
         requirepass \"pass word\"\n\
         maxmemory 100mb\n\
         client-output-buffer-limit pubsub 2mb 1mb 30\n\
         save \"\"\n\
         hash-max-ziplist-entries 64\n",
    );
    let s = Server::usher(&[path.to_str().unwrap(), "--threads", "2"]);
    let mut c = s.client();
    assert_eq!(
        c.call(&["GET", "k"]),
        Reply::Error("NOAUTH Authentication required.".into())
    );
    assert!(c.call(&["AUTH", "pass word"]).is_simple("OK"));
    for (name, want) in [
        ("databases", "4"),
        ("maxclients", "50"),
        ("hz", "20"),
        ("maxmemory", "104857600"),
        ("hash-max-listpack-entries", "64"),
        ("save", ""),
    ] {
        assert_eq!(
            c.call(&["CONFIG", "GET", name]).strings(),
            vec![name.to_string(), want.to_string()]
        );
    }
    let limits = c
        .call(&["CONFIG", "GET", "client-output-buffer-limit"])
        .strings();
    assert!(
        limits[1].ends_with("pubsub 2097152 1048576 30"),
        "{limits:?}"
    );
    assert_eq!(
        c.call(&["SELECT", "4"]),
        Reply::Error("ERR DB index is out of range".into())
    );
    let info = c.call(&["INFO", "server"]).text();
    let canonical = std::fs::canonicalize(&path).unwrap();
    assert!(
        info.contains(&format!("config_file:{}\r\n", canonical.display())),
        "{info}"
    );
}

#[test]
fn flags_override_the_config_file() {
    let path = config_file("override", "maxclients 50\nhz 20\ntimeout 5\n");
    let s = Server::usher(&[
        path.to_str().unwrap(),
        "--maxclients",
        "60",
        "--timeout",
        "7",
    ]);
    let mut c = s.client();
    let get =
        |c: &mut usher_tests::Client, n: &str| c.call(&["CONFIG", "GET", n]).strings()[1].clone();
    assert_eq!(get(&mut c, "maxclients"), "60");
    assert_eq!(get(&mut c, "timeout"), "7");
    assert_eq!(get(&mut c, "hz"), "20");
}

#[test]
fn config_file_errors_stop_startup_with_redis_report() {
    let cases: &[(&str, &str)] = &[
        ("unknown", "port 0\n# comment\nfoo bar\n"),
        ("notint", "maxclients many\n"),
        ("memory", "save \"\"\nmaxmemory 12zz\n"),
        ("yesno", "protected-mode maybe\n"),
        ("quotes", "requirepass \"unbalanced\n"),
        ("level", "loglevel bogus\n"),
        ("count", "\n\nport\n"),
        ("toomany", "maxclients 1 2\n"),
    ];
    for (name, text) in cases {
        let path = config_file(name, text);
        let p = path.to_str().unwrap();
        let (ucode, uout) = run_usher_to_exit(&[p], Duration::from_secs(10));
        let (rcode, rout) = run_redis_to_exit(&[p]);
        assert_eq!(ucode, Some(1), "{name}: {uout}");
        assert_eq!(rcode, Some(1), "{name}: {rout}");
        assert_eq!(fatal_report(&uout), fatal_report(&rout), "{name}");
        assert!(
            uout.contains("*** FATAL CONFIG FILE ERROR (usher "),
            "{uout}"
        );
    }
    // The unknown directive is named with its line.
    let path = config_file("unknown", "port 0\n# comment\nfoo bar\n");
    let (_, out) = run_usher_to_exit(&[path.to_str().unwrap()], Duration::from_secs(10));
    assert_eq!(
        fatal_report(&out),
        [
            "Reading the configuration file, at line 3",
            ">>> 'foo bar'",
            "Bad directive or wrong number of arguments"
        ]
    );
}

#[test]
fn bad_flags_are_reported_like_config_lines_after_the_file() {
    let path = config_file("withflags", "hz 20\nmaxclients 40\n");
    let p = path.to_str().unwrap();
    for args in [
        &["--nosuch", "1"][..],
        &["--port"],
        &["--maxclients", "1", "2"],
        &["--hz", "10", "--loglevel", "loud"],
        &[p, "--hz", "abc"],
        &[p, "--nosuch"],
    ] {
        let (ucode, uout) = run_usher_to_exit(args, Duration::from_secs(10));
        let (rcode, rout) = run_redis_to_exit(args);
        assert_eq!((ucode, rcode), (Some(1), Some(1)), "{args:?}");
        assert_eq!(fatal_report(&uout), fatal_report(&rout), "{args:?}");
    }
}

#[test]
fn a_missing_config_file_is_fatal_with_redis_text() {
    let (code, out) = run_usher_to_exit(&["/nonexistent/usher.conf"], Duration::from_secs(10));
    assert_eq!(code, Some(1));
    assert!(
        out.contains(
            "Fatal error, can't open config file '/nonexistent/usher.conf': No such file or directory"
        ),
        "{out}"
    );
}

#[test]
fn port_zero_binds_an_ephemeral_port_and_reports_it() {
    let s = Server::usher(&["--port", "0"]);
    assert_ne!(s.port, 0);
    assert!(
        s.log_shows(
            &format!("usher listening on 127.0.0.1:{}", s.port),
            Duration::from_secs(5)
        ),
        "{}",
        s.log()
    );
    let mut c = s.client();
    let info = c.call(&["INFO", "server"]).text();
    assert!(info.contains(&format!("tcp_port:{}\r\n", s.port)), "{info}");
    assert!(s.log_shows("Ready to accept connections", Duration::from_secs(5)));
}

#[test]
fn version_and_help_print_and_exit_zero() {
    for flag in ["--version", "-v"] {
        let (code, out) = run_usher_to_exit(&[flag], Duration::from_secs(10));
        assert_eq!(code, Some(0));
        assert!(out.starts_with("usher v="), "{out}");
        assert!(out.contains("7.0.15"), "{out}");
    }
    for flag in ["--help", "-h"] {
        let (code, out) = run_usher_to_exit(&[flag], Duration::from_secs(10));
        assert_eq!(code, Some(0));
        assert!(out.contains("Usage: usher"), "{out}");
    }
}

#[test]
fn a_taken_port_stops_startup_with_exit_code_one() {
    let first = Server::usher(&[]);
    let port = first.port.to_string();
    let (code, out) = run_usher_to_exit(&["--port", &port], Duration::from_secs(10));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "Could not create server TCP listening socket 127.0.0.1:{port}"
        )),
        "{out}"
    );
    assert!(first.client().call(&["PING"]).is_simple("PONG"));
}

#[test]
fn loglevel_filters_the_log_and_can_change_at_run_time() {
    // warning: the notice lines of start-up are not written.
    let port = free_port().to_string();
    let s = Server::usher(&["--port", &port, "--loglevel", "warning"]);
    let mut c = s.client();
    assert!(c.call(&["PING"]).is_simple("PONG"));
    assert!(
        !s.log().contains("Ready to accept connections"),
        "{}",
        s.log()
    );
    // Raised to verbose at run time: a client closing is now logged.
    assert!(c
        .call(&["CONFIG", "SET", "loglevel", "verbose"])
        .is_simple("OK"));
    drop(s.client());
    assert!(
        s.log_shows("Client closed connection", Duration::from_secs(5)),
        "{}",
        s.log()
    );
    assert!(
        s.log_shows("Accepted 127.0.0.1:", Duration::from_secs(5)),
        "{}",
        s.log()
    );
    // notice: start-up lines, no per-client lines.
    let s = Server::usher(&["--loglevel", "notice"]);
    drop(s.client());
    assert!(s.log_shows("Ready to accept connections", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!s.log().contains("Client closed connection"), "{}", s.log());
}

#[test]
fn logfile_sends_the_log_to_a_file() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("usher-logfile-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let port = free_port();
    let mut child = Command::new(usher_tests::server::usher_bin())
        .args([
            "--port",
            &port.to_string(),
            "--logfile",
            path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut text = String::new();
    while Instant::now() < deadline && !text.contains("Ready to accept connections") {
        std::thread::sleep(Duration::from_millis(20));
        text = std::fs::read_to_string(&path).unwrap_or_default();
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("Ready to accept connections"), "{text}");
    // Redis's line shape: pid:role day month year time mark message.
    let line = text.lines().next().unwrap();
    let fields: Vec<&str> = line.splitn(7, ' ').collect();
    assert!(fields[0].ends_with(":M"), "{line}");
    assert!(["*", "#", "-", "."].contains(&fields[5]), "{line}");
}

/// With no `threads`, usher runs one worker per core but one (at least one) and one shard per
/// worker; `--threads N` alone gives N shards, and `--shards` more.
#[test]
fn the_default_thread_count_leaves_a_core_and_keeps_a_shard_per_worker() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server = Server::usher_default_threads(&[]);
    let mut c = server.client();
    let get = |c: &mut usher_tests::Client, name: &str| {
        c.call(&["CONFIG", "GET", name]).strings()[1].clone()
    };
    assert_eq!(
        get(&mut c, "threads"),
        cores.saturating_sub(1).max(1).to_string()
    );
    assert_eq!(
        get(&mut c, "shards"),
        cores.saturating_sub(1).max(1).to_string()
    );
    assert_eq!(
        c.info_field("server", "threads"),
        cores.saturating_sub(1).max(1).to_string()
    );
    let three = Server::usher(&["--threads", "3"]);
    let mut c = three.client();
    assert_eq!(get(&mut c, "threads"), "3");
    assert_eq!(get(&mut c, "shards"), "3");
    let more = Server::usher_default_threads(&["--shards", "8"]);
    assert_eq!(get(&mut more.client(), "shards"), "8");
}
