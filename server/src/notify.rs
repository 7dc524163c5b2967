//! Keyspace notifications (`notify-keyspace-events`): the directive's letters, and delivery
//! of the events commands recorded (see `usher_engine::keyspace_events`) on Redis's channels
//! `__keyspace@<db>__:<key>` (message: the event) and `__keyevent@<db>__:<event>` (message:
//! the key), after the command's shard locks are released, as `Effects::publish`.

use crate::shared::{HotConfig, Shared};
use usher_engine::keyspace_events::{self as ev, KeyEvent};

/// The letters and the class each stands for, in Redis's canonical order
/// (`keyspaceEventsFlagsToString`): classes, then `K`, `E`, `m`.
const CLASS_LETTERS: [(u8, u32); 11] = [
    (b'g', ev::GENERIC),
    (b'$', ev::STRING),
    (b'l', ev::LIST),
    (b's', ev::SET),
    (b'h', ev::HASH),
    (b'z', ev::ZSET),
    (b'x', ev::EXPIRED),
    (b'e', ev::EVICTED),
    (b't', ev::STREAM),
    (b'd', ev::MODULE),
    (b'n', ev::NEW),
];

/// Parses the directive's value (Redis's `keyspaceEventsStringToFlags`).
pub fn parse_flags(text: &str) -> Result<u32, String> {
    let mut flags = 0;
    for c in text.bytes() {
        flags |= match c {
            b'A' => ev::ALL,
            b'K' => ev::KEYSPACE,
            b'E' => ev::KEYEVENT,
            b'm' => ev::KEY_MISS,
            _ => CLASS_LETTERS
                .iter()
                .find(|(l, _)| *l == c)
                .map(|(_, class)| *class)
                .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?,
        };
    }
    Ok(flags)
}

/// The directive's value as CONFIG GET shows it: `A` for every class of `A` (and then no `n`,
/// as Redis prints it), else each class letter; then `K`, `E`, `m`.
pub fn format_flags(flags: u32) -> String {
    let mut out = String::new();
    if flags & ev::ALL == ev::ALL {
        out.push('A');
    } else {
        for (letter, class) in CLASS_LETTERS {
            if flags & class != 0 {
                out.push(letter as char);
            }
        }
    }
    for (letter, bit) in [
        ('K', ev::KEYSPACE),
        ('E', ev::KEYEVENT),
        ('m', ev::KEY_MISS),
    ] {
        if flags & bit != 0 {
            out.push(letter);
        }
    }
    out
}

/// The classes whose events are published: none unless `K` or `E` says where.
pub fn published_classes(flags: u32) -> u32 {
    if flags & (ev::KEYSPACE | ev::KEYEVENT) == 0 {
        0
    } else {
        flags & !(ev::KEYSPACE | ev::KEYEVENT)
    }
}

/// Tells the database layer which of its own events to log: `expired` and `new` when they are
/// published, and expiries also while a client tracks keys (they invalidate its cache).
pub fn refresh_capture(notify_classes: u32, tracking: bool) {
    let mut bits = notify_classes & (ev::EXPIRED | ev::NEW | ev::KEY_MISS | ev::STREAM);
    if tracking {
        bits |= ev::CAPTURE_FOR_TRACKING;
    }
    ev::set_capture(bits);
}

/// Delivers what commands recorded, and what the database logged on this thread: keyspace
/// events to subscribers, modified and expired keys to the clients tracking them. `origin` is
/// the client whose command caused them (none for the cron). Leaves `events` empty.
pub fn deliver(shared: &Shared, hot: &HotConfig, events: &mut Vec<KeyEvent>, origin: Option<u64>) {
    ev::take_into(events);
    if events.is_empty() {
        return;
    }
    if hot.notify_flags != 0 {
        publish(shared, hot, events);
    }
    if shared.tracking.active() {
        crate::tracking::invalidate(shared, events, origin);
    }
    events.clear();
}

/// Publishes `events` on the keyspace and keyevent channels that `flags` enables; events of a
/// class not enabled (logged for tracking only) are skipped.
pub fn publish(shared: &Shared, hot: &HotConfig, events: &[KeyEvent]) {
    let flags = hot.notify_flags;
    let classes = published_classes(flags);
    let limit = hot.output_pubsub;
    let mut channel = Vec::with_capacity(64);
    for e in events.iter().filter(|e| e.class & classes != 0) {
        if flags & ev::KEYSPACE != 0 {
            channel.clear();
            channel.extend_from_slice(format!("__keyspace@{}__:", e.db).as_bytes());
            channel.extend_from_slice(&e.key);
            shared.pubsub.publish(&channel, e.event.as_bytes(), &limit);
        }
        if flags & ev::KEYEVENT != 0 {
            let channel = format!("__keyevent@{}__:{}", e.db, e.event);
            shared.pubsub.publish(channel.as_bytes(), &e.key, &limit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_print_in_redis_canonical_order() {
        for (input, shown) in [
            ("KEA", "AKE"),
            ("Ex", "xE"),
            ("g$lshzxetdn", "A"),
            ("AKEmn", "AKEm"),
            ("Kn", "nK"),
            ("m", "m"),
            ("", ""),
        ] {
            assert_eq!(format_flags(parse_flags(input).unwrap()), shown, "{input}");
        }
        assert!(parse_flags("Kq").is_err());
    }

    #[test]
    fn nothing_is_published_without_a_channel_kind() {
        assert_eq!(published_classes(parse_flags("A").unwrap()), 0);
        assert_eq!(published_classes(parse_flags("Kz").unwrap()), ev::ZSET);
    }
}
