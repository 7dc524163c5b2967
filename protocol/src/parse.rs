//! Request parsing: RESP multibulk and inline commands, resumable across reads.
//!
//! The parser follows Redis 7.0's `processMultibulkBuffer` and `processInlineBuffer` byte for
//! byte, because clients and tests observe its edges: which malformed input is an error, which
//! error text is sent, and which input is merely incomplete. A protocol error is fatal for the
//! connection (Redis replies with the error, then closes); everything parsed before it runs.
//!
//! Parsing is resumable: when a command is only partly in the buffer, the parser remembers how
//! far it got (argument count, spans parsed, the pending bulk length), all relative to the
//! command's first byte, so a 500 MB `SET` or a 1 M-argument `SADD` is scanned once, not once per
//! read. The caller keeps the unconsumed tail of its buffer starting at that first byte.
//!
//! Limits (Redis's names): `proto-max-bulk-len` bounds one bulk string; 64 KiB bounds an inline
//! request and a count line; unauthenticated clients may send at most 10 arguments of at most
//! 16 KiB each. `client-query-buffer-limit` is enforced by the connection, which owns the buffer.

use crate::argv::Argv;
use crate::errors;

/// Longest inline request and longest `*`/`$` count line (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX_BYTES: usize = 64 * 1024;
/// Argument count allowed before authentication (Redis: `ll > 10 && authRequired`).
pub const UNAUTH_ARGS_MAX: i64 = 10;
/// Bulk length allowed before authentication.
pub const UNAUTH_BULK_MAX: i64 = 16384;

/// Limits the parser enforces, read from the server's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the largest bulk string accepted (Redis default 512 MB).
    pub proto_max_bulk_len: i64,
    /// Whether the client still has to authenticate (tighter limits apply).
    pub auth_required: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            auth_required: false,
        }
    }
}

/// A fatal protocol error; `message` is the full wire text (`ERR Protocol error: ...`: Redis
/// sends these through `addReplyError`, which adds the `ERR` code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    pub message: String,
}

impl ProtocolError {
    fn new(message: &str) -> Self {
        ProtocolError {
            message: message.to_string(),
        }
    }
}

/// What one call to [`RequestParser::parse`] found at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole command of `consumed` bytes; read it with [`RequestParser::argv`].
    Command { consumed: usize },
    /// `consumed` bytes that hold no command (an empty line, `*0`, `*-1`): skip them.
    Skip { consumed: usize },
    /// The buffer ends inside a command; read more and call again with the same start.
    Incomplete,
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Between commands.
    Idle,
    /// Inside a multibulk: `remaining` arguments to go, `pos` the next unread byte, and
    /// `bulk_len` the length announced by a `$` line whose payload has not fully arrived.
    Multibulk {
        remaining: usize,
        pos: usize,
        bulk_len: Option<usize>,
    },
}

/// Incremental request parser; one per connection.
pub struct RequestParser {
    state: State,
    spans: Vec<(usize, usize)>,
    /// Decoded arguments of the last inline command (quotes and escapes removed).
    inline_data: Vec<u8>,
    last_was_inline: bool,
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
    pub fn new() -> Self {
        RequestParser {
            state: State::Idle,
            spans: Vec::with_capacity(8),
            inline_data: Vec::new(),
            last_was_inline: false,
        }
    }

    /// Parses the command at the front of `buf` (which must start where the previous call's
    /// command ended, or at the same byte again after [`Parsed::Incomplete`]).
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
        if let State::Idle = self.state {
            match buf.first() {
                None => return Ok(Parsed::Incomplete),
                Some(b'*') => {}
                Some(_) => return self.parse_inline(buf),
            }
            let (count, cr) = match quick_count(buf) {
                Some((n, cr)) if n <= i32::MAX as i64 => (n, cr),
                _ => {
                    let Some(cr) = memchr(b'\r', buf) else {
                        if buf.len() > INLINE_MAX_BYTES {
                            return Err(ProtocolError::new(errors::PROTO_BIG_MBULK_COUNT));
                        }
                        return Ok(Parsed::Incomplete);
                    };
                    if cr + 2 > buf.len() {
                        return Ok(Parsed::Incomplete);
                    }
                    match parse_i64(&buf[1..cr]) {
                        Some(n) if n <= i32::MAX as i64 => (n, cr),
                        _ => return Err(ProtocolError::new(errors::PROTO_INVALID_MBULK_LEN)),
                    }
                }
            };
            // Redis waits until the "\n" after the "\r" has arrived too.
            if cr + 2 > buf.len() {
                return Ok(Parsed::Incomplete);
            }
            if count > UNAUTH_ARGS_MAX && limits.auth_required {
                return Err(ProtocolError::new(errors::PROTO_UNAUTH_MBULK_LEN));
            }
            if count <= 0 {
                return Ok(Parsed::Skip { consumed: cr + 2 });
            }
            self.spans.clear();
            // Reserve for what is plausible, not for what a hostile header claims.
            self.spans.reserve((count as usize).min(1024));
            self.state = State::Multibulk {
                remaining: count as usize,
                pos: cr + 2,
                bulk_len: None,
            };
        }
        self.parse_multibulk_args(buf, limits)
    }

    fn parse_multibulk_args(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Parsed, ProtocolError> {
        let State::Multibulk {
            mut remaining,
            mut pos,
            mut bulk_len,
        } = self.state
        else {
            unreachable!("called outside a multibulk");
        };
        while remaining > 0 {
            let len = match bulk_len {
                Some(len) => len,
                None => {
                    let rest = &buf[pos..];
                    let quick = quick_count(rest).filter(|&(n, _)| {
                        rest[0] == b'$'
                            && n <= limits.proto_max_bulk_len
                            && (n <= UNAUTH_BULK_MAX || !limits.auth_required)
                    });
                    let line = match quick {
                        Some(line) => Some(line),
                        None => bulk_len_line(rest, limits)?,
                    };
                    let Some((len, cr)) = line else {
                        break;
                    };
                    // Redis waits until the "\n" after the "\r" has arrived too.
                    if cr + 2 > rest.len() {
                        break;
                    }
                    pos += cr + 2;
                    bulk_len = Some(len as usize);
                    len as usize
                }
            };
            // Like Redis, the two bytes after the payload are skipped unchecked.
            if buf.len() - pos < len + 2 {
                break;
            }
            self.spans.push((pos, pos + len));
            pos += len + 2;
            bulk_len = None;
            remaining -= 1;
        }
        if remaining > 0 {
            self.state = State::Multibulk {
                remaining,
                pos,
                bulk_len,
            };
            return Ok(Parsed::Incomplete);
        }
        self.state = State::Idle;
        self.last_was_inline = false;
        Ok(Parsed::Command { consumed: pos })
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Parsed, ProtocolError> {
        let Some(nl) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX_BYTES {
                return Err(ProtocolError::new(errors::PROTO_BIG_INLINE));
            }
            return Ok(Parsed::Incomplete);
        };
        let mut line = &buf[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        // sdssplitargs reads a C string: a NUL ends the request. (Redis finds the newline with
        // strchr, which also stops at the NUL, so there such a request never completes and the
        // connection stalls until the 64 KiB limit; usher runs the part before the NUL instead,
        // see docs/compatibility.md.)
        if let Some(nul) = memchr(0, line) {
            line = &line[..nul];
        }
        self.spans.clear();
        self.inline_data.clear();
        if !split_args(line, &mut self.inline_data, &mut self.spans) {
            return Err(ProtocolError::new(errors::PROTO_UNBALANCED_QUOTES));
        }
        if self.spans.is_empty() {
            return Ok(Parsed::Skip { consumed: nl + 1 });
        }
        self.last_was_inline = true;
        Ok(Parsed::Command { consumed: nl + 1 })
    }

    /// The arguments of the command the last [`Parsed::Command`] reported; `buf` is the same
    /// buffer slice that was passed to [`RequestParser::parse`].
    pub fn argv<'a>(&'a self, buf: &'a [u8]) -> Argv<'a> {
        let base = if self.last_was_inline {
            &self.inline_data[..]
        } else {
            buf
        };
        Argv::new(base, &self.spans)
    }

    /// The argument spans of the last [`Parsed::Command`], as offsets into the buffer that was
    /// passed to [`RequestParser::parse`]; `None` for an inline command (its arguments were
    /// decoded into the parser's own storage).
    pub fn spans_in_buffer(&self) -> Option<&[(usize, usize)]> {
        (!self.last_was_inline).then_some(&self.spans[..])
    }

    /// Forgets a half-parsed command, ready for a buffer that starts a new one.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.spans.clear();
        self.last_was_inline = false;
    }

    /// True while a command has been started but not finished.
    pub fn in_progress(&self) -> bool {
        matches!(self.state, State::Multibulk { .. })
    }
}

/// The fast path of a count line (`*3\r`, `$10\r`): `line[0]` is the type byte, then 1 to 18
/// digits with no leading zero (or just `0`), then `\r`. Gives the value and the `\r`'s index
/// in one pass, where the general path finds the `\r` and then parses; anything else (a sign,
/// a longer number, a missing `\r`) gets `None` and goes the general way, which judges it
/// exactly as Redis does.
#[inline(always)]
fn quick_count(line: &[u8]) -> Option<(i64, usize)> {
    let digits = line.get(1..)?;
    let mut v: i64 = 0;
    for (i, &c) in digits.iter().take(19).enumerate() {
        match c {
            // A 19th digit could overflow: longer numbers take the general path.
            b'0'..=b'9' if i < 18 => v = v * 10 + (c - b'0') as i64,
            b'\r' if i == 1 || (i > 1 && digits[0] != b'0') => return Some((v, i + 1)),
            _ => return None,
        }
    }
    None
}

/// The general path of a `$` line at the front of `rest`: its length and the `\r`'s index,
/// `None` while the line is incomplete, or the protocol error Redis sends for it.
fn bulk_len_line(rest: &[u8], limits: &Limits) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(cr) = memchr(b'\r', rest) else {
        if rest.len() > INLINE_MAX_BYTES {
            return Err(ProtocolError::new(errors::PROTO_BIG_BULK_COUNT));
        }
        return Ok(None);
    };
    if cr + 2 > rest.len() {
        return Ok(None);
    }
    if rest[0] != b'$' {
        return Err(ProtocolError {
            message: format!(
                "ERR Protocol error: expected '$', got '{}'",
                rest[0] as char
            ),
        });
    }
    let len = match parse_i64(&rest[1..cr]) {
        Some(n) if n >= 0 && n <= limits.proto_max_bulk_len => n,
        _ => return Err(ProtocolError::new(errors::PROTO_INVALID_BULK_LEN)),
    };
    if len > UNAUTH_BULK_MAX && limits.auth_required {
        return Err(ProtocolError::new(errors::PROTO_UNAUTH_BULK_LEN));
    }
    Ok(Some((len, cr)))
}

/// Redis's `string2ll`: an optional `-`, then digits with no leading zero (except `0` itself),
/// nothing else, fitting in an i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Redis's `sdssplitargs`: whitespace-separated words, `"double quotes"` with `\n \r \t \b \a
/// \\ \" \xHH` escapes, `'single quotes'` with `\'`. A closing quote must be followed by
/// whitespace or the end. Returns false for unbalanced quotes. Decoded words are appended to
/// `data` and their spans to `spans`.
pub fn split_args(line: &[u8], data: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>) -> bool {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return true;
        }
        let start = data.len();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && is_hex(line[i + 2])
                    && is_hex(line[i + 3])
                {
                    data.push(hex_val(line[i + 2]) * 16 + hex_val(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    data.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    data.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return false;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    data.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !is_space(line[i + 1]) {
                        return false;
                    }
                    i += 1;
                    break;
                } else {
                    data.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => data.push(c),
                }
            }
            i += 1;
        }
        spans.push((start, data.len()));
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[inline]
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut out = Vec::new();
        let mut off = 0;
        loop {
            match p.parse(&input[off..], &Limits::default())? {
                Parsed::Command { consumed } => {
                    out.push(p.argv(&input[off..]).iter().map(|a| a.to_vec()).collect());
                    off += consumed;
                }
                Parsed::Skip { consumed } => off += consumed,
                Parsed::Incomplete => return Ok(out),
            }
        }
    }

    fn words(cmd: &[&str]) -> Vec<Vec<u8>> {
        cmd.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn parses_pipelined_multibulk_commands() {
        let got =
            parse_all(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n").unwrap();
        assert_eq!(got, vec![words(&["PING"]), words(&["SET", "k", ""])]);
    }

    #[test]
    fn resumes_a_command_split_at_every_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for cut in 0..input.len() {
            let mut p = RequestParser::new();
            assert_eq!(
                p.parse(&input[..cut], &Limits::default()).unwrap(),
                Parsed::Incomplete,
                "cut {cut}"
            );
            assert_eq!(
                p.parse(input, &Limits::default()).unwrap(),
                Parsed::Command {
                    consumed: input.len()
                }
            );
            assert_eq!(p.argv(input).arg(2), b"value");
        }
    }

    #[test]
    fn inline_commands_split_like_sdssplitargs() {
        let got = parse_all(b"set k \"a b\\n\\x41\" 'it\\'s'\r\nPING\n\r\n").unwrap();
        assert_eq!(
            got,
            vec![
                vec![
                    b"set".to_vec(),
                    b"k".to_vec(),
                    b"a b\nA".to_vec(),
                    b"it's".to_vec()
                ],
                words(&["PING"])
            ]
        );
    }

    #[test]
    fn unbalanced_quotes_are_a_protocol_error() {
        let err = parse_all(b"set k \"abc\r\n").unwrap_err();
        assert_eq!(
            err.message,
            "ERR Protocol error: unbalanced quotes in request"
        );
        let err = parse_all(b"set k \"abc\"x\r\n").unwrap_err();
        assert_eq!(
            err.message,
            "ERR Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn empty_and_negative_multibulks_are_skipped() {
        assert_eq!(
            parse_all(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n").unwrap(),
            vec![words(&["PING"])]
        );
    }

    #[test]
    fn malformed_counts_get_redis_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
            (
                b"*3000000000\r\n",
                "ERR Protocol error: invalid multibulk length",
            ),
            (
                b"*1\r\nfoo\r\n",
                "ERR Protocol error: expected '$', got 'f'",
            ),
            (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"),
            (
                b"*1\r\n$600000000\r\n",
                "ERR Protocol error: invalid bulk length",
            ),
        ];
        for (input, msg) in cases {
            assert_eq!(
                parse_all(input).unwrap_err().message,
                *msg,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn oversized_lines_are_rejected() {
        let mut big = vec![b'a'; INLINE_MAX_BYTES + 1];
        assert_eq!(
            parse_all(&big).unwrap_err().message,
            "ERR Protocol error: too big inline request"
        );
        big[0] = b'*';
        assert_eq!(
            parse_all(&big).unwrap_err().message,
            "ERR Protocol error: too big mbulk count string"
        );
        let mut bulk = b"*1\r\n".to_vec();
        bulk.extend(vec![b'$'; INLINE_MAX_BYTES + 1]);
        assert_eq!(
            parse_all(&bulk).unwrap_err().message,
            "ERR Protocol error: too big bulk count string"
        );
    }

    #[test]
    fn unauthenticated_clients_get_tight_limits() {
        let limits = Limits {
            auth_required: true,
            ..Limits::default()
        };
        let mut p = RequestParser::new();
        let err = p.parse(b"*11\r\n", &limits).unwrap_err();
        assert_eq!(
            err.message,
            "ERR Protocol error: unauthenticated multibulk length"
        );
        let mut p = RequestParser::new();
        let err = p.parse(b"*1\r\n$16385\r\n", &limits).unwrap_err();
        assert_eq!(
            err.message,
            "ERR Protocol error: unauthenticated bulk length"
        );
    }

    #[test]
    fn parse_i64_is_strict() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"9223372036854775808"[..],
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"-",
            b"-0",
            b"",
        ] {
            assert_eq!(parse_i64(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_all(&input);
        }

        #[test]
        fn encoded_commands_round_trip(args in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 1..8)) {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                wire.extend(format!("${}\r\n", a.len()).bytes());
                wire.extend(a);
                wire.extend(b"\r\n");
            }
            proptest::prop_assert_eq!(parse_all(&wire).unwrap(), vec![args]);
        }

        /// The count lines' fast path agrees with the general one (find the `\r`, then
        /// Redis's string2ll) wherever it answers, on lines made of digits, signs and `\r`.
        #[test]
        fn quick_count_agrees_with_the_general_path(
            body in proptest::collection::vec(proptest::sample::select(b"0123456789-\r\nx".to_vec()), 0..24)
        ) {
            let mut line = vec![b'$'];
            line.extend(&body);
            if let Some((n, cr)) = quick_count(&line) {
                proptest::prop_assert_eq!(Some(cr), memchr(b'\r', &line));
                proptest::prop_assert_eq!(parse_i64(&line[1..cr]), Some(n));
            }
        }
    }

    #[test]
    fn quick_count_takes_plain_lengths_and_leaves_the_rest() {
        assert_eq!(quick_count(b"$0\r\n"), Some((0, 2)));
        assert_eq!(quick_count(b"*3\r\n"), Some((3, 2)));
        assert_eq!(
            quick_count(b"$123456789012345678\r"),
            Some((123456789012345678, 19))
        );
        for general in [
            &b"$\r\n"[..],
            b"$01\r\n",
            b"$-1\r\n",
            b"$1234567890123456789\r\n",
            b"$9999999999999999999\r\n",
            b"$12",
            b"$1x\r\n",
            b"$",
        ] {
            assert_eq!(
                quick_count(general),
                None,
                "{:?}",
                String::from_utf8_lossy(general)
            );
        }
    }
}
