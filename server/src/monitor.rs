//! MONITOR: every command the server runs, as one line to each monitoring client, in Redis's
//! format (`+<seconds>.<micros> [<db> <addr>] "cmd" "arg" ...`, arguments quoted as
//! `sdscatrepr` quotes them, secrets redacted).
//!
//! Feeding costs one relaxed load per command while nobody monitors. A monitor's queue is
//! bounded by the pub/sub output limit (`client-output-buffer-limit pubsub`): a monitor that
//! stops reading is cut off rather than growing the server without bound.

use crate::client::ClientInfo;
use crate::config::OutputLimit;
use crate::repr::repr;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use usher_protocol::Argv;

#[derive(Default)]
pub struct Monitors {
    clients: RwLock<Vec<Arc<ClientInfo>>>,
    count: AtomicUsize,
}

impl Monitors {
    /// True when someone monitors (the command path's only cost otherwise).
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub fn add(&self, client: &Arc<ClientInfo>) {
        let mut all = self.clients.write();
        if !all.iter().any(|c| c.id == client.id) {
            all.push(client.clone());
            self.count.store(all.len(), Ordering::Relaxed);
        }
    }

    pub fn remove(&self, id: u64) {
        let mut all = self.clients.write();
        all.retain(|c| c.id != id);
        self.count.store(all.len(), Ordering::Relaxed);
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Sends one command line to every monitor but the client that ran it.
    pub fn feed(&self, db: usize, origin: &str, from: u64, argv: Argv<'_>, limit: &OutputLimit) {
        let line = format_line(db, origin, argv);
        for c in self.clients.read().iter().filter(|c| c.id != from) {
            c.deliver(line.as_bytes(), limit);
        }
    }
}

fn format_line(db: usize, origin: &str, argv: Argv<'_>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!(
        "+{}.{:06} [{db} {origin}]",
        now.as_secs(),
        now.subsec_micros()
    );
    for i in 0..argv.len() {
        line.push(' ');
        if crate::slowlog::redacted(argv, i) {
            line.push_str("\"(redacted)\"");
        } else {
            repr(&mut line, argv.arg(i));
        }
    }
    line.push_str("\r\n");
    line
}
