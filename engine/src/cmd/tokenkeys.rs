//! The TOKENKEYS family: the EdDSA key ring's public face (JWKS, LIST) and its operator
//! controls (ROTATE, RETIRE, and RESTORE, the form the other two are logged and replicated
//! as). The ring itself is [`crate::queue::keyring`]; each change rewrites its durable copy,
//! the STRING `usher:tokenkeys` in database 0, under that key's lock.

use crate::args::{self, is};
use crate::cmd::keys::write_help;
use crate::command::{cmd, container, CommandSpec, EngineHandler, Flags, Group};
use crate::ctx::ExecCtx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace_events as ev;
use crate::queue::keyring::{self, KeyRing, SigningKey, RING_KEY};
use crate::value::{StrValue, Value};
use smallvec::SmallVec;
use usher_protocol::{Argv, ReplySink};

type Spec = CommandSpec<EngineHandler>;

/// The ring's durable copy is written by ROTATE, RETIRE and RESTORE.
fn ring_key(_argv: Argv) -> SmallVec<[Vec<u8>; 2]> {
    let mut keys = SmallVec::new();
    keys.push(RING_KEY.to_vec());
    keys
}

/// Installs `ring`, writes its durable copy, and logs the change as `TOKENKEYS RESTORE` so an
/// AOF replay or a replica installs these very keys (a replayed ROTATE would draw others).
fn commit(ctx: &mut ExecCtx, ring: KeyRing) {
    let json = ring.to_json();
    let db = ctx.shards.db(0, RING_KEY);
    db.set(
        RING_KEY,
        Value::Str(StrValue::from_bytes_no_int(json.as_bytes())),
    );
    keyring::install(ring);
    let saved = ctx.db;
    ctx.db = 0;
    ctx.modified(RING_KEY);
    ctx.notify(ev::STRING, "set", RING_KEY);
    ctx.db = saved;
    ctx.effects.rewritten = true;
    ctx.effects.propagate.push((
        0,
        vec![
            b"TOKENKEYS".to_vec(),
            b"RESTORE".to_vec(),
            json.into_bytes(),
        ],
    ));
}

/// ```text
/// TOKENKEYS JWKS
/// ```
/// The JWK set (RFC 7517) of the keys that verify EdDSA tokens now: `{"keys":[{"kty":"OKP",
/// "crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"}, ...]}`, current key last.
/// Public keys only. Complexity: O(N) where N is the number of keys in the ring.
fn jwks(ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    out.bulk(keyring::get().jwks(ctx.now_ms).as_bytes());
    Ok(())
}

/// ```text
/// TOKENKEYS LIST
/// ```
/// One entry per key still in the JWK set, oldest first: `[kid, "current" | "previous",
/// created-ms, retires-at-ms]` (-1 for the current key). Complexity: O(N).
fn list(ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let ring = keyring::get();
    let keys: Vec<&SigningKey> = ring.live(ctx.now_ms).collect();
    out.array(keys.len());
    for k in keys {
        out.array(4);
        out.bulk(k.kid.as_bytes());
        out.bulk(if k.retire_at_ms.is_some() {
            b"previous"
        } else {
            b"current"
        });
        out.int(k.created_ms);
        out.int(k.retire_at_ms.unwrap_or(-1));
    }
    Ok(())
}

/// ```text
/// TOKENKEYS ROTATE [KEEP ms]
/// ```
/// Generates a new current key; the previous one stays in the JWK set (verifying, no longer
/// signing) for KEEP ms, or by default until the last token it signed expires (a day if it
/// was loaded from disk or a primary, whose tokens this process never saw). Reply: the new
/// key's id. Complexity: O(N).
fn rotate(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let keep = match argv.len() {
        2 => None,
        4 if is(argv.arg(2), "KEEP") => match args::int(argv.arg(3))? {
            n if n < 0 => return Err(CmdError::Static("ERR KEEP must not be negative")),
            n => Some(n),
        },
        _ => return Err(CmdError::Syntax),
    };
    let now = ctx.now_ms;
    let ring = keyring::get().rotated(SigningKey::generate(now), now, keep);
    let kid = ring.current().kid.clone();
    commit(ctx, ring);
    out.bulk(kid.as_bytes());
    Ok(())
}

/// ```text
/// TOKENKEYS RETIRE kid
/// ```
/// Drops a previous key from the JWK set now: tokens it signed stop verifying. Reply: 1, or
/// 0 if no previous key has that id; the current key cannot be retired (rotate first).
/// Complexity: O(N).
fn retire(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let kid = String::from_utf8_lossy(argv.arg(2));
    let ring = keyring::get();
    if ring.current().kid == kid {
        return Err(CmdError::Static(
            "ERR the current key cannot be retired: TOKENKEYS ROTATE first",
        ));
    }
    match ring.retired(&kid, ctx.now_ms) {
        Some(r) => {
            commit(ctx, r);
            out.int(1);
        }
        None => out.int(0),
    }
    Ok(())
}

/// ```text
/// TOKENKEYS RESTORE ring-json
/// ```
/// Installs a key ring in its durable form (what ROTATE and RETIRE are logged and replicated
/// as; also the way to copy a ring to another server). Reply: OK. Complexity: O(N).
fn restore(ctx: &mut ExecCtx, argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    let ring = KeyRing::from_json(argv.arg(2)).map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    commit(ctx, ring);
    out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "TOKENKEYS <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "JWKS",
    "    Return the JWK set of the public keys that verify EdDSA tokens.",
    "LIST",
    "    List the keys: id, current or previous, created and retirement times (ms).",
    "ROTATE [KEEP ms]",
    "    Sign with a new key; the previous one verifies for KEEP ms or until its tokens expire.",
    "RETIRE <kid>",
    "    Drop a previous key from the JWK set now.",
    "RESTORE <ring-json>",
    "    Install a key ring in its durable form (as ROTATE and RETIRE replicate).",
    "HELP",
    "    Print this help.",
];

fn help(_ctx: &mut ExecCtx, _argv: Argv, out: &mut dyn ReplySink) -> CmdResult {
    write_help(out, HELP);
    Ok(())
}

/// Changes the ring: refused on a read-only replica, never inside a script.
const CHANGE: Flags = Flags::WRITE.union(Flags::NOSCRIPT);

static SUBCOMMANDS: &[Spec] = &[
    cmd("JWKS", 2, Flags::READONLY.union(Flags::FAST).union(Flags::STALE), jwks as EngineHandler)
        .doc(Group::Queue, "0.1.0", "Returns the JWK set of the public keys that verify EdDSA tokens.", "O(N) where N is the number of keys in the ring."),
    cmd("LIST", 2, Flags::READONLY.union(Flags::STALE), list as EngineHandler)
        .doc(Group::Queue, "0.1.0", "Lists the token-signing keys with their state and retirement times.", "O(N) where N is the number of keys in the ring."),
    cmd("ROTATE", -2, CHANGE, rotate as EngineHandler)
        .derived_keys(ring_key)
        .doc(Group::Queue, "0.1.0", "Signs tokens with a new key, keeping the previous one in the JWK set until its tokens expire.", "O(N) where N is the number of keys in the ring."),
    cmd("RETIRE", 3, CHANGE, retire as EngineHandler)
        .derived_keys(ring_key)
        .doc(Group::Queue, "0.1.0", "Drops a previous token-signing key from the JWK set.", "O(N) where N is the number of keys in the ring."),
    cmd("RESTORE", 3, CHANGE.union(Flags::DENYOOM), restore as EngineHandler)
        .derived_keys(ring_key)
        .doc(Group::Queue, "0.1.0", "Installs a token key ring in its durable form.", "O(N) where N is the number of keys in the ring."),
    cmd("HELP", 2, Flags::READONLY.union(Flags::FAST).union(Flags::STALE), help as EngineHandler)
        .doc(Group::Queue, "0.1.0", "Returns helpful text about the different subcommands.", "O(1)"),
];

pub static COMMANDS: &[Spec] = &[container("TOKENKEYS", SUBCOMMANDS).doc(
    Group::Queue,
    "0.1.0",
    "A container for the token-signing key ring's commands.",
    "Depends on subcommand.",
)];
