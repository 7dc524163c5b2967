//! Per-command latency tracking: `INFO latencystats`, `LATENCY HISTOGRAM` and the two
//! `latency-tracking` directives, shaped as redis-server 7.0.15 shapes them, and the latency
//! monitor (`LATENCY LATEST / HISTORY / RESET / DOCTOR / GRAPH`). Durations differ between
//! servers, so replies are compared by structure (which commands, which percentiles, calls,
//! bucket labels, the rows of a latency graph) and checked for consistency, not by value.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use usher_tests::{Client, Reply, Server};

/// `latency_percentiles_usec_<cmd>` → [(percentile name, usec)].
fn latencystats(c: &mut Client) -> BTreeMap<String, Vec<(String, f64)>> {
    let text = c.call(&["INFO", "latencystats"]).text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("# Latencystats"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, values) = l.split_once(':').expect("name:values");
            let name = name
                .strip_prefix("latency_percentiles_usec_")
                .unwrap_or_else(|| panic!("unexpected line {l}"));
            let values = values
                .split(',')
                .filter(|v| !v.is_empty())
                .map(|v| {
                    let (p, us) = v.split_once('=').expect("p=usec");
                    let (int, frac) = us.split_once('.').expect("three decimals");
                    assert!(int.parse::<u64>().is_ok() && frac.len() == 3, "{us}");
                    (p.to_string(), us.parse().expect("a number"))
                })
                .collect();
            (name.to_string(), values)
        })
        .collect()
}

fn workload(c: &mut Client) {
    for i in 0..200 {
        c.call(&["SET", &format!("k{i}"), "v"]);
    }
    for i in 0..50 {
        c.call(&["GET", &format!("k{i}")]);
    }
    c.call(&["ZADD", "z", "1", "a"]);
    c.call(&["CONFIG", "GET", "maxmemory"]);
}

fn both() -> (Server, Server) {
    (
        Server::usher(&["--threads", "2", "--shards", "2"]),
        Server::redis(&[]),
    )
}

#[test]
fn info_latencystats_lists_the_same_commands_and_percentiles_as_redis() {
    let (usher, redis) = both();
    let (mut u, mut r) = (usher.client(), redis.client());
    for c in [&mut u, &mut r] {
        c.call(&["CONFIG", "RESETSTAT"]);
        workload(c);
    }
    let (us, rs) = (latencystats(&mut u), latencystats(&mut r));
    let names = |m: &BTreeMap<String, Vec<(String, f64)>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&us), names(&rs));
    for (name, values) in &us {
        let keys: Vec<&str> = values.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(keys, ["p50", "p99", "p99.9"], "{name}");
        let v: Vec<f64> = values.iter().map(|(_, us)| *us).collect();
        assert!(v[0] > 0.0 && v[0] <= v[1] && v[1] <= v[2], "{name}: {v:?}");
    }
}

#[test]
fn percentiles_directive_matches_redis_and_shapes_info() {
    let (usher, redis) = both();
    let (mut u, mut r) = (usher.client(), redis.client());
    for value in ["abc", "101", "-1", "", "0 12.5 100 33.3333333 1e1", "50 90"] {
        let set = ["CONFIG", "SET", "latency-tracking-info-percentiles", value];
        assert_eq!(u.call(&set), r.call(&set), "SET {value:?}");
        let get = ["CONFIG", "GET", "latency-tracking-info-percentiles"];
        assert_eq!(u.call(&get), r.call(&get), "after SET {value:?}");
    }
    for c in [&mut u, &mut r] {
        c.call(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "0 12.5 100",
        ]);
        workload(c);
    }
    let (us, rs) = (latencystats(&mut u), latencystats(&mut r));
    for stats in [&us, &rs] {
        let get = &stats["get"];
        let keys: Vec<&str> = get.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(keys, ["p0", "p12.5", "p100"]);
        assert!(get[0].1 <= get[1].1 && get[1].1 <= get[2].1, "{get:?}");
    }
    let bad = ["CONFIG", "SET", "latency-tracking", "maybe"];
    assert_eq!(u.call(&bad), r.call(&bad));
}

#[test]
fn tracking_can_be_switched_off_and_reset() {
    let usher = Server::usher(&[]);
    let mut c = usher.client();
    workload(&mut c);
    assert!(latencystats(&mut c).contains_key("set"));
    c.call(&["CONFIG", "SET", "latency-tracking", "no"]);
    assert!(
        latencystats(&mut c).is_empty(),
        "tracking off: nothing listed"
    );
    c.call(&["CONFIG", "SET", "latency-tracking", "yes"]);
    c.call(&["CONFIG", "RESETSTAT"]);
    c.call(&["GET", "k1"]);
    let after = latencystats(&mut c);
    assert!(
        after.contains_key("get") && !after.contains_key("set"),
        "{after:?}"
    );
    // Calls made while tracking was off are not in the histogram.
    c.call(&["CONFIG", "SET", "latency-tracking", "no"]);
    c.call(&["GET", "k1"]);
    c.call(&["CONFIG", "SET", "latency-tracking", "yes"]);
    assert_eq!(calls_of(&histogram(&mut c, &["get"]), "get"), 1);
}

fn histogram(c: &mut Client, commands: &[&str]) -> Reply {
    let mut args = vec!["LATENCY", "HISTOGRAM"];
    args.extend_from_slice(commands);
    c.call(&args)
}

/// Pairs of a RESP2 flat map or a RESP3 map.
fn pairs(r: &Reply) -> Vec<(Reply, Reply)> {
    match r {
        Reply::Map(p) => p.clone(),
        Reply::Array(v) => v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect(),
        other => panic!("not a map: {other:?}"),
    }
}

fn entry(r: &Reply, name: &str) -> Option<Reply> {
    pairs(r)
        .into_iter()
        .find(|(k, _)| *k == Reply::Bulk(name.as_bytes().to_vec()))
        .map(|(_, v)| v)
}

fn calls_of(r: &Reply, name: &str) -> i64 {
    let e = entry(r, name).unwrap_or_else(|| panic!("{name} in {r:?}"));
    match &pairs(&e)[0] {
        (Reply::Bulk(k), Reply::Int(n)) if k == b"calls" => *n,
        other => panic!("calls first: {other:?}"),
    }
}

/// The labels Redis gives the power-of-two buckets from 1024 ns: their highest equivalent
/// value in whole microseconds.
const LABELS: &[i64] = &[
    1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816, 67633, 135266,
    270532, 541065, 1082130,
];

#[test]
fn latency_histogram_is_shaped_like_redis() {
    let (usher, redis) = both();
    let (mut u, mut r) = (usher.client(), redis.client());
    for c in [&mut u, &mut r] {
        c.call(&["CONFIG", "RESETSTAT"]);
        workload(c);
    }
    for ask in [
        &["set", "get"][..],
        &["nosuch", "GET", "get"],
        &["config"],
        &["config|get"],
    ] {
        let (uh, rh) = (histogram(&mut u, ask), histogram(&mut r, ask));
        // A container's subcommands come in Redis's dict order, which is unspecified.
        let keys = |h: &Reply| {
            let mut k: Vec<String> = pairs(h)
                .into_iter()
                .map(|(k, _)| format!("{k:?}"))
                .collect();
            k.sort();
            k
        };
        assert_eq!(keys(&uh), keys(&rh), "LATENCY HISTOGRAM {ask:?}");
        for (name, _) in pairs(&rh) {
            let Reply::Bulk(name) = name else { panic!() };
            let name = String::from_utf8(name).unwrap();
            assert_eq!(calls_of(&uh, &name), calls_of(&rh, &name), "{name}");
        }
    }
    // Every command: labels from Redis's set, ascending, cumulative counts rising to calls.
    let all = histogram(&mut u, &[]);
    assert!(pairs(&all).len() >= 4, "{all:?}");
    for (name, e) in pairs(&all) {
        let fields = pairs(&e);
        let calls = match &fields[0].1 {
            Reply::Int(n) => *n,
            other => panic!("{other:?}"),
        };
        assert_eq!(fields[1].0, Reply::Bulk(b"histogram_usec".to_vec()));
        let buckets: Vec<(i64, i64)> = pairs(&fields[1].1)
            .into_iter()
            .map(|(k, v)| match (k, v) {
                (Reply::Int(k), Reply::Int(v)) => (k, v),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(!buckets.is_empty(), "{name:?}");
        for w in buckets.windows(2) {
            assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1, "{name:?}: {buckets:?}");
        }
        assert!(
            buckets.iter().all(|(label, _)| LABELS.contains(label)),
            "{buckets:?}"
        );
        assert_eq!(buckets.last().unwrap().1, calls, "{name:?}");
    }
    // RESP3 answers with maps.
    u.call(&["HELLO", "3"]);
    assert!(matches!(histogram(&mut u, &["get"]), Reply::Map(_)));
}

/// The latency monitor against redis-server: a command past `latency-monitor-threshold` shows
/// in LATEST and HISTORY under `command`, RESET counts the classes it drops, and HELP and an
/// idle DOCTOR read the same.
#[test]
fn the_latency_monitor_records_slow_commands_like_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut seen = Vec::new();
    for server in [&usher, &redis] {
        let mut c = server.client();
        let mut r = Vec::new();
        r.push(c.call(&["LATENCY", "DOCTOR"]));
        r.push(c.call(&["LATENCY", "HELP"]));
        c.call(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
        c.call(&[
            "EVAL",
            "local i = 0 while i < 3000000 do i = i + 1 end return 1",
            "0",
        ]);
        let latest = c.call(&["LATENCY", "LATEST"]);
        assert_eq!(latest.items().len(), 1, "{latest:?}");
        let entry = latest.items()[0].items();
        assert_eq!(entry[0].text(), "command");
        assert!(
            entry[2].int() >= 1 && entry[3].int() >= entry[2].int(),
            "{entry:?}"
        );
        let history = c.call(&["LATENCY", "HISTORY", "command"]);
        assert_eq!(history.items()[0].items().len(), 2);
        assert_eq!(history.items()[0].items()[0], entry[1]);
        r.push(c.call(&["LATENCY", "HISTORY", "nope"]));
        r.push(c.call(&["LATENCY", "RESET", "command", "nope"]));
        r.push(c.call(&["LATENCY", "RESET"]));
        r.push(c.call(&["LATENCY", "LATEST"]));
        r.push(c.call(&["LATENCY", "HISTORY"]));
        r.push(c.call(&["LATENCY", "DOCTOR"]));
        seen.push(r);
    }
    assert_eq!(seen[0], seen[1]);
}

fn unix_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// LATENCY GRAPH against redis-server: its errors and arity, COMMAND DOCS, and a graph of four
/// `DEBUG SLEEP`s taken a second apart (so each is its own sample) of 10, 200, 110 and 4 ms.
/// Their steps on Redis's 12-step scale, (int)((ms - 4) * 12) / 196 capped at 11, are 0, 11, 6
/// and 0, each about 8 ms or more from the next step (a sleep on a busy machine overshoots by
/// a few ms; 10, 100, 59 once drew a 1 where a 0 was due), so both servers draw the same four
/// columns; the
/// header's figures must be HISTORY's and LATEST's, and each column's label the sample's age
/// (`Ns`) when the graph was asked for.
#[test]
fn latency_graph_draws_the_samples_like_redis() {
    let args = ["--enable-debug-command", "yes"];
    let (usher, redis) = (Server::usher(&args), Server::redis(&args));
    let (mut u, mut r) = (usher.client(), redis.client());
    for ask in [
        &["LATENCY", "GRAPH", "command"][..],
        &["LATENCY", "GRAPH", "no such event"],
        &["LATENCY", "GRAPH"],
        &["LATENCY", "GRAPH", "command", "extra"],
        &["latency", "graph", "command"],
    ] {
        let (ur, rr) = (u.call(ask), r.call(ask));
        assert!(rr.is_error(), "{ask:?}: {rr:?}");
        assert_eq!(ur, rr, "{ask:?}");
    }
    // COMMAND DOCS: summary, since, group and complexity as Redis 7.0.15 gives them.
    let doc = |c: &mut Client| -> BTreeMap<String, Reply> {
        let docs = c.call(&["COMMAND", "DOCS", "latency|graph"]);
        assert_eq!(docs.items()[0], Reply::bulk("latency|graph"));
        docs.items()[1]
            .items()
            .chunks(2)
            .map(|kv| (kv[0].text(), kv[1].clone()))
            .filter(|(k, _)| ["summary", "since", "group", "complexity"].contains(&k.as_str()))
            .collect()
    };
    let (ud, rd) = (doc(&mut u), doc(&mut r));
    assert_eq!(ud.len(), 4, "{ud:?}");
    assert_eq!(ud, rd);
    let arity =
        |c: &mut Client| c.call(&["COMMAND", "INFO", "latency|graph"]).items()[0].items()[1].int();
    assert_eq!(arity(&mut u), 3);
    assert_eq!(arity(&mut r), 3);

    for c in [&mut u, &mut r] {
        c.call(&["CONFIG", "SET", "latency-monitor-threshold", "1"]);
    }
    for (i, secs) in ["0.01", "0.2", "0.11", "0.004"].into_iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1050));
        }
        for c in [&mut u, &mut r] {
            assert!(c.call(&["DEBUG", "SLEEP", secs]).is_simple("OK"));
        }
    }
    let mut graphs = Vec::new();
    for c in [&mut u, &mut r] {
        let history: Vec<(i64, i64)> = c
            .call(&["LATENCY", "HISTORY", "command"])
            .items()
            .iter()
            .map(|s| (s.items()[0].int(), s.items()[1].int()))
            .collect();
        assert_eq!(history.len(), 4, "{history:?}");
        let all_time = c.call(&["LATENCY", "LATEST"]).items()[0].items()[3].int();
        // The second the graph was drawn in (asked again if the call straddled two).
        let (now, graph) = loop {
            let before = unix_s();
            let graph = c.call(&["LATENCY", "GRAPH", "command"]);
            if unix_s() == before {
                break (before, graph);
            }
        };
        let text = graph.text();
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .expect("ends in a newline")
            .split('\n')
            .collect();
        let ms: Vec<i64> = history.iter().map(|&(_, ms)| ms).collect();
        assert_eq!(
            lines[0],
            format!(
                "command - high {} ms, low {} ms (all time high {all_time} ms)",
                ms.iter().max().unwrap(),
                ms.iter().min().unwrap()
            )
        );
        assert_eq!(lines[1], "-".repeat(80));
        assert_eq!(
            lines[2..7],
            [" #  ", " |_ ", " || ", "_||_", "    "],
            "{text}"
        );
        // The labels, read down each column.
        let labels: Vec<String> = (0..4)
            .map(|col| {
                lines[7..]
                    .iter()
                    .map(|l| l.as_bytes()[col] as char)
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect();
        let ages: Vec<String> = history
            .iter()
            .map(|&(t, _)| format!("{}s", now - t))
            .collect();
        assert_eq!(labels, ages, "{text}");
        graphs.push((lines.len(), lines[1..7].join("\n")));
        // RESP3: a verbatim string.
        c.call(&["HELLO", "3"]);
        assert!(matches!(
            c.call(&["LATENCY", "GRAPH", "command"]),
            Reply::Verbatim(f, _) if f == "txt"
        ));
        c.call(&["HELLO", "2"]);
    }
    assert_eq!(graphs[0], graphs[1]);
    // Reset, the event has no samples again.
    for c in [&mut u, &mut r] {
        c.call(&["LATENCY", "RESET"]);
    }
    let ask = ["LATENCY", "GRAPH", "command"];
    assert_eq!(u.call(&ask), r.call(&ask));
}
