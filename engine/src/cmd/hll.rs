//! The HyperLogLog family: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST, over sketches
//! stored as ordinary strings in Redis's byte layout ([`crate::types::hll`]).
//!
//! Flow and errors follow Redis 7.0.15's `hyperloglog.c`: a key that is not a string is
//! WRONGTYPE; a string that is not a sketch gets `WRONGTYPE Key is not a valid HyperLogLog
//! string value.`; damaged sparse opcodes get `INVALIDOBJ`. PFCOUNT of one key writes the
//! computed cardinality back into the header (and so counts as a change, as in Redis), which is
//! why `GET` shows the same bytes on both servers after any sequence of PF commands.
//!
//! One deliberate difference: PFADD on a damaged sparse sketch (one a client wrote into with
//! SETRANGE or APPEND) works on a copy, so when it fails with INVALIDOBJ the key is unchanged,
//! where Redis keeps the registers it raised before the failure. Replies are the same.

use crate::args::is;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::db::Db;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::types::hll::{self, Corrupt};
use crate::value::{StrValue, Value};
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

impl From<Corrupt> for CmdError {
    fn from(_: Corrupt) -> Self {
        CmdError::Static(errors::HLL_CORRUPT)
    }
}

/// Redis's `isHLLObjectOrReply`: the key's value as sketch bytes, or the matching error.
fn sketch_of(value: &Value) -> Result<&[u8], CmdError> {
    match value {
        Value::Str(StrValue::Embstr(b)) if hll::looks_valid(b) => Ok(b),
        Value::Str(StrValue::Raw(b)) if hll::looks_valid(b) => Ok(b),
        Value::Str(_) => Err(CmdError::Static(errors::HLL_WRONGTYPE)),
        _ => Err(CmdError::WrongType),
    }
}

/// The sketch under `key` as a growable buffer (Redis's `dbUnshareStringValue`), creating an
/// empty sparse one if the key is absent, with whether it was created and whether its opcodes
/// are sound; one lookup (Redis's `lookupKeyWrite`, which touches the key once).
fn sketch_for_write<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
) -> Result<(&'d mut Vec<u8>, bool, bool), CmdError> {
    let (value, created) =
        db.get_or_insert_with(key, now, || Value::Str(StrValue::Raw(hll::new_sparse())));
    let s = sketch_of(value)?;
    let sound = created || hll::is_dense(s) || hll::sparse_is_sound(s);
    let Value::Str(s) = value else {
        unreachable!("validated as a string sketch")
    };
    Ok((s.make_raw(), created, sound))
}

/// ```text
/// PFADD key [element [element ...]]
/// ```
fn pfadd(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, now) = (argv.arg(1), ctx.now_ms);
    let max_bytes = ctx.config.hll_sparse_max_bytes;
    let (s, created, sound) = sketch_for_write(ctx.db(key), key, now)?;
    let mut updated = created;
    if sound {
        for element in argv.iter().skip(2) {
            // Cannot fail: the sketch's opcodes were checked (or it was just created).
            updated |= hll::add(s, element, max_bytes)?;
        }
    } else {
        // A damaged sketch (a string someone wrote into) is still updated as Redis would,
        // which often succeeds; but on a copy, so that a failure changes nothing.
        let mut copy = s.clone();
        for element in argv.iter().skip(2) {
            updated |= hll::add(&mut copy, element, max_bytes)?;
        }
        *s = copy;
    }
    if updated {
        hll::invalidate_cache(s);
        ctx.modified(key);
        ctx.notify(ev::STRING, "pfadd", key);
    }
    out.int(updated as i64);
    Ok(())
}

/// ```text
/// PFCOUNT key [key ...]
/// ```
fn pfcount(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let now = ctx.now_ms;
    if argv.len() > 2 {
        // The cardinality of the union, merged into plain byte registers.
        let mut max = vec![0u8; hll::REGISTERS];
        for key in argv.iter().skip(1) {
            if let Some(value) = ctx.db(key).get(key, now) {
                hll::merge_into(&mut max, sketch_of(value)?)?;
            }
        }
        out.int(hll::estimate(&hll::raw_histogram(&max)) as i64);
        return Ok(());
    }
    let key = argv.arg(1);
    let db = ctx.db(key);
    let Some(value) = db.get(key, now) else {
        out.int(0);
        return Ok(());
    };
    sketch_of(value)?;
    let Value::Str(s) = value else {
        unreachable!("checked by sketch_of")
    };
    let s = s.make_raw();
    if let Some(card) = hll::cached(s) {
        out.int(card as i64);
        return Ok(());
    }
    let card = hll::estimate(&hll::histogram(s)?);
    hll::set_cached(s, card);
    // The cached value is part of the string: a change, as Redis signals it.
    ctx.modified(key);
    out.int(card as i64);
    Ok(())
}

/// ```text
/// PFMERGE destkey [sourcekey [sourcekey ...]]
/// ```
/// The destination is one of the inputs, as in Redis.
fn pfmerge(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    // Redis reads the inputs with `lookupKeyRead`: they count as hits and misses.
    crate::keyspace_stats::count_as_reads();
    let now = ctx.now_ms;
    let mut max = vec![0u8; hll::REGISTERS];
    let mut use_dense = false;
    for key in argv.iter().skip(1) {
        if let Some(value) = ctx.db(key).get(key, now) {
            let s = sketch_of(value)?;
            use_dense |= hll::is_dense(s);
            hll::merge_into(&mut max, s)?;
        }
    }
    let dest = argv.arg(1);
    let max_bytes = ctx.config.hll_sparse_max_bytes;
    // Cannot fail: the destination was read above as a sketch, or is absent.
    let (s, _, _) = sketch_for_write(ctx.db(dest), dest, now)?;
    if use_dense {
        hll::to_dense(s)?;
    }
    for (index, &count) in max.iter().enumerate() {
        if count > 0 {
            // Cannot fail: the destination merged above, so its opcodes are sound.
            hll::raise(s, index, count, max_bytes)?;
        }
    }
    hll::invalidate_cache(s);
    ctx.modified(dest);
    ctx.notify(ev::STRING, "pfadd", dest);
    out.ok();
    Ok(())
}

/// ```text
/// PFDEBUG <GETREG | DECODE | ENCODING | TODENSE> key
/// ```
fn pfdebug(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (sub, key, now) = (argv.arg(1), argv.arg(2), ctx.now_ms);
    let db = ctx.db(key);
    let Some(value) = db.get(key, now) else {
        return Err(CmdError::Static(errors::PFDEBUG_NO_KEY));
    };
    sketch_of(value)?;
    let Value::Str(s) = value else {
        unreachable!("checked by sketch_of")
    };
    let s = s.make_raw();
    let mut converted = false;
    if is(sub, "GETREG") {
        if !hll::is_dense(s) {
            hll::to_dense(s)?;
            converted = true;
        }
        let regs = &s[hll::HEADER..];
        out.array(hll::REGISTERS);
        for i in 0..hll::REGISTERS {
            out.int(hll::dense_get(regs, i) as i64);
        }
    } else if is(sub, "DECODE") {
        if hll::is_dense(s) {
            return Err(CmdError::Static(errors::PFDEBUG_NOT_SPARSE));
        }
        out.bulk(hll::decode(s).as_bytes());
    } else if is(sub, "ENCODING") {
        out.simple(if hll::is_dense(s) { "dense" } else { "sparse" });
    } else if is(sub, "TODENSE") {
        if !hll::is_dense(s) {
            hll::to_dense(s)?;
            converted = true;
        }
        out.int(converted as i64);
    } else {
        return Err(CmdError::Owned(errors::fill(
            errors::PFDEBUG_UNKNOWN,
            &String::from_utf8_lossy(sub),
        )));
    }
    if converted {
        // Redis counts the conversion as a change to propagate, without signalling it.
        ctx.effects.dirty += 1;
    }
    Ok(())
}

/// ```text
/// PFSELFTEST
/// ```
/// Checks the register packing and that sparse and dense sketches agree, as Redis's self-test.
fn pfselftest(_ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let mut regs = vec![0u8; hll::DENSE_SIZE - hll::HEADER];
    let mut expect = vec![0u8; hll::REGISTERS];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..100 {
        for (i, e) in expect.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *e = (state & 63) as u8;
            hll::dense_set(&mut regs, i, *e);
        }
        if let Some(i) = (0..hll::REGISTERS).find(|&i| hll::dense_get(&regs, i) != expect[i]) {
            return Err(CmdError::Owned(format!(
                "TESTFAILED Register {i} should be {} but is {}",
                expect[i],
                hll::dense_get(&regs, i)
            )));
        }
    }
    let (mut sparse, mut dense) = (hll::new_sparse(), hll::new_sparse());
    hll::to_dense(&mut dense)?;
    for n in 0..10_000u32 {
        let e = n.to_le_bytes();
        hll::add(&mut sparse, &e, usize::MAX)?;
        hll::add(&mut dense, &e, usize::MAX)?;
    }
    if hll::histogram(&sparse)? != hll::histogram(&dense)? {
        return Err(CmdError::Static(
            "TESTFAILED sparse and dense sketches differ",
        ));
    }
    out.ok();
    Ok(())
}

pub static COMMANDS: &[Spec] = &[
    cmd("PFADD", -2, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST), pfadd as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Hyperloglog, "2.8.9", "Adds the specified elements to the specified HyperLogLog.", "O(1) to add every element."),
    cmd("PFCOUNT", -2, Flags::READONLY, pfcount as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Hyperloglog, "2.8.9", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
    cmd("PFMERGE", -2, Flags::WRITE.union(Flags::DENYOOM), pfmerge as EngineHandler)
        .keys(1, -1, 1)
        .doc(Group::Hyperloglog, "2.8.9", "Merge N different HyperLogLogs into a single one.", "O(N) to merge N HyperLogLogs, but with high constant times."),
    cmd("PFDEBUG", 3, Flags::WRITE.union(Flags::DENYOOM).union(Flags::ADMIN), pfdebug as EngineHandler)
        .keys(2, 2, 1)
        .doc(Group::Hyperloglog, "2.8.9", "Internal commands for debugging HyperLogLog values", "N/A"),
    cmd("PFSELFTEST", 1, Flags::ADMIN, pfselftest as EngineHandler)
        .doc(Group::Hyperloglog, "2.8.9", "An internal command for testing HyperLogLog values", "N/A"),
];
