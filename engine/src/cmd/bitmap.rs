//! The bitmap family: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO, over
//! the ordinary string encodings (a bitmap is just a string; bit 0 is the most significant bit
//! of byte 0).
//!
//! Semantics, validation order and error texts follow Redis 7.0.15's `bitops.c`, including
//! its 7.0-era quirks: BITCOUNT and BITPOS look the key up before parsing their range, so a
//! missing key answers 0 (or -1) even with malformed arguments, and BITCOUNT with a start but
//! no end is a syntax error only when the key exists. Offsets are bounded by
//! `proto-max-bulk-len`, so no command can grow a string past it. Strings written by these
//! commands become `raw` (Redis's `dbUnshareStringValue`), as `OBJECT ENCODING` shows.

use crate::args::{self, is};
use crate::cmd::strings::get_str;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::value::{StrValue, Value};
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// Redis's `getBitOffsetFromArgument`. With `hash`, `#n` means `n * bits` (BITFIELD).
fn bit_offset(ctx: &ExecCtx, arg: &[u8], hash: bool, bits: u32) -> Result<u64, CmdError> {
    let err = CmdError::Static(errors::BIT_OFFSET);
    let use_hash = hash && bits > 0 && arg.first() == Some(&b'#');
    let digits = if use_hash { &arg[1..] } else { arg };
    let mut offset = usher_protocol::parse::parse_i64(digits).ok_or(err.clone())?;
    if use_hash {
        // C's signed multiply, which wraps in practice; a wrapped value fails the checks below.
        offset = offset.wrapping_mul(bits as i64);
    }
    if offset < 0 || (offset >> 3) >= ctx.config.proto_max_bulk_len {
        return Err(err);
    }
    Ok(offset as u64)
}

/// The string under `key` as a growable buffer of at least `min_len` bytes, created empty if
/// absent (Redis's `lookupStringForBitCommand`). The bool says whether it grew or was created.
fn string_for_bits<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
    min_len: usize,
) -> Result<(&'d mut Vec<u8>, bool), CmdError> {
    let (value, created) =
        db.get_or_insert_with(key, now, || Value::Str(StrValue::Raw(Vec::new())));
    let Value::Str(s) = value else {
        return Err(CmdError::WrongType);
    };
    let raw = s.make_raw();
    let grew = created || raw.len() < min_len;
    if raw.len() < min_len {
        raw.resize(min_len, 0);
    }
    Ok((raw, grew))
}

/// ```text
/// SETBIT key offset value
/// ```
fn setbit(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let offset = bit_offset(ctx, argv.arg(2), false, 0)?;
    let on = match usher_protocol::parse::parse_i64(argv.arg(3)) {
        Some(v @ (0 | 1)) => v as u8,
        _ => return Err(CmdError::Static(errors::BIT_VALUE)),
    };
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let byte = (offset >> 3) as usize;
    let (raw, grew) = string_for_bits(ctx.db(key), key, now, byte + 1)?;
    let shift = 7 - (offset & 7) as u8;
    let old = (raw[byte] >> shift) & 1;
    if grew || old != on {
        raw[byte] = (raw[byte] & !(1 << shift)) | (on << shift);
        ctx.modified(key);
        ctx.notify(ev::STRING, "setbit", key);
    }
    out.int(old as i64);
    Ok(())
}

/// ```text
/// GETBIT key offset
/// ```
fn getbit(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let offset = bit_offset(ctx, argv.arg(2), false, 0)?;
    let now = ctx.now_ms;
    let bit = match get_str(ctx.db(argv.arg(1)), argv.arg(1), now)? {
        None => 0,
        Some(s) => {
            let mut scratch = itoa::Buffer::new();
            let bytes = s.as_bytes(&mut scratch);
            let byte = (offset >> 3) as usize;
            bytes.get(byte).map_or(0, |b| (b >> (7 - (offset & 7))) & 1)
        }
    };
    out.int(bit as i64);
    Ok(())
}

/// `BIT` or `BYTE` (the unit of a BITCOUNT or BITPOS range).
fn is_bit_unit(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "BIT") {
        Ok(true)
    } else if is(arg, "BYTE") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// A range resolved to bytes, with masks of the bits outside it in the first and last byte
/// (non-zero only for BIT ranges), as Redis's BITCOUNT and BITPOS compute them.
struct ByteRange {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Redis's range arithmetic shared by BITCOUNT and BITPOS: negative indexes count from the end,
/// both ends are clamped, and a BIT range becomes a byte range plus edge masks.
fn resolve_range(len: i64, mut start: i64, mut end: i64, bit_unit: bool) -> ByteRange {
    let total = if bit_unit { len << 3 } else { len };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bit_unit && start <= end {
        first_mask = !((1u32 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u32 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    ByteRange {
        start,
        end,
        first_mask,
        last_mask,
    }
}

fn popcount(bytes: &[u8]) -> i64 {
    // Eight bytes at a time: the compiler turns this into POPCNT on whole words.
    let chunks = bytes.chunks_exact(8);
    let tail: u64 = chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum();
    let words: u64 = chunks
        .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones() as u64)
        .sum();
    (words + tail) as i64
}

/// ```text
/// BITCOUNT key [start end [BYTE | BIT]]
/// ```
fn bitcount(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    // Redis 7.0 looks the key up first: a missing key answers 0 whatever the arguments.
    let Some(s) = get_str(ctx.db(argv.arg(1)), argv.arg(1), now)? else {
        out.int(0);
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let bytes = s.as_bytes(&mut scratch);
    let range = match argv.len() {
        2 => ByteRange {
            start: 0,
            end: bytes.len() as i64 - 1,
            first_mask: 0,
            last_mask: 0,
        },
        4 | 5 => {
            let start = args::int(argv.arg(2))?;
            let end = args::int(argv.arg(3))?;
            if start < 0 && end < 0 && start > end {
                out.int(0);
                return Ok(());
            }
            let bit_unit = argv.len() == 5 && is_bit_unit(argv.arg(4))?;
            resolve_range(bytes.len() as i64, start, end, bit_unit)
        }
        _ => return Err(CmdError::Syntax),
    };
    if range.start > range.end {
        out.int(0);
        return Ok(());
    }
    let (start, end) = (range.start as usize, range.end as usize);
    let mut count = popcount(&bytes[start..=end]);
    count -= (bytes[start] & range.first_mask).count_ones() as i64;
    count -= (bytes[end] & range.last_mask).count_ones() as i64;
    out.int(count);
    Ok(())
}

/// Redis's `redisBitpos`: the first bit equal to `bit` in `bytes`; when looking for a clear bit
/// and finding none, the position just past the end (the string is zero-padded to the right);
/// when looking for a set bit and finding none, -1.
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0u8 } else { 0xff };
    match bytes.iter().position(|&b| b != skip) {
        Some(i) => {
            let b = if bit { bytes[i] } else { !bytes[i] };
            (i as i64) * 8 + b.leading_zeros() as i64
        }
        None if bit => -1,
        None => bytes.len() as i64 * 8,
    }
}

/// ```text
/// BITPOS key bit [start [end [BYTE | BIT]]]
/// ```
fn bitpos(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let bit = match args::int(argv.arg(2))? {
        0 => false,
        1 => true,
        _ => return Err(CmdError::Static(errors::BITPOS_BIT)),
    };
    let now = ctx.now_ms;
    // A missing key is an infinite run of zeros (looked up before the range is parsed, as 7.0).
    let Some(s) = get_str(ctx.db(argv.arg(1)), argv.arg(1), now)? else {
        out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let p = s.as_bytes(&mut scratch);
    let len = p.len() as i64;
    let mut end_given = false;
    let range = match argv.len() {
        3 => ByteRange {
            start: 0,
            end: len - 1,
            first_mask: 0,
            last_mask: 0,
        },
        4..=6 => {
            let start = args::int(argv.arg(3))?;
            let bit_unit = argv.len() == 6 && is_bit_unit(argv.arg(5))?;
            let end = if argv.len() >= 5 {
                end_given = true;
                args::int(argv.arg(4))?
            } else if bit_unit {
                (len << 3) + 7
            } else {
                len - 1
            };
            resolve_range(len, start, end, bit_unit)
        }
        _ => return Err(CmdError::Syntax),
    };
    if range.start > range.end {
        out.int(-1);
        return Ok(());
    }
    let (mut start, end) = (range.start as usize, range.end as usize);
    let (first_mask, last_mask) = (range.first_mask, range.last_mask);
    let mut bytes = (range.end - range.start + 1) as usize;
    let masked = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    // The same three steps as Redis (first partial byte, whole bytes, last partial byte), so
    // that the "no clear bit inside an explicit range" answer below sees the same `bytes`.
    let pos = 'found: {
        if first_mask != 0 {
            let mut tmp = masked(p[start], first_mask);
            if last_mask != 0 && bytes == 1 {
                tmp = masked(tmp, last_mask);
            }
            let pos = first_bit(&[tmp], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            bytes -= 1;
        }
        let whole = bytes - usize::from(last_mask != 0);
        if whole > 0 {
            let pos = first_bit(&p[start..start + whole], bit);
            if bytes == whole || (pos != -1 && pos != (whole as i64) << 3) {
                break 'found pos;
            }
            start += whole;
            bytes -= whole;
        }
        first_bit(&[masked(p[end], last_mask)], bit)
    };
    if end_given && !bit && pos == (bytes as i64) << 3 {
        out.int(-1);
        return Ok(());
    }
    out.int(if pos == -1 {
        -1
    } else {
        pos + ((start as i64) << 3)
    });
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// ```text
/// BITOP <AND | OR | XOR | NOT> destkey key [key ...]
/// ```
fn bitop(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let name = argv.arg(1);
    let op = if is(name, "AND") {
        BitOp::And
    } else if is(name, "OR") {
        BitOp::Or
    } else if is(name, "XOR") {
        BitOp::Xor
    } else if is(name, "NOT") {
        BitOp::Not
    } else {
        return Err(CmdError::Syntax);
    };
    if op == BitOp::Not && argv.len() != 4 {
        return Err(CmdError::Static(errors::BITOP_NOT_ONE_KEY));
    }
    // Redis reads the sources with `lookupKeyRead`: they count as hits and misses.
    crate::keyspace_stats::count_as_reads();
    let now = ctx.now_ms;
    let mut sources: Vec<Vec<u8>> = Vec::with_capacity(argv.len() - 3);
    for key in argv.iter().skip(3) {
        sources.push(get_str(ctx.db(key), key, now)?.map_or_else(Vec::new, |s| s.to_vec()));
    }
    let max_len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let mut result = vec![0u8; max_len];
    for (j, slot) in result.iter_mut().enumerate() {
        let byte = |s: &Vec<u8>| s.get(j).copied().unwrap_or(0);
        let mut acc = byte(&sources[0]);
        if op == BitOp::Not {
            acc = !acc;
        }
        for s in &sources[1..] {
            match op {
                BitOp::And => acc &= byte(s),
                BitOp::Or => acc |= byte(s),
                BitOp::Xor => acc ^= byte(s),
                BitOp::Not => {}
            }
        }
        *slot = acc;
    }
    let dest = argv.arg(2);
    let db = ctx.db(dest);
    if max_len > 0 {
        db.set(dest, Value::Str(StrValue::Raw(result)));
        ctx.modified(dest);
        ctx.notify(ev::STRING, "set", dest);
    } else if db.delete(dest, now) {
        ctx.modified(dest);
        ctx.notify(ev::GENERIC, "del", dest);
    }
    out.int(max_len as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

struct FieldCmd {
    op: FieldOp,
    offset: u64,
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Redis's `getBitfieldTypeFromArgument`: `i1`..`i64` or `u1`..`u63`.
fn field_type(arg: &[u8]) -> Result<(bool, u32), CmdError> {
    let err = CmdError::Static(errors::BITFIELD_TYPE);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(err),
    };
    match usher_protocol::parse::parse_i64(&arg[1..]) {
        Some(bits) if bits >= 1 && bits <= if signed { 64 } else { 63 } => {
            Ok((signed, bits as u32))
        }
        _ => Err(err),
    }
}

fn get_unsigned(p: &[u8], mut offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for _ in 0..bits {
        let byte = p.get((offset >> 3) as usize).copied().unwrap_or(0);
        let bit = (byte >> (7 - (offset & 7))) & 1;
        value = (value << 1) | bit as u64;
        offset += 1;
    }
    value
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let mut value = get_unsigned(p, offset, bits) as i64;
    if bits < 64 && value & (1i64 << (bits - 1)) != 0 {
        value |= -1i64 << bits;
    }
    value
}

fn set_unsigned(p: &mut [u8], mut offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let bit = ((value >> (bits - 1 - j)) & 1) as u8;
        let byte = (offset >> 3) as usize;
        let shift = 7 - (offset & 7) as u8;
        p[byte] = (p[byte] & !(1 << shift)) | (bit << shift);
        offset += 1;
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: whether `value + incr` leaves `bits` bits, and the
/// value the overflow policy stores instead (None when nothing is stored: FAIL).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max = (1u64 << bits) - 1;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrap = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > max_incr) {
        (true, if ow == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < min_incr {
        (true, if ow == Overflow::Sat { 0 } else { wrap() })
    } else {
        (false, 0)
    }
}

/// Redis's `checkSignedBitfieldOverflow`.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max: i64 = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let msb = 1u64 << (bits - 1);
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & msb != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        (true, if ow == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        (true, if ow == Overflow::Sat { min } else { wrap() })
    } else {
        (false, 0)
    }
}

fn parse_bitfield(ctx: &ExecCtx, argv: Argv) -> Result<(Vec<FieldCmd>, Option<u64>), CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut highest_write: Option<u64> = None;
    let mut j = 2;
    while j < argv.len() {
        let remaining = argv.len() - j - 1;
        let sub = argv.arg(j);
        let op = if is(sub, "GET") && remaining >= 2 {
            FieldOp::Get
        } else if is(sub, "SET") && remaining >= 3 {
            FieldOp::Set
        } else if is(sub, "INCRBY") && remaining >= 3 {
            FieldOp::IncrBy
        } else if is(sub, "OVERFLOW") && remaining >= 1 {
            let kind = argv.arg(j + 1);
            overflow = if is(kind, "WRAP") {
                Overflow::Wrap
            } else if is(kind, "SAT") {
                Overflow::Sat
            } else if is(kind, "FAIL") {
                Overflow::Fail
            } else {
                return Err(CmdError::Static(errors::BITFIELD_OVERFLOW));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(argv.arg(j + 1))?;
        let offset = bit_offset(ctx, argv.arg(j + 2), true, bits)?;
        let mut value = 0;
        if op != FieldOp::Get {
            let last = offset + bits as u64 - 1;
            highest_write = Some(highest_write.map_or(last, |h| h.max(last)));
            value = args::int(argv.arg(j + 3))?;
        }
        ops.push(FieldCmd {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok((ops, highest_write))
}

/// ```text
/// BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>]
///     <SET encoding offset value | INCRBY encoding offset increment> ...]
/// ```
fn bitfield(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    bitfield_generic(ctx, argv, out, false)
}

/// ```text
/// BITFIELD_RO key [GET encoding offset ...]
/// ```
fn bitfield_ro(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    bitfield_generic(ctx, argv, out, true)
}

fn bitfield_generic(
    ctx: &mut ExecCtx,
    argv: Argv,
    out: &mut dyn ReplySink,
    read_only: bool,
) -> CmdResult {
    let (ops, highest_write) = parse_bitfield(ctx, argv)?;
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let Some(highest) = highest_write else {
        // Only GETs: a missing key reads as zeros. Redis looks the key up for reading then,
        // so even BITFIELD counts a hit or a miss.
        crate::keyspace_stats::count_as_reads();
        let value = get_str(ctx.db(key), key, now)?.map(|s| s.to_vec());
        let p = value.as_deref().unwrap_or(&[]);
        out.array(ops.len());
        for f in &ops {
            if f.signed {
                out.int(get_signed(p, f.offset, f.bits));
            } else {
                out.int(get_unsigned(p, f.offset, f.bits) as i64);
            }
        }
        return Ok(());
    };
    if read_only {
        return Err(CmdError::Static(errors::BITFIELD_RO_GET_ONLY));
    }
    let (p, grew) = string_for_bits(ctx.db(key), key, now, (highest >> 3) as usize + 1)?;
    out.array(ops.len());
    let mut changes = 0u64;
    for f in &ops {
        if f.op == FieldOp::Get {
            if f.signed {
                out.int(get_signed(p, f.offset, f.bits));
            } else {
                out.int(get_unsigned(p, f.offset, f.bits) as i64);
            }
            continue;
        }
        let (old, new, reply, failed) = if f.signed {
            let old = get_signed(p, f.offset, f.bits);
            let (new, reply, over) = if f.op == FieldOp::IncrBy {
                let (over, wrapped) = signed_overflow(old, f.value, f.bits, f.overflow);
                let new = if over {
                    wrapped
                } else {
                    old.wrapping_add(f.value)
                };
                (new, new, over)
            } else {
                let (over, wrapped) = signed_overflow(f.value, 0, f.bits, f.overflow);
                (if over { wrapped } else { f.value }, old, over)
            };
            (
                old as u64,
                new as u64,
                reply,
                over && f.overflow == Overflow::Fail,
            )
        } else {
            let old = get_unsigned(p, f.offset, f.bits);
            let (new, reply, over) = if f.op == FieldOp::IncrBy {
                let (over, wrapped) = unsigned_overflow(old, f.value, f.bits, f.overflow);
                let new = if over {
                    wrapped
                } else {
                    old.wrapping_add(f.value as u64)
                };
                (new, new as i64, over)
            } else {
                let (over, wrapped) = unsigned_overflow(f.value as u64, 0, f.bits, f.overflow);
                (
                    if over { wrapped } else { f.value as u64 },
                    old as i64,
                    over,
                )
            };
            (old, new, reply, over && f.overflow == Overflow::Fail)
        };
        if failed {
            out.null();
            continue;
        }
        out.int(reply);
        set_unsigned(p, f.offset, f.bits, new);
        if grew || old != new {
            changes += 1;
        }
    }
    if changes > 0 {
        ctx.modified(key);
        ctx.notify(ev::STRING, "setbit", key);
        ctx.effects.dirty += changes - 1;
    }
    Ok(())
}

pub static COMMANDS: &[Spec] = &[
    cmd(
        "SETBIT",
        4,
        Flags::WRITE.union(Flags::DENYOOM),
        setbit as EngineHandler,
    )
    .keys(1, 1, 1)
    .doc(
        Group::Bitmap,
        "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key",
        "O(1)",
    ),
    cmd(
        "GETBIT",
        3,
        Flags::READONLY.union(Flags::FAST),
        getbit as EngineHandler,
    )
    .keys(1, 1, 1)
    .doc(
        Group::Bitmap,
        "2.2.0",
        "Returns the bit value at offset in the string value stored at key",
        "O(1)",
    ),
    cmd("BITCOUNT", -2, Flags::READONLY, bitcount as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Bitmap, "2.6.0", "Count set bits in a string", "O(N)"),
    cmd("BITPOS", -3, Flags::READONLY, bitpos as EngineHandler)
        .keys(1, 1, 1)
        .doc(
            Group::Bitmap,
            "2.8.7",
            "Find first bit set or clear in a string",
            "O(N)",
        ),
    cmd(
        "BITOP",
        -4,
        Flags::WRITE.union(Flags::DENYOOM),
        bitop as EngineHandler,
    )
    .keys(2, -1, 1)
    .doc(
        Group::Bitmap,
        "2.6.0",
        "Perform bitwise operations between strings",
        "O(N)",
    ),
    cmd(
        "BITFIELD",
        -2,
        Flags::WRITE.union(Flags::DENYOOM),
        bitfield as EngineHandler,
    )
    .keys(1, 1, 1)
    .doc(
        Group::Bitmap,
        "3.2.0",
        "Perform arbitrary bitfield integer operations on strings",
        "O(1) for each subcommand specified",
    ),
    cmd(
        "BITFIELD_RO",
        -2,
        Flags::READONLY.union(Flags::FAST),
        bitfield_ro as EngineHandler,
    )
    .keys(1, 1, 1)
    .doc(
        Group::Bitmap,
        "6.0.0",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        "O(1) for each subcommand specified",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitfields_round_trip_at_any_alignment() {
        let mut p = vec![0u8; 16];
        for offset in [0u64, 3, 7, 8, 13] {
            for bits in [1u32, 5, 8, 13, 63] {
                let v = 0x5a5a_5a5a_5a5a_5a5au64 & ((1u64 << bits) - 1);
                set_unsigned(&mut p, offset, bits, v);
                assert_eq!(get_unsigned(&p, offset, bits), v);
            }
        }
        set_unsigned(&mut p, 5, 8, 0xff);
        assert_eq!(get_signed(&p, 5, 8), -1);
    }

    #[test]
    fn overflow_policies_match_redis() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), (true, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), (true, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), (true, 0));
        assert_eq!(signed_overflow(127, 1, 8, Overflow::Wrap), (true, -128));
        assert_eq!(signed_overflow(-128, -1, 8, Overflow::Sat), (true, -128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (true, i64::MIN)
        );
        assert_eq!(signed_overflow(3, 4, 8, Overflow::Wrap), (false, 0));
    }

    #[test]
    fn first_bit_pads_with_zeros() {
        assert_eq!(first_bit(&[0xff, 0xff], false), 16);
        assert_eq!(first_bit(&[0x00, 0x00], true), -1);
        assert_eq!(first_bit(&[0x00, 0x10], true), 11);
        assert_eq!(first_bit(&[0xff, 0xf0], false), 12);
    }
}
