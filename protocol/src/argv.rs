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

    /// Copies the arguments out of the read buffer.
    pub fn to_owned_argv(&self) -> OwnedArgv {
        OwnedArgv::from_args(self.iter())
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
}
