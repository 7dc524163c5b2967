//! The slow log: commands that ran at least `slowlog-log-slower-than` microseconds, newest
//! first, at most `slowlog-max-len` of them (SLOWLOG GET / LEN / RESET, as Redis 7.0).
//!
//! The threshold is read from the hot configuration on every command; only a slow command takes
//! the log's lock, so the common path pays one comparison. Entries keep Redis's shape: at most
//! 32 arguments (the last one says how many more there were), each at most 128 bytes (plus how
//! many more there were), secrets redacted.

use parking_lot::Mutex;
use std::collections::VecDeque;
use usher_protocol::Argv;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

pub struct Entry {
    pub id: u64,
    pub time_s: i64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub addr: String,
    pub name: String,
}

#[derive(Default)]
pub struct SlowLog {
    entries: Mutex<(u64, VecDeque<Entry>)>,
}

/// Argument indexes whose values are secrets (AUTH, HELLO ... AUTH, ACL SETUSER, CONFIG SET of
/// a password or the token secret, TOKENKEYS RESTORE's key ring): shown as `(redacted)`, as
/// Redis does.
pub fn redacted(argv: Argv<'_>, i: usize) -> bool {
    let is = |j: usize, w: &str| {
        argv.get(j)
            .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    if is(0, "AUTH") {
        return i >= 1;
    }
    // The user name and every rule (passwords among them).
    if is(0, "ACL") && is(1, "SETUSER") {
        return i >= 2;
    }
    // The token key ring, private keys included.
    if is(0, "TOKENKEYS") && is(1, "RESTORE") {
        return i >= 2;
    }
    if is(0, "HELLO") {
        return (2..argv.len()).any(|j| is(j, "AUTH") && (i == j + 1 || i == j + 2));
    }
    if is(0, "CONFIG") && is(1, "SET") && i >= 3 && (i - 3).is_multiple_of(2) {
        let name = argv.arg(i - 1);
        return ["requirepass", "masterauth", "token-secret"]
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s.as_bytes()));
    }
    false
}

impl SlowLog {
    pub fn record(
        &self,
        argv: Argv<'_>,
        duration_us: u64,
        addr: String,
        name: String,
        max_len: usize,
        now_s: i64,
    ) {
        let shown = argv.len().min(MAX_ARGC);
        let mut args = Vec::with_capacity(shown);
        for i in 0..shown {
            if i == MAX_ARGC - 1 && argv.len() > MAX_ARGC {
                args.push(
                    format!("... ({} more arguments)", argv.len() - MAX_ARGC + 1).into_bytes(),
                );
                break;
            }
            if redacted(argv, i) {
                args.push(b"(redacted)".to_vec());
                continue;
            }
            let a = argv.arg(i);
            if a.len() > MAX_STRING {
                let mut t = a[..MAX_STRING].to_vec();
                t.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                args.push(t);
            } else {
                args.push(a.to_vec());
            }
        }
        let mut log = self.entries.lock();
        let id = log.0;
        log.0 += 1;
        log.1.push_front(Entry {
            id,
            time_s: now_s,
            duration_us,
            args,
            addr,
            name,
        });
        log.1.truncate(max_len);
    }

    /// The newest `count` entries (all for `None`), handed to `f` newest first.
    pub fn newest(&self, count: Option<usize>, mut f: impl FnMut(&[&Entry])) {
        let log = self.entries.lock();
        let n = count.map_or(log.1.len(), |c| c.min(log.1.len()));
        let picked: Vec<&Entry> = log.1.iter().take(n).collect();
        f(&picked);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().1.len()
    }

    pub fn reset(&self) {
        self.entries.lock().1.clear();
    }
}
