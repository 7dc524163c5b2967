//! A minimal, exact RESP client: commands go out as multibulk arrays, replies come back as
//! [`Reply`] trees that keep every distinction the wire makes.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One reply, as the server put it on the wire.
#[derive(Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null bulk).
    Nil,
    /// `*-1` (RESP2 null array).
    NilArray,
    /// `_` (RESP3 null).
    Null,
    Array(Vec<Reply>),
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    Push(Vec<Reply>),
    /// `,` doubles, kept as printed.
    Double(String),
    Bool(bool),
    Verbatim(String, Vec<u8>),
    BigNumber(String),
}

impl std::fmt::Debug for Reply {
    /// Bulk strings print as text, so failure reports are readable.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Simple(s) => write!(f, "+{s:?}"),
            Reply::Error(e) => write!(f, "-{e:?}"),
            Reply::Int(i) => write!(f, ":{i}"),
            Reply::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Nil => write!(f, "nil"),
            Reply::NilArray => write!(f, "nil-array"),
            Reply::Null => write!(f, "null"),
            Reply::Array(v) => f.debug_list().entries(v).finish(),
            Reply::Map(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
            Reply::Set(v) => write!(f, "~{v:?}"),
            Reply::Push(v) => write!(f, ">{v:?}"),
            Reply::Double(d) => write!(f, ",{d}"),
            Reply::Bool(b) => write!(f, "#{b}"),
            Reply::Verbatim(fmt, b) => write!(f, "={fmt}:{:?}", String::from_utf8_lossy(b)),
            Reply::BigNumber(n) => write!(f, "({n}"),
        }
    }
}

impl Reply {
    pub fn is_simple(&self, s: &str) -> bool {
        matches!(self, Reply::Simple(x) if x == s)
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The error text, panicking if this is not an error.
    pub fn err(&self) -> &str {
        match self {
            Reply::Error(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(i) => *i,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    /// Bulk, simple or verbatim string contents as UTF-8.
    pub fn text(&self) -> String {
        match self {
            Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(b).into_owned(),
            Reply::Simple(s) | Reply::Double(s) => s.clone(),
            other => panic!("expected a string, got {other:?}"),
        }
    }

    pub fn items(&self) -> &[Reply] {
        match self {
            Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => v,
            other => panic!("expected an array, got {other:?}"),
        }
    }

    /// Array elements as strings.
    pub fn strings(&self) -> Vec<String> {
        self.items().iter().map(Reply::text).collect()
    }

    pub fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }
}

/// A connection speaking RESP.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(port: u16) -> io::Result<Client> {
        Self::connect_addr(&format!("127.0.0.1:{port}"))
    }

    pub fn connect_addr(addr: &str) -> io::Result<Client> {
        Self::from_stream(TcpStream::connect(addr)?)
    }

    /// A client on a stream connected elsewhere (inside a network namespace: `crate::netns`).
    pub fn from_stream(stream: TcpStream) -> io::Result<Client> {
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    pub fn set_timeout(&mut self, t: Duration) {
        self.writer.set_read_timeout(Some(t)).unwrap();
    }

    /// Encodes `args` as a multibulk command.
    pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            let a = a.as_ref();
            out.extend(format!("${}\r\n", a.len()).bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.writer.write_all(&Self::encode(args)).expect("write");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// Sends one command and reads its reply, or the I/O error (a server still starting, or
    /// another process on the port, may reset the connection).
    pub fn try_call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.writer.write_all(&Self::encode(args))?;
        self.read()
    }

    /// Sends one command and reads its reply.
    /// One field of `INFO section` (the text after `field:`); panics, showing the section, if
    /// it is missing.
    pub fn info_field(&mut self, section: &str, field: &str) -> String {
        let text = self.call(&["INFO", section]).text();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{text}"))
            .trim()
            .to_string()
    }

    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send(args);
        self.read().expect("reply")
    }

    /// Reads one reply.
    pub fn read(&mut self) -> io::Result<Reply> {
        read_reply(&mut self.reader)
    }

    /// True once the server has closed the connection (reads return EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }

    pub fn shutdown_write(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Write);
    }

    /// Writes raw bytes, tolerating a connection the server already closed (a test that
    /// floods a server that cuts it off must not fail on EPIPE).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Reads raw bytes until the server closes the connection (EOF or reset). Panics if it is
    /// still open after the read timeout.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return out,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!(
                    "connection still open ({e}); read so far: {:?}",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
    }

    /// True if the server closes the connection within the read timeout (EOF or reset);
    /// false if the read times out with the connection still open. Bytes that arrive first
    /// are discarded.
    pub fn closes(&mut self) -> bool {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
}

/// Connects to `port`, writes `bytes` and returns everything the server sent until it closed
/// the connection. For comparing raw protocol behaviour byte for byte between two servers.
pub fn exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut c = Client::connect(port).expect("connect");
    c.set_timeout(Duration::from_secs(10));
    c.send_raw(bytes);
    c.read_to_close()
}

fn line(r: &mut impl BufRead) -> io::Result<String> {
    let mut buf = Vec::new();
    r.read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if buf.ends_with(b"\r\n") {
        buf.truncate(buf.len() - 2);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn bytes(r: &mut impl BufRead, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n + 2];
    r.read_exact(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn read_n(r: &mut impl BufRead, n: i64) -> io::Result<Vec<Reply>> {
    (0..n).map(|_| read_reply(r)).collect()
}

/// Reads one RESP2 or RESP3 reply.
pub fn read_reply(r: &mut impl BufRead) -> io::Result<Reply> {
    let l = line(r)?;
    let (kind, rest) = l.split_at(1);
    let num = || {
        rest.parse::<i64>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad length in {l:?}")))
    };
    Ok(match kind {
        "+" => Reply::Simple(rest.into()),
        "-" => Reply::Error(rest.into()),
        ":" => Reply::Int(num()?),
        "$" => match num()? {
            -1 => Reply::Nil,
            n => Reply::Bulk(bytes(r, n as usize)?),
        },
        "*" => match num()? {
            -1 => Reply::NilArray,
            n => Reply::Array(read_n(r, n)?),
        },
        "_" => Reply::Null,
        "," => Reply::Double(rest.into()),
        "#" => Reply::Bool(rest == "t"),
        "(" => Reply::BigNumber(rest.into()),
        "=" => {
            let body = bytes(r, num()? as usize)?;
            Reply::Verbatim(
                String::from_utf8_lossy(&body[..3]).into_owned(),
                body[4..].to_vec(),
            )
        }
        "%" => {
            let n = num()?;
            let mut pairs = Vec::new();
            for _ in 0..n {
                pairs.push((read_reply(r)?, read_reply(r)?));
            }
            Reply::Map(pairs)
        }
        "~" => Reply::Set(read_n(r, num()?)?),
        ">" => Reply::Push(read_n(r, num()?)?),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown reply type in {l:?}"),
            ))
        }
    })
}
