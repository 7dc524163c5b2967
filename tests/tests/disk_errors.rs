//! A failing disk, for real: each server's `dir` is a small tmpfs of its own that fills up
//! (ENOSPC), then is grown with `mount -o remount`. While the disk fails, usher refuses writes
//! (and PING) with Redis's `-MISCONF` texts, compared with redis-server 7.0.15 on the same
//! kind of disk, reads go on, and nothing it acknowledged is lost or written twice: a `kill -9`
//! after the disk recovers replays exactly the acknowledged writes, in order.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use usher_tests::resp::{Client, Reply};
use usher_tests::server::Server;

/// A tmpfs mounted for one test, unmounted (lazily, so a dying server cannot keep it) on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Tmpfs {
        let path = std::env::temp_dir().join(format!("usher-disk-{name}-{}", std::process::id()));
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status();
        std::fs::create_dir_all(&path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "the disk-error tests mount a small tmpfs and need root (as the netns tests do): \
             `mount -t tmpfs` failed on {}",
            path.display()
        );
        Tmpfs { path }
    }

    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {}", self.path.display());
    }

    fn dir(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_bgsave(c: &mut Client) {
    wait_for("the background save to end", || {
        c.info_field("persistence", "rdb_bgsave_in_progress") == "0"
    });
}

/// One element of the pushed log: its number, padded so the disk fills in a few dozen pushes.
fn entry(i: usize) -> String {
    format!("{i}:{}", "x".repeat(4000))
}

/// What a failed background save does to each server, step by step (the replies compared).
fn bgsave_failure_sequence(server: &Server, disk: &Tmpfs) -> Vec<Reply> {
    let mut c = server.client();
    // Incompressible values (snapshots LZF-compress strings): 800 KB for a 64 KB disk.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..200 {
        let value: String = (0..500)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                format!("{:08x}", seed as u32)
            })
            .collect::<String>();
        assert!(!c
            .call(&["SET", &format!("k{i}"), &value[..4000]])
            .is_error());
    }
    let mut replies = vec![c.call(&["BGSAVE"])];
    wait_bgsave(&mut c);
    assert_eq!(c.info_field("persistence", "rdb_last_bgsave_status"), "err");
    for args in [
        &["SET", "after", "1"][..],
        &["PING"],
        &["GET", "k1"],
        &["DBSIZE"],
        &["MULTI"],
        &["INCR", "n"],
        &["EXEC"],
        &["MULTI"],
        &["GET", "k1"],
        &["EXEC"],
        &["EVAL", "return redis.call('SET', KEYS[1], 'v')", "1", "lua"],
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "k2"],
        // A declared writer is refused up front; a declared reader runs.
        &[
            "EVAL",
            "#!lua\nreturn redis.call('SET', KEYS[1], 'v')",
            "1",
            "lua",
        ],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('EXISTS', KEYS[1])",
            "1",
            "k2",
        ],
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
        &["SET", "after", "2"],
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
        &["DEL", "after"],
        // No save points: a failed save refuses nothing.
        &["CONFIG", "SET", "save", ""],
        &["SET", "after", "3"],
        &["CONFIG", "SET", "save", "3600 1"],
        &["SET", "after", "4"],
    ] {
        let r = c.call(args);
        // The script's error carries the script's name and line: compare the MISCONF part.
        replies.push(match r {
            Reply::Error(e) if e.contains("MISCONF") => {
                Reply::Error(e[e.find("MISCONF").unwrap()..].to_string())
            }
            r => r,
        });
    }
    disk.grow("16m");
    replies.push(c.call(&["BGSAVE"]));
    wait_bgsave(&mut c);
    assert_eq!(c.info_field("persistence", "rdb_last_bgsave_status"), "ok");
    replies.push(c.call(&["SET", "after", "5"]));
    replies.push(c.call(&["PING"]));
    replies.push(c.call(&["GET", "after"]));
    replies
}

#[test]
fn a_failed_background_save_refuses_writes_with_misconf_as_redis_does() {
    let redis_disk = Tmpfs::mount("rdb-redis", "64k");
    let usher_disk = Tmpfs::mount("rdb-usher", "64k");
    let save = ["--save", "3600 1", "--dir"];
    let redis = Server::redis(&[save[0], save[1], save[2], redis_disk.dir()]);
    let usher = Server::usher(&[save[0], save[1], save[2], usher_disk.dir()]);
    let expected = bgsave_failure_sequence(&redis, &redis_disk);
    let got = bgsave_failure_sequence(&usher, &usher_disk);
    assert_eq!(got, expected);
    // The sequence above did meet the refusal (not a vacuous match).
    assert!(
        got.iter()
            .any(|r| r.is_error() && r.err().starts_with("MISCONF Redis is configured")),
        "{got:?}"
    );
}

/// Pushes numbered entries from one client until a push is refused or its reply does not come
/// within a second (usher holds a reply until its write is in the file); returns the client,
/// the numbers acknowledged, and the number of the push left waiting, if one is.
fn fill(server: &Server) -> (Client, Vec<usize>, Option<usize>) {
    let mut c = server.client();
    c.set_timeout(Duration::from_secs(1));
    let mut acked = Vec::new();
    for i in 0..10_000 {
        c.send(&["RPUSH", "log", &entry(i)]);
        match c.read() {
            Ok(Reply::Int(n)) => {
                assert_eq!(n as usize, acked.len() + 1);
                acked.push(i);
            }
            Ok(Reply::Error(e)) => {
                assert!(
                    e.starts_with("MISCONF Errors writing to the AOF file"),
                    "{e}"
                );
                return (c, acked, None);
            }
            Ok(r) => panic!("RPUSH answered {r:?}"),
            Err(_) => return (c, acked, Some(i)),
        }
    }
    panic!("the disk never filled");
}

/// The replies of a second client while the AOF cannot be written.
fn while_failing(server: &Server) -> Vec<Reply> {
    let mut c = server.client();
    [
        &["RPUSH", "log", "refused"][..],
        &["PING"],
        &["EXISTS", "log"],
        &["GET", "nothing"],
        &["SET", "refused", "1"],
    ]
    .iter()
    .map(|args| c.call(args))
    .collect()
}

#[test]
fn a_full_disk_under_the_aof_refuses_writes_and_loses_no_acknowledged_one() {
    // Redis first: the texts usher must give.
    let redis_disk = Tmpfs::mount("aof-redis", "256k");
    let redis = Server::redis(&["--appendonly", "yes", "--dir", redis_disk.dir()]);
    let _ = fill(&redis);
    let expected = while_failing(&redis);
    assert!(
        expected[0]
            .err()
            .starts_with("MISCONF Errors writing to the AOF file: No space left on device"),
        "{expected:?}"
    );
    drop(redis);

    let disk = Tmpfs::mount("aof-usher", "256k");
    let dir = disk.dir().to_string();
    let usher = Server::usher(&["--appendonly", "yes", "--dir", &dir]);
    let (mut pusher, mut acked, waiting) = fill(&usher);
    assert!(acked.len() > 10, "the disk filled too soon: {acked:?}");
    let mut observer = usher.client();
    wait_for("aof_last_write_status:err", || {
        observer.info_field("persistence", "aof_last_write_status") == "err"
    });
    assert_eq!(while_failing(&usher), expected);
    // Reads go on while writes are refused.
    assert_eq!(
        observer.call(&["LLEN", "log"]).int() as usize,
        acked.len() + usize::from(waiting.is_some())
    );
    assert!(usher.log_shows(
        "Error writing to the AOF file: No space left on device",
        Duration::from_secs(5)
    ));

    disk.grow("16m");
    // The held push is answered once its bytes reach the file.
    if let Some(i) = waiting {
        pusher.set_timeout(Duration::from_secs(10));
        assert_eq!(pusher.read().unwrap().int() as usize, acked.len() + 1);
        acked.push(i);
    }
    wait_for("aof_last_write_status:ok", || {
        observer.info_field("persistence", "aof_last_write_status") == "ok"
    });
    assert!(usher.log_shows("AOF write error looks solved", Duration::from_secs(5)));
    for i in acked.len()..acked.len() + 5 {
        let i = acked.last().unwrap() + 1 + (i - acked.len());
        assert_eq!(
            pusher.call(&["RPUSH", "log", &entry(i)]).int() as usize,
            acked.len() + 1
        );
        acked.push(i);
    }
    assert!(observer.call(&["PING"]).is_simple("PONG"));

    // A crash now: the restart replays exactly what was acknowledged, once each, in order.
    usher.signal(9);
    drop(usher);
    let usher = Server::usher(&["--appendonly", "yes", "--dir", &dir]);
    let mut c = usher.client();
    let log = c.call(&["LRANGE", "log", "0", "-1"]).strings();
    let numbers: Vec<usize> = log
        .iter()
        .map(|e| e.split(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(numbers, acked);
    assert_eq!(c.call(&["EXISTS", "refused"]).int(), 0);
    assert!(Path::new(&dir).join("appendonlydir").is_dir());
}
