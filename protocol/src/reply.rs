//! Reply encoding: the [`ReplySink`] trait every command writes through, and [`RespWriter`],
//! its RESP2/RESP3 implementation over a connection's output buffer.
//!
//! Commands describe replies in RESP3 terms (maps, sets, doubles, nulls, pushes); the writer
//! lowers them to RESP2 the way Redis does (a map becomes a flat array of `2n` items, a double a
//! bulk string, a null `$-1` or `*-1`). Writing straight into the output buffer keeps the reply
//! path allocation-free. Other sinks (a Lua reply tree, a MULTI collector) implement the same
//! trait, so a command is written once for every caller.
//!
//! Rule for command code: validate everything, then write; never return an error after the
//! first write (the reply would be malformed).

use crate::double::write_g17;

/// The protocol a connection speaks, chosen with `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// Where a command writes its reply.
pub trait ReplySink {
    fn protocol(&self) -> Protocol;
    /// `+text` (status reply); `text` must not contain CR or LF.
    fn simple(&mut self, text: &str);
    /// `-text`; `text` includes the code (`ERR ...`). Newlines are replaced by spaces.
    fn error(&mut self, text: &str);
    /// [`ReplySink::error`] of bytes that need not be UTF-8 (a script's error, DEBUG ERROR),
    /// written as they are where the sink can.
    fn error_bytes(&mut self, text: &[u8]) {
        self.error(&String::from_utf8_lossy(text));
    }
    fn int(&mut self, v: i64);
    fn bulk(&mut self, bytes: &[u8]);
    /// Null bulk string: `$-1` in RESP2, `_` in RESP3.
    fn null(&mut self);
    /// Null array: `*-1` in RESP2, `_` in RESP3.
    fn null_array(&mut self);
    fn array(&mut self, len: usize);
    /// A map of `pairs` key/value pairs (`*2n` in RESP2).
    fn map(&mut self, pairs: usize);
    /// A set (`*n` in RESP2).
    fn set(&mut self, len: usize);
    /// An out-of-band push (`*n` in RESP2, as pub/sub messages always were).
    fn push(&mut self, len: usize);
    /// A double: bulk `%.17g` in RESP2, `,` in RESP3.
    fn double(&mut self, v: f64);
    /// A boolean: `:1`/`:0` in RESP2, `#t`/`#f` in RESP3.
    fn boolean(&mut self, v: bool);
    /// Verbatim text (`=len\r\nfmt:...` in RESP3, a bulk string in RESP2); `format` is 3 bytes.
    fn verbatim(&mut self, format: &str, text: &[u8]);

    fn ok(&mut self) {
        self.simple("OK");
    }

    fn is_resp3(&self) -> bool {
        self.protocol() == Protocol::Resp3
    }

    /// `bulk` for a string the caller has as `&str`.
    fn bulk_str(&mut self, s: &str) {
        self.bulk(s.as_bytes());
    }

    /// A bulk string holding the decimal form of `v` (Redis replies like this for GET on an
    /// integer-encoded string).
    fn bulk_int(&mut self, v: i64) {
        let mut buf = itoa::Buffer::new();
        self.bulk(buf.format(v).as_bytes());
    }

    /// A double already formatted by the caller (Redis's `addReplyHumanLongDouble`: GEOPOS
    /// coordinates): a bulk string in RESP2, a `,` double with exactly this text in RESP3.
    /// Sinks that do not write RESP get the parsed value.
    fn double_text(&mut self, text: &str) {
        if self.is_resp3() {
            self.double(text.parse().unwrap_or(f64::NAN));
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A bulk string holding `%.17g` of `v` whatever the protocol (Redis's `addReplyDouble`
    /// in RESP2, also used where RESP3 still sends strings).
    fn bulk_g17(&mut self, v: f64) {
        let mut buf = Vec::with_capacity(24);
        write_g17(v, &mut buf);
        self.bulk(&buf);
    }
}

/// Writes replies as RESP bytes into a buffer.
pub struct RespWriter<'a> {
    out: &'a mut Vec<u8>,
    proto: Protocol,
}

impl<'a> RespWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>, proto: Protocol) -> Self {
        RespWriter { out, proto }
    }

    /// Bytes written so far into the underlying buffer.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Appends already-encoded RESP (a cached reply, a forwarded pub/sub message).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Drops everything written after `len` (used to discard a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.out.truncate(len);
    }

    pub fn set_protocol(&mut self, proto: Protocol) {
        self.proto = proto;
    }

    #[inline]
    fn header(&mut self, prefix: u8, n: usize) {
        self.out.push(prefix);
        let mut buf = itoa::Buffer::new();
        self.out.extend_from_slice(buf.format(n).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }
}

impl ReplySink for RespWriter<'_> {
    #[inline]
    fn protocol(&self) -> Protocol {
        self.proto
    }

    #[inline]
    fn simple(&mut self, text: &str) {
        self.out.push(b'+');
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn error(&mut self, text: &str) {
        self.error_bytes(text.as_bytes());
    }

    fn error_bytes(&mut self, text: &[u8]) {
        self.out.push(b'-');
        self.out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    fn int(&mut self, v: i64) {
        if (0..10).contains(&v) {
            // The common replies (SETBIT's old bit, PFADD's 0 or 1, counts): one copy, as
            // Redis's shared `:0` / `:1` objects.
            self.out
                .extend_from_slice(&[b':', b'0' + v as u8, b'\r', b'\n']);
            return;
        }
        self.out.push(b':');
        let mut buf = itoa::Buffer::new();
        self.out.extend_from_slice(buf.format(v).as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    fn bulk(&mut self, bytes: &[u8]) {
        self.header(b'$', bytes.len());
        self.out.extend_from_slice(bytes);
        self.out.extend_from_slice(b"\r\n");
    }

    #[inline]
    fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.out.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    #[inline]
    fn array(&mut self, len: usize) {
        self.header(b'*', len);
    }

    fn map(&mut self, pairs: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', pairs * 2),
            Protocol::Resp3 => self.header(b'%', pairs),
        }
    }

    fn set(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', len),
            Protocol::Resp3 => self.header(b'~', len),
        }
    }

    fn push(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', len),
            Protocol::Resp3 => self.header(b'>', len),
        }
    }

    fn double(&mut self, v: f64) {
        match self.proto {
            Protocol::Resp2 => self.bulk_g17(v),
            Protocol::Resp3 => {
                self.out.push(b',');
                write_g17(v, self.out);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    fn double_text(&mut self, text: &str) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => {
                self.out.push(b',');
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }

    fn boolean(&mut self, v: bool) {
        match self.proto {
            Protocol::Resp2 => self.int(v as i64),
            Protocol::Resp3 => self
                .out
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    fn verbatim(&mut self, format: &str, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                debug_assert_eq!(format.len(), 3);
                self.header(b'=', text.len() + 4);
                self.out.extend_from_slice(format.as_bytes());
                self.out.push(b':');
                self.out.extend_from_slice(text);
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(proto: Protocol, f: impl FnOnce(&mut RespWriter)) -> String {
        let mut buf = Vec::new();
        f(&mut RespWriter::new(&mut buf, proto));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn resp2_lowers_resp3_types_like_redis() {
        let out = encode(Protocol::Resp2, |w| {
            w.map(1);
            w.bulk(b"k");
            w.double(1.5);
            w.null();
            w.null_array();
            w.boolean(true);
        });
        assert_eq!(out, "*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n$-1\r\n*-1\r\n:1\r\n");
    }

    #[test]
    fn resp3_uses_native_types() {
        let out = encode(Protocol::Resp3, |w| {
            w.map(1);
            w.bulk(b"k");
            w.double(1.1);
            w.null();
            w.set(0);
            w.push(1);
            w.verbatim("txt", b"hi");
        });
        assert_eq!(
            out,
            "%1\r\n$1\r\nk\r\n,1.1000000000000001\r\n_\r\n~0\r\n>1\r\n=6\r\ntxt:hi\r\n"
        );
    }

    #[test]
    fn errors_stay_on_one_line() {
        assert_eq!(
            encode(Protocol::Resp2, |w| w.error("ERR a\r\nb")),
            "-ERR a  b\r\n"
        );
    }
}
