//! Small helpers the waiting-room tests share: the wall clock in ms, polling until a condition
//! holds (the server's own ticks drive policies, so tests wait for outcomes, never for a
//! guessed speed), and a flat `[field, value, ...]` reply as a map.

use crate::resp::Reply;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Polls `f` every 20 ms until it returns true (then true) or `timeout` passes (then false).
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A replica's reply once it has loaded: `None` while it answers `-LOADING` (its full sync
/// from the primary), the reply itself otherwise.
pub fn loaded(reply: Reply) -> Option<Reply> {
    let loading = reply.is_error() && reply.err().starts_with("LOADING");
    (!loading).then_some(reply)
}

/// A RESP2 flat map reply (`[field, value, ...]`) by field.
pub fn map(reply: Reply) -> HashMap<String, Reply> {
    reply
        .items()
        .chunks(2)
        .map(|c| (c[0].text(), c[1].clone()))
        .collect()
}
