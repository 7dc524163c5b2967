//! The server-wide script cache: SHA1 → script body and flags, shared by every worker thread.
//!
//! A script loaded on one connection (`SCRIPT LOAD`, or `EVAL` of its text) is known to all, so
//! `EVALSHA` works wherever the client lands. Each worker's Lua state compiles a body the first
//! time it runs it and keeps the function; `SCRIPT FLUSH` bumps an epoch that makes every state
//! drop its compiled functions. Bodies sent only as `EVAL` text are bounded ([`EVAL_SCRIPTS_MAX`],
//! oldest evicted first, as Redis 7.4 does); `SCRIPT LOAD`ed ones stay until flushed.

use parking_lot::RwLock;
use sha1::{Digest, Sha1};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// How many scripts seen only through `EVAL` are kept (Redis 7.4's limit).
pub const EVAL_SCRIPTS_MAX: usize = 500;

/// Shebang flags (`#!lua flags=...`) and `redis.register_function` flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The script declared flags (a shebang line), so Redis 7's flag rules apply.
    pub declared: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Parses a comma-separated flag list; the error names the unknown flag as Redis does.
    pub fn parse(list: &str) -> Result<ScriptFlags, String> {
        let mut f = ScriptFlags {
            declared: true,
            ..ScriptFlags::default()
        };
        for name in list.split(',').filter(|n| !n.is_empty()) {
            if !f.set(name) {
                return Err(format!("ERR Unexpected flag in script shebang: {name}"));
            }
        }
        Ok(f)
    }

    /// Sets one flag by its Redis name; false if there is no such flag.
    pub fn set(&mut self, name: &str) -> bool {
        match name {
            "no-writes" => self.no_writes = true,
            "allow-oom" => self.allow_oom = true,
            "allow-stale" => self.allow_stale = true,
            "no-cluster" => self.no_cluster = true,
            "allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }

    /// The flag names, in Redis's order (FUNCTION LIST).
    pub fn names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (on, name) in [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ] {
            if on {
                out.push(name);
            }
        }
        out
    }
}

/// One cached script.
#[derive(Debug)]
pub struct Script {
    /// Lower-case hex SHA1 of the body.
    pub sha: String,
    pub body: Vec<u8>,
    pub flags: ScriptFlags,
    /// Set once a run of this script reached a shard its declared keys did not lock: from then
    /// on it starts with every shard locked (see `server/src/cmd/scripting.rs`).
    pub lock_all: AtomicBool,
    /// Set after the first run, which holds every shard and learns whether the script stays
    /// on its declared keys' shards.
    pub probed: AtomicBool,
    /// Loaded with `SCRIPT LOAD` (never evicted).
    pub loaded: AtomicBool,
}

impl Script {
    /// A function's lock-learning state (FCALL): a script named after the function.
    pub fn named(name: &str, flags: ScriptFlags) -> Script {
        Script {
            sha: name.to_string(),
            body: Vec::new(),
            flags,
            lock_all: AtomicBool::new(false),
            probed: AtomicBool::new(false),
            loaded: AtomicBool::new(true),
        }
    }
}

/// The cache itself.
#[derive(Default)]
pub struct ScriptCache {
    map: RwLock<foldhash::HashMap<String, Arc<Script>>>,
    /// Scripts added by EVAL only, oldest first (eviction order).
    eval_order: parking_lot::Mutex<VecDeque<String>>,
    /// Bumped by SCRIPT FLUSH: Lua states drop their compiled functions when it moves.
    epoch: AtomicU64,
    body_bytes: AtomicUsize,
}

/// Lower-case hex SHA1 (`redis.sha1hex`, script names).
pub fn sha1hex(data: &[u8]) -> String {
    let digest = Sha1::digest(data);
    let mut out = String::with_capacity(40);
    for b in digest.iter() {
        out.push(char::from_digit((b >> 4) as u32, 16).expect("hex"));
        out.push(char::from_digit((b & 15) as u32, 16).expect("hex"));
    }
    out
}

/// Splits a `#!lua flags=a,b` shebang off a body: the flags, or Redis's error for a bad one.
/// Bodies without a shebang have undeclared (legacy) flags.
pub fn parse_shebang(body: &[u8]) -> Result<ScriptFlags, String> {
    if !body.starts_with(b"#!") {
        return Ok(ScriptFlags::default());
    }
    let line_end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..line_end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: #!{engine}"
        ));
    }
    let mut flags = ScriptFlags {
        declared: true,
        ..ScriptFlags::default()
    };
    for part in parts {
        match part.strip_prefix("flags=") {
            Some(list) => flags = ScriptFlags::parse(list)?,
            None => return Err(format!("ERR Unknown lua shebang option: {part}")),
        }
    }
    Ok(flags)
}

impl ScriptCache {
    pub fn get(&self, sha: &[u8]) -> Option<Arc<Script>> {
        if sha.len() != 40 {
            return None;
        }
        let mut lower = [0u8; 40];
        lower.copy_from_slice(sha);
        lower.make_ascii_lowercase();
        if !lower.is_ascii() {
            return None;
        }
        // Safety: ASCII, checked just above (cheaper than `from_utf8` on every EVALSHA).
        let key = unsafe { std::str::from_utf8_unchecked(&lower) };
        self.map.read().get(key).cloned()
    }

    pub fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    /// Adds a body (already known to compile) and returns its entry. `loaded` marks a
    /// `SCRIPT LOAD`, which also pins a script first seen through EVAL.
    pub fn insert(
        &self,
        sha: String,
        body: &[u8],
        flags: ScriptFlags,
        loaded: bool,
    ) -> Arc<Script> {
        let mut map = self.map.write();
        if let Some(s) = map.get(&sha) {
            if loaded {
                s.loaded.store(true, Ordering::Relaxed);
            }
            return s.clone();
        }
        let script = Arc::new(Script {
            sha: sha.clone(),
            body: body.to_vec(),
            flags,
            lock_all: AtomicBool::new(false),
            probed: AtomicBool::new(false),
            loaded: AtomicBool::new(loaded),
        });
        self.body_bytes.fetch_add(body.len(), Ordering::Relaxed);
        map.insert(sha.clone(), script.clone());
        if !loaded {
            let mut order = self.eval_order.lock();
            order.push_back(sha);
            while order.len() > EVAL_SCRIPTS_MAX {
                let Some(old) = order.pop_front() else { break };
                if let Some(s) = map.get(&old) {
                    if !s.loaded.load(Ordering::Relaxed) {
                        self.body_bytes.fetch_sub(s.body.len(), Ordering::Relaxed);
                        map.remove(&old);
                    }
                }
            }
        }
        script
    }

    /// SCRIPT FLUSH: forgets every script, everywhere, and puts `cjson`'s settings back to
    /// their defaults (Redis rebuilds its Lua state).
    pub fn flush(&self) {
        crate::cjson_config::reset();
        self.map.write().clear();
        self.eval_order.lock().clear();
        self.body_bytes.store(0, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// `number_of_cached_scripts`.
    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of script bodies held (`used_memory_scripts_eval`).
    pub fn body_bytes(&self) -> usize {
        self.body_bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_empty_is_redis_s() {
        assert_eq!(sha1hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn shebang_flags_parse() {
        let f = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(f.declared && f.no_writes && f.allow_oom && !f.allow_stale);
        assert!(parse_shebang(b"#!lua flags=bogus\n").is_err());
        assert!(!parse_shebang(b"return 1").unwrap().declared);
    }

    #[test]
    fn eval_scripts_are_bounded_but_loaded_ones_stay() {
        let cache = ScriptCache::default();
        let pinned = sha1hex(b"pinned");
        cache.insert(pinned.clone(), b"pinned", ScriptFlags::default(), true);
        for i in 0..EVAL_SCRIPTS_MAX + 10 {
            let body = format!("return {i}");
            cache.insert(
                sha1hex(body.as_bytes()),
                body.as_bytes(),
                ScriptFlags::default(),
                false,
            );
        }
        assert_eq!(cache.len(), EVAL_SCRIPTS_MAX + 1);
        assert!(cache.contains(pinned.as_bytes()));
        assert!(!cache.contains(sha1hex(b"return 0").as_bytes()));
    }
}
