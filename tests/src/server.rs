//! Starting and stopping real servers for tests.

use crate::resp::{Client, Reply};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Usher,
    Redis,
}

/// A running server process; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub kind: Kind,
    log: Arc<Mutex<String>>,
    /// The scratch `dir` given to a usher whose test named none; removed on drop.
    scratch: Option<PathBuf>,
    /// The network namespace it runs in (`crate::netns`); clients then connect inside it.
    netns: Option<String>,
}

/// The usher binary under test: `$USHER_BIN`, else the workspace's release build, else debug.
pub fn usher_bin() -> PathBuf {
    if let Ok(p) = std::env::var("USHER_BIN") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for profile in ["release", "debug"] {
        let p = root.join("target").join(profile).join("usher");
        if p.exists() {
            return p;
        }
    }
    panic!("usher binary not found: run `cargo build --release -p usher-server` (scripts/test does) or set USHER_BIN");
}

impl Server {
    /// Starts usher with `args` (redis.conf directives as flags) on an ephemeral port.
    pub fn usher(args: &[&str]) -> Server {
        Self::usher_with(&usher_bin(), args)
    }

    pub fn usher_with(bin: &PathBuf, args: &[&str]) -> Server {
        Self::start_usher(Command::new(bin), None, args, true)
    }

    /// Starts usher with the thread count a plain start gets (see `start_usher`).
    pub fn usher_default_threads(args: &[&str]) -> Server {
        Self::start_usher(Command::new(usher_bin()), None, args, false)
    }

    /// A cluster node: usher on `host:port` (and 127.0.0.1, where the harness checks it is
    /// up) in cluster mode, with topology `file` and node id `id`, plus `extra` flags.
    pub fn usher_cluster_node(
        host: &str,
        port: u16,
        file: &std::path::Path,
        id: &str,
        extra: &[&str],
    ) -> Server {
        let port = port.to_string();
        let mut args = vec![
            "--port",
            &port,
            "--bind",
            host,
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            file.to_str().expect("a UTF-8 path"),
            "--cluster-node-id",
            id,
        ];
        args.extend_from_slice(extra);
        Self::usher(&args)
    }

    /// Starts usher inside network namespace `netns` (`ip netns exec`), for partition tests
    /// (`crate::netns`). `args` should name a `--port` (any: the namespace is empty) and a
    /// `--bind` that includes 127.0.0.1, where the test's clients connect.
    pub fn usher_in(netns: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns]).arg(usher_bin());
        Self::start_usher(cmd, Some(netns.to_string()), args, true)
    }

    /// `pin_threads`: two worker threads unless `args` name `--threads` (see below).
    fn start_usher(
        mut cmd: Command,
        netns: Option<String>,
        args: &[&str],
        pin_threads: bool,
    ) -> Server {
        let bin = cmd.get_program().to_string_lossy().into_owned();
        // A config file comes first, as for redis-server; flags follow it.
        let (file, flags) = match args.first() {
            Some(a) if !a.starts_with("--") => (Some(*a), &args[1..]),
            _ => (None, args),
        };
        cmd.args(file);
        if !flags.contains(&"--port") {
            cmd.args(["--port", "0"]);
        }
        // Two worker threads unless a test says otherwise, whatever the machine: the default
        // (one per core but one) is a single worker on a two-core machine, and the suite must
        // keep crossing threads (wake-ups, blocked clients, scripts, the AOF) there too.
        if pin_threads && !flags.contains(&"--threads") && file.is_none() {
            cmd.args(["--threads", "2"]);
        }
        // Like `Server::redis`: no snapshots unless a test asks (Redis 7.0's default save
        // points would otherwise write dump.rdb into the test's working directory on exit).
        if !flags.contains(&"--save") {
            cmd.args(["--save", ""]);
        }
        // A `dir` of its own, so a SAVE (the reply-frame sweep runs every command) never
        // leaves a dump.rdb that the next test's server would load.
        let scratch = (!flags.contains(&"--dir")).then(scratch_dir);
        if let Some(dir) = &scratch {
            cmd.arg("--dir").arg(dir);
        }
        cmd.args(flags).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("usher listening on ").nth(1) {
                    let port = addr
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse::<u16>().ok());
                    let _ = tx.send(port);
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        // An explicit non-zero --port is used as given (the start-up line may be filtered
        // out by --loglevel warning); with port 0 the bound port is read from the log.
        let explicit = flags
            .iter()
            .position(|a| *a == "--port")
            .and_then(|i| flags.get(i + 1))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0);
        let port = match explicit {
            Some(port) => port,
            None => match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(Some(port)) => port,
                _ => {
                    let _ = child.kill();
                    panic!("usher did not start; log:\n{}", log.lock().unwrap());
                }
            },
        };
        let server = Server {
            child,
            port,
            kind: Kind::Usher,
            log,
            scratch,
            netns,
        };
        server.wait_ready();
        server
    }

    /// Starts Debian's redis-server (no persistence) on a free port, in a scratch `dir` unless
    /// the test names one: a replica's disk-based sync or DEBUG RELOAD writes a dump.rdb, which
    /// the next redis-server started in the same directory would load.
    pub fn redis(args: &[&str]) -> Server {
        for _ in 0..20 {
            let port = free_port();
            let scratch = (!args.contains(&"--dir")).then(scratch_dir);
            let mut cmd = Command::new("redis-server");
            if let Some(dir) = &scratch {
                cmd.arg("--dir").arg(dir);
            }
            let child = cmd
                .args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--bind",
                    "127.0.0.1",
                ])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (apt-get install redis-server)");
            let mut server = Server {
                child,
                port,
                kind: Kind::Redis,
                log: Default::default(),
                scratch,
                netns: None,
            };
            if server.try_ready(Duration::from_secs(5)) {
                return server;
            }
        }
        panic!("could not start redis-server");
    }

    /// A one-node redis-server cluster owning every slot (like usher's emulated cluster mode),
    /// with `args`, and its `nodes.conf` (in the temporary folder: the caller removes it).
    pub fn redis_one_node_cluster(args: &[&str]) -> (Server, PathBuf) {
        let conf = std::env::temp_dir().join(format!("usher-test-nodes-{}.conf", free_port()));
        let mut all = vec![
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            conf.to_str().expect("a UTF-8 temporary folder"),
        ];
        all.extend_from_slice(args);
        let redis = Server::redis(&all);
        let mut c = redis.client();
        assert!(c
            .call(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
            .is_simple("OK"));
        for _ in 0..400 {
            match c.call(&["CLUSTER", "INFO"]) {
                Reply::Bulk(b) | Reply::Verbatim(_, b) if b.starts_with(b"cluster_state:ok") => {
                    break
                }
                _ => std::thread::sleep(Duration::from_millis(25)),
            }
        }
        (redis, conf)
    }

    /// Starts redis-server inside network namespace `netns` on `port` (free there: the
    /// namespace is the test's own), bound to 127.0.0.1 unless `args` name a `--bind`.
    pub fn redis_in(netns: &str, port: u16, args: &[&str]) -> Server {
        let scratch = scratch_dir();
        let child = Command::new("ip")
            .args(["netns", "exec", netns, "redis-server", "--dir"])
            .arg(&scratch)
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--bind", "127.0.0.1"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server and iproute2's ip must be installed");
        let mut server = Server {
            child,
            port,
            kind: Kind::Redis,
            log: Default::default(),
            scratch: Some(scratch),
            netns: Some(netns.to_string()),
        };
        assert!(
            server.try_ready(Duration::from_secs(10)),
            "redis-server in namespace {netns} did not start"
        );
        server
    }

    /// A client connection: on 127.0.0.1, inside the server's namespace if it has one.
    fn connect(&self) -> std::io::Result<Client> {
        match &self.netns {
            Some(ns) => Client::from_stream(crate::netns::connect(ns, self.port)?),
            None => Client::connect(self.port),
        }
    }

    fn try_ready(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut c) = self.connect() {
                // The port was free when chosen, but another test's server may have taken it
                // before this one bound it: only our own process counts as ready. With
                // requirepass PING answers NOAUTH and INFO cannot be read: then our process
                // must at least still be alive (a failed bind exits at once).
                let Ok(reply) = c.try_call(&["PING"]) else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                if reply.is_simple("PONG") && self.answers_as_our_process(&mut c) {
                    // PING answers while the data set loads (as Redis's does); other commands
                    // would get -LOADING, so ready means loaded.
                    if Self::still_loading(&mut c) {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    return true;
                }
                if reply.is_error() {
                    std::thread::sleep(Duration::from_millis(50));
                    return matches!(self.child.try_wait(), Ok(None));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// True while INFO persistence says the data set is still loading.
    fn still_loading(c: &mut Client) -> bool {
        matches!(c.try_call(&["INFO", "persistence"]), Ok(r) if !r.is_error() && r.text().contains("loading:1"))
    }

    /// True when the server on our port reports our child's pid in INFO.
    fn answers_as_our_process(&self, c: &mut Client) -> bool {
        match c.try_call(&["INFO", "server"]) {
            Ok(Reply::Bulk(b)) | Ok(Reply::Verbatim(_, b)) => {
                let text = String::from_utf8_lossy(&b);
                text.lines()
                    .any(|l| l.trim() == format!("process_id:{}", self.child.id()))
            }
            _ => false,
        }
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut c) = self.connect() {
                // INFO answers while a snapshot loads (`loading:1`), where PING would answer
                // -LOADING and count an error in the statistics the test is about to read.
                // An error answers too (NOAUTH with requirepass): the server is up.
                if let Ok(r) = c.try_call(&["INFO", "persistence"]) {
                    let loading = !r.is_error() && r.text().contains("loading:1");
                    if !loading {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server on port {} never answered", self.port);
    }

    pub fn client(&self) -> Client {
        self.connect().expect("connect")
    }

    /// A `redis` crate client URL for this server (not for one in a namespace).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A `redis` crate connection (RESP2).
    pub fn redis_conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server wrote to stderr so far (usher only).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for the log to contain `needle` (the log is read by a thread, so
    /// lines written just before an exit may arrive a moment after it).
    pub fn log_shows(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends a signal (e.g. `libc::SIGTERM` = 15) to the process.
    pub fn signal(&self, sig: i32) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the usher binary to completion with `args` (for start-up failures), returning its exit
/// status and stderr.
pub fn run_usher_to_exit(args: &[&str], timeout: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(usher_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            return (status.code(), text);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return (None, String::new());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory for one server's files, removed when the server is dropped.
fn scratch_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("usher-test-{}-{n}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
