//! `maxmemory-clients`, Redis 7.0's client eviction: while set, each connection keeps its
//! share of the clients' total memory ([`ClientRegistry::memory`]) up to date as its buffers
//! grow and shrink, and when the total passes the limit the clients holding the most are
//! closed, biggest first, until it is under again. Clients with `CLIENT NO-EVICT on` and
//! replicas are never evicted.
//!
//! Counting only while the limit is set keeps the command path free of shared writes in the
//! default configuration; INFO's `mem_clients_normal` sums the clients when asked instead.
//!
//! [`ClientRegistry::memory`]: crate::client::ClientRegistry::memory

use crate::client::{flag, ClientInfo};
use crate::shared::Shared;
use parking_lot::Mutex;
use std::sync::atomic::Ordering;

/// One eviction pass at a time: two threads over the limit at once would both close clients
/// for the same excess.
static EVICTING: Mutex<()> = Mutex::new(());

/// Brings `info`'s share of the clients' memory up to date, then evicts clients if the total
/// is over `limit` bytes.
pub fn account(shared: &Shared, info: &ClientInfo, limit: u64) {
    let now = info.memory();
    let before = info.memory_counted.swap(now, Ordering::Relaxed);
    let total = &shared.clients.memory;
    if now >= before {
        total.fetch_add(now - before, Ordering::Relaxed);
    } else {
        total.fetch_sub(before - now, Ordering::Relaxed);
    }
    if total.load(Ordering::Relaxed) as u64 > limit {
        evict(shared, limit);
    }
}

/// Closes the clients holding the most memory until the total is at most `limit`.
fn evict(shared: &Shared, limit: u64) {
    let Some(_pass) = EVICTING.try_lock() else {
        return;
    };
    let mut candidates: Vec<(usize, std::sync::Arc<ClientInfo>)> = shared
        .clients
        .all()
        .into_iter()
        .filter(|c| !c.has_flag(flag::NO_EVICT) && !c.has_flag(flag::REPLICA) && !c.killed())
        .map(|c| (c.memory(), c))
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut total = shared.clients.memory.load(Ordering::Relaxed) as u64;
    for (memory, client) in candidates {
        if total <= limit {
            break;
        }
        crate::verbose!(
            "Evicting client: id={} addr={} tot-mem={memory}",
            client.id,
            client.addr
        );
        client.set_flag(flag::CLOSE_ASAP, true);
        client.request_kill();
        shared.evicted_clients.fetch_add(1, Ordering::Relaxed);
        total = total.saturating_sub(client.memory_counted.load(Ordering::Relaxed) as u64);
    }
}
