//! Admission policies: set once per event with QPOLICY, then run by the server itself.
//!
//! A policy is an ordinary HASH at `<queue>:policy` (readable and editable with HGETALL/HSET;
//! carried by snapshots like every key, and re-registered when a snapshot loads), holding
//! Cloudflare's two knobs and the rest of an event's waiting-room settings:
//!
//! ```text
//! queue       the queue this policy belongs to (written by QPOLICY SET; read by loaders)
//! active      the active-set key, in the queue's hash slot (required)
//! maxactive   cap on live active sessions, ≥ 1      (absent: no cap)
//! rate        new admissions per minute, ≥ 1        (absent: the server admits nobody itself)
//! ttl         active session length, ms             (default 300000)
//! heartbeat   base heartbeat timeout, ms            (absent: no heartbeats)
//! prequeueat  Unix ms the pre-queue opens; before it the event is `idle` and turns arrivals
//!             away (absent: arrivals are accepted at any time)
//! openat      Unix ms the sale opens; earlier arrivals form a shuffled pre-queue (absent: open)
//! closeat     Unix ms the sale ends: later arrivals are turned away, those in line are still
//!             admitted (absent: no scheduled end)
//! channel     pub/sub channel announcing each admission, non-empty (absent: none)
//! tokens      admission-token lifetime, ms; one token per admission (absent: none)
//! state       open | paused | closed: the operator's switch (absent: open)
//! method      fifo | random | auto | passthrough | reject: how arrivals are handled and who
//!             is admitted next (absent: fifo)
//! noshow      ms an admitted user has to show up (QRENEW, TOKENVERIFY) before their session
//!             ends as a no-show; the release rate compensates (absent: nobody is expected)
//! maxperclient  places one client key (IP, device) may take in the event, ≥ 1; ENTER ...
//!             CLIENT key over it gets LIMITED (absent: no limit)
//! tokenalg    HS256 | EdDSA: how admission tokens and invites are signed (absent: HS256)
//! inviteonly  yes: ENTER admits into the line only with an unused invite (TOKENINVITE)
//!             (absent: anyone may enter)
//! seed        the secret behind the pre-queue shuffle and random draws, so both can be
//!             audited afterwards (written by QPOLICY SET when OPENAT or METHOD random is set)
//! maxwaiting  the longest the line may grow, ≥ 1; later arrivals get FULL (absent: no limit)
//! message     a message to everyone waiting, returned by QPOS (absent: none)
//! feed        the length the event's replayable feed `<queue>:feed` (a stream of every
//!             announcement) is trimmed to (exactly), ≥ 1 (absent: no feed)
//! soon        with a feed: a `soon` entry for each waiter once they reach the first `soon`
//!             places of a FIFO line, ≥ 1 (absent: none)
//! expiring    with a feed: an `expiring` entry for each session within this many ms of its
//!             expiry (absent: none)
//! renew       no: sessions keep the length they were admitted with; QRENEW does not extend
//!             them (absent: yes, activity renews)
//! lanes       priority lanes and their share of every admission batch, in percent:
//!             `presale:30,vip:10` (shares 1-100, at most 100 together; the main line gets
//!             the rest, and whatever a lane with nobody waiting leaves) (absent: one line)
//! ```
//!
//! Every read re-parses the hash, so an edit takes effect at once, but an edit can never
//! loosen a limit by accident: a field that does not parse keeps the last valid value (the
//! shard remembers it in [`super::registry`]) and the refusal is reported by `QPOLICY GET`.
//! Removing a field (HDEL, `QPOLICY UNSET`) is a deliberate change and takes effect.

use super::token::Alg;
use super::MAX_TIME_MS;
use crate::error::CmdError;
use crate::types::hash::Hash;
use usher_cluster::{companion_key, key_hash_slot};
use usher_protocol::parse::parse_i64;

/// The default active-session length (5 minutes, as in the seeds).
pub const DEFAULT_TTL_MS: i64 = 300_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub active: Vec<u8>,
    pub max_active: Option<i64>,
    pub rate_per_min: Option<i64>,
    pub ttl_ms: i64,
    pub heartbeat_ms: Option<i64>,
    pub open_at_ms: Option<i64>,
    pub prequeue_at_ms: Option<i64>,
    pub close_at_ms: Option<i64>,
    pub channel: Option<Vec<u8>>,
    pub token_ttl_ms: Option<i64>,
    pub state: State,
    pub method: Method,
    pub max_waiting: Option<i64>,
    pub message: Option<Vec<u8>>,
    pub max_per_client: Option<i64>,
    pub noshow_ms: Option<i64>,
    pub seed: Option<Vec<u8>>,
    pub token_alg: Alg,
    pub invite_only: bool,
    pub feed_maxlen: Option<i64>,
    pub soon: Option<i64>,
    pub expiring_ms: Option<i64>,
    pub lanes: Vec<Lane>,
    pub renew: bool,
}

/// A priority lane (presale, VIP): a line of its own, `<queue>:lane:<name>`, that receives
/// `share` percent of every admission batch while anyone waits in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    pub name: Vec<u8>,
    pub share: i64,
}

/// The most lanes one event may have.
pub const MAX_LANES: usize = 8;

/// Parses `name:share,name:share`: names of letters, digits, `_` and `-` (not `main`, the
/// main line's name in replies), shares of 1-100 percent adding up to at most 100.
fn parse_lanes(v: &[u8]) -> Option<Vec<Lane>> {
    let text = std::str::from_utf8(v).ok()?;
    let mut lanes: Vec<Lane> = Vec::new();
    for item in text.split(',') {
        let (name, share) = item.trim().split_once(':')?;
        let share: i64 = share.trim().parse().ok()?;
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && !name.eq_ignore_ascii_case("main")
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name
            || !(1..=100).contains(&share)
            || lanes.iter().any(|l| l.name == name.as_bytes())
        {
            return None;
        }
        lanes.push(Lane {
            name: name.as_bytes().to_vec(),
            share,
        });
    }
    let total: i64 = lanes.iter().map(|l| l.share).sum();
    (lanes.len() <= MAX_LANES && total <= 100).then_some(lanes)
}

fn lanes_text(lanes: &[Lane]) -> Vec<u8> {
    let items: Vec<String> = lanes
        .iter()
        .map(|l| format!("{}:{}", String::from_utf8_lossy(&l.name), l.share))
        .collect();
    items.join(",").into_bytes()
}

/// The operator's switch. `Paused` keeps accepting arrivals and admits nobody; `Closed`
/// (closed or sold out) accepts nobody new and keeps admitting those already in line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Open,
    Paused,
    Closed,
}

/// How arrivals are handled and who is admitted next. `Fifo`: in arrival order; `Random`:
/// each admission draws uniformly among the live waiters (from the policy's seed, so the draws
/// can be replayed); `Auto`: arrivals are admitted at once while the cap and the rate allow
/// and nobody waits, and queue (FIFO) past either; `Passthrough`: no line while the cap
/// allows, every arrival is admitted at once; `Reject`: nobody joins (as `Closed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Fifo,
    Random,
    Auto,
    Passthrough,
    Reject,
}

const METHODS: [Method; 5] = [
    Method::Fifo,
    Method::Random,
    Method::Auto,
    Method::Passthrough,
    Method::Reject,
];

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Paused => "paused",
            State::Closed => "closed",
        }
    }

    fn parse(v: &[u8]) -> Option<State> {
        [State::Open, State::Paused, State::Closed]
            .into_iter()
            .find(|s| v.eq_ignore_ascii_case(s.name().as_bytes()))
    }
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Fifo => "fifo",
            Method::Random => "random",
            Method::Auto => "auto",
            Method::Passthrough => "passthrough",
            Method::Reject => "reject",
        }
    }

    fn parse(v: &[u8]) -> Option<Method> {
        METHODS
            .into_iter()
            .find(|m| v.eq_ignore_ascii_case(m.name().as_bytes()))
    }
}

/// The policy hash of `queue`.
pub fn policy_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"policy")
}

/// The heartbeat set of `queue` (member = user, score = the Unix ms by which the user's next
/// heartbeat is due).
pub fn heartbeat_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"hb")
}

/// The users an operator holds in an "infinite queue" (member = user, score = their arrival):
/// they see a normal, moving position and are never admitted.
pub fn held_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"held")
}

/// Places taken per client key (IP, device) in the event: a hash of client key → count.
pub fn clients_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"clients")
}

/// The admission-token record issued to `user` for `queue`.
pub fn token_key(queue: &[u8], user: &[u8]) -> Vec<u8> {
    let mut suffix = b"token:".to_vec();
    suffix.extend_from_slice(user);
    companion_key(queue, &suffix)
}

/// The waiters of priority lane `lane` of `queue` (member = user, score = arrival, as the
/// line's).
pub fn lane_key(queue: &[u8], lane: &[u8]) -> Vec<u8> {
    let mut suffix = b"lane:".to_vec();
    suffix.extend_from_slice(lane);
    companion_key(queue, &suffix)
}

/// The lanes' admission weights (smooth weighted round robin, one field per lane and `main`),
/// kept in a key so that a replayed ADMIT picks the same users.
pub fn lane_weights_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"lanes")
}

/// The optional fields, as stored in the hash and named by `QPOLICY SET` / `UNSET`.
pub const FIELDS: &[&str] = &[
    "maxactive",
    "rate",
    "ttl",
    "heartbeat",
    "openat",
    "prequeueat",
    "closeat",
    "channel",
    "tokens",
    "state",
    "method",
    "maxwaiting",
    "message",
    "maxperclient",
    "noshow",
    "seed",
    "tokenalg",
    "inviteonly",
    "feed",
    "soon",
    "expiring",
    "lanes",
    "renew",
];

/// A duration in ms: positive and small enough that any clock plus it stays a valid time.
fn duration(v: &[u8]) -> Option<i64> {
    parse_i64(v).filter(|d| (1..=MAX_TIME_MS).contains(d))
}

fn yes_no(v: &[u8]) -> Option<bool> {
    if v.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else if v.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else {
        None
    }
}

fn count(v: &[u8]) -> Option<i64> {
    parse_i64(v).filter(|n| *n >= 1)
}

fn instant(v: &[u8]) -> Option<i64> {
    parse_i64(v).filter(|t| (0..=MAX_TIME_MS).contains(t))
}

/// What one field may hold, for the error that names it.
fn expectation(field: &str) -> &'static str {
    match field {
        "maxactive" | "rate" | "maxwaiting" | "maxperclient" | "feed" | "soon" => {
            "an integer of at least 1"
        }
        "state" => "open, paused or closed",
        "tokenalg" => "HS256 or EdDSA",
        "inviteonly" | "renew" => "yes or no",
        "method" => "fifo, random, auto, passthrough or reject",
        "message" | "seed" => "a non-empty text",
        "openat" | "prequeueat" | "closeat" => "a Unix time in ms",
        "channel" => "a non-empty channel name",
        "lanes" => "name:percent pairs separated by commas (at most 8 lanes, 100% together)",
        _ => "a duration in ms of at least 1",
    }
}

impl Policy {
    fn new(active: &[u8]) -> Policy {
        Policy {
            active: active.to_vec(),
            max_active: None,
            rate_per_min: None,
            ttl_ms: DEFAULT_TTL_MS,
            heartbeat_ms: None,
            open_at_ms: None,
            prequeue_at_ms: None,
            close_at_ms: None,
            channel: None,
            token_ttl_ms: None,
            state: State::Open,
            method: Method::Fifo,
            max_waiting: None,
            message: None,
            max_per_client: None,
            noshow_ms: None,
            seed: None,
            token_alg: Alg::Hs256,
            invite_only: false,
            feed_maxlen: None,
            soon: None,
            expiring_ms: None,
            lanes: Vec::new(),
            renew: true,
        }
    }

    /// Sets `field` from `value`; `false` (nothing changed) if the value is not valid for it.
    fn set_field(&mut self, field: &str, value: &[u8]) -> bool {
        match field {
            "maxactive" => count(value).map(|n| self.max_active = Some(n)),
            "rate" => count(value).map(|n| self.rate_per_min = Some(n)),
            "ttl" => duration(value).map(|n| self.ttl_ms = n),
            "heartbeat" => duration(value).map(|n| self.heartbeat_ms = Some(n)),
            "openat" => instant(value).map(|n| self.open_at_ms = Some(n)),
            "prequeueat" => instant(value).map(|n| self.prequeue_at_ms = Some(n)),
            "closeat" => instant(value).map(|n| self.close_at_ms = Some(n)),
            "channel" => (!value.is_empty()).then(|| self.channel = Some(value.to_vec())),
            "tokens" => duration(value).map(|n| self.token_ttl_ms = Some(n)),
            "state" => State::parse(value).map(|v| self.state = v),
            "method" => Method::parse(value).map(|v| self.method = v),
            "maxwaiting" => count(value).map(|n| self.max_waiting = Some(n)),
            "message" => (!value.is_empty()).then(|| self.message = Some(value.to_vec())),
            "maxperclient" => count(value).map(|n| self.max_per_client = Some(n)),
            "noshow" => duration(value).map(|n| self.noshow_ms = Some(n)),
            "seed" => (!value.is_empty()).then(|| self.seed = Some(value.to_vec())),
            "tokenalg" => Alg::parse(value).map(|a| self.token_alg = a),
            "inviteonly" => yes_no(value).map(|v| self.invite_only = v),
            "feed" => count(value).map(|n| self.feed_maxlen = Some(n)),
            "soon" => count(value).map(|n| self.soon = Some(n)),
            "expiring" => duration(value).map(|n| self.expiring_ms = Some(n)),
            "lanes" => parse_lanes(value).map(|l| self.lanes = l),
            "renew" => yes_no(value).map(|v| self.renew = v),
            _ => None,
        }
        .is_some()
    }

    /// Clears an optional field (`ttl` goes back to its default).
    pub fn unset_field(&mut self, field: &str) -> bool {
        match field {
            "maxactive" => self.max_active = None,
            "rate" => self.rate_per_min = None,
            "ttl" => self.ttl_ms = DEFAULT_TTL_MS,
            "heartbeat" => self.heartbeat_ms = None,
            "openat" => self.open_at_ms = None,
            "prequeueat" => self.prequeue_at_ms = None,
            "closeat" => self.close_at_ms = None,
            "channel" => self.channel = None,
            "tokens" => self.token_ttl_ms = None,
            "state" => self.state = State::Open,
            "method" => self.method = Method::Fifo,
            "maxwaiting" => self.max_waiting = None,
            "message" => self.message = None,
            "maxperclient" => self.max_per_client = None,
            "noshow" => self.noshow_ms = None,
            "seed" => self.seed = None,
            "tokenalg" => self.token_alg = Alg::Hs256,
            "inviteonly" => self.invite_only = false,
            "feed" => self.feed_maxlen = None,
            "soon" => self.soon = None,
            "expiring" => self.expiring_ms = None,
            "lanes" => self.lanes = Vec::new(),
            "renew" => self.renew = true,
            _ => return false,
        }
        true
    }

    /// Reads the policy hash of `queue`. `last` is the last valid policy: a field that does
    /// not parse keeps its value there (never a looser limit), and so does an `active` field
    /// that is missing or names a key outside the queue's slot. Returns the policy (`None`
    /// when there is neither a usable `active` nor a last policy) and what was refused.
    pub fn from_hash(
        h: &Hash,
        queue: &[u8],
        last: Option<&Policy>,
    ) -> (Option<Policy>, Vec<String>) {
        let mut errors = Vec::new();
        let active = match h.get(b"active") {
            Some(a) if !a.is_empty() && key_hash_slot(a) == key_hash_slot(queue) => a.to_vec(),
            other => {
                errors.push(match other {
                    None => "field 'active' is missing".to_string(),
                    Some(a) => format!(
                        "field 'active' must name a key in the queue's hash slot, got '{}'",
                        String::from_utf8_lossy(a)
                    ),
                });
                match last {
                    Some(p) => p.active.clone(),
                    None => return (None, errors),
                }
            }
        };
        let mut p = Policy::new(&active);
        for field in FIELDS {
            let Some(value) = h.get(field.as_bytes()) else {
                continue;
            };
            if !p.set_field(field, value) {
                let kept = last.and_then(|l| l.field_value(field));
                errors.push(format!(
                    "field '{field}' must be {}, got '{}'; keeping {}",
                    expectation(field),
                    String::from_utf8_lossy(value),
                    kept.as_deref().map_or("none".to_string(), |v| format!(
                        "'{}'",
                        String::from_utf8_lossy(v)
                    ))
                ));
                if let Some(v) = kept {
                    p.set_field(field, &v);
                }
            }
        }
        (Some(p), errors)
    }

    /// The stored text of one field, if set.
    fn field_value(&self, field: &str) -> Option<Vec<u8>> {
        self.fields()
            .into_iter()
            .find(|(name, _)| *name == field.as_bytes())
            .map(|(_, v)| v)
    }

    /// The hash fields that store this policy.
    pub fn fields(&self) -> Vec<(&'static [u8], Vec<u8>)> {
        let mut f: Vec<(&'static [u8], Vec<u8>)> = vec![
            (b"active", self.active.clone()),
            (b"ttl", self.ttl_ms.to_string().into_bytes()),
        ];
        let num = |v: Option<i64>| v.map(|n| n.to_string().into_bytes());
        for (name, value) in [
            (&b"maxactive"[..], num(self.max_active)),
            (b"rate", num(self.rate_per_min)),
            (b"heartbeat", num(self.heartbeat_ms)),
            (b"openat", num(self.open_at_ms)),
            (b"prequeueat", num(self.prequeue_at_ms)),
            (b"closeat", num(self.close_at_ms)),
            (b"channel", self.channel.clone()),
            (b"tokens", num(self.token_ttl_ms)),
            (b"maxwaiting", num(self.max_waiting)),
            (b"maxperclient", num(self.max_per_client)),
            (b"noshow", num(self.noshow_ms)),
            (b"message", self.message.clone()),
            (b"seed", self.seed.clone()),
            (b"feed", num(self.feed_maxlen)),
            (b"soon", num(self.soon)),
            (b"expiring", num(self.expiring_ms)),
            (
                b"lanes",
                (!self.lanes.is_empty()).then(|| lanes_text(&self.lanes)),
            ),
            (
                b"state",
                (self.state != State::Open).then(|| self.state.name().as_bytes().to_vec()),
            ),
            (
                b"tokenalg",
                (self.token_alg != Alg::Hs256).then(|| self.token_alg.name().as_bytes().to_vec()),
            ),
            (b"inviteonly", self.invite_only.then(|| b"yes".to_vec())),
            (b"renew", (!self.renew).then(|| b"no".to_vec())),
            (
                b"method",
                (self.method != Method::Fifo).then(|| self.method.name().as_bytes().to_vec()),
            ),
        ] {
            if let Some(v) = value {
                f.push((name, v));
            }
        }
        f
    }

    /// Parses QPOLICY SET's `[option value ...]` over `base` (the queue's current policy, or
    /// defaults): options not given keep their current value. Every value is checked before
    /// anything is applied.
    pub fn from_args<'a>(
        active: &[u8],
        base: Option<&Policy>,
        mut args: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Policy, CmdError> {
        let mut p = base.cloned().unwrap_or_else(|| Policy::new(active));
        p.active = active.to_vec();
        while let Some(opt) = args.next() {
            let value = args.next().ok_or(CmdError::Syntax)?;
            let field = String::from_utf8_lossy(opt).to_ascii_lowercase();
            if !FIELDS.contains(&field.as_str()) {
                return Err(CmdError::Syntax);
            }
            if !p.set_field(&field, value) {
                return Err(match field.as_str() {
                    "maxactive" | "rate" | "openat" | "prequeueat" | "closeat" | "maxwaiting"
                    | "maxperclient" | "feed" | "soon"
                        if parse_i64(value).is_none() =>
                    {
                        CmdError::NotInteger
                    }
                    _ => CmdError::Owned(format!(
                        "ERR {} must be {}",
                        field.to_ascii_uppercase(),
                        expectation(&field)
                    )),
                });
            }
        }
        let schedule = [p.prequeue_at_ms, p.open_at_ms, p.close_at_ms];
        let ordered = schedule
            .iter()
            .flatten()
            .zip(schedule.iter().flatten().skip(1))
            .all(|(a, b)| a <= b);
        if !ordered {
            return Err(CmdError::Static(
                "ERR the schedule must run PREQUEUEAT <= OPENAT <= CLOSEAT",
            ));
        }
        if p.seed.is_none() && (p.open_at_ms.is_some() || p.method == Method::Random) {
            p.seed = Some(new_seed());
        }
        Ok(p)
    }

    /// The share (percent) of each admission batch the main line gets while every lane has
    /// someone waiting.
    pub fn main_share(&self) -> i64 {
        100 - self.lanes.iter().map(|l| l.share).sum::<i64>()
    }

    /// The lane named `name`, by index.
    pub fn lane_index(&self, name: &[u8]) -> Option<usize> {
        self.lanes
            .iter()
            .position(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// The secret behind the pre-queue shuffle and random draws: the policy's `seed`, or the
    /// queue's name when the field was removed (still reproducible, no longer secret).
    pub fn seed_or<'a>(&'a self, queue: &'a [u8]) -> &'a [u8] {
        self.seed.as_deref().unwrap_or(queue)
    }

    /// The state every reply shows: `closed` (closed, rejecting arrivals, or past the end),
    /// `paused`, `idle` (before the pre-queue opens), `prequeue` (before the opening time) or
    /// `open`.
    pub fn state_at(&self, now_ms: i64) -> &'static str {
        if self.closed_at(now_ms) {
            "closed"
        } else if self.state == State::Paused {
            "paused"
        } else if self.idle_at(now_ms) {
            "idle"
        } else if self.before_open(now_ms) {
            "prequeue"
        } else {
            "open"
        }
    }

    fn closed_at(&self, now_ms: i64) -> bool {
        self.state == State::Closed
            || self.method == Method::Reject
            || self.close_at_ms.is_some_and(|end| now_ms >= end)
    }

    fn idle_at(&self, now_ms: i64) -> bool {
        self.prequeue_at_ms.is_some_and(|start| now_ms < start)
    }

    /// True when new arrivals are turned away: closed, sold out, rejecting, past the end, or
    /// before the pre-queue opens.
    pub fn refuses_arrivals(&self, now_ms: i64) -> bool {
        self.closed_at(now_ms) || self.idle_at(now_ms)
    }

    /// True when nobody may be admitted now (paused, or before the opening time).
    pub fn holds_admissions(&self, now_ms: i64) -> bool {
        self.state == State::Paused || self.before_open(now_ms)
    }

    /// True before the opening time.
    pub fn before_open(&self, now_ms: i64) -> bool {
        self.open_at_ms.is_some_and(|open| now_ms < open)
    }

    /// True when admissions are announced or tokens issued: both name the user in text (JSON,
    /// JWT), so the user id must be UTF-8.
    pub fn names_users_in_text(&self) -> bool {
        self.channel.is_some() || self.token_ttl_ms.is_some() || self.invite_only
    }
}

/// A fresh shuffle seed: 128 random bits as 32 hex digits.
fn new_seed() -> Vec<u8> {
    let bits: u128 = rand::random();
    format!("{bits:032x}").into_bytes()
}

/// The token bucket of a policy's automatic admissions.
#[derive(Clone, Debug, Default)]
pub struct Bucket {
    allowance: f64,
    last_ms: Option<i64>,
}

impl Bucket {
    /// Adds the admissions earned since the last tick at `rate_per_min` and returns how many
    /// may be admitted now. At most one second's worth (and at least one) accumulates, so a
    /// paused or capped line never releases a burst.
    pub fn earn(&mut self, now_ms: i64, rate_per_min: i64) -> usize {
        let dt = self.last_ms.map_or(0, |last| (now_ms - last).max(0)) as f64;
        self.last_ms = Some(now_ms);
        let cap = (rate_per_min as f64 / 60.0).max(1.0);
        self.allowance = (self.allowance + rate_per_min as f64 * dt / 60_000.0).min(cap);
        self.allowance.floor() as usize
    }

    /// Spends `n` admissions.
    pub fn spend(&mut self, n: usize) {
        self.allowance = (self.allowance - n as f64).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_parse_with_their_shares_and_round_trip() {
        let lanes = parse_lanes(b"presale:30, vip:10").unwrap();
        assert_eq!(lanes.len(), 2);
        assert_eq!(
            (lanes[0].name.as_slice(), lanes[0].share),
            (&b"presale"[..], 30)
        );
        assert_eq!(lanes_text(&lanes), b"presale:30,vip:10");
        for bad in [
            &b"presale"[..],
            b"presale:0",
            b"presale:101",
            b"a:60,b:41",
            b"a:10,a:10",
            b"main:10",
            b"sp ace:10",
            b":10",
            b"",
        ] {
            assert!(
                parse_lanes(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let nine = (0..9)
            .map(|i| format!("l{i}:1"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_lanes(nine.as_bytes()).is_none());
    }

    #[test]
    fn policies_round_trip_through_their_hash_fields() {
        let args: Vec<&[u8]> = vec![
            b"MAXACTIVE",
            b"10000",
            b"RATE",
            b"6000",
            b"HEARTBEAT",
            b"30000",
            b"CHANNEL",
            b"admitted:{e}",
        ];
        let p = Policy::from_args(b"active:{e}", None, args.into_iter()).unwrap();
        let mut h = Hash::new();
        let limits = crate::types::hash::ListpackLimits {
            max_entries: 128,
            max_value: 64,
        };
        for (f, v) in p.fields() {
            h.set(f, &v, limits);
        }
        assert_eq!(Policy::from_hash(&h, b"queue:{e}", None), (Some(p), vec![]));
    }

    #[test]
    fn a_malformed_field_keeps_the_last_valid_limit() {
        let limits = crate::types::hash::ListpackLimits {
            max_entries: 128,
            max_value: 64,
        };
        let args: Vec<&[u8]> = vec![b"MAXACTIVE", b"2", b"RATE", b"600"];
        let valid = Policy::from_args(b"active:{e}", None, args.into_iter()).unwrap();
        let mut h = Hash::new();
        for (f, v) in valid.fields() {
            h.set(f, &v, limits);
        }
        h.set(b"maxactive", b"2k", limits);
        h.set(b"active", b"active:elsewhere", limits);
        let (p, errors) = Policy::from_hash(&h, b"queue:{e}", Some(&valid));
        let p = p.unwrap();
        assert_eq!(p.max_active, Some(2));
        assert_eq!(p.active, b"active:{e}");
        assert_eq!(errors.len(), 2, "{errors:?}");
        // With no last valid policy, a hash whose `active` is unusable is no policy at all.
        let (p, errors) = Policy::from_hash(&h, b"queue:{e}", None);
        assert!(p.is_none() && !errors.is_empty());
    }

    #[test]
    fn set_updates_only_the_options_given() {
        let args: Vec<&[u8]> = vec![b"MAXACTIVE", b"5", b"CHANNEL", b"c"];
        let base = Policy::from_args(b"a:{e}", None, args.into_iter()).unwrap();
        let args: Vec<&[u8]> = vec![b"RATE", b"60"];
        let p = Policy::from_args(b"a:{e}", Some(&base), args.into_iter()).unwrap();
        assert_eq!(
            (p.max_active, p.rate_per_min, p.channel),
            (Some(5), Some(60), Some(b"c".to_vec()))
        );
        for bad in [
            &[&b"RATE"[..], b"0"][..],
            &[b"MAXACTIVE", b"0"],
            &[b"CHANNEL", b""],
        ] {
            assert!(Policy::from_args(b"a:{e}", None, bad.iter().copied()).is_err());
        }
    }

    #[test]
    fn the_bucket_admits_at_the_rate_without_bursts() {
        let mut b = Bucket::default();
        assert_eq!(b.earn(0, 600), 0);
        let mut admitted = 0;
        for t in 1..=100 {
            let n = b.earn(t * 100, 600);
            b.spend(n);
            admitted += n;
        }
        assert!(
            (98..=100).contains(&admitted),
            "600/min for 10 s is 100, got {admitted}"
        );
        // An hour of pause earns one second's worth, not an hour's.
        assert_eq!(b.earn(3_610_000, 600), 10);
    }
}
