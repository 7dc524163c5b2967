//! Conversions between RESP and Lua values, exactly as Redis 7.0's `script_lua.c` does them.
//!
//! A command called from a script writes its reply as RESP (in the script's protocol, 2 unless
//! `redis.setresp(3)`), just as Redis runs it on a fake client, and [`reply_to_lua`] reads it
//! back: integers become numbers, bulk strings strings, nulls `false` (RESP2) or `nil` (RESP3),
//! status and error replies `{ok=...}` / `{err=...}`, RESP3 maps, sets, doubles, big numbers and
//! verbatim strings tables tagged `map`, `set`, `double`, `big_number`, `verbatim_string`.
//! [`lua_to_reply`] is the other way, for what a script returns: numbers are truncated to
//! integers, `false` is a null, tables are arrays up to their first `nil`.

use mlua::{Lua, Table, Value};
use usher_protocol::ReplySink;

fn line<'b>(buf: &'b [u8], pos: &mut usize) -> mlua::Result<&'b [u8]> {
    let start = *pos;
    let end = buf[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| start + i)
        .ok_or_else(|| mlua::Error::runtime("truncated reply"))?;
    *pos = end + 2;
    Ok(&buf[start..end])
}

fn int(bytes: &[u8]) -> mlua::Result<i64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| mlua::Error::runtime("bad integer in reply"))
}

fn bulk<'b>(buf: &'b [u8], pos: &mut usize, len: i64) -> &'b [u8] {
    let start = *pos;
    let end = (start + len as usize).min(buf.len());
    *pos = (end + 2).min(buf.len());
    &buf[start..end]
}

fn tagged(lua: &Lua, tag: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(tag, value)?;
    Ok(Value::Table(t))
}

/// Reads one RESP reply at `*pos` into a Lua value.
pub fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize) -> mlua::Result<Value> {
    let kind = *buf
        .get(*pos)
        .ok_or_else(|| mlua::Error::runtime("empty reply"))?;
    *pos += 1;
    let head = line(buf, pos)?;
    Ok(match kind {
        b'+' => tagged(lua, "ok", lua.create_string(head)?)?,
        b'-' => tagged(lua, "err", lua.create_string(head)?)?,
        b':' => Value::Number(int(head)? as f64),
        b'$' => {
            let n = int(head)?;
            if n < 0 {
                Value::Boolean(false)
            } else {
                Value::String(lua.create_string(bulk(buf, pos, n))?)
            }
        }
        b'*' | b'>' => {
            let n = int(head)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table_with_capacity(n as usize, 0)?;
            for i in 1..=n {
                t.raw_set(i, reply_to_lua(lua, buf, pos)?)?;
            }
            Value::Table(t)
        }
        b'%' => {
            let n = int(head)?;
            let m = lua.create_table_with_capacity(0, n as usize)?;
            for _ in 0..n {
                let k = reply_to_lua(lua, buf, pos)?;
                let v = reply_to_lua(lua, buf, pos)?;
                m.raw_set(k, v)?;
            }
            tagged(lua, "map", m)?
        }
        b'~' => {
            let n = int(head)?;
            let s = lua.create_table_with_capacity(0, n as usize)?;
            for _ in 0..n {
                let k = reply_to_lua(lua, buf, pos)?;
                s.raw_set(k, true)?;
            }
            tagged(lua, "set", s)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let text = String::from_utf8_lossy(head);
            let v = match text.as_ref() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                t => t.parse().unwrap_or(0.0),
            };
            tagged(lua, "double", v)?
        }
        b'(' => tagged(lua, "big_number", lua.create_string(head)?)?,
        b'=' => {
            let body = bulk(buf, pos, int(head)?);
            let (format, text) = if body.len() >= 4 {
                (&body[..3], &body[4..])
            } else {
                (&b"txt"[..], body)
            };
            let v = lua.create_table_with_capacity(0, 2)?;
            v.raw_set("format", lua.create_string(format)?)?;
            v.raw_set("string", lua.create_string(text)?)?;
            tagged(lua, "verbatim_string", v)?
        }
        b'|' => {
            // Attributes are dropped, as Redis's script client does; the reply follows.
            let n = int(head)?;
            for _ in 0..2 * n {
                reply_to_lua(lua, buf, pos)?;
            }
            reply_to_lua(lua, buf, pos)?
        }
        _ => return Err(mlua::Error::runtime("unknown reply type")),
    })
}

/// C's `(long long)` of a double on x86-64: truncation, and the "integer indefinite" value for
/// NaN and anything out of range (what Redis replies for `return 1e300`).
pub fn lua_number_to_i64(v: f64) -> i64 {
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// Text of an `{err=...}` or error reply as Redis writes it: one line.
fn error_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes what a script returned. `script_resp3` is the script's `redis.setresp` version: it
/// decides how booleans go out, as in Redis.
pub fn lua_to_reply(
    value: &Value,
    out: &mut dyn ReplySink,
    script_resp3: bool,
    depth: usize,
) -> mlua::Result<()> {
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(lua_number_to_i64(*n)),
        Value::Table(t) => table_to_reply(t, out, script_resp3, depth)?,
        _ => out.null(),
    }
    Ok(())
}

fn table_to_reply(
    t: &Table,
    out: &mut dyn ReplySink,
    script_resp3: bool,
    depth: usize,
) -> mlua::Result<()> {
    if depth > 1000 {
        out.error("ERR reached lua stack limit");
        return Ok(());
    }
    if let Value::String(e) = t.raw_get::<Value>("err")? {
        let text = error_text(&e.as_bytes());
        out.error(text.strip_prefix('-').unwrap_or(&text));
        return Ok(());
    }
    if let Value::String(ok) = t.raw_get::<Value>("ok")? {
        let text = String::from_utf8_lossy(&ok.as_bytes()).replace(['\r', '\n'], " ");
        out.simple(&text);
        return Ok(());
    }
    if let Value::Number(_) | Value::Integer(_) = t.raw_get::<Value>("double")? {
        let d: f64 = t.raw_get("double")?;
        out.double(d);
        return Ok(());
    }
    if let Value::String(b) = t.raw_get::<Value>("big_number")? {
        // The writer has no big-number frame: a bulk string, as RESP2 clients get it.
        out.bulk(&b.as_bytes());
        return Ok(());
    }
    if let Value::Table(v) = t.raw_get::<Value>("verbatim_string")? {
        let format: Option<mlua::String> = v.raw_get("format")?;
        let text: Option<mlua::String> = v.raw_get("string")?;
        if let (Some(format), Some(text)) = (format, text) {
            let f = String::from_utf8_lossy(&format.as_bytes()).into_owned();
            out.verbatim(&f, &text.as_bytes());
            return Ok(());
        }
    }
    if let Value::Table(m) = t.raw_get::<Value>("map")? {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(k, out, script_resp3, depth + 1)?;
            lua_to_reply(v, out, script_resp3, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(s) = t.raw_get::<Value>("set")? {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .map(|p| p.map(|(k, _)| k))
            .collect::<mlua::Result<_>>()?;
        out.set(keys.len());
        for k in &keys {
            lua_to_reply(k, out, script_resp3, depth + 1)?;
        }
        return Ok(());
    }
    let mut items = Vec::new();
    loop {
        let v: Value = t.raw_get(items.len() + 1)?;
        if v.is_nil() {
            break;
        }
        items.push(v);
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(v, out, script_resp3, depth + 1)?;
    }
    Ok(())
}
