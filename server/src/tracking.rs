//! Client-side caching (`CLIENT TRACKING`): which client may cache which key, and the
//! invalidation messages sent when a key changes, as Redis 7.0's `tracking.c`.
//!
//! In the default mode the server remembers the keys each tracking client read (read-only
//! commands, under the command's shard locks, so no write can slip between the read and the
//! registration); a later change of such a key (any client, expiry, eviction of the entry by
//! `tracking-table-max-keys`) sends that client one `invalidate` message and forgets the key.
//! In BCAST mode nothing is remembered: every changed key that starts with one of the client's
//! prefixes is sent, one message per prefix per command. FLUSHALL and FLUSHDB send a null
//! invalidation to every tracking client.
//!
//! Messages go to RESP3 clients as `>2 invalidate [keys]`; with `REDIRECT id`, to that client,
//! as a push if it speaks RESP3, or as a `__redis__:invalidate` pub/sub message if it speaks
//! RESP2 and is subscribed. The tables live behind one lock, touched only while some client
//! tracks: with none, the command path pays one atomic load.

use crate::client::ClientInfo;
use crate::registry::Spec;
use crate::session::{Session, TrackingState};
use crate::shared::Shared;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use usher_engine::args::is;
use usher_engine::command::Flags;
use usher_engine::error::{CmdError, CmdResult};
use usher_engine::keyspace_events::{self as ev, KeyEvent};
use usher_engine::store::LockedShards;
use usher_protocol::{Argv, Protocol, ReplySink, RespWriter};

/// The channel RESP2 clients subscribe to for redirected invalidations.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking options (`CLIENT TRACKING on ...`).
#[derive(Clone, Debug, Default)]
pub struct Mode {
    /// Client id invalidations go to; 0 for the client itself.
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// BCAST prefixes, sorted; empty means every key.
    pub prefixes: Vec<Vec<u8>>,
}

struct Tracker {
    mode: Mode,
    info: Arc<ClientInfo>,
    /// The redirect target went away (Redis's `CLIENT_TRACKING_BROKEN_REDIR`).
    broken_redirect: bool,
}

#[derive(Default)]
struct Tables {
    /// Default mode: key → the clients that may have cached it.
    keys: HashMap<Vec<u8>, HashSet<u64>>,
    /// Every tracking client by id.
    clients: HashMap<u64, Tracker>,
}

#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on: the command path's only check.
    count: AtomicUsize,
    tables: Mutex<Tables>,
}

impl Tracking {
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// Clients with tracking on (INFO's `tracking_clients`).
    pub fn clients(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Turns tracking on (or changes its options) for `info`.
    pub fn enable(&self, info: &Arc<ClientInfo>, mode: Mode) {
        use crate::client::flag;
        info.set_flag(flag::TRACKING, true);
        info.set_flag(flag::TRACKING_BROKEN_REDIR, false);
        info.set_flag(flag::TRACKING_BCAST, mode.bcast);
        let mut t = self.tables.lock();
        let fresh = !t.clients.contains_key(&info.id);
        t.clients.insert(
            info.id,
            Tracker {
                mode,
                info: info.clone(),
                broken_redirect: false,
            },
        );
        if fresh {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Turns tracking off for client `id` (CLIENT TRACKING off, RESET, disconnect). Its
    /// entries in the key table go when those keys next change, as in Redis.
    pub fn disable(&self, id: u64) {
        if let Some(gone) = self.tables.lock().clients.remove(&id) {
            use crate::client::flag;
            let f = flag::TRACKING | flag::TRACKING_BROKEN_REDIR | flag::TRACKING_BCAST;
            gone.info.set_flag(f, false);
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// CLIENT LIST's `redir`: the redirect target (0 for none) while tracking is on, else -1.
    pub fn redirect_of(&self, id: u64) -> i64 {
        self.tables
            .lock()
            .clients
            .get(&id)
            .map_or(-1, |t| t.mode.redirect as i64)
    }

    /// Whether the client's redirect target has gone (CLIENT TRACKINGINFO's flag).
    pub fn broken_redirect(&self, id: u64) -> bool {
        self.tables
            .lock()
            .clients
            .get(&id)
            .is_some_and(|t| t.broken_redirect)
    }

    /// Sizes for INFO: (tracked keys, key-client pairs, BCAST prefixes).
    pub fn totals(&self) -> (usize, usize, usize) {
        let t = self.tables.lock();
        let items = t.keys.values().map(HashSet::len).sum();
        let prefixes = t
            .clients
            .values()
            .filter(|c| c.mode.bcast)
            .map(|c| c.mode.prefixes.len().max(1))
            .sum();
        (t.keys.len(), items, prefixes)
    }
}

/// Remembers that client `id` read `keys` (Redis's `trackingRememberKeys`), then keeps the
/// table within `tracking-table-max-keys` by invalidating keys beyond it.
pub fn remember<'k>(shared: &Shared, id: u64, keys: impl Iterator<Item = &'k [u8]>, max: u64) {
    let mut t = shared.tracking.tables.lock();
    for key in keys {
        t.keys.entry(key.to_vec()).or_default().insert(id);
    }
    if max == 0 || t.keys.len() as u64 <= max {
        return;
    }
    // As Redis's `trackingLimitUsedSlots`: a bounded effort per call, so a huge excess after
    // lowering the limit is worked off over several commands.
    let excess = (t.keys.len() as u64 - max).min(100) as usize;
    let victims: Vec<Vec<u8>> = t.keys.keys().take(excess).cloned().collect();
    for key in victims {
        if let Some(ids) = t.keys.remove(&key) {
            for target in ids {
                send(shared, &mut t, target, Some(&[&key]));
            }
        }
    }
}

/// Sends invalidations for the keys `events` changed (modified or expired); `origin` is the
/// client whose command changed them, skipped by NOLOOP clients.
pub fn invalidate(shared: &Shared, events: &[KeyEvent], origin: Option<u64>) {
    let mut t = shared.tracking.tables.lock();
    let mut flushed = false;
    let mut changed: Vec<&[u8]> = Vec::new();
    for e in events {
        if e.class == ev::FLUSHED {
            flushed = true;
        } else if e.class & (ev::TOUCHED | ev::EXPIRED) != 0 && !changed.contains(&&*e.key) {
            changed.push(&e.key);
        }
    }
    if flushed {
        t.keys.clear();
        let ids: Vec<u64> = t.clients.keys().copied().collect();
        for id in ids {
            send(shared, &mut t, id, None);
        }
    }
    for key in &changed {
        let Some(ids) = t.keys.remove(*key) else {
            continue;
        };
        for id in ids {
            let skip = t
                .clients
                .get(&id)
                .is_none_or(|c| c.mode.bcast || (c.mode.noloop && origin == Some(id)));
            if !skip {
                send(shared, &mut t, id, Some(&[key]));
            }
        }
    }
    let bcast: Vec<(u64, Vec<Vec<u8>>)> = t
        .clients
        .iter()
        .filter(|(id, c)| c.mode.bcast && !(c.mode.noloop && origin == Some(**id)))
        .map(|(id, c)| (*id, c.mode.prefixes.clone()))
        .collect();
    for (id, prefixes) in bcast {
        let all = [Vec::new()];
        let prefixes = if prefixes.is_empty() {
            &all[..]
        } else {
            &prefixes[..]
        };
        for prefix in prefixes {
            let keys: Vec<&[u8]> = changed
                .iter()
                .copied()
                .filter(|k| k.starts_with(prefix))
                .collect();
            if !keys.is_empty() {
                send(shared, &mut t, id, Some(&keys));
            }
        }
    }
}

/// Sends one invalidation (`None`: everything, after a flush) to client `id` or its redirect
/// target, as Redis's `sendTrackingMessage`.
fn send(shared: &Shared, t: &mut Tables, id: u64, keys: Option<&[&[u8]]>) {
    let Some(tracker) = t.clients.get_mut(&id) else {
        return;
    };
    let own_proto = proto_of(&tracker.info);
    let limit = shared.hot().output_pubsub;
    let (target, redirected) = if tracker.mode.redirect == 0 {
        (tracker.info.clone(), false)
    } else {
        match shared.clients.get(tracker.mode.redirect) {
            Some(c) => (c, true),
            None => {
                if !tracker.broken_redirect {
                    tracker.broken_redirect = true;
                    tracker
                        .info
                        .set_flag(crate::client::flag::TRACKING_BROKEN_REDIR, true);
                    if own_proto == Protocol::Resp3 {
                        let mut buf = Vec::new();
                        let mut w = RespWriter::new(&mut buf, Protocol::Resp3);
                        w.push(2);
                        w.bulk(b"tracking-redir-broken");
                        w.int(tracker.mode.redirect as i64);
                        tracker.info.deliver(&buf, &limit);
                    }
                }
                return;
            }
        }
    };
    let proto = proto_of(&target);
    let mut buf = Vec::new();
    let mut w = RespWriter::new(&mut buf, proto);
    if proto == Protocol::Resp3 {
        w.push(2);
        w.bulk(b"invalidate");
    } else if redirected && target.has_flag(crate::client::flag::PUBSUB) {
        w.push(3);
        w.bulk(b"message");
        w.bulk(CHANNEL);
    } else {
        return;
    }
    match keys {
        Some(keys) => {
            w.array(keys.len());
            for k in keys {
                w.bulk(k);
            }
        }
        // Redis writes the tracking client's own null (`shared.null[c->resp]`).
        None => RespWriter::new(&mut buf, own_proto).null(),
    }
    target.deliver(&buf, &limit);
}

fn proto_of(c: &ClientInfo) -> Protocol {
    if c.resp3.load(Ordering::Relaxed) {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    }
}

/// After a read-only command of a tracking client: remembers its keys, unless BCAST, or OPTIN
/// without `CLIENT CACHING yes`, or OPTOUT after `CLIENT CACHING no`.
pub fn after_read(s: &Session, spec: Spec, argv: Argv<'_>) {
    let Some(t) = &s.tracking else { return };
    if !spec.flags().contains(Flags::READONLY)
        || t.mode.bcast
        || (t.mode.optin && !t.caching)
        || (t.mode.optout && t.caching)
    {
        return;
    }
    let Some(positions) = spec.key_positions(argv) else {
        return;
    };
    remember(
        s.shared,
        s.info.id,
        positions.iter().map(|&i| argv.arg(i)),
        s.hot.tracking_table_max_keys,
    );
}

/// ```text
/// CLIENT TRACKING <ON | OFF> [REDIRECT id] [PREFIX prefix [PREFIX prefix ...]] [BCAST]
///     [OPTIN] [OPTOUT] [NOLOOP]
/// ```
/// Checks in Redis's order and words (`clientCommand`, `checkPrefixCollisionsOrReply`).
pub fn client_tracking(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mut mode = Mode::default();
    let mut j = 3;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = argv.arg(j);
        if is(opt, "REDIRECT") && more > 0 {
            j += 1;
            if mode.redirect != 0 {
                return Err(CmdError::Static(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = usher_protocol::parse::parse_i64(argv.arg(j)).ok_or(CmdError::NotInteger)?;
            if id <= 0 || s.shared.clients.get(id as u64).is_none() {
                return Err(CmdError::Static(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            mode.redirect = id as u64;
        } else if is(opt, "BCAST") {
            mode.bcast = true;
        } else if is(opt, "OPTIN") {
            mode.optin = true;
        } else if is(opt, "OPTOUT") {
            mode.optout = true;
        } else if is(opt, "NOLOOP") {
            mode.noloop = true;
        } else if is(opt, "PREFIX") && more > 0 {
            j += 1;
            mode.prefixes.push(argv.arg(j).to_vec());
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if is(argv.arg(2), "OFF") {
        s.stop_tracking();
        out.ok();
        return Ok(());
    }
    if !is(argv.arg(2), "ON") {
        return Err(CmdError::Syntax);
    }
    if !mode.bcast && !mode.prefixes.is_empty() {
        return Err(CmdError::Static(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if let Some(old) = s.tracking.as_ref().map(|t| &t.mode) {
        if old.bcast != mode.bcast {
            return Err(CmdError::Static("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
    }
    if mode.bcast && (mode.optin || mode.optout) {
        return Err(CmdError::Static(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if mode.optin && mode.optout {
        return Err(CmdError::Static(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if let Some(old) = s.tracking.as_ref().map(|t| &t.mode) {
        if (mode.optin && old.optout) || (mode.optout && old.optin) {
            return Err(CmdError::Static("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
        }
    }
    let old_prefixes = s
        .tracking
        .as_ref()
        .map(|t| t.mode.prefixes.clone())
        .unwrap_or_default();
    check_prefixes(&old_prefixes, &mode.prefixes)?;
    // Enabling again adds prefixes to those already registered, as Redis's `enableTracking`.
    let mut prefixes = old_prefixes;
    for p in mode.prefixes.drain(..) {
        if !prefixes.contains(&p) {
            prefixes.push(p);
        }
    }
    prefixes.sort();
    mode.prefixes = prefixes;
    s.shared.tracking.enable(&s.info, mode.clone());
    s.tracking = Some(TrackingState {
        mode,
        caching: false,
    });
    crate::notify::refresh_capture(s.hot.engine.notify_classes, true);
    out.ok();
    Ok(())
}

/// No two prefixes of one client may be prefixes of each other (a key would get two messages).
fn check_prefixes(old: &[Vec<u8>], new: &[Vec<u8>]) -> CmdResult {
    let overlaps = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    for (i, p) in new.iter().enumerate() {
        if let Some(o) = old.iter().find(|o| o != &p && overlaps(o, p)) {
            return Err(CmdError::Owned(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(o)
            )));
        }
        if let Some(o) = new[i + 1..].iter().find(|o| overlaps(o, p)) {
            return Err(CmdError::Owned(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(o)
            )));
        }
    }
    Ok(())
}

/// ```text
/// CLIENT CACHING <YES | NO>
/// ```
pub fn client_caching(
    s: &mut Session,
    _locked: &mut LockedShards,
    argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let Some(t) = s.tracking.as_mut() else {
        return Err(CmdError::Static("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    };
    if is(argv.arg(2), "YES") {
        if !t.mode.optin {
            return Err(CmdError::Static(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(argv.arg(2), "NO") {
        if !t.mode.optout {
            return Err(CmdError::Static(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    t.caching = true;
    out.ok();
    Ok(())
}

/// ```text
/// CLIENT GETREDIR
/// ```
/// The redirect id, 0 without one, -1 when tracking is off.
pub fn client_getredir(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    out.int(s.tracking.as_ref().map_or(-1, |t| t.mode.redirect as i64));
    Ok(())
}

/// ```text
/// CLIENT TRACKINGINFO
/// ```
pub fn client_trackinginfo(
    s: &mut Session,
    _locked: &mut LockedShards,
    _argv: Argv,
    out: &mut RespWriter,
) -> CmdResult {
    let mut flags: Vec<&str> = Vec::new();
    match &s.tracking {
        None => flags.push("off"),
        Some(t) => {
            flags.push("on");
            if t.mode.bcast {
                flags.push("bcast");
            }
            if t.mode.optin {
                flags.push("optin");
                if t.caching {
                    flags.push("caching-yes");
                }
            }
            if t.mode.optout {
                flags.push("optout");
                if t.caching {
                    flags.push("caching-no");
                }
            }
            if t.mode.noloop {
                flags.push("noloop");
            }
            if s.shared.tracking.broken_redirect(s.info.id) {
                flags.push("broken_redirect");
            }
        }
    }
    out.map(3);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"redirect");
    out.int(s.tracking.as_ref().map_or(-1, |t| t.mode.redirect as i64));
    out.bulk(b"prefixes");
    let prefixes = s
        .tracking
        .as_ref()
        .map(|t| &t.mode.prefixes[..])
        .unwrap_or(&[]);
    out.array(prefixes.len());
    for p in prefixes {
        out.bulk(p);
    }
    Ok(())
}
