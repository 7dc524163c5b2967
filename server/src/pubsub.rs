//! The pub/sub registry: which clients listen on which channels and patterns, and delivery.
//!
//! Channels are spread over 16 independently locked maps so publishers on different threads
//! rarely meet; patterns (rare, and matched against every publish) share one list. A publish
//! encodes the message once per protocol version and appends it to each subscriber's outbox
//! (see [`crate::client::ClientInfo::deliver`]), waking that subscriber's thread; it never waits
//! for a slow subscriber.

use crate::client::ClientInfo;
use crate::config::OutputLimit;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use usher_engine::glob::glob_match;
use usher_protocol::{Protocol, ReplySink, RespWriter};

const CHANNEL_SHARDS: usize = 16;

type Subscribers = Vec<Arc<ClientInfo>>;

#[derive(Default)]
pub struct PubSub {
    channels: [RwLock<HashMap<Vec<u8>, Subscribers>>; CHANNEL_SHARDS],
    patterns: RwLock<Vec<(Vec<u8>, Arc<ClientInfo>)>>,
    /// Shard channels (SSUBSCRIBE/SPUBLISH): their own namespace, no patterns, as Redis 7.0.
    shard_channels: [RwLock<HashMap<Vec<u8>, Subscribers>>; CHANNEL_SHARDS],
}

/// Adds `client` to `channel` in `space`; false if it was already subscribed.
fn add(
    space: &[RwLock<HashMap<Vec<u8>, Subscribers>>],
    channel: &[u8],
    client: &Arc<ClientInfo>,
) -> bool {
    let mut map = space[shard_of(channel)].write();
    let subs = map.entry(channel.to_vec()).or_default();
    if subs.iter().any(|c| c.id == client.id) {
        return false;
    }
    subs.push(client.clone());
    true
}

/// Removes client `id` from `channel` in `space`; false if it was not subscribed.
fn remove(space: &[RwLock<HashMap<Vec<u8>, Subscribers>>], channel: &[u8], id: u64) -> bool {
    let mut map = space[shard_of(channel)].write();
    let Some(subs) = map.get_mut(channel) else {
        return false;
    };
    let before = subs.len();
    subs.retain(|c| c.id != id);
    let removed = subs.len() != before;
    if subs.is_empty() {
        map.remove(channel);
    }
    removed
}

/// Channels of `space` matching `pattern` (all when `None`).
fn list(space: &[RwLock<HashMap<Vec<u8>, Subscribers>>], pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for shard in space {
        for ch in shard.read().keys() {
            if pattern.is_none_or(|p| glob_match(p, ch, false)) {
                out.push(ch.clone());
            }
        }
    }
    out
}

fn shard_of(channel: &[u8]) -> usize {
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write(channel);
    (h.finish() as usize) % CHANNEL_SHARDS
}

impl PubSub {
    /// Adds `client` to `channel`; false if it was already subscribed.
    pub fn subscribe(&self, channel: &[u8], client: &Arc<ClientInfo>) -> bool {
        add(&self.channels, channel, client)
    }

    /// Removes client `id` from `channel`; false if it was not subscribed.
    pub fn unsubscribe(&self, channel: &[u8], id: u64) -> bool {
        remove(&self.channels, channel, id)
    }

    pub fn ssubscribe(&self, channel: &[u8], client: &Arc<ClientInfo>) -> bool {
        add(&self.shard_channels, channel, client)
    }

    pub fn sunsubscribe(&self, channel: &[u8], id: u64) -> bool {
        remove(&self.shard_channels, channel, id)
    }

    /// Delivers `message` to the subscribers of shard channel `channel` (`smessage`).
    pub fn spublish(&self, channel: &[u8], message: &[u8], limit: &OutputLimit) -> usize {
        let mut encoded = [None, None];
        let map = self.shard_channels[shard_of(channel)].read();
        let Some(subs) = map.get(channel) else {
            return 0;
        };
        for client in subs {
            let bytes = encoded[client_proto(client) as usize].get_or_insert_with(|| {
                encode(client_proto(client), &[b"smessage", channel, message])
            });
            client.deliver(bytes, limit);
        }
        subs.len()
    }

    /// Removes every shard channel `lost` selects (their slot left this node) with its
    /// subscribers, telling each subscriber (Redis's `removeChannelsInSlot`).
    pub fn drop_shard_channels(&self, lost: impl Fn(&[u8]) -> bool) {
        for shard in &self.shard_channels {
            let mut map = shard.write();
            let gone: Vec<Vec<u8>> = map.keys().filter(|ch| lost(ch)).cloned().collect();
            for channel in gone {
                for client in map.remove(&channel).unwrap_or_default() {
                    client.lose_shard_channel(&channel);
                }
            }
        }
    }

    pub fn shard_channels(&self, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        list(&self.shard_channels, pattern)
    }

    pub fn shard_numsub(&self, channel: &[u8]) -> usize {
        self.shard_channels[shard_of(channel)]
            .read()
            .get(channel)
            .map_or(0, Vec::len)
    }

    pub fn psubscribe(&self, pattern: &[u8], client: &Arc<ClientInfo>) -> bool {
        let mut pats = self.patterns.write();
        if pats.iter().any(|(p, c)| p == pattern && c.id == client.id) {
            return false;
        }
        pats.push((pattern.to_vec(), client.clone()));
        true
    }

    pub fn punsubscribe(&self, pattern: &[u8], id: u64) -> bool {
        let mut pats = self.patterns.write();
        let before = pats.len();
        pats.retain(|(p, c)| !(p == pattern && c.id == id));
        pats.len() != before
    }

    /// Delivers `message` to subscribers of `channel` and of matching patterns; returns how
    /// many deliveries were made (a client matched twice counts twice, as Redis).
    pub fn publish(&self, channel: &[u8], message: &[u8], limit: &OutputLimit) -> usize {
        let mut encoded = [None, None];
        let mut receivers = 0;
        if let Some(subs) = self.channels[shard_of(channel)].read().get(channel) {
            for client in subs {
                let bytes = encoded[client_proto(client) as usize].get_or_insert_with(|| {
                    encode(client_proto(client), &[b"message", channel, message])
                });
                client.deliver(bytes, limit);
                receivers += 1;
            }
        }
        let pats = self.patterns.read();
        for (pattern, client) in pats.iter() {
            if glob_match(pattern, channel, false) {
                let bytes = encode(
                    client_proto(client),
                    &[b"pmessage", pattern, channel, message],
                );
                client.deliver(&bytes, limit);
                receivers += 1;
            }
        }
        receivers
    }

    /// Active channels matching `pattern` (all when `None`), for PUBSUB CHANNELS.
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Vec<u8>> {
        list(&self.channels, pattern)
    }

    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels[shard_of(channel)]
            .read()
            .get(channel)
            .map_or(0, Vec::len)
    }

    /// Number of distinct patterns subscribed to (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        let pats = self.patterns.read();
        let mut unique: Vec<&[u8]> = pats.iter().map(|(p, _)| p.as_slice()).collect();
        unique.sort_unstable();
        unique.dedup();
        unique.len()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.iter().map(|s| s.read().len()).sum()
    }
}

fn client_proto(client: &ClientInfo) -> Protocol {
    if client.resp3.load(std::sync::atomic::Ordering::Relaxed) {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    }
}

/// A push message: `*n` in RESP2, `>n` in RESP3, then bulk strings.
pub fn encode(proto: Protocol, parts: &[&[u8]]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    let mut w = RespWriter::new(&mut buf, proto);
    w.push(parts.len());
    for p in parts {
        w.bulk(p);
    }
    buf
}

/// Pushes with an integer last element (subscribe/unsubscribe confirmations).
pub fn encode_with_count(
    proto: Protocol,
    kind: &[u8],
    name: Option<&[u8]>,
    count: usize,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(48);
    let mut w = RespWriter::new(&mut buf, proto);
    w.push(3);
    w.bulk(kind);
    match name {
        Some(n) => w.bulk(n),
        None => w.null(),
    }
    w.int(count as i64);
    buf
}
