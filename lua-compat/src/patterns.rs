//! Lua 5.1's pattern matching (`string.find`, `string.match`, `string.gmatch`, `string.gfind`,
//! `string.gsub`), ported from `lstrlib.c` so that a script's pattern can neither crash the
//! server nor outrun `SCRIPT KILL`.
//!
//! Lua 5.1's matcher recurses once per pattern item with no bound, on the C stack, and backtracks
//! without ever returning to the instruction hook. In Redis 7.0.15, `string.find(s,
//! string.rep('a?', 200000))` overflows the stack and the server dies; usher's worker did the
//! same. A pattern such as `string.rep('a?', 60) .. string.rep('a', 60)` backtracks for
//! longer than the age of the universe, and neither server could stop it. This port keeps
//! every result and error text of the C code and adds three things:
//! - the recursion grows its stack on the heap ([`stacker`]) and stops at
//!   [`MAX_MATCH_DEPTH`] levels with Lua 5.2's `pattern too complex` (Redis's Lua crashes a
//!   little below that depth, so every pattern Redis's Lua completes completes here);
//! - every [`CHECK_EVERY`] steps it asks the engine whether the script must stop (`SCRIPT
//!   KILL`, `FUNCTION KILL`, shutdown), and marks the script busy past `busy-reply-threshold`
//!   as the instruction hook does;
//! - a plain `find` uses a linear-time substring search instead of `lmemfind`'s quadratic one.
//!
//! The functions are plain Lua C functions: they raise errors with `luaL_error`/`lua_error`
//! only when no Rust value that needs a drop is alive, and `gsub` collects its result in a
//! `luaL_Buffer`, on the Lua stack, so a replacement function that raises loses nothing.

use mlua::ffi;
use std::ffi::{c_int, CStr};
use std::mem::MaybeUninit;

const MAXCAPTURES: usize = 32;
const CAP_UNFINISHED: isize = -1;
const CAP_POSITION: isize = -2;
const L_ESC: u8 = b'%';

/// The deepest a match may recurse (checked where the stack is, every [`GROW_EVERY`] levels,
/// so a multiple of it: 200,192, the first level refused). Redis 7.0.15's Lua overflows its 8 MiB stack between
/// 150,000 and 200,000 levels (`string.rep('a?', n)` against `n` a's); past this one usher
/// answers an error instead.
pub const MAX_MATCH_DEPTH: u32 = 782 * GROW_EVERY;
/// Matcher steps between two checks for a stop: about a millisecond of matching.
const CHECK_EVERY: u32 = 1 << 16;
/// Levels between two checks of the stack left, and the stack each check asks for: 256 levels
/// of the matcher's frames fit in far less than the red zone.
const GROW_EVERY: u32 = 256;
const RED_ZONE: usize = 256 << 10;
const STACK_SEGMENT: usize = 4 << 20;

/// Why a match ended without an answer.
enum Halt {
    /// A malformed pattern, or one too deep: raised as `luaL_error` raises it.
    Error(&'static CStr),
    /// The engine asks the script to stop: raised as the instruction hook raises it.
    Stop(&'static str),
}

/// What the matcher's steps return, in a register as C's pointers are: where the match ends,
/// or one of these two (the reason for [`HALTED`] waits in [`MatchState::halt`]). Every caller
/// passes on any answer but [`NO_MATCH`], so a halt travels up as a match would.
const NO_MATCH: usize = usize::MAX;
const HALTED: usize = usize::MAX - 1;

/// `repr(C)` with the captures last: in Rust's own layout LLVM merged the zeroing of the
/// counters around the (uninitialised) captures into one 528-byte memset per call.
#[repr(C)]
struct MatchState<'a> {
    l: *mut ffi::lua_State,
    src: &'a [u8],
    /// The pattern up to its first NUL: Lua 5.1's matcher reads it as a C string.
    pat: &'a [u8],
    level: usize,
    depth: u32,
    steps: u32,
    halt: Option<Halt>,
    /// Each capture's start in `src` and its length, or `CAP_UNFINISHED` / `CAP_POSITION`;
    /// only the first `level` are set (left unset, as C leaves them, not to clear 512 bytes
    /// on every call).
    capture: MaybeUninit<[(usize, isize); MAXCAPTURES]>,
}

impl<'a> MatchState<'a> {
    fn new(l: *mut ffi::lua_State, src: &'a [u8], pat: &'a [u8]) -> Self {
        MatchState {
            l,
            src,
            pat,
            level: 0,
            capture: MaybeUninit::uninit(),
            depth: 0,
            steps: 0,
            halt: None,
        }
    }

    /// Capture `i` (below `level`).
    #[inline(always)]
    fn cap(&self, i: usize) -> (usize, isize) {
        debug_assert!(i < self.level);
        // Safety: captures below `level` are written before `level` grows past them.
        unsafe { *self.capture.as_ptr().cast::<(usize, isize)>().add(i) }
    }

    #[inline(always)]
    fn put_cap(&mut self, i: usize, capture: (usize, isize)) {
        assert!(i < MAXCAPTURES);
        // Safety: within the array, checked above.
        unsafe {
            self.capture
                .as_mut_ptr()
                .cast::<(usize, isize)>()
                .add(i)
                .write(capture)
        }
    }

    #[inline(always)]
    fn set_cap_len(&mut self, i: usize, len: isize) {
        let (init, _) = self.cap(i);
        self.put_cap(i, (init, len));
    }

    /// Runs a match from `s`, with the pattern's start: where it ends, [`NO_MATCH`], or what
    /// stopped it.
    fn run(&mut self, s: usize) -> Result<Option<usize>, Halt> {
        self.level = 0;
        match self.do_match(s, 0) {
            NO_MATCH => Ok(None),
            HALTED => Err(self
                .halt
                .take()
                .unwrap_or(Halt::Error(c"pattern too complex"))),
            end => Ok(Some(end)),
        }
    }

    #[cold]
    fn fail(&mut self, halt: Halt) -> usize {
        self.halt = Some(halt);
        HALTED
    }

    /// The pattern byte at `i` (at most its length: its end reads as the C string's
    /// terminator). Unchecked, as C reads it: every read of lstrlib.c's matcher stays within
    /// the pattern and its terminator, and the profile of a BullMQ-style `match` spent a
    /// quarter of the matcher's instructions on bounds checks.
    #[inline(always)]
    fn p(&self, i: usize) -> u8 {
        debug_assert!(i <= self.pat.len());
        #[cfg(test)]
        assert!(
            i <= self.pat.len(),
            "pattern read at {i} of {}",
            self.pat.len()
        );
        // Safety: `pat` lies in a Lua string (or is a prefix of one ending at a NUL), and a
        // Lua string is always followed by a NUL, so index `len` is readable and reads 0.
        unsafe { *self.pat.as_ptr().add(i) }
    }

    /// The subject byte at `i` (at most its length: Lua strings end with a NUL the C code
    /// reads).
    #[inline(always)]
    fn s(&self, i: usize) -> u8 {
        debug_assert!(i <= self.src.len());
        #[cfg(test)]
        assert!(
            i <= self.src.len(),
            "subject read at {i} of {}",
            self.src.len()
        );
        // Safety: as for `p`: `src` is a whole Lua string.
        unsafe { *self.src.as_ptr().add(i) }
    }

    /// Counts a step; false when the script must stop (the reason is in `halt`).
    #[inline(always)]
    fn tick(&mut self) -> bool {
        self.steps = self.steps.wrapping_add(1);
        !self.steps.is_multiple_of(CHECK_EVERY) || self.check_stop()
    }

    #[cold]
    #[inline(never)]
    fn check_stop(&mut self) -> bool {
        // Safety: `l` is the running thread of an engine's state.
        match unsafe { crate::engine::stop_requested(self.l) } {
            Some(msg) => {
                self.halt = Some(Halt::Stop(msg));
                false
            }
            None => true,
        }
    }

    /// Where the class at `p` ends, or [`HALTED`] for a malformed one.
    #[inline(always)]
    fn class_end(&mut self, mut p: usize) -> usize {
        let c = self.p(p);
        p += 1;
        match c {
            L_ESC => {
                if self.p(p) == 0 {
                    return self.fail(Halt::Error(c"malformed pattern (ends with '%')"));
                }
                p + 1
            }
            b'[' => {
                if self.p(p) == b'^' {
                    p += 1;
                }
                loop {
                    if self.p(p) == 0 {
                        return self.fail(Halt::Error(c"malformed pattern (missing ']')"));
                    }
                    let c = self.p(p);
                    p += 1;
                    if c == L_ESC && self.p(p) != 0 {
                        p += 1; // skip escapes (e.g. `%]`)
                    }
                    if self.p(p) == b']' {
                        return p + 1;
                    }
                }
            }
            _ => p,
        }
    }

    /// `[...]` at `p` (its `]` at `ec`) against `c`.
    fn match_bracket_class(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut sig = true;
        if self.p(p + 1) == b'^' {
            sig = false;
            p += 1;
        }
        loop {
            p += 1;
            if p >= ec {
                return !sig;
            }
            if self.p(p) == L_ESC {
                p += 1;
                if match_class(c, self.p(p)) {
                    return sig;
                }
            } else if self.p(p + 1) == b'-' && p + 2 < ec {
                p += 2;
                if self.p(p - 2) <= c && c <= self.p(p) {
                    return sig;
                }
            } else if self.p(p) == c {
                return sig;
            }
        }
    }

    #[inline(always)]
    fn single_match(&self, c: u8, p: usize, ep: usize) -> bool {
        match self.p(p) {
            b'.' => true,
            L_ESC => match_class(c, self.p(p + 1)),
            b'[' => self.match_bracket_class(c, p, ep - 1),
            pc => pc == c,
        }
    }

    /// One level of recursion into `match`, its stack grown on the heap every
    /// [`GROW_EVERY`] levels.
    #[inline(always)]
    fn do_match(&mut self, s: usize, p: usize) -> usize {
        if !self.tick() {
            return HALTED;
        }
        self.depth += 1;
        let end = if !self.depth.is_multiple_of(GROW_EVERY) {
            self.match_here(s, p)
        } else if self.depth >= MAX_MATCH_DEPTH {
            self.fail(Halt::Error(c"pattern too complex"))
        } else {
            stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.match_here(s, p))
        };
        self.depth -= 1;
        end
    }

    /// lstrlib.c's `match`: where the match of `pat[p..]` at `src[s..]` ends.
    fn match_here(&mut self, mut s: usize, mut p: usize) -> usize {
        loop {
            match self.p(p) {
                b'(' => {
                    return if self.p(p + 1) == b')' {
                        self.start_capture(s, p + 2, CAP_POSITION)
                    } else {
                        self.start_capture(s, p + 1, CAP_UNFINISHED)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                L_ESC if self.p(p + 1) == b'b' => match self.match_balance(s, p + 2) {
                    NO_MATCH => return NO_MATCH,
                    HALTED => return HALTED,
                    end => {
                        s = end;
                        p += 4;
                        continue;
                    }
                },
                L_ESC if self.p(p + 1) == b'f' => {
                    p += 2;
                    if self.p(p) != b'[' {
                        return self.fail(Halt::Error(c"missing '[' after '%f' in pattern"));
                    }
                    let ep = self.class_end(p);
                    if ep == HALTED {
                        return HALTED;
                    }
                    let previous = if s == 0 { 0 } else { self.src[s - 1] };
                    if self.match_bracket_class(previous, p, ep - 1)
                        || !self.match_bracket_class(self.s(s), p, ep - 1)
                    {
                        return NO_MATCH;
                    }
                    p = ep;
                    continue;
                }
                L_ESC if self.p(p + 1).is_ascii_digit() => {
                    match self.match_capture(s, self.p(p + 1)) {
                        NO_MATCH => return NO_MATCH,
                        HALTED => return HALTED,
                        end => {
                            s = end;
                            p += 2;
                            continue;
                        }
                    }
                }
                0 => return s,
                b'$' if self.p(p + 1) == 0 => {
                    return if s == self.src.len() { s } else { NO_MATCH };
                }
                _ => {}
            }
            let ep = self.class_end(p);
            if ep == HALTED {
                return HALTED;
            }
            let m = s < self.src.len() && self.single_match(self.src[s], p, ep);
            match self.p(ep) {
                b'?' => {
                    if m {
                        let end = self.do_match(s + 1, ep + 1);
                        if end != NO_MATCH {
                            return end;
                        }
                    }
                    p = ep + 1;
                }
                b'*' => return self.max_expand(s, p, ep),
                b'+' => {
                    return if m {
                        self.max_expand(s + 1, p, ep)
                    } else {
                        NO_MATCH
                    }
                }
                b'-' => return self.min_expand(s, p, ep),
                _ => {
                    if !m {
                        return NO_MATCH;
                    }
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    fn match_balance(&mut self, s: usize, p: usize) -> usize {
        if self.p(p) == 0 || self.p(p + 1) == 0 {
            return self.fail(Halt::Error(c"unbalanced pattern"));
        }
        if self.s(s) != self.p(p) {
            return NO_MATCH;
        }
        let (open, close) = (self.p(p), self.p(p + 1));
        let mut depth = 1usize;
        for at in s + 1..self.src.len() {
            if !self.tick() {
                return HALTED;
            }
            let c = self.src[at];
            if c == close {
                depth -= 1;
                if depth == 0 {
                    return at + 1;
                }
            } else if c == open {
                depth += 1;
            }
        }
        NO_MATCH
    }

    #[inline(always)]
    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> usize {
        let mut i = 0;
        while s + i < self.src.len() && self.single_match(self.src[s + i], p, ep) {
            if !self.tick() {
                return HALTED;
            }
            i += 1;
        }
        loop {
            let end = self.do_match(s + i, ep + 1);
            if end != NO_MATCH || i == 0 {
                return end;
            }
            i -= 1;
        }
    }

    #[inline(always)]
    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> usize {
        loop {
            let end = self.do_match(s, ep + 1);
            if end != NO_MATCH {
                return end;
            }
            if s < self.src.len() && self.single_match(self.src[s], p, ep) {
                s += 1;
            } else {
                return NO_MATCH;
            }
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: isize) -> usize {
        if self.level >= MAXCAPTURES {
            return self.fail(Halt::Error(c"too many captures"));
        }
        self.put_cap(self.level, (s, what));
        self.level += 1;
        let end = self.do_match(s, p);
        if end == NO_MATCH {
            self.level -= 1;
        }
        end
    }

    fn end_capture(&mut self, s: usize, p: usize) -> usize {
        let Some(l) = (0..self.level)
            .rev()
            .find(|&l| self.cap(l).1 == CAP_UNFINISHED)
        else {
            return self.fail(Halt::Error(c"invalid pattern capture"));
        };
        self.set_cap_len(l, (s - self.cap(l).0) as isize);
        let end = self.do_match(s, p);
        if end == NO_MATCH {
            self.set_cap_len(l, CAP_UNFINISHED);
        }
        end
    }

    /// `%1`..`%9` in a pattern: the text of that capture again.
    fn match_capture(&mut self, s: usize, digit: u8) -> usize {
        let l = (digit as usize).wrapping_sub(b'1' as usize);
        if l >= self.level || self.cap(l).1 == CAP_UNFINISHED {
            return self.fail(Halt::Error(c"invalid capture index"));
        }
        let (init, len) = self.cap(l);
        // A position capture's length is negative: as a `size_t` in C, longer than any rest.
        let Ok(len) = usize::try_from(len) else {
            return NO_MATCH;
        };
        let rest = &self.src[s..];
        if rest.len() >= len && self.src[init..init + len] == rest[..len] {
            s + len
        } else {
            NO_MATCH
        }
    }

    /// lstrlib.c's `push_onecapture`: capture `i`, or the whole match `whole` when the pattern
    /// has none.
    ///
    /// # Safety
    /// `self.l` is the running thread, with a free stack slot.
    unsafe fn push_capture(&self, i: usize, whole: (usize, usize)) -> Result<(), Halt> {
        if i >= self.level {
            if i != 0 {
                return Err(Halt::Error(c"invalid capture index"));
            }
            let text = &self.src[whole.0..whole.1];
            ffi::lua_pushlstring(self.l, text.as_ptr().cast(), text.len());
            return Ok(());
        }
        let (init, len) = self.cap(i);
        match len {
            CAP_UNFINISHED => return Err(Halt::Error(c"unfinished capture")),
            CAP_POSITION => ffi::lua_pushinteger(self.l, (init + 1) as ffi::lua_Integer),
            len => {
                let text = &self.src[init..init + len as usize];
                ffi::lua_pushlstring(self.l, text.as_ptr().cast(), text.len());
            }
        }
        Ok(())
    }

    /// lstrlib.c's `push_captures`: every capture, or the whole match (`whole`, when given)
    /// for a pattern without any. Returns how many values it pushed.
    ///
    /// # Safety
    /// As [`Self::push_capture`]; `luaL_checkstack` may raise.
    unsafe fn push_captures(&self, whole: Option<(usize, usize)>) -> Result<c_int, Halt> {
        let n = if self.level == 0 && whole.is_some() {
            1
        } else {
            self.level
        };
        ffi::luaL_checkstack(self.l, n as c_int, c"too many captures".as_ptr());
        for i in 0..n {
            self.push_capture(i, whole.unwrap_or((0, 0)))?;
        }
        Ok(n as c_int)
    }
}

/// lstrlib.c's `SPECIALS`: a pattern without any of them is searched for as plain text.
#[inline(always)]
fn is_special(c: u8) -> bool {
    matches!(
        c,
        b'^' | b'$' | b'*' | b'+' | b'?' | b'.' | b'(' | b'[' | b'%' | b'-'
    )
}

/// lstrlib.c's `lmemfind`: the first `needle` in `hay`. Long texts take a linear-time
/// searcher; `lmemfind`'s scan (quadratic at worst) is cheaper for short ones.
fn find_plain(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0); // empty strings are everywhere
    };
    if hay.len() >= 256 {
        return memchr::memmem::find(hay, needle);
    }
    let last_start = hay.len().checked_sub(rest.len())?;
    let mut from = 0;
    while let Some(at) = memchr::memchr(first, &hay[from..last_start]) {
        let at = from + at;
        if &hay[at + 1..at + 1 + rest.len()] == rest {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[inline(always)]
fn match_class(c: u8, class: u8) -> bool {
    let res = match class.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        // C's isspace: Rust's is_ascii_whitespace leaves out the vertical tab.
        b's' => c == b' ' || (b'\t'..=b'\r').contains(&c),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        b'z' => c == 0,
        _ => return class == c,
    };
    if class.is_ascii_lowercase() {
        res
    } else {
        !res
    }
}

/// Raises what ended a match.
///
/// # Safety
/// `l` is the running thread; nothing that needs a drop may be alive in the caller.
unsafe fn raise(l: *mut ffi::lua_State, halt: Halt) -> c_int {
    match halt {
        Halt::Error(msg) => ffi::luaL_error(l, c"%s".as_ptr(), msg.as_ptr()),
        Halt::Stop(msg) => crate::engine::raise_stop(l, msg),
    }
}

/// # Safety
/// A string argument the caller has checked: it stays on the Lua stack while used.
unsafe fn string_at<'a>(l: *mut ffi::lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::luaL_checklstring(l, idx, &mut len);
    std::slice::from_raw_parts(p.cast(), len)
}

/// The pattern as Lua 5.1's matcher sees it: up to its first NUL.
fn as_c_string(p: &[u8]) -> &[u8] {
    // Patterns are short: a plain loop costs less than setting up memchr's vector search.
    match p.iter().position(|&c| c == 0) {
        Some(nul) => &p[..nul],
        None => p,
    }
}

/// lstrlib.c's `posrelat`: a negative position counts from the end.
fn posrelat(pos: ffi::lua_Integer, len: usize) -> isize {
    let pos = pos as isize;
    let pos = if pos < 0 { pos + len as isize + 1 } else { pos };
    pos.max(0)
}

/// lstrlib.c's `str_find_aux`.
///
/// # Safety
/// Called by Lua only.
unsafe fn find_aux(l: *mut ffi::lua_State, find: bool) -> c_int {
    let src = string_at(l, 1);
    let pat = string_at(l, 2);
    let init = (posrelat(ffi::luaL_optinteger(l, 3, 1), src.len()) - 1).clamp(0, src.len() as isize)
        as usize;
    let c_pat = as_c_string(pat);
    let plain = find && (ffi::lua_toboolean(l, 4) != 0 || !c_pat.iter().any(|&c| is_special(c)));
    if plain {
        if let Some(at) = find_plain(&src[init..], pat) {
            let start = init + at;
            ffi::lua_pushinteger(l, (start + 1) as ffi::lua_Integer);
            ffi::lua_pushinteger(l, (start + pat.len()) as ffi::lua_Integer);
            return 2;
        }
    } else {
        let (anchor, c_pat) = match c_pat.first() {
            Some(b'^') => (true, &c_pat[1..]),
            _ => (false, c_pat),
        };
        let mut ms = MatchState::new(l, src, c_pat);
        let mut s1 = init;
        let halt = loop {
            match ms.run(s1) {
                Err(halt) => break halt,
                Ok(Some(end)) => {
                    let pushed = if find {
                        ffi::lua_pushinteger(l, (s1 + 1) as ffi::lua_Integer);
                        ffi::lua_pushinteger(l, end as ffi::lua_Integer);
                        ms.push_captures(None).map(|n| n + 2)
                    } else {
                        ms.push_captures(Some((s1, end)))
                    };
                    match pushed {
                        Ok(n) => return n,
                        Err(halt) => break halt,
                    }
                }
                Ok(None) => {}
            }
            if s1 >= src.len() || anchor {
                ffi::lua_pushnil(l);
                return 1;
            }
            s1 += 1;
        };
        return raise(l, halt);
    }
    ffi::lua_pushnil(l);
    1
}

unsafe extern "C-unwind" fn str_find(l: *mut ffi::lua_State) -> c_int {
    find_aux(l, true)
}

unsafe extern "C-unwind" fn str_match(l: *mut ffi::lua_State) -> c_int {
    find_aux(l, false)
}

/// The iterator `gmatch` returns: upvalues are the subject, the pattern and where to go on.
unsafe extern "C-unwind" fn gmatch_aux(l: *mut ffi::lua_State) -> c_int {
    let mut len = 0usize;
    let s = ffi::lua_tolstring(l, ffi::lua_upvalueindex(1), &mut len);
    let src = std::slice::from_raw_parts(s.cast::<u8>(), len);
    let mut plen = 0usize;
    let p = ffi::lua_tolstring(l, ffi::lua_upvalueindex(2), &mut plen);
    let pat = as_c_string(std::slice::from_raw_parts(p.cast::<u8>(), plen));
    let start = ffi::lua_tointeger(l, ffi::lua_upvalueindex(3)).max(0) as usize;
    let mut ms = MatchState::new(l, src, pat);
    let mut at = start;
    let halt = loop {
        if at > src.len() {
            return 0;
        }
        match ms.run(at) {
            Err(halt) => break halt,
            Ok(Some(end)) => {
                let next = if end == at { end + 1 } else { end };
                ffi::lua_pushinteger(l, next as ffi::lua_Integer);
                ffi::lua_replace(l, ffi::lua_upvalueindex(3));
                match ms.push_captures(Some((at, end))) {
                    Ok(n) => return n,
                    Err(halt) => break halt,
                }
            }
            Ok(None) => at += 1,
        }
    };
    raise(l, halt)
}

unsafe extern "C-unwind" fn gmatch(l: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checklstring(l, 1, std::ptr::null_mut());
    ffi::luaL_checklstring(l, 2, std::ptr::null_mut());
    ffi::lua_settop(l, 2);
    ffi::lua_pushinteger(l, 0);
    ffi::lua_pushcclosure(l, gmatch_aux, 3);
    1
}

/// lstrlib.c's `add_s`: a replacement string with `%0`..`%9` expanded.
///
/// # Safety
/// Inside [`str_gsub`], with the replacement at index 3.
unsafe fn add_s(
    ms: &MatchState,
    b: *mut ffi::luaL_Buffer,
    whole: (usize, usize),
) -> Result<(), Halt> {
    let mut len = 0usize;
    let news = ffi::lua_tolstring(ms.l, 3, &mut len);
    // The string's terminating NUL is part of what C reads after a trailing `%`.
    let news = std::slice::from_raw_parts(news.cast::<u8>(), len + 1);
    let mut i = 0;
    while i < len {
        let c = news[i];
        if c != L_ESC {
            ffi::luaL_addchar(b, c as _);
        } else {
            i += 1;
            let d = news[i];
            if !d.is_ascii_digit() {
                ffi::luaL_addchar(b, d as _);
            } else if d == b'0' {
                let text = &ms.src[whole.0..whole.1];
                ffi::luaL_addlstring(b, text.as_ptr().cast(), text.len());
            } else {
                ms.push_capture((d - b'1') as usize, whole)?;
                ffi::luaL_addvalue(b);
            }
        }
        i += 1;
    }
    Ok(())
}

/// lstrlib.c's `add_value`: the replacement of one match.
///
/// # Safety
/// Inside [`str_gsub`]; a replacement function may raise (nothing here needs a drop).
unsafe fn add_value(
    ms: &MatchState,
    b: *mut ffi::luaL_Buffer,
    whole: (usize, usize),
) -> Result<(), Halt> {
    let l = ms.l;
    match ffi::lua_type(l, 3) {
        ffi::LUA_TNUMBER | ffi::LUA_TSTRING => return add_s(ms, b, whole),
        ffi::LUA_TFUNCTION => {
            ffi::lua_pushvalue(l, 3);
            let n = ms.push_captures(Some(whole))?;
            ffi::lua_call(l, n, 1);
        }
        _ => {
            ms.push_capture(0, whole)?;
            ffi::lua_gettable(l, 3);
        }
    }
    if ffi::lua_toboolean(l, -1) == 0 {
        ffi::lua_settop(l, -2);
        let text = &ms.src[whole.0..whole.1];
        ffi::lua_pushlstring(l, text.as_ptr().cast(), text.len());
    } else if ffi::lua_isstring(l, -1) == 0 {
        let type_name = ffi::lua_typename(l, ffi::lua_type(l, -1));
        ffi::luaL_error(l, c"invalid replacement value (a %s)".as_ptr(), type_name);
    }
    ffi::luaL_addvalue(b);
    Ok(())
}

unsafe extern "C-unwind" fn str_gsub(l: *mut ffi::lua_State) -> c_int {
    let src = string_at(l, 1);
    let pat = as_c_string(string_at(l, 2));
    let tr = ffi::lua_type(l, 3);
    // luaL_optint: the count is read as an int, as C does.
    let max_s = ffi::luaL_optinteger(l, 4, src.len() as ffi::lua_Integer + 1) as c_int;
    if !matches!(
        tr,
        ffi::LUA_TNUMBER | ffi::LUA_TSTRING | ffi::LUA_TFUNCTION | ffi::LUA_TTABLE
    ) {
        ffi::luaL_argerror(l, 3, c"string/function/table expected".as_ptr());
    }
    let (anchor, pat) = match pat.first() {
        Some(b'^') => (true, &pat[1..]),
        _ => (false, pat),
    };
    let mut buffer = std::mem::MaybeUninit::<ffi::luaL_Buffer>::uninit();
    let b = buffer.as_mut_ptr();
    ffi::luaL_buffinit(l, b);
    let mut ms = MatchState::new(l, src, pat);
    let mut at = 0usize;
    let mut n: c_int = 0;
    while n < max_s {
        let end = match ms.run(at) {
            Ok(end) => end,
            Err(halt) => return raise(l, halt),
        };
        if let Some(end) = end {
            n += 1;
            if let Err(halt) = add_value(&ms, b, (at, end)) {
                return raise(l, halt);
            }
        }
        match end {
            Some(end) if end > at => at = end,
            _ if at < src.len() => {
                ffi::luaL_addchar(b, src[at] as _);
                at += 1;
            }
            _ => break,
        }
        if anchor {
            break;
        }
    }
    let rest = &src[at..];
    ffi::luaL_addlstring(b, rest.as_ptr().cast(), rest.len());
    ffi::luaL_pushresult(b);
    ffi::lua_pushinteger(l, n as ffi::lua_Integer);
    2
}

/// Replaces the pattern functions of the `string` table (before it is made read-only).
pub fn install(lua: &mlua::Lua, string: &mlua::Table) -> mlua::Result<()> {
    // Safety: plain Lua C functions, as above.
    unsafe {
        string.raw_set("find", lua.create_c_function(str_find)?)?;
        string.raw_set("match", lua.create_c_function(str_match)?)?;
        string.raw_set("gsub", lua.create_c_function(str_gsub)?)?;
        let gmatch = lua.create_c_function(gmatch)?;
        // Lua 5.1 (LUA_COMPAT_GFIND) keeps `gfind` as the same function.
        string.raw_set("gfind", gmatch.clone())?;
        string.raw_set("gmatch", gmatch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(hay: &[u8], needle: &[u8]) -> Option<usize> {
        (0..=hay.len().checked_sub(needle.len())?).find(|&i| &hay[i..i + needle.len()] == needle)
    }

    #[test]
    fn plain_find_agrees_with_a_naive_scan_on_short_and_long_texts() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        for _ in 0..5000 {
            let hay: Vec<u8> = (0..next() % 600).map(|_| b"ab"[next() % 2]).collect();
            let needle: Vec<u8> = (0..next() % 6).map(|_| b"ab"[next() % 2]).collect();
            assert_eq!(
                find_plain(&hay, &needle),
                naive(&hay, &needle),
                "{hay:?} {needle:?}"
            );
        }
    }

    /// The matcher reads the pattern and the subject unchecked, as C does: under test every
    /// read is asserted to stay within them (their terminating NUL included), over random
    /// patterns (malformed ones, NULs and every item kind) through every function.
    #[test]
    fn random_patterns_read_only_within_their_strings() {
        let lua = mlua::Lua::new();
        let string: mlua::Table = lua.globals().get("string").unwrap();
        install(&lua, &string).unwrap();
        let run: mlua::Function = lua
            .load(
                "return function(s, p, r)
                   local n = 0
                   pcall(string.find, s, p) pcall(string.find, s, p, -3)
                   pcall(string.match, s, p, 2) pcall(string.gsub, s, p, r)
                   pcall(string.gsub, s, p, function(a) return a end)
                   pcall(function() for a in string.gmatch(s, p) do n = n + 1
                     if n > 20 then break end end end)
                   return n
                 end",
            )
            .eval()
            .unwrap();
        const ITEMS: &[&[u8]] = &[
            b"a", b"b", b".", b"%a", b"%z", b"%", b"[", b"[^", b"]", b"[a-", b"-", b"%b", b"%bab",
            b"%f", b"%f[a", b"%f[%a]", b"(", b")", b"()", b"%1", b"%2", b"*", b"+", b"?", b"^",
            b"$", b"\0", b"[%", b"[]", b"[]]", b"%0",
        ];
        let mut seed = 11u64;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for _ in 0..20_000 {
            let mut pattern = Vec::new();
            for _ in 0..next(8) {
                let item = ITEMS[next(ITEMS.len())];
                pattern.extend_from_slice(item);
            }
            let subject: Vec<u8> = (0..next(12)).map(|_| b"ab(\0)"[next(5)]).collect();
            let repl: &[u8] = [&b"x"[..], b"%1", b"%", b"%0%2"][next(4)];
            let (s, p, r) = (
                lua.create_string(&subject).unwrap(),
                lua.create_string(&pattern).unwrap(),
                lua.create_string(repl).unwrap(),
            );
            run.call::<mlua::Value>((s, p, r)).unwrap();
        }
    }

    #[test]
    fn classes_read_bytes_as_the_c_locale_does() {
        // isspace includes the vertical tab, which Rust's is_ascii_whitespace leaves out.
        assert!(match_class(0x0b, b's'));
        assert!(!match_class(0x0b, b'S'));
        assert!(!match_class(0xe9, b'a'));
        assert!(match_class(0xe9, b'A'));
        assert!(match_class(0, b'z'));
        assert!(match_class(b'%', b'%'));
    }
}
