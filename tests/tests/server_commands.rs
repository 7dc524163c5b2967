//! Server commands against usher and redis-server 7.0.15: INFO (sections, keyspace,
//! commandstats, errorstats), CONFIG GET/SET/RESETSTAT, the COMMAND family (shapes, errors,
//! and every shared command's arity, flags and key positions), TIME, the database commands,
//! and shutting down by SHUTDOWN, SIGTERM and SIGINT.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use usher_tests::resp::{Client, Reply};
use usher_tests::{Differ, Server};

fn same(d: &mut Differ, commands: &[&[&str]]) {
    for c in commands {
        let args: Vec<Vec<u8>> = c.iter().map(|a| a.as_bytes().to_vec()).collect();
        d.run(&args);
    }
}

/// INFO's text as sections: name → ordered (field, value) pairs. Panics on a malformed line.
fn parse_info(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    // No section matched: an empty string, as Redis answers.
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "INFO must end with CRLF: {text:?}"
    );
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("# ") {
            sections.push((name.to_string(), Vec::new()));
            continue;
        }
        let (k, v) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("INFO line without ':': {line:?}"));
        sections
            .last_mut()
            .unwrap_or_else(|| panic!("INFO field before any section: {line:?}"))
            .1
            .push((k.to_string(), v.to_string()));
    }
    sections
}

fn info(c: &mut Client, args: &[&str]) -> Vec<(String, Vec<(String, String)>)> {
    let mut cmd = vec!["INFO"];
    cmd.extend_from_slice(args);
    parse_info(&c.call(&cmd).text())
}

fn section_names(s: &[(String, Vec<(String, String)>)]) -> Vec<String> {
    s.iter().map(|(n, _)| n.clone()).collect()
}

fn info_field(c: &mut Client, section: &str, name: &str) -> Option<String> {
    info(c, &[section])
        .into_iter()
        .flat_map(|(_, f)| f)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// `a=1,b=2` → map.
fn kv_list(v: &str) -> BTreeMap<String, String> {
    v.split(',')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("k=v");
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn info_sections_are_redis_sections_in_redis_order() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for args in [
        &[][..],
        &["default"],
        &["all"],
        &["everything"],
        &["server"],
        &["CLIENTS", "memory"],
        &["keyspace", "server"],
        &["commandstats"],
        &["errorstats"],
        &["latencystats"],
        &["LatencyStats", "keyspace"],
        &["stats"],
        &["nosuchsection"],
    ] {
        let mut expected = section_names(&info(&mut r, args));
        if args == ["everything"] {
            // usher's own section sits where Redis lists its modules' sections.
            expected.push("Waitingroom".to_string());
        }
        assert_eq!(
            section_names(&info(&mut u, args)),
            expected,
            "INFO {args:?}"
        );
    }
    // usher's own section lists the waiting-room events.
    u.call(&["ENTER", "q:{i}", "a:{i}", "ann"]);
    let room = info(&mut u, &["waitingroom"]);
    let (name, fields) = &room[0];
    assert_eq!(name, "Waitingroom");
    assert_eq!(fields[0], ("events".to_string(), "1".to_string()));
    assert!(fields[1].1.starts_with("db=0,waiting=1,") && fields[1].1.ends_with(",queue=q:{i}"));
    // Fields monitoring tools read are present in both, under Redis's names.
    let must_have: &[(&str, &[&str])] = &[
        (
            "server",
            &[
                "redis_version",
                "redis_mode",
                "os",
                "arch_bits",
                "process_id",
                "run_id",
                "tcp_port",
                "uptime_in_seconds",
                "uptime_in_days",
                "hz",
                "executable",
                "config_file",
            ],
        ),
        (
            "clients",
            &[
                "connected_clients",
                "maxclients",
                "blocked_clients",
                "tracking_clients",
            ],
        ),
        (
            "memory",
            &[
                "used_memory",
                "used_memory_human",
                "used_memory_rss",
                "used_memory_peak",
                "maxmemory",
                "maxmemory_policy",
                "mem_fragmentation_ratio",
                "mem_allocator",
            ],
        ),
        (
            "stats",
            &[
                "total_connections_received",
                "total_commands_processed",
                "instantaneous_ops_per_sec",
                "total_net_input_bytes",
                "total_net_output_bytes",
                "rejected_connections",
                "expired_keys",
                "evicted_keys",
                "keyspace_hits",
                "keyspace_misses",
                "pubsub_channels",
                "pubsub_patterns",
                "total_error_replies",
            ],
        ),
        ("replication", &["role", "connected_slaves"]),
        ("cpu", &["used_cpu_sys", "used_cpu_user"]),
        ("persistence", &["loading", "rdb_changes_since_last_save"]),
    ];
    for (section, fields) in must_have {
        let got: BTreeSet<String> = info(&mut u, &[section])
            .into_iter()
            .flat_map(|(_, f)| f.into_iter().map(|(k, _)| k))
            .collect();
        let reference: BTreeSet<String> = info(&mut r, &[section])
            .into_iter()
            .flat_map(|(_, f)| f.into_iter().map(|(k, _)| k))
            .collect();
        for f in *fields {
            assert!(reference.contains(*f), "redis has no {f} in {section}");
            assert!(got.contains(*f), "usher's INFO {section} lacks {f}");
        }
    }
    assert_eq!(
        info_field(&mut u, "server", "redis_version").as_deref(),
        Some("7.0.15")
    );
    assert_eq!(
        info_field(&mut u, "server", "tcp_port"),
        Some(usher.port.to_string())
    );
}

#[test]
fn info_keyspace_counts_keys_and_expires_like_redis() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    let mut lines = Vec::new();
    for s in [&usher, &redis] {
        let mut c = s.client();
        for k in ["a", "b", "c", "{x}1", "{x}2"] {
            assert!(c.call(&["SET", k, "v"]).is_simple("OK"));
        }
        assert_eq!(c.call(&["EXPIRE", "a", "100"]), Reply::Int(1));
        assert_eq!(c.call(&["PEXPIRE", "b", "200000"]), Reply::Int(1));
        assert!(c.call(&["SELECT", "5"]).is_simple("OK"));
        assert!(c.call(&["SET", "five", "v"]).is_simple("OK"));
        let ks = info(&mut c, &["keyspace"]);
        assert_eq!(ks.len(), 1);
        lines.push(ks[0].1.clone());
    }
    // avg_ttl is an estimate in both; keys and expires are exact.
    for l in &mut lines {
        for (_, v) in l.iter_mut() {
            let mut m = kv_list(v);
            let ttl: i64 = m["avg_ttl"].parse().unwrap();
            assert!(
                ttl == 0 || (90_000..=200_000).contains(&ttl),
                "avg_ttl {ttl}"
            );
            m.remove("avg_ttl");
            *v = format!("{m:?}");
        }
    }
    assert_eq!(lines[0], lines[1]);
    assert_eq!(lines[0][0].0, "db0");
    assert!(
        lines[0][0].1.contains("\"expires\": \"2\""),
        "{:?}",
        lines[0]
    );
}

/// `cmdstat_x:calls=..,usec=..,...` without the timing fields.
fn command_counts(c: &mut Client) -> BTreeMap<String, BTreeMap<String, String>> {
    info(c, &["commandstats"])
        .into_iter()
        .flat_map(|(_, f)| f)
        .map(|(k, v)| {
            let mut m = kv_list(&v);
            m.remove("usec");
            m.remove("usec_per_call");
            (k, m)
        })
        .collect()
}

fn error_counts(c: &mut Client) -> BTreeMap<String, String> {
    info(c, &["errorstats"])
        .into_iter()
        .flat_map(|(_, f)| f)
        .collect()
}

#[test]
fn commandstats_and_errorstats_count_calls_failures_and_rejections_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["CONFIG", "RESETSTAT"],
            &["SET", "k", "v"],
            &["SET", "k", "v2"],
            &["SET", "n", "1"],
            &["GET", "k"],
            &["GET", "missing"],
            &["GET"],
            &["GET", "a", "b"],
            &["INCR", "k"],
            &["INCR", "n"],
            &["LPUSH_NOSUCH", "x"],
            &["SET", "k", "v", "EX", "-1"],
            &["MULTI"],
            &["SET", "q", "1"],
            &["GET"],
            &["EXEC"],
            &["SELECT", "99"],
            &["CLIENT", "NOSUCH"],
        ],
    );
    let (u, r) = (command_counts(&mut d.usher), command_counts(&mut d.redis));
    assert_eq!(u, r);
    assert_eq!(u["cmdstat_get"]["calls"], "2");
    assert_eq!(u["cmdstat_get"]["rejected_calls"], "3");
    assert_eq!(u["cmdstat_incr"]["failed_calls"], "1");
    let (ue, re) = (error_counts(&mut d.usher), error_counts(&mut d.redis));
    assert_eq!(ue, re);
    assert!(ue.contains_key("errorstat_EXECABORT"), "{ue:?}");
    // total_error_replies and the command counter agree with Redis too.
    for f in ["total_error_replies", "total_commands_processed"] {
        assert_eq!(
            info_field(&mut d.usher, "stats", f),
            info_field(&mut d.redis, "stats", f),
            "{f}"
        );
    }
}

/// Errors a script returns or raises are counted as Redis 7.0 counts them: a command refused
/// or failing inside the script counts once, where it happened (the command's rejected or
/// failed call, its error code), and the script's call is failed without counting the error
/// again (Redis's `ignore_error_stats_update`); an error the script makes itself counts
/// under its own code, nested ones included.
#[test]
fn script_errors_are_counted_once_as_redis_counts_them() {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    let lib = "#!lua name=errlib\nredis.register_function('bad', function() \
               return redis.error_reply('MYERR from a function') end)";
    same(
        &mut d,
        &[&["SET", "s", "v"], &["FUNCTION", "LOAD", "REPLACE", lib]],
    );
    let cases: &[&[&[&str]]] = &[
        &[&["EVAL", "return redis.error_reply('BAD oops')", "0"]],
        &[
            &["EVAL", "return {err='X'}", "0"],
            &[
                "EVAL",
                "return {err='ABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890 y'}",
                "0",
            ],
            &[
                "EVAL",
                "return {err='ABCDEFGHIJKLMNOPQRSTUVWXYZ1234 y'}",
                "0",
            ],
        ],
        &[&["EVAL", "return redis.pcall('nosuch')", "0"]],
        &[&["EVAL", "return redis.call('lpush', 's', 'x')", "0"]],
        &[&["EVAL", "return redis.pcall('lpush', 's', 'x')", "0"]],
        &[&["EVAL", "redis.pcall('lpush', 's', 'x') return 1", "0"]],
        &[&[
            "EVAL",
            "return tostring(redis.pcall('lpush', 's', 'x').ignore_error_stats_update)",
            "0",
        ]],
        &[&[
            "EVAL",
            "return {1, {err='NEST x'}, redis.pcall('lpush', 's', 'x'), {err='NEST2 y'}}",
            "0",
        ]],
        &[&["EVAL_RO", "return redis.call('set', 'k', 'v')", "0"]],
        &[&["EVAL", "return redis.call('get')", "0"]],
        &[&["EVAL", "return redis.call('get', 'a', 'b')", "0"]],
        &[&["EVAL", "return nil + 1", "0"]],
        &[&[
            "EVAL",
            "local ok, e = pcall(redis.call, 'lpush', 's', 'x') return e",
            "0",
        ]],
        &[&["FCALL", "bad", "0"], &["FCALL", "nosuchfn", "0"]],
        &[
            &["MULTI"],
            &["EVAL", "return redis.error_reply('INTX y')", "0"],
            &["EVAL", "return redis.call('lpush', 's', 'x')", "0"],
            &["EXEC"],
        ],
        &[
            &[
                "ACL", "SETUSER", "lim", "on", "nopass", "+eval", "+get", "+auth", "~*",
            ],
            &["AUTH", "lim", "x"],
            &["EVAL", "return redis.call('set', 'a', 'b')", "0"],
            &["EVAL", "return redis.pcall('set', 'a', 'b')", "0"],
            &["AUTH", "default", "x"],
        ],
    ];
    for case in cases {
        same(&mut d, &[&["CONFIG", "RESETSTAT"]]);
        same(&mut d, case);
        let what = format!("{case:?}");
        let (u, r) = (command_counts(&mut d.usher), command_counts(&mut d.redis));
        assert_eq!(u, r, "commandstats after {what}");
        let (ue, re) = (error_counts(&mut d.usher), error_counts(&mut d.redis));
        assert_eq!(ue, re, "errorstats after {what}");
        let field = |c: &mut Client| info_field(c, "stats", "total_error_replies");
        assert_eq!(field(&mut d.usher), field(&mut d.redis), "after {what}");
    }
    // The cases did count: the last one's two refused SETs are rejected calls on both.
    let counts = command_counts(&mut d.usher);
    assert_eq!(counts["cmdstat_set"]["rejected_calls"], "2", "{counts:?}");
    assert_eq!(counts["cmdstat_eval"]["failed_calls"], "2", "{counts:?}");
    // An error code that is not UTF-8 is counted, and written, byte for byte as Redis does
    // (redis-py's `test_info_with_non_utf8_errorstat`).
    same(&mut d, &[&["CONFIG", "RESETSTAT"]]);
    let eval: Vec<Vec<u8>> = vec![
        b"EVAL".to_vec(),
        b"return redis.error_reply('\xff\xfeBAD oops')".to_vec(),
        b"0".to_vec(),
    ];
    let (u, r) = d.both(&eval);
    assert_eq!(u, r);
    let (u, r) = d.both(&[b"INFO".to_vec(), b"errorstats".to_vec()]);
    assert_eq!(u, r);
    assert!(
        matches!(&u, Reply::Bulk(b) if b.windows(13).any(|w| w == b"errorstat_\xff\xfeB")),
        "{u:?}"
    );
}

/// `INFO errorstats` keeps at most 128 codes. Up to there usher counts as Redis 7.0.15 does;
/// the 129th code empties the table and leaves `ERRORSTATS_DISABLED` counted once until
/// CONFIG RESETSTAT, as Redis 7.2 does (7.0.15 keeps every code a script makes up, without
/// bound), while `total_error_replies` goes on counting.
#[test]
fn errorstats_keep_at_most_128_codes() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(&mut d, &[&["CONFIG", "RESETSTAT"]]);
    let code_error = |c: &mut Client, i: usize| {
        let reply = c.call(&[
            "EVAL",
            "return redis.error_reply(ARGV[1] .. ' made up')",
            "0",
            &format!("E{i}"),
        ]);
        assert!(
            matches!(&reply, Reply::Error(e) if e == &format!("E{i} made up")),
            "{reply:?}"
        );
    };
    for i in 0..128 {
        code_error(&mut d.usher, i);
        code_error(&mut d.redis, i);
    }
    let (u, r) = (error_counts(&mut d.usher), error_counts(&mut d.redis));
    assert_eq!(u, r);
    assert_eq!(u.len(), 128);
    for i in 128..140 {
        code_error(&mut d.usher, i);
    }
    // Known codes no longer count either, once the table is off.
    same(&mut d, &[&["GET"]]);
    let u = error_counts(&mut d.usher);
    let want: BTreeMap<String, String> = [(
        "errorstat_ERRORSTATS_DISABLED".to_string(),
        "count=1".to_string(),
    )]
    .into();
    assert_eq!(u, want);
    let total = info_field(&mut d.usher, "stats", "total_error_replies");
    assert_eq!(total.as_deref(), Some("141"));
    same(&mut d, &[&["CONFIG", "RESETSTAT"], &["GET"]]);
    assert_eq!(error_counts(&mut d.usher), error_counts(&mut d.redis));
    assert_eq!(error_counts(&mut d.usher).len(), 1);
}

/// MODULE: usher loads no modules. LIST answers the empty list, and LOAD, LOADEX and UNLOAD
/// are refused as Redis 7.0 refuses them while `enable-module-command` is `no`, and fail as a
/// failed load fails where it is `yes`.
#[test]
fn module_commands_match_redis() {
    let probes: &[&[&str]] = &[
        &["MODULE", "LIST"],
        &["MODULE", "HELP"],
        &["MODULE", "LOAD", "/nonexistent/module.so", "a", "b"],
        &[
            "MODULE",
            "LOADEX",
            "/nonexistent/module.so",
            "CONFIG",
            "a",
            "b",
            "ARGS",
            "c",
        ],
        &["MODULE", "UNLOAD", "nosuch"],
        &["MODULE"],
        &["MODULE", "LIST", "extra"],
        &["MODULE", "UNLOAD"],
        &["MODULE", "NOSUCH"],
        &["CONFIG", "GET", "enable-module-command"],
        &["CONFIG", "SET", "enable-module-command", "yes"],
    ];
    for setting in ["no", "yes"] {
        let usher = Server::usher(&["--enable-module-command", setting]);
        let redis = Server::redis(&["--enable-module-command", setting]);
        let mut d = Differ::new(&usher, &redis);
        same(&mut d, probes);
        let reply = d.usher.call(&["MODULE", "LOAD", "/nonexistent/module.so"]);
        let want = if setting == "no" {
            "ERR MODULE command not allowed"
        } else {
            "ERR Error loading"
        };
        assert!(
            matches!(&reply, Reply::Error(e) if e.starts_with(want)),
            "{reply:?}"
        );
    }
}

#[test]
fn config_resetstat_zeroes_the_counters() {
    let s = Server::usher(&[]);
    let mut c = s.client();
    for _ in 0..5 {
        c.call(&["SET", "k", "v"]);
    }
    c.call(&["NOSUCH"]);
    assert!(c.call(&["CONFIG", "RESETSTAT"]).is_simple("OK"));
    assert_eq!(
        info_field(&mut c, "stats", "total_error_replies").as_deref(),
        Some("0")
    );
    let counts = command_counts(&mut c);
    assert!(!counts.contains_key("cmdstat_set"), "{counts:?}");
    assert!(error_counts(&mut c).is_empty());
}

/// `CONFIG GET` replies as a map (RESP2: flat pairs).
fn config_map(c: &mut Client, patterns: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = vec!["CONFIG", "GET"];
    cmd.extend_from_slice(patterns);
    let items = c.call(&cmd).strings();
    assert!(items.len().is_multiple_of(2));
    items
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

#[test]
fn config_get_matches_redis_for_shared_directives() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    let (um, rm) = (config_map(&mut u, &["*"]), config_map(&mut r, &["*"]));
    // Values that legitimately differ between two processes.
    let per_process = ["port", "dir", "maxclients"];
    let mut shared = 0;
    let mut differ = Vec::new();
    for (k, v) in &um {
        if let Some(rv) = rm.get(k) {
            shared += 1;
            if rv != v && !per_process.contains(&k.as_str()) {
                differ.push(format!("{k}: usher {v:?} redis {rv:?}"));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "CONFIG GET differs:\n{}",
        differ.join("\n")
    );
    assert!(shared >= 30, "only {shared} directives in common");
    // Every name usher lists is one Redis knows, except usher's own.
    let own = [
        "threads",
        "shards",
        "token-secret",
        "token-signing-key",
        "queue-now-max-skew",
        "cluster-node-id",
        "metrics-port",
    ];
    let unknown: Vec<&String> = um
        .keys()
        .filter(|k| !rm.contains_key(*k) && !own.contains(&k.as_str()))
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");
    // Patterns, several arguments, aliases and the name as typed.
    // Names only one server knows are left out of the comparison (usher implements a subset
    // of Redis's directives).
    let both_know = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                um.contains_key(&k) && rm.contains_key(&k)
            })
            .collect()
    };
    for patterns in [
        &["maxmemory"][..],
        &["max*"],
        &["*max-*-entries"],
        &["hz", "timeout", "hz"],
        &["MAXMEMORY"],
        &["list-max-ziplist-size"],
        &["nosuch"],
        &["client-output-buffer-limit"],
    ] {
        let (a, b) = (config_map(&mut u, patterns), config_map(&mut r, patterns));
        assert_eq!(both_know(a), both_know(b), "CONFIG GET {patterns:?}");
    }
    // RESP3: a real map.
    u.call(&["HELLO", "3"]);
    assert!(matches!(u.call(&["CONFIG", "GET", "hz"]), Reply::Map(m) if m.len() == 1));
}

#[test]
fn config_set_errors_and_effects_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["CONFIG", "SET", "maxmemory", "10mb"],
            &["CONFIG", "GET", "maxmemory"],
            &["CONFIG", "SET", "MAXMEMORY", "1gb"],
            &["CONFIG", "GET", "maxmemory"],
            &["CONFIG", "SET", "maxmemory", "1zz"],
            &["CONFIG", "SET", "hz", "abc"],
            &["CONFIG", "SET", "hz", "0"],
            &["CONFIG", "GET", "hz"],
            &["CONFIG", "SET", "hz", "1000"],
            &["CONFIG", "GET", "hz"],
            &["CONFIG", "SET", "hz", "10"],
            &["CONFIG", "SET", "timeout", "-1"],
            &["CONFIG", "SET", "loglevel", "bogus"],
            &["CONFIG", "SET", "loglevel", "WARNING"],
            &["CONFIG", "GET", "loglevel"],
            &["CONFIG", "SET", "protected-mode", "maybe"],
            &["CONFIG", "SET", "nosuch", "1"],
            &["CONFIG", "SET", "hz"],
            &["CONFIG", "SET", "hz", "5", "timeout"],
            &["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"],
            &["CONFIG", "SET", "maxmemory", "1", "MAXMEMORY", "2"],
            &["CONFIG", "SET", "databases", "4"],
            &["CONFIG", "SET", "daemonize", "yes"],
            &["CONFIG", "SET", "client-output-buffer-limit", "foo"],
            &["CONFIG", "SET", "client-output-buffer-limit", "foo 1 2 3"],
            &[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1mb 512kb x",
            ],
            &[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1mb 512kb 10",
            ],
            &["CONFIG", "GET", "client-output-buffer-limit"],
            &["CONFIG", "SET", "proto-max-bulk-len", "100"],
            &["CONFIG", "SET", "client-query-buffer-limit", "100"],
            &["CONFIG", "SET", "maxclients", "0"],
            // All pairs or none: a bad second pair leaves the first unapplied.
            &["CONFIG", "SET", "maxmemory", "123456", "hz", "abc"],
            &["CONFIG", "GET", "maxmemory"],
            &["CONFIG", "SET", "maxmemory", "2mb", "timeout", "7"],
            // (One name per CONFIG GET: Redis's reply order follows its dict.)
            &["CONFIG", "GET", "maxmemory"],
            &["CONFIG", "GET", "timeout"],
            &["CONFIG", "NOSUCH"],
            &["CONFIG"],
            &["CONFIG", "GET"],
        ],
    );
}

/// One COMMAND INFO entry: arity, flags, (first, last, step), tips, key specs, and its
/// subcommands by name.
#[derive(Debug, PartialEq)]
struct CommandRow {
    arity: i64,
    flags: BTreeSet<String>,
    keys: (i64, i64, i64),
    tips: Reply,
    key_specs: Reply,
    /// Compared separately (reported, not required).
    acl: Vec<String>,
}

impl CommandRow {
    fn table_fields(&self) -> (i64, &BTreeSet<String>, (i64, i64, i64), &Reply, &Reply) {
        (
            self.arity,
            &self.flags,
            self.keys,
            &self.tips,
            &self.key_specs,
        )
    }
}

fn command_rows(c: &mut Client) -> BTreeMap<String, CommandRow> {
    fn add(entry: &Reply, out: &mut BTreeMap<String, CommandRow>) {
        let e = entry.items();
        assert_eq!(e.len(), 10, "COMMAND entries have 10 fields: {entry:?}");
        let name = e[0].text();
        out.insert(
            name,
            CommandRow {
                arity: e[1].int(),
                flags: e[2].items().iter().map(Reply::text).collect(),
                keys: (e[3].int(), e[4].int(), e[5].int()),
                tips: e[7].clone(),
                key_specs: e[8].clone(),
                acl: e[6].items().iter().map(Reply::text).collect(),
            },
        );
        for sub in e[9].items() {
            add(sub, out);
        }
    }
    let mut out = BTreeMap::new();
    for entry in c.call(&["COMMAND"]).items() {
        add(entry, &mut out);
    }
    out
}

#[test]
fn command_info_arity_flags_and_keys_match_redis_for_every_shared_command() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let u = command_rows(&mut usher.client());
    let r = command_rows(&mut redis.client());
    let mut mismatches = Vec::new();
    let mut acl_mismatches = Vec::new();
    let mut shared = 0;
    for (name, row) in &u {
        let Some(reference) = r.get(name) else {
            continue;
        };
        shared += 1;
        // Redis 7.2's `ZRANK key member WITHSCORE` makes these -3 (docs/compatibility.md).
        let newer_arity = ["zrank", "zrevrank"].contains(&name.as_str())
            && row.arity == -3
            && reference.arity == 3;
        if row.table_fields() != reference.table_fields()
            && !(newer_arity
                && row.flags == reference.flags
                && row.keys == reference.keys
                && row.tips == reference.tips
                && row.key_specs == reference.key_specs)
        {
            mismatches.push(format!("{name}:\n  usher {row:?}\n  redis {reference:?}"));
        }
        if row.acl != reference.acl {
            acl_mismatches.push(format!(
                "{name}: usher {:?} redis {:?}",
                row.acl, reference.acl
            ));
        }
    }
    if !acl_mismatches.is_empty() {
        // tests/tests/acl.rs requires these to be equal; listed here too for the record.
        eprintln!(
            "{} commands differ in ACL categories:\n{}",
            acl_mismatches.len(),
            acl_mismatches.join("\n")
        );
    }
    assert!(shared > 80, "only {shared} commands in common");
    assert!(
        mismatches.is_empty(),
        "{} COMMAND INFO rows differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// COMMAND GETKEYSANDFLAGS over every kind of key spec: index and keyword begin-searches,
/// range and keynum find-keys (with steps and limits), optional keywords, not-key specs,
/// incomplete specs answered by the command's own key finder (SORT, MIGRATE), variable
/// flags (SET, BITFIELD), and the errors in Redis's order. COMMAND GETKEYS on the same.
#[test]
fn getkeys_and_flags_match_redis_for_every_kind_of_key_spec() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    let cases: &[&[&str]] = &[
        &["GET", "k"],
        &["SET", "k", "v"],
        &["SET", "k", "v", "GET"],
        &["SET", "k", "v", "EX", "10", "get"],
        &["SET", "k", "v", "GETX"],
        &["APPEND", "k", "v"],
        &["DEL", "a", "b", "c"],
        &["MSET", "a", "1", "b", "2"],
        &["MSETNX", "a", "1", "b", "2", "c", "3"],
        &["MGET", "a", "b"],
        &["RENAME", "a", "b"],
        &["COPY", "a", "b", "DB", "1"],
        &["LMOVE", "a", "b", "LEFT", "RIGHT"],
        &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
        &["RPOPLPUSH", "a", "b"],
        &["BLPOP", "a", "b", "0"],
        &["LMPOP", "2", "a", "b", "LEFT"],
        &["LMPOP", "x", "a", "b", "LEFT"],
        &["LMPOP", "0", "a", "LEFT"],
        &["BLMPOP", "0", "2", "a", "b", "LEFT"],
        &["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"],
        &["ZUNION", "2", "a", "b"],
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
        &["ZDIFFSTORE", "d", "1", "a"],
        &["ZRANGESTORE", "d", "s", "0", "-1"],
        &["ZMPOP", "1", "a", "MIN"],
        &["BZMPOP", "0", "1", "a", "MIN"],
        &["SINTERCARD", "3", "a", "b", "c"],
        &["SMOVE", "a", "b", "m"],
        &["SINTERSTORE", "d", "a", "b"],
        &["SUNION", "a", "b"],
        &["PFMERGE", "d", "a", "b"],
        &["PFCOUNT", "a", "b"],
        &["PFADD", "h", "x"],
        &["BITOP", "AND", "d", "a", "b"],
        &["BITFIELD", "k", "GET", "u8", "0"],
        &["BITFIELD", "k", "GET", "u8", "0", "SET", "u8", "0", "1"],
        &["BITFIELD", "k", "OVERFLOW", "SAT", "GET", "u8", "0"],
        &["BITFIELD", "k", "INCRBY", "u8", "0"],
        &["BITFIELD_RO", "k", "GET", "u8", "0"],
        &["SORT", "k"],
        &["SORT", "k", "BY", "w_*", "GET", "o_*", "STORE", "d"],
        &["SORT", "k", "LIMIT", "0", "1", "STORE", "d1", "STORE", "d2"],
        &["SORT", "k", "STORE"],
        &["SORT_RO", "k", "BY", "w_*"],
        &["MIGRATE", "h", "6379", "k", "0", "1000"],
        &[
            "MIGRATE", "h", "6379", "", "0", "1000", "COPY", "KEYS", "a", "b",
        ],
        &[
            "MIGRATE", "h", "6379", "", "0", "1000", "AUTH", "p", "KEYS", "a",
        ],
        &["GEORADIUS", "g", "0", "0", "1", "km"],
        &["GEORADIUS", "g", "0", "0", "1", "km", "STORE", "d"],
        &["GEORADIUS", "g", "0", "0", "1", "km", "STOREDIST", "d"],
        &["GEORADIUSBYMEMBER", "g", "m", "1", "km", "STORE", "d"],
        &[
            "GEOSEARCHSTORE",
            "d",
            "s",
            "FROMMEMBER",
            "m",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0"],
        &["XREAD", "STREAMS", "a", "0"],
        &["XREAD", "STREAMS", "a", "b", "0"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "0"],
        &["XADD", "s", "*", "f", "v"],
        &["XGROUP", "CREATE", "s", "g", "$"],
        &["XINFO", "STREAM", "s"],
        &["OBJECT", "ENCODING", "k"],
        &["MEMORY", "USAGE", "k"],
        &["EVAL", "return 1", "2", "a", "b", "c"],
        &["EVAL", "return 1", "0"],
        &["EVAL_RO", "return 1", "1", "a"],
        &["EVALSHA", "abc", "1", "a"],
        &["FCALL", "f", "2", "a", "b"],
        &["FCALL_RO", "f", "1", "a"],
        &["EXISTS", "a", "b"],
        &["TOUCH", "a"],
        &["WATCH", "a", "b"],
        &["SPUBLISH", "ch", "m"],
        &["SSUBSCRIBE", "ch"],
        &["PUBLISH", "ch", "m"],
        &["LCS", "a", "b"],
        &["HSET", "h", "f", "v"],
        &["ZADD", "z", "1", "m"],
        &["EXPIRE", "k", "10"],
        &["GETEX", "k", "PERSIST"],
        &["GETDEL", "k"],
        &["INCRBYFLOAT", "k", "1.5"],
        &["RESTORE", "k", "0", "x"],
        &["DUMP", "k"],
        &["TYPE", "k"],
        &["PING"],
        &["GET"],
        &["GET", "a", "b"],
        &["NOSUCH", "a"],
        &[],
    ];
    for case in cases {
        for sub in ["GETKEYSANDFLAGS", "GETKEYS"] {
            let mut argv: Vec<Vec<u8>> = vec![b"COMMAND".to_vec(), sub.as_bytes().to_vec()];
            argv.extend(case.iter().map(|a| a.as_bytes().to_vec()));
            d.run(&argv);
        }
    }
    same(
        &mut d,
        &[
            &["COMMAND", "GETKEYSANDFLAGS"],
            &["COMMAND", "HELP"],
            &["COMMAND", "INFO", "command|getkeysandflags"],
            &["COMMAND", "DOCS", "command|getkeysandflags"],
        ],
    );
}

/// A RESP3 reply with every map's entries in key order: Redis lists a container's
/// subcommands in its dict's order, which changes between processes.
fn canonical(r: Reply) -> Reply {
    match r {
        Reply::Map(pairs) => {
            let mut pairs: Vec<(Reply, Reply)> = pairs
                .into_iter()
                .map(|(k, v)| (canonical(k), canonical(v)))
                .collect();
            pairs.sort_by_key(|(k, _)| format!("{k:?}"));
            Reply::Map(pairs)
        }
        Reply::Array(items) => Reply::Array(items.into_iter().map(canonical).collect()),
        Reply::Set(items) => Reply::Set(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// A COMMAND DOCS reply (name → docs) with each entry's `subcommands` field removed.
fn without_subcommands(r: Reply) -> Reply {
    let Reply::Map(entries) = r else { return r };
    Reply::Map(
        entries
            .into_iter()
            .map(|(name, docs)| match docs {
                Reply::Map(fields) => (
                    name,
                    Reply::Map(
                        fields
                            .into_iter()
                            .filter(|(k, _)| *k != Reply::bulk("subcommands"))
                            .collect(),
                    ),
                ),
                other => (name, other),
            })
            .collect(),
    )
}

/// COMMAND DOCS of every command both servers have, subcommands included, in RESP3 (maps,
/// sets and status strings keep their types): Redis 7.0.15's summary, since, group,
/// complexity, doc flags, history and argument tree, which redis-cli builds its hints from.
#[test]
fn command_docs_match_redis_for_every_shared_command() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    let redis_names: BTreeSet<String> =
        r.call(&["COMMAND", "LIST"]).strings().into_iter().collect();
    for c in [&mut u, &mut r] {
        c.call(&["HELLO", "3"]);
    }
    let mut differ = Vec::new();
    let mut shared = 0;
    for name in u.call(&["COMMAND", "LIST"]).strings() {
        if !redis_names.contains(&name) {
            continue;
        }
        shared += 1;
        // A container's subcommands are compared one by one (usher has some Redis lacks,
        // such as CLUSTER SETTOPOLOGY, and lacks some, such as CLUSTER MEET).
        let cmd = ["COMMAND", "DOCS", name.as_str()];
        let (ours, theirs) = (
            canonical(without_subcommands(u.call(&cmd))),
            canonical(without_subcommands(r.call(&cmd))),
        );
        if ours != theirs {
            differ.push(format!("{name}:\n  usher {ours:?}\n  redis {theirs:?}"));
        }
    }
    assert!(shared > 200, "only {shared} commands in common");
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
}

/// Key specs in RESP3: the specs and their flags are sets, the spec bodies maps.
#[test]
fn key_specs_have_redis_resp3_shapes() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for c in [&mut u, &mut r] {
        c.call(&["HELLO", "3"]);
    }
    for cmd in [
        &[
            "COMMAND",
            "INFO",
            "sort",
            "set",
            "xread",
            "migrate",
            "zunionstore",
        ][..],
        &["COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "STORE", "d"],
        &["COMMAND", "GETKEYSANDFLAGS", "LMPOP", "2", "a", "b", "LEFT"],
    ] {
        assert_eq!(u.call(cmd), r.call(cmd), "{cmd:?}");
    }
}

#[test]
fn command_subcommands_have_redis_shapes_and_errors() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["COMMAND", "INFO", "get", "nosuchcommand"],
            &["COMMAND", "INFO", "client|setname", "config|get"],
            &["COMMAND", "GETKEYS", "SET", "k", "v"],
            &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
            &["COMMAND", "GETKEYS", "MGET", "a", "b", "c"],
            &["COMMAND", "GETKEYS", "RENAME", "a", "b"],
            &["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"],
            &["COMMAND", "GETKEYS", "GET"],
            &["COMMAND", "GETKEYS", "PING"],
            &["COMMAND", "GETKEYS", "nosuch", "a"],
            &["COMMAND", "GETKEYS"],
            &["COMMAND", "COUNT", "x"],
            &["COMMAND", "NOSUCH"],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "xyz*"],
            &["COMMAND", "LIST", "FILTERBY", "BOGUS", "x"],
            &["COMMAND", "LIST", "BOGUS"],
            &["COMMAND", "DOCS", "nosuchcommand"],
        ],
    );
    for c in [&mut d.usher, &mut d.redis] {
        let count = c.call(&["COMMAND", "COUNT"]).int();
        assert_eq!(c.call(&["COMMAND"]).items().len() as i64, count);
        let list = c.call(&["COMMAND", "LIST"]).strings();
        let top = list.iter().filter(|n| !n.contains('|')).count();
        assert_eq!(top as i64, count);
        assert!(list.contains(&"client|setname".to_string()));
        let pattern = c
            .call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "get*"])
            .strings();
        assert!(pattern.contains(&"getrange".to_string()), "{pattern:?}");
        assert!(pattern.iter().all(|n| n.starts_with("get")));
        let acl = c
            .call(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"])
            .strings();
        assert!(acl.contains(&"incrbyfloat".to_string()) && !acl.contains(&"del".to_string()));
        // DOCS: a map from name to a map with summary, since, group, complexity.
        let docs = c.call(&["COMMAND", "DOCS", "get", "client"]);
        let pairs = match docs {
            Reply::Array(v) => v,
            other => panic!("{other:?}"),
        };
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs[0], Reply::bulk("get"));
        let doc: Vec<String> = pairs[1]
            .items()
            .iter()
            .step_by(2)
            .map(Reply::text)
            .collect();
        for k in ["summary", "since", "group", "complexity"] {
            assert!(doc.contains(&k.to_string()), "{doc:?}");
        }
        let client_doc: Vec<String> = pairs[3]
            .items()
            .iter()
            .step_by(2)
            .map(Reply::text)
            .collect();
        assert!(
            client_doc.contains(&"subcommands".to_string()),
            "{client_doc:?}"
        );
    }
}

#[test]
fn command_docs_since_and_group_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let docs = |c: &mut Client| -> BTreeMap<String, (String, String)> {
        let items = c.call(&["COMMAND", "DOCS"]).items().to_vec();
        items
            .chunks(2)
            .map(|p| {
                let fields: BTreeMap<String, Reply> = p[1]
                    .items()
                    .chunks(2)
                    .map(|kv| (kv[0].text(), kv[1].clone()))
                    .collect();
                (
                    p[0].text(),
                    (fields["since"].text(), fields["group"].text()),
                )
            })
            .collect()
    };
    let (u, r) = (docs(&mut usher.client()), docs(&mut redis.client()));
    let differ: Vec<String> = u
        .iter()
        .filter_map(|(k, v)| match r.get(k) {
            Some(rv) if rv != v => Some(format!("{k}: usher {v:?} redis {rv:?}")),
            _ => None,
        })
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

#[test]
fn time_replies_seconds_and_microseconds_as_strings() {
    let s = Server::usher(&[]);
    let mut c = s.client();
    let t = c.call(&["TIME"]);
    let parts = t.items();
    assert_eq!(parts.len(), 2);
    assert!(matches!(parts[0], Reply::Bulk(_)) && matches!(parts[1], Reply::Bulk(_)));
    let secs: u64 = parts[0].text().parse().unwrap();
    let micros: u64 = parts[1].text().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2, "TIME {secs} vs clock {now}");
    assert!(micros < 1_000_000);
    assert_eq!(
        c.call(&["TIME", "x"]),
        Reply::Error("ERR wrong number of arguments for 'time' command".into())
    );
}

#[test]
fn database_commands_match_redis() {
    let (usher, redis) = (
        Server::usher(&["--shards", "4", "--threads", "2"]),
        Server::redis(&[]),
    );
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["DBSIZE"],
            &["MSET", "a", "1", "b", "2", "{t}c", "3", "d", "4"],
            &["DBSIZE"],
            &["SELECT", "1"],
            &["SET", "one", "1"],
            &["DBSIZE"],
            &["SWAPDB", "0", "1"],
            &["DBSIZE"],
            &["GET", "a"],
            &["SELECT", "0"],
            &["DBSIZE"],
            &["GET", "one"],
            &["SWAPDB", "0", "0"],
            &["SWAPDB", "0", "16"],
            &["SWAPDB", "-1", "0"],
            &["SWAPDB", "x", "0"],
            &["SWAPDB", "0", "y"],
            &["SWAPDB", "0"],
            &["MOVE", "one", "1"],
            &["MOVE", "one", "-1"],
            &["MOVE", "one", "99999999999"],
            &["COPY", "one", "uno", "DB", "-1"],
            &["COPY", "one", "uno", "DB", "99999999999"],
            &["SELECT", "1"],
            &["DBSIZE"],
            &["FLUSHDB", "ASYNC"],
            &["DBSIZE"],
            &["SELECT", "0"],
            &["DBSIZE"],
            &["FLUSHDB", "bogus"],
            &["FLUSHDB", "SYNC", "x"],
            &["FLUSHALL", "bogus"],
            &["SET", "x", "1"],
            &["SELECT", "7"],
            &["SET", "y", "1"],
            &["FLUSHALL", "sync"],
            &["DBSIZE"],
            &["SELECT", "0"],
            &["DBSIZE"],
            &["DBSIZE", "x"],
            &["FLUSHALL"],
        ],
    );
}

#[test]
fn shutdown_options_that_do_not_stop_the_server_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["SHUTDOWN", "FOO"],
            &["SHUTDOWN", "ABORT"],
            &["SHUTDOWN", "NOSAVE", "ABORT"],
            &["MULTI"],
            &["SHUTDOWN"],
            &["EXEC"],
            &["PING"],
        ],
    );
}

#[test]
fn shutdown_exits_zero_without_replying() {
    let mut s = Server::usher(&["--threads", "2"]);
    let mut other = s.client();
    let mut c = s.client();
    c.set_timeout(Duration::from_secs(10));
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(c.read_to_close().is_empty(), "SHUTDOWN must not reply");
    let status = s.wait_exit(Duration::from_secs(10)).expect("usher exits");
    assert_eq!(status.code(), Some(0));
    other.set_timeout(Duration::from_secs(5));
    assert!(other.closes());
    assert!(
        s.log_shows("User requested shutdown", Duration::from_secs(5)),
        "{}",
        s.log()
    );
}

#[test]
fn sigterm_and_sigint_shut_down_cleanly() {
    for (sig, name) in [(15, "SIGTERM"), (2, "SIGINT")] {
        let mut s = Server::usher(&["--threads", "3"]);
        let mut idle = s.client();
        let mut sub = s.client();
        sub.send(&["SUBSCRIBE", "ch"]);
        sub.read().unwrap();
        assert!(idle.call(&["SET", "k", "v"]).is_simple("OK"));
        s.signal(sig);
        let status = s
            .wait_exit(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("usher ignored {name}"));
        assert_eq!(status.code(), Some(0), "{name}");
        let wait = Duration::from_secs(5);
        assert!(
            s.log_shows(&format!("Received {name}"), wait),
            "{}",
            s.log()
        );
        assert!(s.log_shows("ready to exit, bye bye", wait), "{}", s.log());
    }
}

#[test]
fn the_dispatch_gate_rejects_unknown_commands_and_bad_arity_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    let long = "x".repeat(300);
    let many: Vec<String> = (0..40).map(|i| format!("arg{i}")).collect();
    let mut with_many = vec!["nosuch"];
    with_many.extend(many.iter().map(String::as_str));
    same(
        &mut d,
        &[
            &["foo"],
            &["foo", "a"],
            &["FOO", "a", "b c"],
            &["foo", "multi\r\nline"],
            &[&long, &long],
            &["foo", &long, "b"],
            &with_many,
            &[""],
            &["get"],
            &["GET", "a", "b"],
            &["config", "get"],
            &["CONFIG", "SET", "x"],
            &["client", "setname"],
            &["OBJECT", "ENCODING"],
            &["object", "nosuch", "k"],
            &["CONFIG", &long],
        ],
    );
}

/// Every field Redis 7.0 prints in these sections is printed by usher too, in Redis's order
/// (usher's own fields may sit between them), so tools that parse INFO find what they read.
#[test]
fn info_has_every_redis_field_in_redis_order() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let (mut u, mut r) = (usher.client(), redis.client());
    for section in [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
    ] {
        let names = |c: &mut Client| -> Vec<String> {
            info(c, &[section])[0]
                .1
                .iter()
                .map(|(k, _)| k.clone())
                .collect()
        };
        let (un, rn) = (names(&mut u), names(&mut r));
        let missing: Vec<&String> = rn.iter().filter(|f| !un.contains(f)).collect();
        assert!(missing.is_empty(), "INFO {section} lacks {missing:?}");
        let in_usher_order: Vec<&String> = un.iter().filter(|f| rn.contains(f)).collect();
        assert_eq!(
            in_usher_order,
            rn.iter().collect::<Vec<_>>(),
            "INFO {section} order"
        );
    }
}
