//! What a command (or EXEC, or a script) has logged but not yet put into the stream: each
//! logged command already encoded as RESP, with its database, in one reusable buffer.
//!
//! Encoding at record time, straight from the request's argv, is what keeps logging cheap:
//! the common case (a write logged as itself) copies its arguments once and allocates
//! nothing, where building an owned `Vec<Vec<u8>>` first cost one allocation per argument
//! (a tenth of the primary's CPU on pipelined SETs with a replica attached). Rewritten
//! effects still arrive as [`Entry`] and are encoded here.

use super::Entry;
use usher_persist::aof::encode_command;
use usher_protocol::Argv;

#[derive(Default)]
pub struct Pending {
    /// The commands' RESP bytes, one after the other.
    bytes: Vec<u8>,
    /// Per command: its database and where its bytes end in `bytes`.
    cmds: Vec<(usize, usize)>,
    /// `NOW <ms>` encoded, for the millisecond it names: the waiting room's commands log their
    /// clock, and every command in one millisecond logs the same digits.
    now: (i64, Vec<u8>),
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Forgets everything, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.cmds.clear();
    }

    /// Logs one command given as owned arguments.
    pub fn push(&mut self, (db, argv): Entry) {
        self.push_args(db, &argv);
    }

    /// Logs one command given as any arguments.
    pub fn push_args<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        encode_command(&mut self.bytes, args);
        self.cmds.push((db, self.bytes.len()));
    }

    /// Logs `argv` as it is.
    pub fn push_argv(&mut self, db: usize, argv: Argv<'_>) {
        let out = &mut self.bytes;
        header(out, b'*', argv.len());
        encode_args(out, argv);
        self.cmds.push((db, self.bytes.len()));
    }

    /// Logs `argv` followed by `NOW <now_ms>`, the waiting room's clock.
    pub fn push_argv_now(&mut self, db: usize, argv: Argv<'_>, now_ms: i64) {
        let (at, now) = &mut self.now;
        if *at != now_ms || now.is_empty() {
            now.clear();
            bulk(now, b"NOW");
            bulk(now, itoa::Buffer::new().format(now_ms).as_bytes());
            *at = now_ms;
        }
        let out = &mut self.bytes;
        header(out, b'*', argv.len() + 2);
        encode_args(out, argv);
        out.extend_from_slice(now);
        self.cmds.push((db, self.bytes.len()));
    }

    /// Moves `entries` in, in order.
    pub fn append(&mut self, entries: &mut Vec<Entry>) {
        if entries.is_empty() {
            return; // the common case, up to three times per command: no drain to set up
        }
        for e in entries.drain(..) {
            self.push(e);
        }
    }

    /// The logged commands in order: (database, RESP bytes).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (usize, &[u8])> + '_ {
        let mut from = 0;
        self.cmds.iter().map(move |&(db, end)| {
            let bytes = &self.bytes[from..end];
            from = end;
            (db, bytes)
        })
    }
}

/// Each argument as `$<len>\r\n<arg>\r\n`: straight from the request's bytes when they are
/// that already (one copy, see [`Argv::as_resp`]), else one by one.
#[inline]
fn encode_args(out: &mut Vec<u8>, argv: Argv<'_>) {
    match argv.as_resp() {
        Some(raw) => out.extend_from_slice(raw),
        None => argv.iter().for_each(|a| bulk(out, a)),
    }
}

#[inline]
fn bulk(out: &mut Vec<u8>, a: &[u8]) {
    header(out, b'$', a.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// `*<n>\r\n` or `$<n>\r\n`. Counts and lengths under 100 (nearly all) are written as fixed
/// stores, not through a formatter and a copy per piece: encoding is per logged command.
#[inline]
fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    let d = |x: usize| b'0' + x as u8;
    if n < 10 {
        out.extend_from_slice(&[tag, d(n), b'\r', b'\n']);
    } else if n < 100 {
        out.extend_from_slice(&[tag, d(n / 10), d(n % 10), b'\r', b'\n']);
    } else {
        out.push(tag);
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_argv_with_a_tail_as_owned_arguments_would() {
        let buf = b"SETxy";
        let spans = [(0, 3), (3, 4), (4, 5)];
        let argv = Argv::new(buf, &spans);
        let mut p = Pending::default();
        p.push_argv_now(2, argv, 17);
        p.push((0, vec![b"DEL".to_vec(), b"k".to_vec()]));
        let mut owned = Vec::new();
        encode_command(&mut owned, &[&b"SET"[..], b"x", b"y", b"NOW", b"17"]);
        let got: Vec<(usize, Vec<u8>)> = p.iter().map(|(db, b)| (db, b.to_vec())).collect();
        assert_eq!(got[0], (2, owned));
        assert_eq!(got[1], (0, b"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n".to_vec()));
        p.clear();
        assert!(p.is_empty() && p.iter().len() == 0);
        // Counts and lengths of one, two and three digits.
        let big = [b'v'; 100];
        let args: Vec<&[u8]> = std::iter::once(&b"RPUSH"[..])
            .chain(std::iter::repeat_n(&big[..9], 11))
            .chain([&big[..]])
            .collect();
        let buf: Vec<u8> = args.concat();
        let mut at = 0;
        let spans: Vec<(usize, usize)> = args
            .iter()
            .map(|a| {
                at += a.len();
                (at - a.len(), at)
            })
            .collect();
        p.push_argv(0, Argv::new(&buf, &spans));
        let mut owned = Vec::new();
        encode_command(&mut owned, &args);
        assert_eq!(p.iter().next().unwrap().1, &owned[..]);
    }

    #[test]
    fn a_request_from_the_read_buffer_and_its_clock_encode_as_owned_arguments_would() {
        let mut p = Pending::default();
        let mut buf = Vec::new();
        encode_command(&mut buf, &[&b"ENTER"[..], b"q:{e}", b"a:{e}", &[b'u'; 120]]);
        // The spans a parser gives: after the count line, each argument after its header.
        let mut spans = Vec::new();
        let mut at = 4; // "*4\r\n"
        for len in [5, 5, 5, 120] {
            at += if len < 10 { 4 } else { 6 };
            spans.push((at, at + len));
            at += len + 2;
        }
        let argv = Argv::new(&buf, &spans);
        assert!(
            argv.as_resp().is_some(),
            "the one-copy path is the one tested"
        );
        for ms in [1_796_000_000_000, 1_796_000_000_000, 1_796_000_000_001, 7] {
            p.push_argv_now(3, argv, ms);
        }
        p.push_argv(4, argv);
        let digits: Vec<String> = ["1796000000000", "1796000000000", "1796000000001", "7"]
            .iter()
            .map(|d| d.to_string())
            .collect();
        let got: Vec<(usize, Vec<u8>)> = p.iter().map(|(db, b)| (db, b.to_vec())).collect();
        for (i, d) in digits.iter().enumerate() {
            let mut want = Vec::new();
            let args: Vec<&[u8]> = argv.iter().chain([&b"NOW"[..], d.as_bytes()]).collect();
            encode_command(&mut want, &args);
            assert_eq!(got[i], (3, want), "command {i}");
        }
        assert_eq!(got[4], (4, buf));
    }
}
