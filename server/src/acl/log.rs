//! The ACL log (`ACL LOG`): recent denials, newest first, similar ones folded into one entry
//! with a count (Redis's `addACLLogEntry`), at most `acllog-max-len` entries.

use std::collections::VecDeque;

/// Denials within this many ms of each other, same reason, context, object and user, are one
/// entry (Redis's `ACL_LOG_GROUPING_MAX_TIME_DELTA`).
const GROUPING_MAX_MS: i64 = 60_000;
/// How many recent entries a new one is compared with (Redis scans ten).
const MATCH_SCAN: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the denied command ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command's full name, the key, the channel, or (for AUTH) the command as typed.
    pub object: Vec<u8>,
    pub username: String,
    /// When it last happened (Unix ms).
    pub ctime_ms: i64,
    /// CLIENT LIST line of the client it last happened to.
    pub client_info: String,
}

#[derive(Default)]
pub struct AclLog {
    entries: VecDeque<Entry>,
}

impl AclLog {
    /// Adds a denial, folding it into a recent similar entry if there is one.
    pub fn add(&mut self, entry: Entry, max_len: usize) {
        let similar = self.entries.iter().take(MATCH_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && (e.ctime_ms - entry.ctime_ms).abs() <= GROUPING_MAX_MS
                && e.object == entry.object
                && e.username == entry.username
        });
        match similar {
            Some(at) => {
                let mut e = self.entries.remove(at).expect("found above");
                e.count += 1;
                e.ctime_ms = entry.ctime_ms;
                e.client_info = entry.client_info;
                self.entries.push_front(e);
            }
            None => {
                self.entries.push_front(entry);
                self.entries.truncate(max_len);
            }
        }
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// Newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
