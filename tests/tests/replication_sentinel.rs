//! Failover under load with unmodified Redis Sentinel: a usher primary, two usher replicas and
//! three `redis-sentinel` processes; clients find the primary through the Sentinels (our own
//! workers, by `SENTINEL get-master-addr-by-name` and `ROLE` as the Sentinel client protocol
//! says, and redis-py's `Sentinel.master_for`). Mid-rush the primary is killed with SIGKILL;
//! the Sentinels promote a replica, the clients move to it, and afterwards the ticketing
//! invariants hold: no seat confirmed to two users, no fencing token handed out twice or
//! lower than an acknowledged one, nobody admitted twice, and every write acknowledged with
//! `WAIT 1` is on the new primary. The killed node then restarts empty and Sentinel turns it
//! into a replica of the new primary, which it catches up with.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use usher_tests::client_scripts::redis_py_args;
use usher_tests::resp::{Client, Reply};
use usher_tests::server::{free_port, Server};
use usher_tests::wait::eventually;

const MASTER_NAME: &str = "tickets";
const QUEUE: &str = "queue:{rush}";
const ACTIVE: &str = "active:{rush}";
const SEATS: usize = 3000;

/// One `redis-sentinel` process with its own config file (Sentinel rewrites it as it learns
/// the topology); killed and cleaned up when dropped.
struct Sentinel {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sentinel {
    fn start(primary_port: u16) -> Sentinel {
        let found = Command::new("redis-sentinel").arg("--version").output();
        assert!(
            matches!(&found, Ok(o) if o.status.success()),
            "`redis-sentinel` is required: `apt-get install redis-sentinel` (scripts/test and \
             .ci/run install it)"
        );
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("usher-sentinel-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel.log\n\
                 sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                 sentinel failover-timeout {MASTER_NAME} 6000\n\
                 sentinel parallel-syncs {MASTER_NAME} 2\n",
                dir = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-sentinel")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-sentinel");
        let sentinel = Sentinel { child, port, dir };
        assert!(
            eventually(Duration::from_secs(10), || Client::connect(port)
                .map(|mut c| c.call(&["PING"]).is_simple("PONG"))
                .unwrap_or(false)),
            "sentinel on {port} never answered:\n{}",
            sentinel.log()
        );
        sentinel
    }

    fn call(&self, args: &[&str]) -> Reply {
        Client::connect(self.port)
            .map(|mut c| c.call(args))
            .unwrap_or_else(|e| Reply::Error(format!("connect sentinel {}: {e}", self.port)))
    }

    /// The primary's port as this Sentinel reports it.
    fn primary_port(&self) -> Option<u16> {
        match self.call(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME]) {
            Reply::Array(a) if a.len() == 2 => a[1].text().parse().ok(),
            _ => None,
        }
    }

    /// How many replicas and other Sentinels this Sentinel knows.
    fn known(&self) -> (usize, usize) {
        let count = |sub: &str| match self.call(&["SENTINEL", sub, MASTER_NAME]) {
            Reply::Array(a) => a.len(),
            _ => 0,
        };
        (count("replicas"), count("sentinels"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sentinel.log")).unwrap_or_default()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The primary as a Sentinel client finds it: ask each Sentinel in turn for the address, then
/// check with `ROLE` that the node there is a primary (it may be a demoted one).
fn connect_primary(sentinels: &[u16]) -> Option<(u16, Client)> {
    for &s in sentinels {
        let Ok(mut sc) = Client::connect(s) else {
            continue;
        };
        sc.set_timeout(Duration::from_millis(500));
        let Ok(Reply::Array(addr)) =
            sc.try_call(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME])
        else {
            continue;
        };
        let Ok(port) = addr[1].text().parse::<u16>() else {
            continue;
        };
        let Ok(mut c) = Client::connect(port) else {
            continue;
        };
        c.set_timeout(Duration::from_millis(1000));
        if let Ok(Reply::Array(role)) = c.try_call(&["ROLE"]) {
            if role.first().map(|r| r.text()) == Some("master".into()) {
                return Some((port, c));
            }
        }
    }
    None
}

/// What one worker saw: each reply it got, by the primary (port) that gave it, and whether a
/// `WAIT 1` after it confirmed that a replica had it.
#[derive(Default)]
struct Seen {
    /// (user, acknowledged)
    entered: Vec<(String, bool)>,
    /// (primary port, users admitted, acknowledged)
    admitted: Vec<(u16, Vec<String>, bool)>,
    /// (primary port, seat, user, token, acknowledged)
    locked: Vec<(u16, String, String, i64, bool)>,
    /// (seat, user, token, acknowledged)
    confirmed: Vec<(String, String, i64, bool)>,
    /// (seat, user, token, acknowledged)
    released: Vec<(String, String, i64, bool)>,
    /// Primaries this worker wrote to, in order.
    primaries: Vec<u16>,
}

/// A command on the primary; an error that says the node is not (or no longer) a writable
/// primary counts as a failed connection: the client looks the primary up again.
fn call(c: &mut Client, args: &[&str]) -> std::io::Result<Reply> {
    match c.try_call(args)? {
        Reply::Error(e)
            if ["READONLY", "MASTERDOWN", "LOADING", "NOREPLICAS"]
                .iter()
                .any(|p| e.starts_with(p)) =>
        {
            Err(std::io::Error::other(e))
        }
        r => Ok(r),
    }
}

fn seat(n: usize) -> String {
    format!("seat:{{rush}}:S{n}")
}

/// One client of the rush: joins users, admits a few, and races for seats (locking, then
/// confirming or releasing), each round acknowledged with `WAIT 1`. A failed command (the
/// primary died under it) has an unknown outcome: its round is kept unacknowledged, and the
/// worker finds the primary again through the Sentinels.
fn worker(id: usize, sentinels: Vec<u16>, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    let mut rng = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut conn: Option<(u16, Client)> = None;
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let Some((port, c)) = conn.as_mut() else {
            conn = connect_primary(&sentinels);
            if let Some((port, _)) = &conn {
                if seen.primaries.last() != Some(port) {
                    seen.primaries.push(*port);
                }
            } else {
                std::thread::sleep(Duration::from_millis(50));
            }
            continue;
        };
        let port = *port;
        round += 1;
        let user = format!("w{id}-{round}");
        let seat = seat(next() as usize % SEATS);
        let mut entered = None;
        let mut admitted = None;
        let mut locked = None;
        let mut settled = None;
        let result: std::io::Result<bool> = (|| {
            let r = call(c, &["ENTER", QUEUE, ACTIVE, &user])?;
            assert!(
                matches!(r.items().first(), Some(s) if s.text() == "NEW"),
                "ENTER {user} answered {r:?}"
            );
            entered = Some(user.clone());
            if round.is_multiple_of(3) {
                let r = call(c, &["ADMIT", QUEUE, ACTIVE, "2"])?;
                admitted = Some(r.items()[1].strings());
            }
            let r = call(c, &["SEATLOCK", &seat, &user, "30"])?;
            if r.items()[0].int() == 1 {
                let token = r.items()[1].int();
                locked = Some(token);
                // Most holds are given back, so seats are locked again and again and their
                // fencing tokens climb across the failover; one in ten is sold.
                let confirm = next().is_multiple_of(10);
                let cmd = if confirm {
                    "SEATCONFIRM"
                } else {
                    "SEATRELEASE"
                };
                let r = call(c, &[cmd, &seat, &user, &token.to_string()])?;
                assert_eq!(r.int(), 1, "{cmd} {seat} {user} {token} on a fresh hold");
                settled = Some(confirm);
            }
            Ok(call(c, &["WAIT", "1", "500"])?.int() >= 1)
        })();
        let acked = *result.as_ref().unwrap_or(&false);
        if let Some(u) = entered {
            seen.entered.push((u, acked));
        }
        if let Some(users) = admitted {
            seen.admitted.push((port, users, acked));
        }
        if let Some(token) = locked {
            seen.locked
                .push((port, seat.clone(), user.clone(), token, acked));
            match settled {
                Some(true) => seen.confirmed.push((seat, user, token, acked)),
                Some(false) => seen.released.push((seat, user, token, acked)),
                None => {}
            }
        }
        if result.is_err() {
            conn = None;
        }
    }
    seen
}

fn field(c: &mut Client, section: &str, name: &str) -> Option<String> {
    let text = c.try_call(&["INFO", section]).ok()?.text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

#[test]
fn sentinel_fails_over_a_ticket_rush_and_the_invariants_hold() {
    let primary = Server::usher(&["--threads", "2"]);
    let old_port = primary.port;
    let p = old_port.to_string();
    let replicas = [
        Server::usher(&["--threads", "2", "--replicaof", "127.0.0.1", &p]),
        Server::usher(&["--threads", "2", "--replicaof", "127.0.0.1", &p]),
    ];
    for r in &replicas {
        let mut c = r.client();
        assert!(
            eventually(Duration::from_secs(10), || field(
                &mut c,
                "replication",
                "master_link_status"
            )
            .as_deref()
                == Some("up")),
            "replica {} never linked up:\n{}",
            r.port,
            r.log()
        );
    }
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(old_port)).collect();
    let ports: Vec<u16> = sentinels.iter().map(|s| s.port).collect();
    // Sentinels find the replicas through the primary's INFO and each other through hello
    // messages published on the primary: both must work before a failover can.
    assert!(
        eventually(Duration::from_secs(30), || sentinels
            .iter()
            .all(|s| s.known() == (2, 2))),
        "the Sentinels never learned the topology: {:?}\n{}",
        sentinels.iter().map(|s| s.known()).collect::<Vec<_>>(),
        sentinels[0].log()
    );

    // The rush: six workers and a redis-py Sentinel client.
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|id| {
            let (ports, stop) = (ports.clone(), stop.clone());
            std::thread::spawn(move || worker(id, ports, stop))
        })
        .collect();
    let py_args = vec![
        "9".to_string(),
        ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(","),
    ];
    let py = std::thread::spawn(move || redis_py_args("sentinel_rush_redis_py.py", &py_args));

    std::thread::sleep(Duration::from_millis(2000));
    let mut primary = primary;
    let before_kill = primary.client().call(&["DBSIZE"]).int();
    assert!(before_kill > 0, "the rush wrote nothing before the kill");
    primary.signal(9);
    primary.wait_exit(Duration::from_secs(5));
    let killed_at = Instant::now();

    assert!(
        eventually(Duration::from_secs(30), || sentinels
            .iter()
            .all(|s| matches!(s.primary_port(), Some(p) if p != old_port))),
        "no failover within 30 s:\n{}",
        sentinels[0].log()
    );
    let failover = killed_at.elapsed();
    // Let the clients find the new primary and write there for a while.
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let py: serde_json::Value = serde_json::from_str(py.join().unwrap().trim()).unwrap();
    // The primary the Sentinels agree on now. On a loaded machine they may fail over a second
    // time (a new primary slow to answer for down-after-milliseconds); the invariants below
    // must hold across any number of failovers, so they are checked against the last one.
    let mut new_port = 0;
    assert!(
        eventually(Duration::from_secs(30), || {
            let ports: Vec<Option<u16>> = sentinels.iter().map(|s| s.primary_port()).collect();
            new_port = ports[0].unwrap_or(0);
            ports.iter().all(|p| *p == Some(new_port)) && new_port != old_port
        }),
        "the Sentinels never agreed on a primary:\n{}",
        sentinels[0].log()
    );
    assert!(
        replicas.iter().any(|r| r.port == new_port),
        "promoted {new_port}, not one of the replicas"
    );

    let mut c = Client::connect(new_port).unwrap();
    // The clients moved: every worker wrote to the old primary and then to a promoted replica
    // (the one the Sentinels agree on now, or, after a second failover once the workers had
    // stopped, the one promoted before it).
    let promoted = |port: u16| port != old_port && replicas.iter().any(|r| r.port == port);
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(
            s.primaries.first(),
            Some(&old_port),
            "worker {i}: {:?}",
            s.primaries
        );
        let last = *s.primaries.last().unwrap();
        assert!(promoted(last), "worker {i}: {:?}", s.primaries);
        assert!(
            s.locked.iter().any(|l| l.0 == last && l.4) || s.entered.iter().any(|e| e.1),
            "worker {i} had nothing acknowledged"
        );
    }
    let py_primaries: Vec<String> = py["primaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let py_last = py_primaries
        .last()
        .and_then(|a| a.rsplit(':').next()?.parse().ok());
    assert!(
        py_primaries.first() == Some(&format!("127.0.0.1:{old_port}"))
            && py_last.is_some_and(promoted),
        "redis-py's Sentinel client saw the switch: {py_primaries:?}"
    );

    // Every acknowledged join is on the new primary, waiting or admitted.
    let py_acked: Vec<String> = py["acked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let acked_joins: Vec<&String> = seen
        .iter()
        .flat_map(|s| s.entered.iter().filter(|e| e.1).map(|e| &e.0))
        .chain(py_acked.iter())
        .collect();
    assert!(acked_joins.len() > 50, "too few acknowledged joins");
    for user in &acked_joins {
        let waiting = !matches!(c.call(&["ZSCORE", QUEUE, user]), Reply::Nil);
        let admitted = !matches!(c.call(&["ZSCORE", ACTIVE, user]), Reply::Nil);
        assert!(
            waiting ^ admitted,
            "acknowledged join of {user}: waiting {waiting}, admitted {admitted}"
        );
    }

    // Nobody admitted twice: a user whose admission was acknowledged appears in no other
    // admission that survived (acknowledged, or made on the primary that serves now); and is
    // active there. An admission the old primary answered but no replica acknowledged may be
    // lost with it (asynchronous replication, docs/replication.md), and the user admitted
    // again: that is the one admission the application was told to trust.
    let mut admissions: HashMap<&str, usize> = HashMap::new();
    for (port, users, acked) in seen.iter().flat_map(|s| &s.admitted) {
        if *acked || *port == new_port {
            for u in users {
                *admissions.entry(u.as_str()).or_default() += 1;
            }
        }
    }
    let mut acked_admissions = 0;
    for (_, users, _) in seen.iter().flat_map(|s| &s.admitted).filter(|a| a.2) {
        for u in users {
            acked_admissions += 1;
            assert_eq!(admissions[u.as_str()], 1, "{u} admitted twice");
            assert!(
                !matches!(c.call(&["ZSCORE", ACTIVE, u]), Reply::Nil),
                "acknowledged admission of {u} lost"
            );
        }
    }
    assert!(acked_admissions > 0, "no admission was acknowledged");

    // Fencing: acknowledged holds carry distinct tokens per seat, and the new primary never
    // handed out a token at or below one the old primary handed out and had acknowledged.
    let mut acked_tokens: HashSet<(&str, i64)> = HashSet::new();
    let mut old_max: HashMap<&str, i64> = HashMap::new();
    for (port, seat, user, token, acked) in seen.iter().flat_map(|s| &s.locked) {
        if *acked {
            assert!(
                acked_tokens.insert((seat, *token)),
                "token {token} of {seat} acknowledged twice ({user})"
            );
            if *port == old_port {
                let m = old_max.entry(seat.as_str()).or_default();
                *m = (*m).max(*token);
            }
        }
    }
    let mut after = 0;
    for (port, seat, user, token, _) in seen.iter().flat_map(|s| &s.locked) {
        if *port != old_port {
            after += 1;
            let floor = old_max.get(seat.as_str()).copied().unwrap_or(0);
            assert!(
                *token > floor,
                "new primary gave {user} token {token} for {seat}; the old one had acknowledged {floor}"
            );
        }
    }
    assert!(after > 0, "no seat was locked on the new primary");
    assert!(
        !old_max.is_empty(),
        "no hold was acknowledged before the kill"
    );

    // No seat confirmed to two users, and every acknowledged sale and release is there.
    let mut sold: HashMap<&str, &str> = HashMap::new();
    for (seat, user, token, acked) in seen.iter().flat_map(|s| &s.confirmed) {
        if let Some(other) = sold.insert(seat, user) {
            assert!(
                !*acked || other == user,
                "{seat} confirmed to {other} and to {user}"
            );
        }
        if *acked {
            let h = c.call(&["HGETALL", seat]).strings();
            let h: HashMap<_, _> = h.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
            assert_eq!(
                h.get("status").map(|s| s.as_str()),
                Some("CONFIRMED"),
                "{seat}: {h:?}"
            );
            assert_eq!(h.get("userId"), Some(user), "{seat}: {h:?}");
            assert_eq!(h.get("token"), Some(&token.to_string()), "{seat}: {h:?}");
        }
    }
    for (seat, user, token, acked) in seen.iter().flat_map(|s| &s.released) {
        if *acked {
            let h = c.call(&["HMGET", seat, "userId", "token"]);
            let holder = (Reply::bulk(user), Reply::bulk(&token.to_string()));
            assert!(
                (h.items()[0].clone(), h.items()[1].clone()) != holder,
                "acknowledged release of {seat} by {user} undone"
            );
        }
    }
    let counters = (0..SEATS).map(|n| {
        let r = c.call(&["GET", &format!("{}:token", seat(n))]);
        (
            seat(n),
            if r == Reply::Nil {
                0
            } else {
                r.text().parse::<i64>().unwrap()
            },
        )
    });
    for (s, counter) in counters {
        let floor = old_max.get(s.as_str()).copied().unwrap_or(0);
        assert!(
            counter >= floor,
            "{s}'s fencing counter {counter} below {floor}"
        );
    }

    // The killed node comes back empty; Sentinel makes it a replica of the new primary, and it
    // catches up.
    let back = Server::usher(&["--threads", "2", "--port", &old_port.to_string()]);
    // Sentinel's reconfiguration ends with CLIENT KILL TYPE normal: poll on fresh connections.
    let rejoined = || {
        let Ok(mut b) = Client::connect(back.port) else {
            return false;
        };
        field(&mut b, "replication", "master_port").as_deref()
            == Some(new_port.to_string().as_str())
            && field(&mut b, "replication", "master_link_status").as_deref() == Some("up")
    };
    assert!(
        eventually(Duration::from_secs(40), rejoined),
        "the old primary never rejoined as a replica:\n{}\n{}",
        back.log(),
        sentinels[0].log()
    );
    assert!(c.call(&["WAIT", "2", "5000"]).int() >= 2);
    assert_eq!(
        back.client().call(&["DBSIZE"]).int(),
        c.call(&["DBSIZE"]).int(),
        "the rejoined node caught up"
    );
    eprintln!(
        "failover took {failover:?}; {} acknowledged joins, {acked_admissions} acknowledged \
         admissions, {} holds on the new primary, redis-py errors {}",
        acked_joins.len(),
        after,
        py["errors"]
    );
}
