//! Admission policies: set once per event with QPOLICY, then run by the server itself.
//!
//! A policy is an ordinary HASH at `<queue>:policy` (readable and editable with HGETALL/HSET,
//! and persisted like any key), holding Cloudflare's two knobs and the rest of an event's
//! waiting-room settings:
//!
//! ```text
//! active      the active-set key (required)
//! maxactive   cap on live active sessions          (absent: no cap)
//! rate        new admissions per minute            (absent: the server admits nobody itself)
//! ttl         active session length, ms            (default 300000)
//! heartbeat   ms after which a silent waiter is dropped (absent: no heartbeats)
//! openat      Unix ms the sale opens; earlier arrivals are shuffled (absent: open)
//! channel     pub/sub channel announcing each admission (absent: none)
//! tokens      admission-token lifetime, ms; tokens are issued on admission (absent: none)
//! ```
//!
//! The shard keeps only which queues have a policy and the admission token bucket (in
//! [`super::registry`]); every tick re-reads the hash, so editing it takes effect at once.

use crate::error::CmdError;
use crate::types::hash::Hash;
use usher_cluster::companion_key;

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
    pub channel: Option<Vec<u8>>,
    pub token_ttl_ms: Option<i64>,
}

/// The policy hash of `queue`.
pub fn policy_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"policy")
}

/// The heartbeat set of `queue` (member = user, score = last heartbeat in Unix ms).
pub fn heartbeat_key(queue: &[u8]) -> Vec<u8> {
    companion_key(queue, b"hb")
}

/// The admission-token hash issued to `user` for `queue`.
pub fn token_key(queue: &[u8], user: &[u8]) -> Vec<u8> {
    let mut suffix = b"token:".to_vec();
    suffix.extend_from_slice(user);
    companion_key(queue, &suffix)
}

fn int_field(h: &Hash, name: &[u8]) -> Option<i64> {
    h.get(name).and_then(usher_protocol::parse::parse_i64)
}

impl Policy {
    /// Reads a policy hash; `None` if it has no `active` field.
    pub fn from_hash(h: &Hash) -> Option<Policy> {
        Some(Policy {
            active: h.get(b"active")?.to_vec(),
            max_active: int_field(h, b"maxactive"),
            rate_per_min: int_field(h, b"rate"),
            ttl_ms: int_field(h, b"ttl")
                .filter(|t| *t > 0)
                .unwrap_or(DEFAULT_TTL_MS),
            heartbeat_ms: int_field(h, b"heartbeat").filter(|t| *t > 0),
            open_at_ms: int_field(h, b"openat"),
            channel: h.get(b"channel").map(<[u8]>::to_vec),
            token_ttl_ms: int_field(h, b"tokens").filter(|t| *t > 0),
        })
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
            (b"channel", self.channel.clone()),
            (b"tokens", num(self.token_ttl_ms)),
        ] {
            if let Some(v) = value {
                f.push((name, v));
            }
        }
        f
    }

    /// Parses QPOLICY SET's `active [option value ...]` from `args`.
    pub fn from_args<'a>(
        active: &[u8],
        mut args: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Policy, CmdError> {
        let mut p = Policy {
            active: active.to_vec(),
            max_active: None,
            rate_per_min: None,
            ttl_ms: DEFAULT_TTL_MS,
            heartbeat_ms: None,
            open_at_ms: None,
            channel: None,
            token_ttl_ms: None,
        };
        while let Some(opt) = args.next() {
            let value = args.next().ok_or(CmdError::Syntax)?;
            let positive = || match usher_protocol::parse::parse_i64(value) {
                Some(n) if n > 0 => Ok(n),
                _ => Err(CmdError::Static(usher_protocol::errors::NOT_POSITIVE)),
            };
            let name = opt.to_ascii_uppercase();
            match name.as_slice() {
                b"MAXACTIVE" => p.max_active = Some(crate::args::positive_int(value)?),
                b"RATE" => p.rate_per_min = Some(crate::args::positive_int(value)?),
                b"TTL" => p.ttl_ms = positive()?,
                b"HEARTBEAT" => p.heartbeat_ms = Some(positive()?),
                b"OPENAT" => p.open_at_ms = Some(crate::args::int(value)?),
                b"CHANNEL" => p.channel = Some(value.to_vec()),
                b"TOKENS" => p.token_ttl_ms = Some(positive()?),
                _ => return Err(CmdError::Syntax),
            }
        }
        Ok(p)
    }

    /// True before the opening time.
    pub fn before_open(&self, now_ms: i64) -> bool {
        self.open_at_ms.is_some_and(|open| now_ms < open)
    }
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
        let p = Policy::from_args(b"active:{e}", args.into_iter()).unwrap();
        let mut h = Hash::new();
        let limits = crate::types::hash::ListpackLimits {
            max_entries: 128,
            max_value: 64,
        };
        for (f, v) in p.fields() {
            h.set(f, &v, limits);
        }
        assert_eq!(Policy::from_hash(&h), Some(p));
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
