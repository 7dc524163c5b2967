//! The append-only file's formats, as Redis 7.0 writes them: commands as RESP arrays of bulk
//! strings, and the multi-part layout's manifest (`appenddirname/appendfilename.manifest`)
//! naming one base file (an RDB with the `aof-base` aux field, or a RESP file), the
//! incremental files replayed after it in order, and history files a rewrite has replaced.
//!
//! This module only encodes and decodes; the server's persistence driver decides what is
//! written when (`server/src/persistence/aof.rs`).

use std::fmt::Write as _;

/// Appends `args` as one RESP command (`*N\r\n$len\r\narg\r\n...`).
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut head = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(head.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(head.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// What kind of file a manifest line names (Redis's `AOF_FILE_TYPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Base,
    Incr,
    History,
}

impl FileType {
    fn letter(self) -> char {
        match self {
            FileType::Base => 'b',
            FileType::Incr => 'i',
            FileType::History => 'h',
        }
    }
}

/// One line of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileType,
}

/// The manifest: Redis's `aofManifest`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    /// Incremental files, replayed in this order after the base.
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
}

/// Redis's `AOF_MANIFEST_MAX_LINE` style bound on one line.
const LINE_MAX: usize = 1024;

impl Manifest {
    /// Parses a manifest; errors are Redis's texts where it has one.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for raw in text.split(|&b| b == b'\n') {
            if raw.is_empty() {
                continue;
            }
            if raw.len() > LINE_MAX {
                return Err("The AOF manifest file contains too long line".into());
            }
            let line = std::str::from_utf8(raw)
                .map_err(|_| "Invalid AOF manifest file format".to_string())?
                .trim_end_matches('\r');
            if line.starts_with('#') {
                continue;
            }
            let words = split_words(line)?;
            if words.len() % 2 != 0 {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                match pair[0].as_str() {
                    "file" => name = Some(pair[1].clone()),
                    "seq" => seq = pair[1].parse::<u64>().ok(),
                    "type" => {
                        kind = match pair[1].as_str() {
                            "b" => Some(FileType::Base),
                            "i" => Some(FileType::Incr),
                            "h" => Some(FileType::History),
                            _ => None,
                        }
                    }
                    _ => {} // Redis ignores keys it does not know (forward compatibility).
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') {
                return Err("File can't be a path, just a filename".into());
            }
            let file = AofFile { name, seq, kind };
            match kind {
                FileType::Base => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base = Some(file);
                }
                FileType::Incr => {
                    if m.incrs.last().is_some_and(|l| l.seq >= file.seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incrs.push(file);
                }
                FileType::History => m.history.push(file),
            }
        }
        if m.base.is_none() && m.incrs.is_empty() {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(m)
    }

    /// The manifest's text, as Redis writes it: base, then history, then incremental files.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let files = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter());
        for f in files {
            let name = if f.name.contains([' ', '"', '\\']) || f.name.is_empty() {
                quote(&f.name)
            } else {
                f.name.clone()
            };
            let _ = writeln!(s, "file {name} seq {} type {}", f.seq, f.kind.letter());
        }
        s
    }

    /// Files a loader reads, in order.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(self.incrs.iter())
    }

    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.last().map_or(1, |f| f.seq + 1)
    }

    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(1, |f| f.seq + 1)
    }
}

/// Redis's `sdssplitargs` subset the manifest needs: words, and double-quoted names.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            return Ok(words);
        };
        let mut w = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => w.push(chars.next().ok_or("Invalid AOF manifest file format")?),
                    Some(c) => w.push(c),
                    None => return Err("Invalid AOF manifest file format".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        words.push(w);
    }
}

fn quote(name: &str) -> String {
    let mut s = String::from("\"");
    for c in name.chars() {
        if c == '"' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Why a RESP command stream could not be read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The stream ends inside a command (a torn tail): `offset` is where that command
    /// starts, i.e. the length of the valid prefix.
    Truncated { offset: usize },
    /// Bytes that are not a command: `offset` is where the bad command starts.
    Corrupt { offset: usize, msg: &'static str },
}

/// Reads the command starting at `buf[at..]`: its arguments (as `(start, end)` spans of
/// `buf`) and the offset just past it.
pub fn read_command(buf: &[u8], at: usize) -> Result<(Vec<(usize, usize)>, usize), ReadError> {
    let corrupt = |msg| ReadError::Corrupt { offset: at, msg };
    let truncated = ReadError::Truncated { offset: at };
    let (n, mut pos) = read_header(buf, at, b'*').map_err(|e| e.unwrap_or(truncated.clone()))?;
    if n < 1 {
        return Err(corrupt("Bad file format reading the append only file"));
    }
    let mut args = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let (len, p) = read_header(buf, pos, b'$').map_err(|e| e.unwrap_or(truncated.clone()))?;
        let end = p + len as usize;
        if end + 2 > buf.len() {
            return Err(truncated);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(corrupt("Bad file format reading the append only file"));
        }
        args.push((p, end));
        pos = end + 2;
    }
    Ok((args, pos))
}

/// Reads `<prefix><int>\r\n` at `at`; `Err(None)` when the buffer ends first.
fn read_header(buf: &[u8], at: usize, prefix: u8) -> Result<(i64, usize), Option<ReadError>> {
    let corrupt = Some(ReadError::Corrupt {
        offset: at,
        msg: "Bad file format reading the append only file",
    });
    let Some(&first) = buf.get(at) else {
        return Err(None);
    };
    if first != prefix {
        return Err(corrupt);
    }
    let Some(nl) = buf[at..].iter().take(32).position(|&b| b == b'\n') else {
        return if buf.len() - at < 32 {
            Err(None)
        } else {
            Err(corrupt)
        };
    };
    let line = &buf[at + 1..at + nl];
    let line = line.strip_suffix(b"\r").ok_or(corrupt.clone())?;
    let n = std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|&n| (0..=512 * 1024 * 1024).contains(&n))
        .ok_or(corrupt)?;
    Ok((n, at + nl + 1))
}

/// The RDB magic a base file starts with when it is an RDB (`aof-use-rdb-preamble`).
pub fn is_rdb(bytes: &[u8]) -> bool {
    bytes.starts_with(b"REDIS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_redis_text() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 1);
        assert_eq!(m.render(), text);
    }

    #[test]
    fn manifest_rejects_garbage_and_paths() {
        assert!(Manifest::parse(b"file a seq x type b\n").is_err());
        assert!(Manifest::parse(b"file ../a seq 1 type b\n").is_err());
        assert!(Manifest::parse(b"").is_err());
    }

    #[test]
    fn commands_decode_and_torn_tails_are_found() {
        let mut buf = Vec::new();
        encode_command(&mut buf, &["SET", "k", "v"]);
        let whole = buf.len();
        encode_command(&mut buf, &["DEL", "k"]);
        let (args, end) = read_command(&buf, 0).unwrap();
        let args: Vec<&[u8]> = args.iter().map(|&(s, e)| &buf[s..e]).collect();
        assert_eq!(args, vec![&b"SET"[..], b"k", b"v"]);
        assert_eq!(end, whole);
        for cut in whole + 1..buf.len() {
            assert_eq!(
                read_command(&buf[..cut], whole).unwrap_err(),
                ReadError::Truncated { offset: whole }
            );
        }
        let mut bad = buf.clone();
        bad[whole] = b'x';
        assert!(matches!(
            read_command(&bad, whole),
            Err(ReadError::Corrupt { offset, .. }) if offset == whole
        ));
    }
}
