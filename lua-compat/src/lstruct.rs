//! `struct`: Roberto Ierusalimschy's struct library as Redis bundles it (`pack`, `unpack`,
//! `size`), reimplemented in Rust. Native (little) endian and no alignment by default; `>`/`<`
//! set the byte order, `!n` the maximum alignment; `b B h H l L T i[n] I[n]` integers, `f d`
//! floats, `c[n]` fixed strings (`c0`: the whole string when packing, the previous unpacked
//! number as length when unpacking), `s` zero-terminated strings, `x` a padding byte.
//! Difference: integer sizes are limited to 8 bytes (the C library pads up to 32).

use crate::libs::called_as;
use mlua::{Lua, MultiValue, Table, Value};

fn err(m: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(m.into())
}

struct Fmt<'a> {
    /// For error texts: the calling function as Lua names it (`pack`, or `?` through
    /// `pcall`), asked of Lua only when an error needs it.
    lua: &'a Lua,
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
}

enum Item {
    Int { size: usize, signed: bool },
    Float,
    Double,
    Chars(usize),
    Zstr,
    Pad,
}

impl<'a> Fmt<'a> {
    fn new(f: &'a [u8], lua: &'a Lua) -> Fmt<'a> {
        Fmt {
            lua,
            f,
            i: 0,
            little: true,
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> usize {
        let start = self.i;
        while self.i < self.f.len() && self.f[self.i].is_ascii_digit() {
            self.i += 1;
        }
        std::str::from_utf8(&self.f[start..self.i])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    /// The next item and its size, handling the option characters in between.
    fn next(&mut self) -> mlua::Result<Option<(Item, usize)>> {
        while self.i < self.f.len() {
            let c = self.f[self.i];
            self.i += 1;
            let item = match c {
                b' ' => continue,
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'!' => {
                    self.align = self.number(8);
                    continue;
                }
                b'x' => (Item::Pad, 1),
                b'b' | b'B' => (
                    Item::Int {
                        size: 1,
                        signed: c == b'b',
                    },
                    1,
                ),
                b'h' | b'H' => (
                    Item::Int {
                        size: 2,
                        signed: c == b'h',
                    },
                    2,
                ),
                b'l' | b'L' | b'T' => (
                    Item::Int {
                        size: 8,
                        signed: c == b'l',
                    },
                    8,
                ),
                b'i' | b'I' => {
                    let n = self.number(4);
                    if n == 0 || n > 8 {
                        return Err(err(format!(
                            "bad argument #1 to '{}' (integral size {n} is larger than limit of 8)",
                            called_as(self.lua)
                        )));
                    }
                    (
                        Item::Int {
                            size: n,
                            signed: c == b'i',
                        },
                        n,
                    )
                }
                b'f' => (Item::Float, 4),
                b'd' => (Item::Double, 8),
                b'c' => {
                    let n = self.number(1);
                    (Item::Chars(n), n)
                }
                b's' => (Item::Zstr, 0),
                other => {
                    return Err(err(format!(
                        "bad argument #1 to '{}' (invalid format option '{}')",
                        called_as(self.lua),
                        other as char
                    )))
                }
            };
            return Ok(Some(item));
        }
        Ok(None)
    }

    /// Padding before a field of `size` at offset `len` (lstruct's `gettoalign`).
    fn pad(&self, len: usize, item: &Item, size: usize) -> usize {
        if size == 0 || matches!(item, Item::Chars(_)) {
            return 0;
        }
        let a = size.min(self.align).max(1);
        if !a.is_power_of_two() {
            return 0;
        }
        (a - (len & (a - 1))) & (a - 1)
    }
}

/// What `luaL_check*` says of a missing argument: lstruct's `pack` pushes a nil right after
/// its arguments (a mark for its buffer), so the first one past the end is "nil".
fn missing(arg: usize, nargs: usize, marked: bool) -> &'static str {
    if marked && arg == nargs + 1 {
        "nil"
    } else {
        "no value"
    }
}

/// `luaL_checknumber` of argument `arg` (1-based); `marked`: in `pack` (see [`missing`]).
fn num(lua: &Lua, args: &[Value], arg: usize, marked: bool) -> mlua::Result<f64> {
    let got = match args.get(arg - 1) {
        Some(Value::Integer(i)) => return Ok(*i as f64),
        Some(Value::Number(n)) => return Ok(*n),
        Some(Value::String(s)) => match s.to_str().ok().and_then(|t| t.trim().parse().ok()) {
            Some(n) => return Ok(n),
            None => "string",
        },
        Some(v) => v.type_name(),
        None => missing(arg, args.len(), marked),
    };
    Err(err(format!(
        "bad argument #{arg} to '{}' (number expected, got {got})",
        called_as(lua)
    )))
}

/// `luaL_checklstring` of argument `arg` (1-based): a number is taken as its text.
fn string(lua: &Lua, args: &[Value], arg: usize, marked: bool) -> mlua::Result<Vec<u8>> {
    let got = match args.get(arg - 1) {
        Some(Value::String(s)) => return Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => return Ok(i.to_string().into_bytes()),
        Some(Value::Number(n)) => return Ok(crate::cjson::fmt_g14(*n).into_bytes()),
        Some(v) => v.type_name(),
        None => missing(arg, args.len(), marked),
    };
    Err(err(format!(
        "bad argument #{arg} to '{}' (string expected, got {got})",
        called_as(lua)
    )))
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<Vec<u8>> {
    let args: Vec<Value> = args.into_iter().collect();
    // The format is checked before lstruct pushes its mark: a missing one is "no value".
    let fmt = match args.first() {
        None => {
            return Err(err(format!(
                "bad argument #1 to '{}' (string expected, got no value)",
                called_as(lua)
            )))
        }
        Some(_) => string(lua, &args, 1, false)?,
    };
    let mut f = Fmt::new(&fmt, lua);
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some((item, size)) = f.next()? {
        let pad = f.pad(out.len(), &item, size);
        out.resize(out.len() + pad, 0);
        match item {
            Item::Pad => out.push(0),
            Item::Int { size, .. } => {
                let n = num(lua, &args, arg + 1, true)?;
                arg += 1;
                let v = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let bytes = v.to_le_bytes();
                if f.little {
                    out.extend_from_slice(&bytes[..size]);
                } else {
                    out.extend(bytes[..size].iter().rev());
                }
            }
            Item::Float | Item::Double => {
                let n = num(lua, &args, arg + 1, true)?;
                arg += 1;
                let bytes = if matches!(item, Item::Float) {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if f.little {
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend(bytes.iter().rev());
                }
            }
            Item::Chars(n) => {
                let s = string(lua, &args, arg + 1, true)?;
                arg += 1;
                let n = if n == 0 { s.len() } else { n };
                if s.len() < n {
                    return Err(err(format!(
                        "bad argument #{arg} to '{}' (string too short)",
                        called_as(f.lua)
                    )));
                }
                out.extend_from_slice(&s[..n]);
            }
            Item::Zstr => {
                let s = string(lua, &args, arg + 1, true)?;
                arg += 1;
                if s.contains(&0) {
                    return Err(err(format!(
                        "bad argument #{arg} to '{}' (string contains zeros)",
                        called_as(f.lua)
                    )));
                }
                out.extend_from_slice(&s);
                out.push(0);
            }
        }
    }
    Ok(out)
}

fn unpack(lua: &Lua, fmt: &[u8], data: &[u8], init: usize) -> mlua::Result<MultiValue> {
    let short = || {
        err(format!(
            "bad argument #2 to '{}' (data string too short)",
            called_as(lua)
        ))
    };
    let mut f = Fmt::new(fmt, lua);
    let mut pos = init;
    let mut out = MultiValue::new();
    while let Some((item, size)) = f.next()? {
        pos += f.pad(pos, &item, size);
        match item {
            Item::Pad => pos += 1,
            Item::Int { size, signed } => {
                let b = data.get(pos..pos + size).ok_or_else(short)?;
                let mut v: u64 = 0;
                for i in 0..size {
                    let byte = if f.little { b[size - 1 - i] } else { b[i] };
                    v = (v << 8) | byte as u64;
                }
                let n = if signed && size < 8 {
                    let shift = 64 - 8 * size as u32;
                    ((v << shift) as i64 >> shift) as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                out.push_back(Value::Number(n));
                pos += size;
            }
            Item::Float | Item::Double => {
                let b = data.get(pos..pos + size).ok_or_else(short)?;
                let mut bytes = b.to_vec();
                if !f.little {
                    bytes.reverse();
                }
                let n = if size == 4 {
                    f32::from_le_bytes(bytes.try_into().expect("4 bytes")) as f64
                } else {
                    f64::from_le_bytes(bytes.try_into().expect("8 bytes"))
                };
                out.push_back(Value::Number(n));
                pos += size;
            }
            Item::Chars(n) => {
                let n = if n == 0 {
                    match out.pop_back() {
                        Some(Value::Number(k)) => k as usize,
                        _ => return Err(err("format 'c0' needs a previous size")),
                    }
                } else {
                    n
                };
                let b = data.get(pos..pos + n).ok_or_else(short)?;
                out.push_back(Value::String(lua.create_string(b)?));
                pos += n;
            }
            Item::Zstr => {
                let rest = data.get(pos..).ok_or_else(short)?;
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| err("unfinished string in data"))?;
                out.push_back(Value::String(lua.create_string(&rest[..end])?));
                pos += end + 1;
            }
        }
    }
    out.push_back(Value::Number(pos as f64 + 1.0));
    Ok(out)
}

/// Builds the `struct` table.
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| lua.create_string(pack(lua, args)?))?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let fmt = string(lua, &args, 1, false)?;
            let data = string(lua, &args, 2, false)?;
            let init = match args.get(2) {
                None | Some(Value::Nil) => 1,
                Some(_) => num(lua, &args, 3, false)? as i64,
            };
            unpack(lua, &fmt, &data, init.max(1) as usize - 1)
        })?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            let fmt = string(lua, &args, 1, false)?;
            let mut f = Fmt::new(&fmt, lua);
            let mut len = 0;
            while let Some((item, size)) = f.next()? {
                let option = match item {
                    Item::Zstr => "s",
                    Item::Chars(0) => "c0",
                    _ => "",
                };
                if !option.is_empty() {
                    return Err(err(format!(
                        "bad argument #1 to '{}' (option '{option}' has no fixed size)",
                        called_as(f.lua)
                    )));
                }
                len += f.pad(len, &item, size) + size;
            }
            Ok(len as f64)
        })?,
    )?;
    Ok(t)
}
