//! A strict reader of what a client receives: a sequence of complete RESP2 or RESP3 values,
//! each ending exactly where the next begins. The fuzz targets hold every reply to it, so a
//! reply that a client library would misread (a bulk length that disagrees with its bytes, a
//! CR or LF inside a status line, a RESP3 type sent to a RESP2 client, an array with missing
//! elements) is a finding, not just a panic.

/// One value as read off the wire. Strings keep their bytes; `Array`, `Set` and `Push` keep
/// their elements, `Map` its keys and values in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Vec<u8>),
    /// RESP2's `$-1` and `*-1`, RESP3's `_`.
    Null,
    Bool(bool),
    Double(f64),
    BigNumber(Vec<u8>),
    /// RESP3's bulk error (`!`), which usher never sends but a reader must accept.
    BulkError(Vec<u8>),
    Verbatim(Vec<u8>),
    Array(Vec<Value>),
    Set(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Push(Vec<Value>),
}

impl Value {
    /// The elements of an array, set or push, or of a map flattened (key, value, ...): the
    /// number of items a RESP2 client sees.
    pub fn items(&self) -> Option<Vec<&Value>> {
        match self {
            Value::Array(v) | Value::Set(v) | Value::Push(v) => Some(v.iter().collect()),
            Value::Map(m) => Some(m.iter().flat_map(|(k, v)| [k, v]).collect()),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_) | Value::BulkError(_))
    }
}

/// Nesting deeper than this is refused (a reader on a thread's stack must stop somewhere;
/// Redis's own replies nest a few levels, scripts' at most a few hundred).
const DEPTH_MAX: usize = 1000;

/// Reads every value in `buf`; `resp3` allows the RESP3-only types. `Err` says what is
/// malformed and at which byte.
pub fn read_all(buf: &[u8], resp3: bool) -> Result<Vec<Value>, String> {
    let mut r = Reader { buf, at: 0, resp3 };
    let mut values = Vec::new();
    while r.at < buf.len() {
        values.push(r.value(0)?);
    }
    Ok(values)
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
    resp3: bool,
}

impl Reader<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        let from = self.at.saturating_sub(16);
        let to = (self.at + 32).min(self.buf.len());
        Err(format!(
            "{what} at byte {} (near {:?})",
            self.at,
            String::from_utf8_lossy(&self.buf[from..to])
        ))
    }

    /// A line up to CRLF, with no CR or LF inside it.
    fn line(&mut self) -> Result<&[u8], String> {
        let rest = &self.buf[self.at..];
        let Some(end) = rest.iter().position(|&b| b == b'\r' || b == b'\n') else {
            return self.fail("a line without CRLF");
        };
        if rest.get(end..end + 2) != Some(b"\r\n") {
            return self.fail("a bare CR or LF inside a line");
        }
        self.at += end + 2;
        Ok(&rest[..end])
    }

    fn number(&mut self) -> Result<i64, String> {
        let line = self.line()?;
        let text = std::str::from_utf8(line).unwrap_or("");
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return self.fail("a malformed integer");
        }
        match text.parse() {
            Ok(n) => Ok(n),
            Err(_) => self.fail("an integer out of range"),
        }
    }

    /// A length: -1 only where `null_ok`, else 0 or more.
    fn length(&mut self, null_ok: bool) -> Result<Option<usize>, String> {
        match self.number()? {
            -1 if null_ok => Ok(None),
            n if n >= 0 => Ok(Some(n as usize)),
            _ => self.fail("a negative length"),
        }
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let end = self.at.checked_add(n).filter(|&e| e + 2 <= self.buf.len());
        let Some(end) = end else {
            return self.fail("a bulk string longer than the reply");
        };
        if &self.buf[end..end + 2] != b"\r\n" {
            self.at = end;
            return self.fail("a bulk string not followed by CRLF");
        }
        let out = self.buf[self.at..end].to_vec();
        self.at = end + 2;
        Ok(out)
    }

    fn values(&mut self, n: usize, depth: usize) -> Result<Vec<Value>, String> {
        // Each element takes at least three bytes, so a count past that is already a lie.
        if n > (self.buf.len() - self.at) / 3 {
            return self.fail("more elements announced than the reply holds");
        }
        (0..n).map(|_| self.value(depth + 1)).collect()
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > DEPTH_MAX {
            return self.fail("replies nested too deep");
        }
        let Some(&prefix) = self.buf.get(self.at) else {
            return self.fail("a reply cut short");
        };
        if !self.resp3 && !b"+-:$*".contains(&prefix) {
            return self.fail("a RESP3 type sent to a RESP2 client");
        }
        self.at += 1;
        Ok(match prefix {
            b'+' => Value::Simple(self.line()?.to_vec()),
            b'-' => {
                let text = self.line()?.to_vec();
                if text.is_empty() {
                    return self.fail("an empty error");
                }
                Value::Error(text)
            }
            b':' => Value::Int(self.number()?),
            // RESP3 has `_` for null, but its readers still accept RESP2's nulls.
            b'$' => match self.length(true)? {
                None => Value::Null,
                Some(n) => Value::Bulk(self.bytes(n)?),
            },
            b'*' => match self.length(true)? {
                None => Value::Null,
                Some(n) => Value::Array(self.values(n, depth)?),
            },
            b'_' => {
                if !self.line()?.is_empty() {
                    return self.fail("a null with a body");
                }
                Value::Null
            }
            b'#' => match self.line()? {
                b"t" => Value::Bool(true),
                b"f" => Value::Bool(false),
                _ => return self.fail("a malformed boolean"),
            },
            b',' => {
                let text = String::from_utf8_lossy(self.line()?).into_owned();
                match text.as_str() {
                    "inf" => Value::Double(f64::INFINITY),
                    "-inf" => Value::Double(f64::NEG_INFINITY),
                    "nan" => Value::Double(f64::NAN),
                    t if t.bytes().all(|b| b"0123456789+-.eE".contains(&b)) => match t.parse() {
                        Ok(v) => Value::Double(v),
                        Err(_) => return self.fail("a malformed double"),
                    },
                    _ => return self.fail("a malformed double"),
                }
            }
            b'(' => {
                let text = self.line()?.to_vec();
                let digits = text.strip_prefix(b"-").unwrap_or(&text);
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return self.fail("a malformed big number");
                }
                Value::BigNumber(text)
            }
            b'!' => {
                let n = self.length(false)?.unwrap_or(0);
                Value::BulkError(self.bytes(n)?)
            }
            b'=' => {
                let n = self.length(false)?.unwrap_or(0);
                let body = self.bytes(n)?;
                if body.len() < 4 || body[3] != b':' {
                    return self.fail("a verbatim string without its format");
                }
                Value::Verbatim(body)
            }
            b'%' => {
                let n = self.length(false)?.unwrap_or(0);
                let flat = self.values(n.saturating_mul(2), depth)?;
                let mut it = flat.into_iter();
                let mut pairs = Vec::with_capacity(n);
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Value::Map(pairs)
            }
            b'~' => Value::Set({
                let n = self.length(false)?.unwrap_or(0);
                self.values(n, depth)?
            }),
            b'>' => Value::Push({
                let n = self.length(false)?.unwrap_or(0);
                self.values(n, depth)?
            }),
            _ => {
                self.at -= 1;
                return self.fail("an unknown reply type");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resp2_replies() {
        let v = read_all(b"+OK\r\n:-3\r\n$3\r\na\r\n\r\n*2\r\n$-1\r\n*0\r\n", false).unwrap();
        assert_eq!(
            v,
            vec![
                Value::Simple(b"OK".to_vec()),
                Value::Int(-3),
                Value::Bulk(b"a\r\n".to_vec()),
                Value::Array(vec![Value::Null, Value::Array(vec![])]),
            ]
        );
    }

    #[test]
    fn reads_resp3_replies() {
        let v = read_all(
            b"%1\r\n+k\r\n,1.5\r\n~1\r\n#t\r\n>1\r\n_\r\n=6\r\ntxt:hi\r\n(-12\r\n,inf\r\n",
            true,
        )
        .unwrap();
        assert_eq!(v.len(), 6);
        assert_eq!(v[0].items().unwrap().len(), 2);
    }

    #[test]
    fn refuses_what_a_client_would_misread() {
        for (bad, resp3) in [
            (&b"+a\rb\r\n"[..], false),
            (b"$3\r\nab\r\n", false),
            (b"$2\r\nabc\r\n", false),
            (b"*2\r\n:1\r\n", false),
            (b":1x\r\n", false),
            (b"%1\r\n+k\r\n", true),
            (b"_\r\n", false),
            (b",1.5\r\n", false),
            (b"$-2\r\n", true),
            (b"-\r\n", false),
            (b"?\r\n", true),
            (b"+OK", false),
        ] {
            assert!(
                read_all(bad, resp3).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
