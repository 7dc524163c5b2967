//! The admission-token family: one-time tokens consumed atomically (TOKENISSUE, TOKENCONSUME)
//! and signed tokens a booking service verifies offline (TOKENSIGN, TOKENVERIFY).
//!
//! A stored token is a HASH (`userId`, `issuedAt`, and `usedAt` once consumed) with a TTL;
//! TOKENCONSUME is `consume_token.lua` made native. A signed token is a standard JWT (HS256,
//! see [`crate::queue::token`]) under the server's `token-secret`; TOKENVERIFY ... CONSUME
//! makes it single-use by recording its `jti` next to the queue until it expires.

use crate::args::{self, is};
use crate::cmd::hash::get_hash;
use crate::command::{cmd, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::queue::token::{self, Claims};
use crate::types::hash::{Hash, ListpackLimits};
use crate::value::{StrValue, Value};
use rand::RngExt;
use smallvec::SmallVec;
use usher_cluster::companion_key;
use usher_protocol::{errors, Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// `[NOW ms]` at `argv[at..]`, or the server clock.
fn now_option(ctx: &ExecCtx, argv: Argv, at: usize) -> Result<i64, CmdError> {
    match argv.len() - at {
        0 => Ok(ctx.now_ms),
        2 if is(argv.arg(at), "NOW") => args::int(argv.arg(at + 1)),
        _ => Err(CmdError::Syntax),
    }
}

/// ```text
/// TOKENISSUE token-key user ttl-ms [NOW ms]
/// ```
/// Creates a one-time token: the hash `{userId, issuedAt}` at `token-key`, expiring after
/// `ttl-ms`. Reply: 1, or 0 if the key already exists (nothing changes). Complexity: O(1).
fn tokenissue(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (key, user) = (argv.arg(1), argv.arg(2));
    let ttl = args::int(argv.arg(3))?;
    if ttl <= 0 {
        return Err(CmdError::Owned(errors::fill(
            errors::INVALID_EXPIRE,
            "tokenissue",
        )));
    }
    let now = now_option(ctx, argv, 4)?;
    let clock = ctx.now_ms;
    if ctx.db(key).contains(key, clock) {
        out.int(0);
        return Ok(());
    }
    let limits = ListpackLimits::from_config(ctx.config);
    let mut hash = Hash::new();
    hash.set(b"userId", user, limits);
    hash.set(b"issuedAt", now.to_string().as_bytes(), limits);
    ctx.db(key).set(key, Value::Hash(Box::new(hash)));
    ctx.db(key)
        .set_expire(key, clock.saturating_add(ttl), clock);
    ctx.modified(key);
    out.int(1);
    Ok(())
}

/// ```text
/// TOKENCONSUME token-key [NOW ms]
/// ```
/// Consumes a one-time token atomically: `[1, "Success"]` the first time (records `usedAt`),
/// then `[0, "Already consumed"]`; `[0, "Token not found"]` if there is no such token.
/// Equivalent to `consume_token.lua` (`EVAL ... 1 token-key now`). Complexity: O(1).
fn tokenconsume(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let key = argv.arg(1);
    let now = match argv.get(2) {
        None => ctx.now_ms.to_string().into_bytes(),
        Some(opt) if is(opt, "NOW") && argv.len() == 4 => argv.arg(3).to_vec(),
        Some(_) => return Err(CmdError::Syntax),
    };
    let clock = ctx.now_ms;
    let limits = ListpackLimits::from_config(ctx.config);
    let (ok, message) = match get_hash(ctx.db(key), key, clock)? {
        None => (0, "Token not found"),
        Some(h) if h.contains(b"usedAt") => (0, "Already consumed"),
        Some(h) => {
            h.set(b"usedAt", &now, limits);
            (1, "Success")
        }
    };
    if ok == 1 {
        ctx.modified(key);
    }
    out.array(2);
    out.int(ok);
    out.bulk(message.as_bytes());
    Ok(())
}

/// ```text
/// TOKENSIGN queue user ttl-ms [NOW ms]
/// ```
/// Signs an admission token for `user` in `queue`: a JWT (HS256) with claims `sub` (user),
/// `aud` (queue), `iat`, `exp` (seconds) and a random `jti`, verifiable by any JWT library with
/// the server's `token-secret`. Reply: the token. Complexity: O(1).
fn tokensign(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let (queue, user) = (argv.arg(1), argv.arg(2));
    let ttl = args::int(argv.arg(3))?;
    if ttl <= 0 {
        return Err(CmdError::Owned(errors::fill(
            errors::INVALID_EXPIRE,
            "tokensign",
        )));
    }
    let now = now_option(ctx, argv, 4)?;
    let text = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .map_err(|_| CmdError::Static("ERR queue and user must be UTF-8 to be signed"))
    };
    let jti: String = (0..16)
        .map(|_| char::from_digit(rand::rng().random_range(0..16), 16).unwrap())
        .collect();
    let claims = Claims {
        sub: text(user)?,
        aud: text(queue)?,
        iat: now / 1000,
        exp: (now.saturating_add(ttl) + 999) / 1000,
        jti,
    };
    out.bulk(token::sign(&ctx.config.token_secret, &claims).as_bytes());
    Ok(())
}

/// The key recording that a signed token's `jti` was consumed: next to the token's queue.
fn jti_key(claims: &Claims) -> Vec<u8> {
    let mut suffix = b"jti:".to_vec();
    suffix.extend_from_slice(claims.jti.as_bytes());
    companion_key(claims.aud.as_bytes(), &suffix)
}

/// TOKENVERIFY ... CONSUME touches the jti key of the token's queue: lock its shard.
fn tokenverify_derived(argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    let mut keys = SmallVec::new();
    if argv.iter().skip(2).any(|a| is(a, "CONSUME")) {
        if let Some(claims) = token::peek_claims(argv.arg(1)) {
            keys.push(jti_key(&claims));
        }
    }
    keys
}

/// ```text
/// TOKENVERIFY token [CONSUME] [NOW ms]
/// ```
/// Verifies a signed token: `[1, user, queue, expires-ms]`, or `[0, reason]` with reason
/// `Malformed token`, `Bad signature`, `Token expired` or (with CONSUME, on a second use)
/// `Already consumed`. CONSUME makes the token single-use. Complexity: O(1).
fn tokenverify(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let mut consume = false;
    let mut now = ctx.now_ms;
    let mut i = 2;
    while i < argv.len() {
        if is(argv.arg(i), "CONSUME") {
            consume = true;
        } else if is(argv.arg(i), "NOW") && i + 1 < argv.len() {
            now = args::int(argv.arg(i + 1))?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let claims = match token::verify(&ctx.config.token_secret, argv.arg(1), now) {
        Ok(c) => c,
        Err(e) => return reply_refused(out, e.reason()),
    };
    if consume {
        let key = jti_key(&claims);
        if !ctx.shards.holds(&key) {
            return reply_refused(out, "Malformed token");
        }
        let clock = ctx.now_ms;
        if ctx.db(&key).contains(&key, clock) {
            return reply_refused(out, "Already consumed");
        }
        ctx.db(&key).set(&key, Value::Str(StrValue::Int(now)));
        ctx.db(&key).set_expire(&key, claims.exp * 1000, clock);
        ctx.modified(&key);
    }
    out.array(4);
    out.int(1);
    out.bulk(claims.sub.as_bytes());
    out.bulk(claims.aud.as_bytes());
    out.int(claims.exp * 1000);
    Ok(())
}

fn reply_refused(out: &mut dyn ReplySink, reason: &str) -> CmdResult {
    out.array(2);
    out.int(0);
    out.bulk(reason.as_bytes());
    Ok(())
}

const CLOCK: Flags = Flags::NONDETERMINISTIC;

pub static COMMANDS: &[Spec] = &[
    cmd("TOKENISSUE", -4, Flags::WRITE.union(Flags::DENYOOM).union(Flags::FAST).union(CLOCK), tokenissue as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Issues a one-time admission token stored at a key with a TTL.", "O(1)"),
    cmd("TOKENCONSUME", -2, Flags::WRITE.union(Flags::FAST).union(CLOCK), tokenconsume as EngineHandler)
        .keys(1, 1, 1)
        .doc(Group::Queue, "0.1.0", "Consumes a one-time admission token atomically.", "O(1)"),
    cmd("TOKENSIGN", -4, Flags::READONLY.union(Flags::FAST).union(CLOCK), tokensign as EngineHandler)
        .doc(Group::Queue, "0.1.0", "Signs an admission token (a JWT, HS256) a booking service can verify without asking the server.", "O(1)"),
    cmd("TOKENVERIFY", -2, Flags::WRITE.union(Flags::FAST).union(CLOCK), tokenverify as EngineHandler)
        .derived_keys(tokenverify_derived)
        .doc(Group::Queue, "0.1.0", "Verifies a signed admission token, optionally consuming it once.", "O(1)"),
];
