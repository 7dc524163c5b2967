//! `cmsgpack`: Redis's bundled lua-cmsgpack 0.4.0, reimplemented in Rust with the same
//! encoding choices, so payloads are byte-identical to Redis's.
//!
//! `pack(...)` encodes each argument: integral numbers as the smallest MessagePack integer,
//! other numbers as float32 when exact, else float64; strings as fixstr/str8/str16/str32;
//! tables without holes keyed 1..n as arrays, other tables as maps (in Lua's table order);
//! nesting deeper than 16 and unsupported types as nil. `unpack(s)` returns every object in
//! `s`; `unpack_one(s [, offset])` returns the next offset (-1 at the end) and one object.

use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -(1 << 31) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    // IS_INT64_EQUIVALENT: finite and equal to its int64 truncation.
    if n.is_finite() && (n as i64) as f64 == n {
        return encode_int(n as i64, out);
    }
    let f = n as f32;
    if f as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(len: usize, fix: u8, fix_max: usize, codes: [u8; 2], out: &mut Vec<u8>) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(codes[0]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(codes[1]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// lua-cmsgpack's `table_is_an_array`: every key a positive integer and no holes.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut count, mut max) = (0usize, 0usize);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n <= 0.0 || n.floor() != n {
            return Ok(None);
        }
        count += 1;
        max = max.max(n as usize);
    }
    Ok((max == count).then_some(count))
}

fn encode(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(*i as f64, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() < 32 {
                out.push(0xa0 | b.len() as u8);
            } else if b.len() <= 0xff {
                out.extend_from_slice(&[0xd9, b.len() as u8]);
            } else {
                encode_len(b.len(), 0, 0, [0xda, 0xdb], out);
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MAX_NESTING => match array_len(t)? {
            Some(n) => {
                encode_len(n, 0x90, 15, [0xdc, 0xdd], out);
                for i in 1..=n {
                    encode(&t.raw_get::<Value>(i)?, level + 1, out)?;
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                encode_len(pairs.len(), 0x80, 15, [0xde, 0xdf], out);
                for (k, val) in &pairs {
                    encode(k, level + 1, out)?;
                    encode(val, level + 1, out)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The Lua stack slots Redis's decoder would hold at this point (each open table, and
    /// the array index or map key pushed under the value being decoded): past Lua's
    /// `LUAI_MAXCSTACK` it fails with a stack overflow, as Redis's does, where recursing on
    /// without a bound overflowed the worker thread's stack and aborted the server.
    slots: usize,
}

/// Lua 5.1's `LUAI_MAXCSTACK`: the most slots `lua_checkstack` grants a C function.
const MAX_STACK_SLOTS: usize = 8000;

fn missing() -> mlua::Error {
    mlua::Error::runtime("Missing bytes in input.")
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(missing)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let t = self.take(1)?[0];
        Ok(match t {
            0x00..=0x7f => Value::Number(t as f64),
            0xe0..=0xff => Value::Number(t as i8 as f64),
            0x80..=0x8f => self.map(lua, (t & 0x0f) as usize)?,
            0x90..=0x9f => self.array(lua, (t & 0x0f) as usize)?,
            0xa0..=0xbf => self.string(lua, (t & 0x1f) as usize)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 | 0xd9 => {
                let n = self.be(1)? as usize;
                self.string(lua, n)?
            }
            0xc5 | 0xda => {
                let n = self.be(2)? as usize;
                self.string(lua, n)?
            }
            0xc6 | 0xdb => {
                let n = self.be(4)? as usize;
                self.string(lua, n)?
            }
            0xca => Value::Number(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xcc => Value::Number(self.be(1)? as f64),
            0xcd => Value::Number(self.be(2)? as f64),
            0xce => Value::Number(self.be(4)? as f64),
            0xcf => Value::Number(self.be(8)? as f64),
            0xd0 => Value::Number(self.be(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.be(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.be(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.be(8)? as i64 as f64),
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(lua, n)?
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(lua, n)?
            }
            0xde => {
                let n = self.be(2)? as usize;
                self.map(lua, n)?
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(lua, n)?
            }
            _ => return Err(mlua::Error::runtime("Bad data format in input.")),
        })
    }

    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let bytes = self.take(n)?;
        Ok(Value::String(lua.create_string(bytes)?))
    }

    /// Opens a table as Redis's decoder does: one slot for it, and its `luaL_checkstack`.
    fn open_table(&mut self, function: &str) -> mlua::Result<()> {
        self.slots += 1;
        if self.slots + 1 > MAX_STACK_SLOTS {
            return Err(mlua::Error::runtime(format!(
                "stack overflow (in function {function})"
            )));
        }
        Ok(())
    }

    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        self.open_table("mp_decode_to_lua_array")?;
        let t = lua.create_table_with_capacity(n.min(1 << 16), 0)?;
        self.slots += 1; // the index
        for i in 1..=n {
            t.raw_set(i, self.value(lua)?)?;
        }
        self.slots -= 2;
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        self.open_table("mp_decode_to_lua_hash")?;
        let t = lua.create_table_with_capacity(0, n.min(1 << 16))?;
        for _ in 0..n {
            let k = self.value(lua)?;
            self.slots += 1; // the key, under the value
            let v = self.value(lua)?;
            self.slots -= 1;
            if !k.is_nil() {
                t.raw_set(k, v)?;
            }
        }
        self.slots -= 1;
        Ok(Value::Table(t))
    }
}

/// Builds the `cmsgpack` table.
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let bytes = s.as_bytes();
            let mut r = Reader {
                buf: &bytes,
                pos: 0,
                slots: 0,
            };
            let mut out = MultiValue::new();
            while r.pos < bytes.len() {
                // The argument, and every object decoded so far, stay on the stack.
                r.slots = 1 + out.len();
                out.push_back(r.value(lua)?);
            }
            Ok(out)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| {
            let bytes = s.as_bytes();
            let mut r = Reader {
                buf: &bytes,
                pos: offset.unwrap_or(0).max(0) as usize,
                slots: 2, // the string and the offset
            };
            let v = r.value(lua)?;
            let next = if r.pos >= bytes.len() {
                -1
            } else {
                r.pos as i64
            };
            Ok((next, v))
        })?,
    )?;
    Ok(t)
}
