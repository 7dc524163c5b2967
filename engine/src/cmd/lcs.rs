//! LCS: the longest common subsequence of two strings, its length, or the matching ranges.
//!
//! A string command (group `string`) kept in its own module because its algorithm, Redis
//! 7.0's `lcsCommand` in `t_string.c`, is unlike the rest of the family: the classic
//! O(N*M) dynamic-programming table, then one walk back from the end that emits the ranges
//! from the last match to the first. The walk is reproduced step for step, including how it
//! breaks ranges (a match that does not extend the current range closes it without starting a
//! new one), since clients see those ranges. Missing keys read as empty strings; keys of other
//! types get LCS's own error rather than WRONGTYPE.

use crate::args::{self, is};
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::value::Value;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// One matching range: (start, end) in the first string, (start, end) in the second.
type Range = ((u32, u32), (u32, u32));

fn read_string(ctx: &mut ExecCtx, key: &[u8]) -> Result<Vec<u8>, CmdError> {
    let now = ctx.now_ms;
    match ctx.db(key).get(key, now) {
        None => Ok(Vec::new()),
        Some(Value::Str(s)) => Ok(s.to_vec()),
        Some(_) => Err(CmdError::Static(errors::LCS_NOT_STRINGS)),
    }
}

/// ```text
/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
/// ```
fn lcs(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    // Redis looks both keys up before it parses the options.
    let a = read_string(ctx, argv.arg(1));
    let b = read_string(ctx, argv.arg(2));
    let (a, b) = (a?, b?);
    let (mut get_len, mut get_idx, mut with_len) = (false, false, false);
    let mut min_len: i64 = 0;
    let mut j = 3;
    while j < argv.len() {
        let opt = argv.arg(j);
        let more = argv.len() - 1 - j;
        if is(opt, "IDX") {
            get_idx = true;
        } else if is(opt, "LEN") {
            get_len = true;
        } else if is(opt, "WITHMATCHLEN") {
            with_len = true;
        } else if is(opt, "MINMATCHLEN") && more > 0 {
            min_len = args::int(argv.arg(j + 1))?.max(0);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if get_idx && get_len {
        return Err(CmdError::Static(errors::LCS_LEN_AND_IDX));
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CmdError::Static(errors::LCS_TOO_LONG));
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells * 4 > ctx.config.proto_max_bulk_len as u64 {
        return Err(CmdError::Static(errors::LCS_TOO_MUCH_MEMORY));
    }
    let width = blen + 1;
    let mut table = vec![0u32; cells as usize];
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let total = table[alen * width + blen];
    if get_len {
        out.int(total as i64);
        return Ok(());
    }
    let mut result = vec![0u8; total as usize];
    let mut ranges: Vec<Range> = Vec::new();
    let mut idx = total as usize;
    let unset = alen as u32;
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (unset, 0u32, 0u32, 0u32);
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == unset {
                a_start = i as u32 - 1;
                a_end = i as u32 - 1;
                b_start = j as u32 - 1;
                b_end = j as u32 - 1;
            } else if a_start == i as u32 && b_start == j as u32 {
                // Contiguous with the current range: extend it backwards.
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != unset {
                emit = true;
            }
        }
        let match_len = a_end.wrapping_sub(a_start).wrapping_add(1);
        if emit {
            if min_len == 0 || match_len as i64 >= min_len {
                ranges.push(((a_start, a_end), (b_start, b_end)));
            }
            a_start = unset;
        }
    }
    if !get_idx {
        out.bulk(&result);
        return Ok(());
    }
    out.map(2);
    out.bulk(b"matches");
    out.array(ranges.len());
    for ((as_, ae), (bs, be)) in ranges {
        out.array(2 + usize::from(with_len));
        out.array(2);
        out.int(as_ as i64);
        out.int(ae as i64);
        out.array(2);
        out.int(bs as i64);
        out.int(be as i64);
        if with_len {
            out.int((ae - as_ + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}

pub static COMMANDS: &[Spec] = &[cmd("LCS", -3, Flags::READONLY, lcs as EngineHandler)
    .keys(1, 2, 1)
    .doc(
        Group::String,
        "7.0.0",
        "Find longest common substring",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively",
    )];
