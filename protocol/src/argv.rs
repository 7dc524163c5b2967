//! The argument vector of one command, as spans over bytes the parser already holds.
//!
//! Commands are executed straight out of the connection's read buffer: an [`Argv`] is a pair of
//! borrowed slices (the bytes and the argument spans), so parsing and dispatch allocate nothing.
//! Anything that must outlive the read buffer (a command queued by `MULTI`, a blocked client's
//! command) is copied into an [`OwnedArgv`] first.

use std::fmt;

/// A borrowed command: argument `i` is `base[spans[i].0..spans[i].1]`.
#[derive(Clone, Copy)]
pub struct Argv<'a> {
    base: &'a [u8],
    spans: &'a [(usize, usize)],
}

impl<'a> Argv<'a> {
    /// Builds an argv over `base`; every span must lie inside it.
    pub fn new(base: &'a [u8], spans: &'a [(usize, usize)]) -> Self {
        debug_assert!(spans.iter().all(|&(s, e)| s <= e && e <= base.len()));
        Argv { base, spans }
    }

    /// Number of arguments, the command name included.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`; panics when out of range (callers check arity first).
    #[inline]
    pub fn arg(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.spans[i];
        &self.base[s..e]
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.spans.get(i).map(|&(s, e)| &self.base[s..e])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + DoubleEndedIterator + 'a {
        let base = self.base;
        self.spans.iter().map(move |&(s, e)| &base[s..e])
    }

    /// The arguments from `start` on, as a new argv (for subcommands and Lua `KEYS`/`ARGV`).
    pub fn tail(&self, start: usize) -> Argv<'a> {
        Argv {
            base: self.base,
            spans: &self.spans[start.min(self.spans.len())..],
        }
    }

    /// Arguments `start..end` (EVAL's keys and args).
    pub fn range(&self, start: usize, end: usize) -> Argv<'a> {
        Argv {
            base: self.base,
            spans: &self.spans[start..end],
        }
    }

    /// The arguments' RESP encoding (`$<len>\r\n<arg>\r\n` each, without the `*<n>` line),
    /// when the bytes around the spans already are exactly that, as they are for a multibulk
    /// request still in a connection's read buffer. Logging a write then copies its request
    /// in one piece instead of encoding it argument by argument.
    ///
    /// Checked, not assumed: every header's `$`, digits and CRLF, the CRLF after every
    /// argument, and that the pieces are contiguous. So the slice is the canonical encoding of
    /// these arguments whatever the bytes came from (a client may send other separators than
    /// CRLF after an argument, which Redis's parser and usher's skip unchecked; such a
    /// request, an inline one, or one rebuilt elsewhere gets `None`).
    pub fn as_resp(&self) -> Option<&'a [u8]> {
        let base = self.base;
        let &(first, first_end) = self.spans.first()?;
        let start = first.checked_sub(bulk_header_len(first_end - first))?;
        let mut at = start;
        for &(s, e) in self.spans {
            // The header fills exactly the bytes between the previous argument's CRLF and
            // this argument, so the pieces are contiguous.
            if !is_bulk_header(base.get(at..s)?, e - s) || base.get(e..e + 2)? != b"\r\n" {
                return None;
            }
            at = e + 2;
        }
        Some(&base[start..at])
    }

    /// Copies the arguments out of the read buffer.
    pub fn to_owned_argv(&self) -> OwnedArgv {
        OwnedArgv::from_args(self.iter())
    }
}

/// The length of `$<len>\r\n`.
#[inline]
fn bulk_header_len(len: usize) -> usize {
    match len {
        0..10 => 4,
        10..100 => 5,
        _ => 3 + itoa::Buffer::new().format(len).len(),
    }
}

/// Whether `h` is exactly `$<len>\r\n`, the length in decimal with no leading zero.
#[inline]
fn is_bulk_header(h: &[u8], len: usize) -> bool {
    // Whole-header compares for one and two digits (nearly every argument): one load each.
    match (h.len(), len) {
        (4, 0..10) => *h == [b'$', b'0' + len as u8, b'\r', b'\n'],
        (5, 10..100) => {
            *h == [
                b'$',
                b'0' + (len / 10) as u8,
                b'0' + (len % 10) as u8,
                b'\r',
                b'\n',
            ]
        }
        (6.., 100..) => {
            h[0] == b'$'
                && h.ends_with(b"\r\n")
                && itoa::Buffer::new().format(len).as_bytes() == &h[1..h.len() - 2]
        }
        _ => false,
    }
}

impl fmt::Debug for Argv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// An argv that owns its bytes: one buffer and its spans.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OwnedArgv {
    data: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl OwnedArgv {
    pub fn from_args<I, A>(args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        let mut owned = OwnedArgv::default();
        for a in args {
            owned.push(a.as_ref());
        }
        owned
    }

    pub fn push(&mut self, arg: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(arg);
        self.spans.push((start, self.data.len()));
    }

    /// Empties it, keeping the buffers (scripts reuse one argv for every `redis.call`).
    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
    }

    pub fn argv(&self) -> Argv<'_> {
        Argv {
            base: &self.data,
            spans: &self.spans,
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes held, for output-buffer and memory accounting.
    pub fn byte_len(&self) -> usize {
        self.data.len() + self.spans.len() * std::mem::size_of::<(usize, usize)>()
    }
}

impl fmt::Debug for OwnedArgv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.argv().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_argv_round_trips_arguments() {
        let owned = OwnedArgv::from_args(["SET", "k", "", "v"]);
        let argv = owned.argv();
        assert_eq!(argv.len(), 4);
        assert_eq!(argv.arg(0), b"SET");
        assert_eq!(argv.arg(2), b"");
        assert_eq!(
            argv.tail(2).iter().collect::<Vec<_>>(),
            vec![&b""[..], b"v"]
        );
        assert_eq!(argv.to_owned_argv(), owned);
    }

    /// `*<n>\r\n` then each argument's `$<len>\r\n<arg>\r\n`, and the argv a parser would
    /// give for it (spans into those bytes).
    fn multibulk(args: &[Vec<u8>]) -> (Vec<u8>, Vec<(usize, usize)>, usize) {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        let body = buf.len();
        let mut spans = Vec::new();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            spans.push((buf.len(), buf.len() + a.len()));
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        (buf, spans, body)
    }

    #[test]
    fn a_request_in_its_read_buffer_is_its_own_encoding() {
        let args: Vec<Vec<u8>> = [0, 1, 9, 10, 99, 100, 12345]
            .iter()
            .map(|&n| vec![b'x'; n])
            .collect();
        let (buf, spans, body) = multibulk(&args);
        assert_eq!(Argv::new(&buf, &spans).as_resp(), Some(&buf[body..]));
        // A request with more bytes after it in the buffer (pipelining).
        let mut more = buf.clone();
        more.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(Argv::new(&more, &spans).as_resp(), Some(&buf[body..]));
        // Anything else is encoded the slow way.
        assert_eq!(
            OwnedArgv::from_args(["SET", "k", "v"]).argv().as_resp(),
            None
        );
        let mut lf = buf.clone();
        lf[spans[1].1] = b'\n'; // "\n\n" after an argument: accepted by the parsers, not canonical
        assert_eq!(Argv::new(&lf, &spans).as_resp(), None);
        let gap: Vec<(usize, usize)> = vec![spans[0], spans[2]];
        assert_eq!(Argv::new(&buf, &gap).as_resp(), None);
        assert_eq!(Argv::new(&buf, &[]).as_resp(), None);
    }

    proptest::proptest! {
        /// Whatever the bytes around the arguments are, a slice given back is exactly the
        /// arguments' canonical encoding.
        #[test]
        fn as_resp_gives_the_canonical_encoding_or_nothing(
            args in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120), 1..6),
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..3),
        ) {
            let (mut buf, spans, _) = multibulk(&args);
            for (at, byte) in flips {
                let at = at % buf.len();
                buf[at] = byte;
            }
            let argv = Argv::new(&buf, &spans);
            let (canonical, _, body_again) = multibulk(&argv.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
            if let Some(raw) = argv.as_resp() {
                proptest::prop_assert_eq!(raw, &canonical[body_again..]);
            }
        }
    }
}
