//! Network namespaces for partition tests: a small network of the test's own, in which each
//! node (one server) is a namespace with one address, cabled by a veth pair to a bridge in a
//! hub namespace, also the test's own. Cutting a node takes its cable's hub end down, as a dead
//! switch port: both sides keep their addresses and sockets, packets just stop, and TCP only
//! learns of it through timeouts (`repl-timeout`), as in a real partition. Restoring brings
//! the port back up.
//!
//! Nothing is added to the root namespace: the addresses and the bridge exist only in the
//! test's namespaces, so tests running side by side (each with its own hub) use the same
//! subnet without meeting, and no host route or firewall is touched. The test's own clients
//! connect to a node's 127.0.0.1 from inside its namespace (`setns` on a short-lived thread),
//! so they keep working while the node is cut off.
//!
//! Names carry the test process's id and a counter. Everything is deleted when the [`Net`] is
//! dropped (also when a test panics), and namespaces a killed run left behind (its process
//! gone) are swept when the next [`Net`] starts. It needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)
//! and iproute2's `ip`; without them [`Net::new`] panics and says so, so a test that needs a
//! partition fails rather than passes without one.

use crate::server::Server;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Where `ip netns` keeps its namespaces (Debian's /var/run is /run).
const NETNS_DIR: &str = "/var/run/netns";
/// Every name starts so (then the process id), which is how stale ones are recognised.
const PREFIX: &str = "usher-";
/// The port every node's server listens on: each namespace has its own, all free.
pub const PORT: u16 = 6379;

/// One test's network: a hub with a bridge, and the nodes cabled to it.
pub struct Net {
    prefix: String,
    hub: String,
    /// Every namespace made (the hub first), deleted on drop.
    made: Mutex<Vec<String>>,
}

/// A node of a [`Net`]: a namespace with one address on the test's subnet.
#[derive(Clone, Debug)]
pub struct Node {
    /// The namespace's name (for `ip netns exec`).
    pub ns: String,
    /// Its address, which the other nodes reach it at.
    pub addr: String,
    hub: String,
    /// The hub's end of the node's cable.
    port: String,
}

/// Runs `ip args`, returning its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (install iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Runs `ip args` and panics, naming the command, if it fails.
fn must(args: &[&str]) {
    if let Err(e) = ip(args) {
        panic!("`ip {}` failed: {e}", args.join(" "));
    }
}

/// Deletes namespaces of ours whose process is gone (a run killed before its drops ran).
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

impl Net {
    /// A new network with its hub. Panics with the reason when namespaces cannot be made
    /// (not root, no iproute2): these tests must not pass without a real partition.
    pub fn new() -> Net {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        sweep_stale();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{PREFIX}{}-{n}", std::process::id());
        let hub = format!("{prefix}-hub");
        if let Err(e) = ip(&["netns", "add", &hub]) {
            panic!(
                "the partition tests need network namespaces: `ip netns add {hub}` failed: {e}\n\
                 (run them as root, with CAP_SYS_ADMIN and CAP_NET_ADMIN, and iproute2 installed)"
            );
        }
        let net = Net {
            prefix,
            hub: hub.clone(),
            made: Mutex::new(vec![hub.clone()]),
        };
        must(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        must(&["-n", &hub, "link", "set", "br0", "up"]);
        net
    }

    /// Adds a node named `name` (unique in this net) with the next address of 10.77.0.0/24.
    pub fn node(&self, name: &str) -> Node {
        let ns = format!("{}-{name}", self.prefix);
        let index = {
            let mut made = self.made.lock().unwrap();
            must(&["netns", "add", &ns]);
            made.push(ns.clone());
            made.len() - 1
        };
        let addr = format!("10.77.0.{index}");
        let port = format!("n{index}");
        // Made in the hub with its peer straight in the node: no name ever appears in the
        // root namespace, where parallel tests would collide.
        must(&[
            "-n", &self.hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
            &ns,
        ]);
        must(&["-n", &self.hub, "link", "set", &port, "master", "br0"]);
        must(&["-n", &self.hub, "link", "set", &port, "up"]);
        must(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ]);
        must(&["-n", &ns, "link", "set", "eth0", "up"]);
        must(&["-n", &ns, "link", "set", "lo", "up"]);
        Node {
            ns,
            addr,
            hub: self.hub.clone(),
            port,
        }
    }
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes its interfaces, and a veth pair goes with either end.
        // A server still running inside keeps its namespace alive until it exits.
        let made = std::mem::take(&mut *self.made.lock().unwrap_or_else(|e| e.into_inner()));
        for ns in made.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

impl Node {
    /// Cuts the node off the network: its switch port goes down.
    pub fn cut(&self) {
        must(&["-n", &self.hub, "link", "set", &self.port, "down"]);
    }

    /// Puts the node back on the network.
    pub fn restore(&self) {
        must(&["-n", &self.hub, "link", "set", &self.port, "up"]);
    }

    /// Starts usher in this node on [`PORT`], bound to its address and its own loopback
    /// (protected mode off: the other nodes are not loopback, and only the test's namespaces
    /// can reach it).
    pub fn usher(&self, args: &[&str]) -> Server {
        let port = PORT.to_string();
        let mut all = vec![
            "--port",
            port.as_str(),
            "--bind",
            self.addr.as_str(),
            "127.0.0.1",
            "--protected-mode",
            "no",
        ];
        all.extend_from_slice(args);
        Server::usher_in(&self.ns, &all)
    }

    /// Starts redis-server in this node on [`PORT`], as [`Node::usher`].
    pub fn redis(&self, args: &[&str]) -> Server {
        let mut all = vec![
            "--bind",
            self.addr.as_str(),
            "127.0.0.1",
            "--protected-mode",
            "no",
        ];
        all.extend_from_slice(args);
        Server::redis_in(&self.ns, PORT, &all)
    }
}

/// A TCP connection to `127.0.0.1:port` inside namespace `ns`. The socket is made on a thread
/// that joined the namespace (a thread's namespace is its own), and stays in it afterwards.
pub fn connect(ns: &str, port: u16) -> std::io::Result<TcpStream> {
    let file = std::fs::File::open(format!("{NETNS_DIR}/{ns}"))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: setns on a valid descriptor changes only this thread's namespace.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], port)),
                    Duration::from_secs(5),
                )
            })
            .join()
            .expect("connect thread")
    })
}
