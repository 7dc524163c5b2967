//! The load generator's RESP2 client side: an encoder that appends commands to a write buffer
//! and a reader that parses one reply at a time out of a read buffer, borrowing from it.
//!
//! The client shares two cores with the server under test, so both halves avoid per-argument
//! allocation: arguments are written straight into the batch buffer, and replies borrow their
//! bytes from the read buffer (only arrays allocate, for their element list).

/// Appends `*n\r\n`, the header of a command with `n` arguments.
pub fn push_array_header(buf: &mut Vec<u8>, n: usize) {
    buf.push(b'*');
    push_decimal(buf, n as u64);
    buf.extend_from_slice(b"\r\n");
}

/// Appends one bulk string argument.
pub fn push_bulk(buf: &mut Vec<u8>, arg: &[u8]) {
    push_bulk_parts(buf, &[arg]);
}

/// Appends one bulk string argument made of several byte strings laid end to end.
pub fn push_bulk_parts(buf: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    buf.push(b'$');
    push_decimal(buf, len as u64);
    buf.extend_from_slice(b"\r\n");
    for p in parts {
        buf.extend_from_slice(p);
    }
    buf.extend_from_slice(b"\r\n");
}

/// Appends one bulk string argument holding the decimal form of `n`.
pub fn push_bulk_u64(buf: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let s = decimal(&mut digits, n);
    push_bulk(buf, s);
}

/// Appends a whole command.
pub fn push_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    push_array_header(buf, args.len());
    for a in args {
        push_bulk(buf, a);
    }
}

/// Writes `n` in decimal at the end of `digits` and returns that slice.
pub fn decimal(digits: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[i..]
}

fn push_decimal(buf: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    buf.extend_from_slice(decimal(&mut digits, n));
}

/// One reply, borrowing its bytes from the read buffer.
#[derive(Debug, PartialEq)]
pub enum Reply<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Int(i64),
    /// `None` is the null bulk string (`$-1`).
    Bulk(Option<&'a [u8]>),
    /// `None` is the null array (`*-1`).
    Array(Option<Vec<Reply<'a>>>),
}

impl Reply<'_> {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bulk(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(Some(b)) | Reply::Simple(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Reply<'_>]> {
        match self {
            Reply::Array(Some(items)) => Some(items),
            _ => None,
        }
    }

    /// A short printable form, for error messages.
    pub fn describe(&self) -> String {
        let s = format!("{self:?}");
        let mut s: String = s.chars().take(200).collect();
        if s.len() == 200 {
            s.push('…');
        }
        s
    }
}

/// The server sent something that is not RESP2.
#[derive(Debug)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Deepest array nesting accepted; the replies this client expects nest two levels.
const DEPTH_MAX: usize = 8;

/// Parses the first reply in `buf`: `Ok(Some((reply, bytes used)))`, or `Ok(None)` when `buf`
/// holds only part of it.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply<'_>, usize)>, ProtocolError> {
    parse_at(buf, 0, 0)
}

/// The reply starting at `at` and the offset just past it.
fn parse_at(
    buf: &[u8],
    at: usize,
    depth: usize,
) -> Result<Option<(Reply<'_>, usize)>, ProtocolError> {
    if depth > DEPTH_MAX {
        return Err(ProtocolError("arrays nest too deeply".into()));
    }
    let Some((line, next)) = line(buf, at) else {
        return Ok(None);
    };
    let Some((&kind, body)) = line.split_first() else {
        return Err(ProtocolError("empty line".into()));
    };
    let reply = match kind {
        b'+' => (Reply::Simple(body), next),
        b'-' => (Reply::Error(body), next),
        b':' => (Reply::Int(int(body)?), next),
        b'$' => {
            let len = int(body)?;
            if len < 0 {
                (Reply::Bulk(None), next)
            } else {
                let end = next + len as usize;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                if &buf[end..end + 2] != b"\r\n" {
                    return Err(ProtocolError("bulk string without CRLF".into()));
                }
                (Reply::Bulk(Some(&buf[next..end])), end + 2)
            }
        }
        b'*' => {
            let n = int(body)?;
            if n < 0 {
                (Reply::Array(None), next)
            } else {
                let mut items = Vec::with_capacity((n as usize).min(1024));
                let mut pos = next;
                for _ in 0..n {
                    match parse_at(buf, pos, depth + 1)? {
                        Some((item, end)) => {
                            items.push(item);
                            pos = end;
                        }
                        None => return Ok(None),
                    }
                }
                (Reply::Array(Some(items)), pos)
            }
        }
        other => {
            return Err(ProtocolError(format!(
                "unexpected type byte {:?}",
                other as char
            )))
        }
    };
    Ok(Some(reply))
}

/// The line starting at `at` (without CRLF) and the offset just past its CRLF.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(at..)?;
    let cr = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..cr], at + cr + 2))
}

fn int(text: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ProtocolError(format!("bad integer {:?}", String::from_utf8_lossy(text))))
}
