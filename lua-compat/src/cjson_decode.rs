//! `cjson.decode`, as lua-cjson 2.1.0 (Redis's copy) decodes with its default settings: the
//! same tokenizer (`json_next_token`: a Lua string's trailing NUL ends the document, `true`,
//! `false` and `null` matched as prefixes, Infinity, NaN, hexadecimal and `+` numbers read by
//! `strtod`), the same depth bound (1000, and `lua_checkstack` of 3 slots per object and 2 per
//! array), and the same error texts (`Expected comma or array end but found T_OBJ_END at
//! character 5`), pushing values on the Lua stack as it reads them.
//!
//! Decoded strings are assembled in a scratch userdata as long as the document (a decoded
//! string is never longer), so nothing here needs dropping when a Lua error (`luaL_error`,
//! memory) unwinds through these frames with `longjmp`.

use mlua::ffi;
use std::ffi::{c_char, CStr};
use std::os::raw::c_int;

extern "C" {
    fn strtod(s: *const c_char, end: *mut *mut c_char) -> f64;
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num,
    Bool,
    Null,
    Colon,
    Comma,
    End,
    Error,
}

impl Kind {
    /// `json_token_type_name`, as the error texts print it.
    fn name(self) -> &'static CStr {
        match self {
            Kind::ObjBegin => c"T_OBJ_BEGIN",
            Kind::ObjEnd => c"T_OBJ_END",
            Kind::ArrBegin => c"T_ARR_BEGIN",
            Kind::ArrEnd => c"T_ARR_END",
            Kind::Str => c"T_STRING",
            Kind::Num => c"T_NUMBER",
            Kind::Bool => c"T_BOOLEAN",
            Kind::Null => c"T_NULL",
            Kind::Colon => c"T_COLON",
            Kind::Comma => c"T_COMMA",
            Kind::End => c"T_END",
            Kind::Error => c"T_ERROR",
        }
    }
}

#[derive(Clone, Copy)]
struct Token {
    kind: Kind,
    /// Where the token starts (or, for an error, where it was found), 0-based.
    index: usize,
    number: f64,
    boolean: bool,
    /// The decoded string's length in the scratch buffer.
    len: usize,
    /// For `Kind::Error`: what was found.
    error: &'static CStr,
}

impl Token {
    fn new(kind: Kind, index: usize) -> Token {
        Token {
            kind,
            index,
            number: 0.0,
            boolean: false,
            len: 0,
            error: c"",
        }
    }
}

struct Parser {
    /// The document, with the NUL Lua keeps after every string at `data[len]`.
    data: *const u8,
    len: usize,
    pos: usize,
    depth: c_int,
    scratch: *mut u8,
    /// The state's `decode_max_depth` and `decode_invalid_numbers` settings.
    max_depth: c_int,
    invalid_numbers: bool,
}

impl Parser {
    /// The byte at `at`, NUL past the end (as the C reads the string's terminator).
    #[inline]
    fn at(&self, at: usize) -> u8 {
        if at < self.len {
            // Safety: within the string.
            unsafe { *self.data.add(at) }
        } else {
            0
        }
    }

    fn error(&self, what: &'static CStr) -> Token {
        let mut t = Token::new(Kind::Error, self.pos);
        t.error = what;
        t
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        word.iter()
            .enumerate()
            .all(|(i, &b)| self.at(self.pos + i) == b)
    }

    /// `json_is_invalid_number`: a form strict JSON refuses (`+`, hexadecimal, a leading
    /// zero, Infinity, NaN), which lua-cjson's default settings still read.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let tail = |w: &[u8]| {
            w.iter()
                .enumerate()
                .all(|(i, &b)| self.at(p + i).eq_ignore_ascii_case(&b))
        };
        tail(b"inf") || tail(b"nan")
    }

    /// `json_next_number_token`: `strtod` from here. A plain decimal is parsed in Rust (both
    /// round correctly, so the value is the same); other forms go to the C library.
    fn number(&mut self) -> Token {
        let mut t = Token::new(Kind::Num, self.pos);
        let (value, used) = match plain_decimal(self) {
            Some(used) => {
                // Safety: `used` bytes from `pos` are ASCII digits, signs, dots and exponents.
                let text = unsafe {
                    std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                        self.data.add(self.pos),
                        used,
                    ))
                };
                (text.parse::<f64>().unwrap_or(f64::NAN), used)
            }
            None => {
                let mut end: *mut c_char = std::ptr::null_mut();
                // Safety: the document is NUL-terminated (a Lua string).
                let v = unsafe { strtod(self.data.add(self.pos).cast(), &mut end) };
                (v, end as usize - self.data as usize - self.pos)
            }
        };
        if used == 0 {
            return self.error(c"invalid number");
        }
        t.number = value;
        self.pos += used;
        t
    }

    /// `json_next_string_token`: decodes into the scratch buffer.
    fn string(&mut self) -> Token {
        let start = self.pos;
        self.pos += 1;
        let mut out = 0usize;
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return self.error(c"unexpected end of string");
            }
            let byte = if ch == b'\\' {
                match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    b'u' => match self.unicode_escape(out) {
                        Some(n) => {
                            out += n;
                            continue;
                        }
                        None => return self.error(c"invalid unicode escape code"),
                    },
                    _ => return self.error(c"invalid escape code"),
                }
            } else {
                ch
            };
            if ch == b'\\' {
                self.pos += 1;
            }
            // Safety: the scratch holds `len` bytes and a decoded string is never longer
            // than its JSON.
            unsafe { *self.scratch.add(out) = byte };
            out += 1;
            self.pos += 1;
        }
        self.pos += 1;
        let mut t = Token::new(Kind::Str, start);
        t.len = out;
        t
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = (self.at(at + i) as char).to_digit(16)?;
            Some(acc << 4 | d)
        })
    }

    /// `json_append_unicode_escape`: `\uXXXX`, or a surrogate pair of two, as UTF-8 at
    /// `out`; the bytes written, or None for an invalid escape.
    fn unicode_escape(&mut self, out: usize) -> Option<usize> {
        let mut code = self.hex4(self.pos + 2)?;
        let mut escape_len = 6;
        if code & 0xF800 == 0xD800 {
            if code & 0x400 != 0 {
                return None;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.pos + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            escape_len = 12;
        }
        let mut utf8 = [0u8; 4];
        let n = match code {
            0..=0x7F => {
                utf8[0] = code as u8;
                1
            }
            0x80..=0x7FF => {
                utf8[0] = 0xC0 | (code >> 6) as u8;
                utf8[1] = 0x80 | (code & 0x3F) as u8;
                2
            }
            0x800..=0xFFFF => {
                utf8[0] = 0xE0 | (code >> 12) as u8;
                utf8[1] = 0x80 | ((code >> 6) & 0x3F) as u8;
                utf8[2] = 0x80 | (code & 0x3F) as u8;
                3
            }
            _ => {
                utf8[0] = 0xF0 | (code >> 18) as u8;
                utf8[1] = 0x80 | ((code >> 12) & 0x3F) as u8;
                utf8[2] = 0x80 | ((code >> 6) & 0x3F) as u8;
                utf8[3] = 0x80 | (code & 0x3F) as u8;
                4
            }
        };
        // Safety: an escape of 6 (or 12) bytes decodes to at most 3 (or 4).
        unsafe { std::ptr::copy_nonoverlapping(utf8.as_ptr(), self.scratch.add(out), n) };
        self.pos += escape_len;
        Some(n)
    }

    /// `json_next_token`.
    fn next(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let ch = self.at(self.pos);
        let single = match ch {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            _ => None,
        };
        if let Some(kind) = single {
            self.pos += 1;
            return Token::new(kind, index);
        }
        match ch {
            0 => return Token::new(Kind::End, index),
            b'"' => return self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    return self.error(c"invalid number");
                }
                return self.number();
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {}
            _ => return self.error(c"invalid token"),
        }
        for (word, kind, value) in [
            (&b"true"[..], Kind::Bool, true),
            (b"false", Kind::Bool, false),
            (b"null", Kind::Null, false),
        ] {
            if self.starts_with(word) {
                self.pos += word.len();
                let mut t = Token::new(kind, index);
                t.boolean = value;
                return t;
            }
        }
        if self.invalid_numbers && self.is_invalid_number() {
            return self.number();
        }
        self.error(c"invalid token")
    }
}

/// The length of a plain decimal at the parser's position (`-?digits[.digits][e[+-]digits]`,
/// as `strtod` would take it), or None for any other form (left to `strtod`).
fn plain_decimal(p: &Parser) -> Option<usize> {
    let mut i = p.pos;
    if p.at(i) == b'-' {
        i += 1;
    }
    let digits_from = i;
    while p.at(i).is_ascii_digit() {
        i += 1;
    }
    if i == digits_from {
        return None; // "-inf", "-nan", "-.5", or nothing: strtod decides.
    }
    // "0x": hexadecimal, strtod's.
    if p.at(digits_from) == b'0' && p.at(digits_from + 1) | 0x20 == b'x' {
        return None;
    }
    if p.at(i) == b'.' {
        i += 1;
        while p.at(i).is_ascii_digit() {
            i += 1;
        }
    }
    if p.at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(p.at(j), b'+' | b'-') {
            j += 1;
        }
        if p.at(j).is_ascii_digit() {
            while p.at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    Some(i - p.pos)
}

/// `json_throw_parse_error`.
unsafe fn parse_error(l: *mut ffi::lua_State, expected: &CStr, t: &Token) -> ! {
    let found = if t.kind == Kind::Error {
        t.error
    } else {
        t.kind.name()
    };
    ffi::luaL_error(
        l,
        c"Expected %s but found %s at character %d".as_ptr(),
        expected.as_ptr(),
        found.as_ptr(),
        (t.index + 1) as c_int,
    );
    unreachable!("luaL_error does not return")
}

/// `json_decode_descend`.
unsafe fn descend(l: *mut ffi::lua_State, p: &mut Parser, slots: c_int) {
    p.depth += 1;
    if p.depth <= p.max_depth && ffi::lua_checkstack(l, slots) != 0 {
        return;
    }
    ffi::luaL_error(
        l,
        c"Found too many nested data structures (%d) at character %d".as_ptr(),
        p.depth,
        p.pos as c_int,
    );
}

unsafe fn object(l: *mut ffi::lua_State, p: &mut Parser) {
    descend(l, p, 3);
    ffi::lua_createtable(l, 0, 0);
    let mut t = p.next();
    if t.kind == Kind::ObjEnd {
        p.depth -= 1;
        return;
    }
    loop {
        if t.kind != Kind::Str {
            parse_error(l, c"object key string", &t);
        }
        ffi::lua_pushlstring(l, p.scratch.cast(), t.len);
        t = p.next();
        if t.kind != Kind::Colon {
            parse_error(l, c"colon", &t);
        }
        t = p.next();
        value(l, p, &t);
        ffi::lua_rawset(l, -3);
        t = p.next();
        if t.kind == Kind::ObjEnd {
            p.depth -= 1;
            return;
        }
        if t.kind != Kind::Comma {
            parse_error(l, c"comma or object end", &t);
        }
        t = p.next();
    }
}

unsafe fn array(l: *mut ffi::lua_State, p: &mut Parser) {
    descend(l, p, 2);
    ffi::lua_createtable(l, 0, 0);
    let mut t = p.next();
    if t.kind == Kind::ArrEnd {
        p.depth -= 1;
        return;
    }
    let mut i: ffi::lua_Integer = 1;
    loop {
        value(l, p, &t);
        ffi::lua_rawseti(l, -2, i);
        t = p.next();
        if t.kind == Kind::ArrEnd {
            p.depth -= 1;
            return;
        }
        if t.kind != Kind::Comma {
            parse_error(l, c"comma or array end", &t);
        }
        t = p.next();
        i += 1;
    }
}

/// `json_process_value`.
unsafe fn value(l: *mut ffi::lua_State, p: &mut Parser, t: &Token) {
    match t.kind {
        Kind::Str => {
            ffi::lua_pushlstring(l, p.scratch.cast(), t.len);
        }
        Kind::Num => ffi::lua_pushnumber(l, t.number),
        Kind::Bool => ffi::lua_pushboolean(l, c_int::from(t.boolean)),
        Kind::ObjBegin => object(l, p),
        Kind::ArrBegin => array(l, p),
        Kind::Null => ffi::lua_pushlightuserdata(l, std::ptr::null_mut()),
        _ => parse_error(l, c"value", t),
    }
}

/// `cjson.decode(text)`.
pub unsafe extern "C-unwind" fn decode_c(l: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let mut len = 0usize;
    let data = ffi::luaL_checklstring(l, 1, &mut len).cast::<u8>();
    if len >= 2 && (*data == 0 || *data.add(1) == 0) {
        ffi::luaL_error(l, c"JSON parser does not support UTF-16 or UTF-32".as_ptr());
    }
    let scratch = ffi::lua_newuserdata(l, len.max(1)).cast::<u8>();
    let cfg = crate::cjson_config::get();
    let mut p = Parser {
        data,
        len,
        pos: 0,
        depth: 0,
        scratch,
        max_depth: cfg.decode_max_depth,
        invalid_numbers: cfg.decode_invalid_numbers,
    };
    let t = p.next();
    value(l, &mut p, &t);
    let t = p.next();
    if t.kind != Kind::End {
        parse_error(l, c"the end", &t);
    }
    1
}
