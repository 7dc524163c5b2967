//! Access control lists as Redis 7.0 has them: users with SHA-256 passwords, command and
//! category rules, key and channel patterns and selectors; the permission check the dispatch
//! gate runs; the ACL log; the ACL file and `user` lines of the config file.
//!
//! ```text
//! users: name → Arc<User>   (immutable; ACL SETUSER swaps in a new one, bumps `epoch`)
//! connection: Arc<User> + `acl_free` (one flag: +@all ~* &* with no selectors)
//!     re-read when `epoch` moves, at the start of each read batch
//! gate: if !acl_free { check(user, command, keys, channels) → NOPERM + log entry }
//! ```
//!
//! `requirepass` is the `default` user's password, as in Redis 7.0.

pub mod categories;
pub mod check;
pub mod log;
pub mod user;

use crate::config::Config;
use crate::registry::Registry;
use crate::shared::Shared;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use user::{Ctx, User};

pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// Bumped on every change of any user: connections re-read theirs when it moves.
    epoch: AtomicU64,
    /// The `default` user is on and needs no password: new connections start authenticated.
    default_open: AtomicBool,
    pub log: Mutex<log::AclLog>,
}

/// The rule context from the server's state.
pub fn ctx<'a>(registry: &'a Registry, config: &Config) -> Ctx<'a> {
    Ctx {
        registry,
        all_channels_default: config.acl_pubsub_default_all,
    }
}

impl Acl {
    /// The `default` user, with `requirepass` as its password if set.
    pub fn new(registry: &Registry, config: &Config) -> Acl {
        let ctx = ctx(registry, config);
        let mut default = User::new_default(&ctx);
        set_password(&mut default, &ctx, &config.requirepass);
        let acl = Acl {
            users: RwLock::new(BTreeMap::new()),
            epoch: AtomicU64::new(0),
            default_open: AtomicBool::new(false),
            log: Mutex::new(log::AclLog::default()),
        };
        acl.put(default);
        acl
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    #[inline]
    pub fn default_open(&self) -> bool {
        self.default_open.load(Ordering::Relaxed)
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        let name = std::str::from_utf8(name).ok()?;
        self.users.read().get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get(b"default")
            .expect("the default user always exists")
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// Stores (creates or replaces) a user.
    pub fn put(&self, user: User) {
        let mut users = self.users.write();
        if user.name == "default" {
            self.default_open
                .store(user.enabled && user.nopass, Ordering::Relaxed);
        }
        users.insert(user.name.clone(), Arc::new(user));
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Removes a user; true if it existed.
    pub fn remove(&self, name: &[u8]) -> bool {
        let Ok(name) = std::str::from_utf8(name) else {
            return false;
        };
        let removed = self.users.write().remove(name).is_some();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        removed
    }

    /// Replaces every user at once (ACL LOAD); a set without `default` gets a fresh one.
    fn replace_all(&self, users: BTreeMap<String, User>, ctx: &Ctx<'_>) {
        let mut map: BTreeMap<String, Arc<User>> =
            users.into_iter().map(|(n, u)| (n, Arc::new(u))).collect();
        let default = map
            .entry("default".into())
            .or_insert_with(|| Arc::new(User::new_default(ctx)));
        self.default_open
            .store(default.enabled && default.nopass, Ordering::Relaxed);
        *self.users.write() = map;
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
}

/// Records a refused command in the ACL log. `context` is `Lua` for a script's `redis.call`;
/// otherwise MULTI or top level, from the session.
pub fn log_denial(
    s: &crate::session::Session,
    cmd: &crate::registry::Command,
    argv: usher_protocol::Argv<'_>,
    denied: check::Denied,
    context: Option<log::Context>,
) {
    let (reason, object) = match denied {
        check::Denied::Command => (log::Reason::Command, cmd.full_name.as_bytes().to_vec()),
        check::Denied::Key(i) => (log::Reason::Key, argv.arg(i).to_vec()),
        check::Denied::Channel(i) => (log::Reason::Channel, argv.arg(i).to_vec()),
    };
    let context = context.unwrap_or(if s.multi.is_some() {
        log::Context::Multi
    } else {
        log::Context::Toplevel
    });
    add_log_entry(s, reason, context, object, s.user.name.clone());
}

/// Records a failed AUTH (or HELLO AUTH) of `username`; the object is the command as typed.
pub fn log_auth_failure(s: &crate::session::Session, typed: &[u8], username: &[u8]) {
    let context = if s.multi.is_some() {
        log::Context::Multi
    } else {
        log::Context::Toplevel
    };
    let username = String::from_utf8_lossy(username).into_owned();
    add_log_entry(s, log::Reason::Auth, context, typed.to_vec(), username);
}

fn add_log_entry(
    s: &crate::session::Session,
    reason: log::Reason,
    context: log::Context,
    object: Vec<u8>,
    username: String,
) {
    let now = crate::shared::unix_ms();
    let entry = log::Entry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime_ms: now,
        client_info: crate::cmd::connection::client_line(s.shared, &s.info, now),
    };
    let max_len = s.shared.config.read().acllog_max_len;
    s.shared.acl.log.lock().add(entry, max_len);
}

/// `requirepass`: the default user's passwords become this one (none: `nopass`), as Redis's
/// `ACLUpdateDefaultUserPassword`.
fn set_password(user: &mut User, ctx: &Ctx<'_>, password: &str) {
    user.apply(ctx, b"resetpass").expect("valid rule");
    if password.is_empty() {
        user.apply(ctx, b"nopass").expect("valid rule");
    } else {
        let rule = [b">".as_slice(), password.as_bytes()].concat();
        user.apply(ctx, &rule).expect("valid rule");
    }
}

/// CONFIG SET requirepass: the default user's new password.
pub fn update_default_password(shared: &Shared, config: &Config) {
    let ctx = ctx(crate::registry::get(), config);
    let mut default = (*shared.acl.default_user()).clone();
    set_password(&mut default, &ctx, &config.requirepass);
    shared.acl.put(default);
}

/// Wakes the subscribers authenticated as `name` so they re-read the user's rules (and close
/// if their channels are no longer allowed).
pub fn wake_subscribers_of(shared: &Shared, name: &str) {
    for c in shared.clients.all() {
        if c.has_flag(crate::client::flag::PUBSUB) && *c.authenticated_user.lock() == name {
            c.wake.notify_one();
        }
    }
}

/// Asks every connection authenticated as one of `names` to close (ACL DELUSER, ACL LOAD).
pub fn kill_clients_of(shared: &Shared, names: &[String]) {
    for c in shared.clients.all() {
        let user = c.authenticated_user.lock().clone();
        if names.contains(&user) {
            c.request_kill();
        }
    }
}

/// Start-up: the `user` lines of the config file, then the ACL file (Redis's
/// `ACLLoadUsersAtStartup`; both at once is a configuration error).
pub fn load_at_startup(shared: &Shared) -> Result<(), String> {
    let config = shared.config.read().clone();
    if !config.aclfile.is_empty() && !config.acl_users.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let ctx = ctx(crate::registry::get(), &config);
    for words in &config.acl_users {
        let (name, rules) = words.split_first().ok_or("Bad user line")?;
        if user::has_spaces(name.as_bytes()) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let mut user = if name == "default" {
            let mut u = (*shared.acl.default_user()).clone();
            u.apply(&ctx, b"reset").expect("valid rule");
            u
        } else {
            User::new(name, &ctx)
        };
        let rules: Vec<&[u8]> = rules.iter().map(|r| r.as_bytes()).collect();
        let merged = user::merge_selector_args(&rules).map_err(|_| {
            format!("Unmatched parenthesis in selector definition for the user named '{name}'")
        })?;
        for rule in &merged {
            user.apply(&ctx, rule).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{name}': {}",
                    String::from_utf8_lossy(rule),
                    e.text()
                )
            })?;
        }
        shared.acl.put(user);
    }
    if !config.aclfile.is_empty() {
        load_file(shared)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
    }
    Ok(())
}

/// Reads the ACL file into a new user set and swaps it in; on any error nothing changes and
/// the error lists every bad line (Redis's `ACLLoadFromFile`).
pub fn load_file(shared: &Shared) -> Result<(), String> {
    let config = shared.config.read().clone();
    let path = &config.aclfile;
    let text = std::fs::read_to_string(path).map_err(|e| {
        let reason = usher_protocol::errors::strerror(&e);
        format!("Error loading ACLs, opening file '{path}': {reason}")
    })?;
    let ctx = ctx(crate::registry::get(), &config);
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let line_no = i + 1;
        let line = line.trim_matches(|c| " \t\r\n".contains(c));
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        if words.len() < 2 || words[0] != "user" {
            errors.push_str(&format!(
                "{path}:{line_no} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = words[1];
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{name}' found on line {line_no}. "
            ));
            continue;
        }
        let rules: Vec<&[u8]> = words[2..].iter().map(|w| w.as_bytes()).collect();
        let Ok(merged) = user::merge_selector_args(&rules) else {
            errors.push_str(&format!(
                "{path}:{line_no}: Unmatched parenthesis in selector definition."
            ));
            continue;
        };
        let mut user = User::new(name, &ctx);
        for rule in &merged {
            if let Err(e) = user.apply(&ctx, rule) {
                errors.push_str(&format!("{path}:{line_no}: {}. ", e.text()));
            }
        }
        users.insert(name.to_string(), user);
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    // Connections of the users replaced go, as Redis frees the old set (the default user's
    // connections stay: Redis copies the new default into the old one).
    let old: Vec<String> = shared
        .acl
        .users()
        .iter()
        .map(|u| u.name.clone())
        .filter(|n| n != "default")
        .collect();
    shared.acl.replace_all(users, &ctx);
    kill_clients_of(shared, &old);
    Ok(())
}

/// Writes every user to the ACL file, through a temporary file renamed over it.
pub fn save_file(shared: &Shared) -> std::io::Result<()> {
    let path = shared.config.read().aclfile.clone();
    let mut text = String::new();
    for u in shared.acl.users() {
        text.push_str(&format!(
            "user {} {}\n",
            u.name,
            u.describe(crate::registry::get())
        ));
    }
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::shared::unix_ms()
    );
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
