//! Family tests: commands driven through their handlers on a real store, replies checked as
//! RESP text. The differential suite (`tests/tests/differential_zset.rs`) compares everything
//! with redis-server; these tests pin what it cannot reach (the pop functions' other reply
//! shapes, key positions) and document the signed-zero rule.

use super::{pop_min_max, End, PopReply, COMMANDS};
use crate::config::EngineConfig;
use crate::ctx::{Effects, ExecCtx};
use crate::store::Store;
use usher_protocol::{OwnedArgv, Protocol, ReplySink, RespWriter};

struct Harness {
    store: Store,
    config: EngineConfig,
    proto: Protocol,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            store: Store::new(4, 16),
            config: EngineConfig::default(),
            proto: Protocol::Resp2,
        }
    }

    /// Runs one command; returns its reply as RESP text with `\r\n` shown as spaces.
    fn run(&mut self, args: &[&str]) -> String {
        let argv = OwnedArgv::from_args(args.iter());
        let spec = COMMANDS
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(args[0]))
            .unwrap_or_else(|| panic!("no command {}", args[0]));
        assert!(spec.arity_ok(args.len()), "arity of {args:?}");
        let mut locked = self.store.lock_all();
        let mut effects = Effects::default();
        let mut ctx = ExecCtx {
            shards: &mut locked,
            db: 0,
            now_ms: 1_000_000,
            config: &self.config,
            effects: &mut effects,
            may_block: false,
            in_script: false,
        };
        let mut buf = Vec::new();
        let mut out = RespWriter::new(&mut buf, self.proto);
        if let Err(e) = (spec.handler.unwrap())(&mut ctx, argv.argv(), &mut out) {
            assert!(out.is_empty(), "{args:?} failed after writing");
            out.error(&e.wire_text());
        }
        String::from_utf8_lossy(&buf)
            .replace("\r\n", " ")
            .trim_end()
            .to_string()
    }
}

#[test]
fn zadd_counts_added_or_changed_members_and_incr_replies_the_score() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["ZADD", "z", "1", "a", "2", "b"]), ":2");
    assert_eq!(
        h.run(&["ZADD", "z", "CH", "1", "a", "3", "b", "4", "c"]),
        ":2"
    );
    assert_eq!(h.run(&["ZADD", "z", "XX", "INCR", "1", "zz"]), "$-1");
    assert_eq!(h.run(&["ZADD", "z", "GT", "INCR", "-1", "a"]), "$-1");
    assert_eq!(h.run(&["ZADD", "z", "LT", "CH", "0", "a"]), ":1");
    assert_eq!(h.run(&["ZINCRBY", "z", "2.5", "a"]), "$3 2.5");
    assert_eq!(
        h.run(&["ZADD", "z", "1", "nx"]),
        ":1",
        "an option word after the options is a member"
    );
    assert_eq!(h.run(&["ZINCRBY", "z", "nx", "a"]), "-ERR syntax error");
}

#[test]
fn negative_zero_reads_back_as_zero_only_from_a_listpack() {
    let mut h = Harness::new();
    h.config.zset_max_listpack_entries = 2;
    h.run(&["ZADD", "small", "-0", "a"]);
    assert_eq!(h.run(&["ZSCORE", "small", "a"]), "$1 0");
    assert_eq!(
        h.run(&["ZINCRBY", "small", "-0", "b"]),
        "$2 -0",
        "the reply shows the computed score"
    );
    assert_eq!(h.run(&["ZSCORE", "small", "b"]), "$1 0");
    // The third member converts the set before it is inserted, so it keeps its sign.
    h.run(&["ZADD", "big", "1", "x", "2", "y", "-0", "a"]);
    assert_eq!(h.run(&["ZSCORE", "big", "a"]), "$2 -0");
    assert_eq!(
        h.run(&["ZADD", "big", "0", "a"]),
        ":0",
        "0 over -0 is no change"
    );
    assert_eq!(h.run(&["ZSCORE", "big", "a"]), "$2 -0");
}

#[test]
fn stores_replace_the_destination_and_drop_empty_results() {
    let mut h = Harness::new();
    h.run(&["ZADD", "a", "1", "x", "2", "y"]);
    h.run(&["ZADD", "b", "10", "y", "20", "z"]);
    assert_eq!(
        h.run(&["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]),
        ":3"
    );
    assert_eq!(
        h.run(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "*6 $1 x $1 1 $1 y $2 22 $1 z $2 40"
    );
    assert_eq!(h.run(&["ZINTERSTORE", "d", "2", "a", "b"]), ":1");
    assert_eq!(h.run(&["ZDIFFSTORE", "d", "2", "a", "a"]), ":0");
    assert_eq!(
        h.run(&["ZCARD", "d"]),
        ":0",
        "an empty result deletes the destination"
    );
    assert_eq!(h.run(&["ZRANGESTORE", "d", "a", "0", "0"]), ":1");
    assert_eq!(h.run(&["ZRANGESTORE", "d", "missing", "0", "-1"]), ":0");
    assert_eq!(h.run(&["ZCARD", "d"]), ":0");
}

#[test]
fn pop_functions_write_every_shape_the_blocking_commands_need() {
    let mut h = Harness::new();
    h.run(&["ZADD", "q", "1", "a", "2", "b", "3", "c"]);
    let mut shapes = Vec::new();
    for (shape, end, count) in [
        (PopReply::KeyFlat, End::Min, 1),
        (PopReply::KeyNested, End::Max, 5),
        (PopReply::Plain { nested: true }, End::Min, 1),
    ] {
        let mut locked = h.store.lock_all();
        let mut effects = Effects::default();
        let mut ctx = ExecCtx {
            shards: &mut locked,
            db: 0,
            now_ms: 1_000_000,
            config: &h.config,
            effects: &mut effects,
            may_block: false,
            in_script: false,
        };
        let mut buf = Vec::new();
        let mut out = RespWriter::new(&mut buf, Protocol::Resp3);
        let popped = pop_min_max(&mut ctx, b"q", count, end, shape, &mut out).unwrap();
        shapes.push((popped, String::from_utf8_lossy(&buf).replace("\r\n", " ")));
    }
    assert_eq!(shapes[0], (true, "*3 $1 q $1 a ,1 ".to_string()));
    assert_eq!(
        shapes[1],
        (true, "*2 $1 q *2 *2 $1 c ,3 *2 $1 b ,2 ".to_string())
    );
    assert_eq!(shapes[2], (false, String::new()), "the key is gone");
    assert_eq!(h.run(&["ZCARD", "q"]), ":0");
}

#[test]
fn movable_keys_cover_the_destination_and_the_inputs() {
    let positions = |args: &[&str]| {
        let spec = COMMANDS.iter().find(|s| s.name == args[0]).unwrap();
        let argv = OwnedArgv::from_args(args.iter());
        spec.key_positions(argv.argv()).map(|p| p.to_vec())
    };
    assert_eq!(
        positions(&["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"]),
        Some(vec![1, 3, 4])
    );
    assert_eq!(
        positions(&["ZINTERCARD", "2", "a", "b", "LIMIT", "1"]),
        Some(vec![2, 3])
    );
    assert_eq!(positions(&["ZMPOP", "1", "a", "MIN"]), Some(vec![2]));
    assert_eq!(positions(&["ZUNION", "0", "a"]), None);
    assert_eq!(
        positions(&["ZRANGESTORE", "d", "s", "0", "-1"]),
        Some(vec![1, 2])
    );
}
