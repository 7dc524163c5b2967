//! The replication buffer: the last bytes of the replication stream, addressed by offset,
//! shared by every replica's sender and kept for partial resyncs (Redis 7.0's shared
//! replication buffer). It keeps at least `repl-backlog-size` bytes, and more while a
//! connected replica has not been sent them yet, up to the replica output buffer's hard
//! limit; a replica that falls further behind is dropped and resyncs.
//!
//! Appends (one per logged command, under the stream's mutex) go into a small `tail` that
//! stays in cache, which moves into the history in bulk: copying each command straight into
//! the megabyte ring touched a cold cache line per command, and the mutex's release then
//! waited for it (about 5% of the primary's CPU on pipelined SETs).

use std::collections::VecDeque;

/// The most bytes the tail holds before they move into the history.
const TAIL: usize = 16 * 1024;

pub struct Backlog {
    /// The history, oldest first; the stream's newest bytes follow it in `tail`.
    buf: VecDeque<u8>,
    tail: Vec<u8>,
    /// The offset of `buf[0]` (bytes of the stream before it).
    start: u64,
    /// Whether a backlog exists (Redis creates it when the first replica attaches).
    pub active: bool,
    /// `repl-backlog-size`.
    pub size: u64,
    /// `client-output-buffer-limit replica` hard limit: no replica may hold more unsent.
    pub hard_limit: u64,
    /// (replica id, the next offset it is to be sent): bytes from there on are kept.
    pins: Vec<(u64, u64)>,
    /// Replicas that fell behind the hard limit: their senders close them.
    pub dropped: Vec<u64>,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            buf: VecDeque::new(),
            tail: Vec::new(),
            start: 0,
            active: false,
            size: 1 << 20,
            hard_limit: 256 << 20,
            pins: Vec::new(),
            dropped: Vec::new(),
        }
    }
}

impl Backlog {
    /// `master_repl_offset`: the offset just past the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.histlen()
    }

    /// The offset of the first byte still held (`repl_backlog_first_byte_offset` minus one).
    pub fn start(&self) -> u64 {
        self.start
    }

    pub fn histlen(&self) -> u64 {
        (self.buf.len() + self.tail.len()) as u64
    }

    /// Starts an empty history at `offset` (a replica's full sync; a fresh primary).
    pub fn reset(&mut self, offset: u64) {
        self.buf.clear();
        self.tail.clear();
        self.start = offset;
        self.active = true;
    }

    /// Whether `offset` can be served from here (it lies within the history or at its end).
    pub fn holds(&self, offset: u64) -> bool {
        self.active && offset >= self.start && offset <= self.end()
    }

    pub fn append(&mut self, bytes: &[u8]) {
        if !self.active {
            return;
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() >= TAIL.min(self.size as usize) {
            self.buf.extend(self.tail.iter());
            self.tail.clear();
            self.trim();
        }
    }

    fn trim(&mut self) {
        let over = self.buf.len() as u64;
        if over <= self.size {
            return;
        }
        let end = self.end();
        // Replicas further behind than the hard limit are given up on.
        let hard = self.hard_limit.max(self.size);
        let dropped = &mut self.dropped;
        self.pins.retain(|&(id, at)| {
            let keep = hard == 0 || end - at <= hard;
            if !keep {
                dropped.push(id);
            }
            keep
        });
        let pinned = self.pins.iter().map(|&(_, at)| at).min().unwrap_or(end);
        // Called with the tail empty: the history ends at `end`.
        let floor = (end - self.size).min(pinned);
        if floor > self.start {
            self.buf.drain(..(floor - self.start) as usize);
            self.start = floor;
        }
    }

    /// Up to `max` bytes from `offset` on (empty at the end), and pins `offset` for `id`.
    pub fn read(&mut self, id: u64, offset: u64, max: usize) -> Vec<u8> {
        self.pin(id, offset);
        if offset < self.start || offset >= self.end() {
            return Vec::new();
        }
        let from = (offset - self.start) as usize;
        let to = (from + max).min(self.histlen() as usize);
        let mut out = Vec::with_capacity(to - from);
        let (a, b) = self.buf.as_slices();
        // Walk the three parts with `from..to` made relative to each in turn.
        let (mut from, mut to) = (from, to);
        for part in [a, b, &self.tail[..]] {
            let n = part.len();
            out.extend_from_slice(&part[from.min(n)..to.min(n)]);
            if to <= n {
                break;
            }
            from = from.saturating_sub(n);
            to -= n;
        }
        out
    }

    pub fn pin(&mut self, id: u64, offset: u64) {
        match self.pins.iter_mut().find(|(i, _)| *i == id) {
            Some(p) => p.1 = offset,
            None => self.pins.push((id, offset)),
        }
    }

    pub fn unpin(&mut self, id: u64) {
        self.pins.retain(|(i, _)| *i != id);
        self.dropped.retain(|i| *i != id);
        // What only this replica held back goes now, not at the next write: a replica that
        // returns after a long partition must find the history its size allows, no more.
        self.trim();
    }

    /// Whether `id` was dropped for falling behind.
    pub fn is_dropped(&self, id: u64) -> bool {
        self.dropped.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_size_and_what_replicas_still_need() {
        let mut b = Backlog {
            size: 10,
            hard_limit: 30,
            ..Default::default()
        };
        b.reset(100);
        b.append(b"0123456789abcdef");
        assert_eq!((b.start(), b.end()), (106, 116));
        assert!(!b.holds(105) && b.holds(106) && b.holds(116));
        assert_eq!(b.read(1, 110, 3), b"abc");
        b.append(b"ghijklmnop");
        // Replica 1 still needs offset 110 onwards.
        assert_eq!(b.start(), 110);
        b.append(&[b'x'; 30]);
        assert!(b.is_dropped(1));
        assert_eq!(b.histlen(), 10);
    }

    #[test]
    fn a_replica_gone_stops_holding_the_history() {
        let mut b = Backlog {
            size: 10,
            hard_limit: 100,
            ..Default::default()
        };
        b.reset(0);
        b.pin(1, 0);
        b.append(&[b'x'; 30]);
        assert_eq!(b.histlen(), 30);
        b.unpin(1);
        assert_eq!((b.start(), b.histlen()), (20, 10));
    }

    #[test]
    fn reads_across_the_history_and_the_tail() {
        let mut b = Backlog {
            size: 64 * 1024,
            ..Default::default()
        };
        b.reset(0);
        let bytes: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        for c in bytes.chunks(100) {
            b.append(c);
        }
        // 32 KiB moved into the history, the rest still in the tail.
        assert!(b.tail.len() < TAIL && !b.buf.is_empty());
        assert_eq!(b.end(), 40_000);
        for (at, max) in [(0, 40_000), (16_000, 20_000), (32_760, 10), (39_990, 100)] {
            let want = &bytes[at..(at + max).min(bytes.len())];
            assert_eq!(b.read(9, at as u64, max), want, "at {at}");
        }
        assert!(b.read(9, 40_000, 10).is_empty());
    }
}
