//! Batch prefetching for pipelined commands: before a read's commands run, look ahead over
//! them and warm the caches for the sorted-set member lookups they declare
//! (`WarmHint` in the command table), so their cache misses overlap instead of queueing.
//! The engine side, and why it pays, is in `usher_engine::warm`.
//!
//! The look-ahead runs only when a read holds more than one command (a lone command has
//! nothing to overlap with), and then once per [`PASS_MAX`] commands, unless the read's first
//! commands declare nothing to warm (then not at all for that read). It uses its own parser
//! and never consumes input: the connection's parser still parses every command for real, so
//! a look-ahead that stops early (an incomplete command, a protocol error) changes nothing.

use crate::registry::Spec;
use crate::session::Session;
use smallvec::SmallVec;
use usher_engine::warm::{warm_members, WarmItem};
use usher_protocol::{Limits, Parsed, RequestParser};

/// Commands looked at per pass: pipelines are typically 16 to 64 deep, and a core keeps only
/// a few dozen cache misses in flight, so more at once would not overlap better.
const PASS_MAX: usize = 32;

/// Commands looked at before giving up on a read whose commands declare nothing to warm.
/// Pipelines mostly repeat one command, so two without a hint say the rest of the read has
/// none either; looking on would parse and look up every command twice for nothing (a
/// pipelined GET paid about 400 of its 2,400 instructions for that).
const GIVE_UP_AFTER: usize = 2;

/// The look-ahead state of one connection.
#[derive(Default)]
pub struct Warmer {
    lookahead: RequestParser,
}

impl Warmer {
    /// Warms the member lookups of up to [`PASS_MAX`] complete commands at the front of `buf`
    /// that live on the shard of the first one; returns how many bytes the pass covered, so
    /// the caller knows when to start the next (all of `buf` when its first commands have
    /// nothing to warm: see [`GIVE_UP_AFTER`]).
    pub fn warm(&mut self, s: &Session, buf: &[u8]) -> usize {
        let limits = Limits {
            proto_max_bulk_len: s.hot.engine.proto_max_bulk_len,
            auth_required: false,
        };
        let registry = crate::registry::get();
        let mut items: SmallVec<[WarmItem<'_>; PASS_MAX]> = SmallVec::new();
        let mut offset = 0;
        self.lookahead.reset();
        for looked in 0..PASS_MAX {
            if looked == GIVE_UP_AFTER && items.is_empty() {
                return buf.len();
            }
            let consumed = match self.lookahead.parse(&buf[offset..], &limits) {
                Ok(Parsed::Command { consumed }) => consumed,
                Ok(Parsed::Skip { consumed }) => {
                    offset += consumed;
                    continue;
                }
                Ok(Parsed::Incomplete) | Err(_) => break,
            };
            if let Some(item) = self.hint(registry, &buf[offset..]) {
                items.push(item);
            }
            offset += consumed;
        }
        if items.len() > 1 {
            warm_on_first_shard(s, &items);
        }
        offset
    }

    /// The member lookup the command just parsed from `buf` declares, if any.
    fn hint<'b>(
        &self,
        registry: &crate::registry::Registry,
        buf: &'b [u8],
    ) -> Option<WarmItem<'b>> {
        let spans = self.lookahead.spans_in_buffer()?;
        let (start, end) = *spans.first()?;
        let Spec::Engine(spec) = registry.by_name(&buf[start..end])?.spec else {
            return None;
        };
        let hint = spec.warm?;
        let key = *spans.get(hint.key as usize)?;
        let member = *spans.get(hint.member as usize)?;
        Some(WarmItem {
            key: &buf[key.0..key.1],
            member: &buf[member.0..member.1],
            rank: hint.rank,
        })
    }
}

/// Warms the items whose keys live on the first item's shard, if no other thread is using it
/// (warming is optional: it never waits for a lock).
fn warm_on_first_shard(s: &Session, items: &[WarmItem<'_>]) {
    let store = &s.shared.store;
    let shard = store.shard_of(items[0].key);
    let Some(mut locked) = store.try_lock_one(shard) else {
        return;
    };
    let same_shard: SmallVec<[WarmItem<'_>; PASS_MAX]> = items
        .iter()
        .filter(|item| store.shard_count() == 1 || store.shard_of(item.key) == shard)
        .copied()
        .collect();
    warm_members(locked.db(s.db, items[0].key), &same_shard);
}
