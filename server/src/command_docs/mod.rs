//! COMMAND DOCS for Redis's commands as redis-server 7.0.15 gives them: summary, since, group,
//! complexity, doc flags, deprecation, reply history and the argument tree that redis-cli 7
//! builds its hints from. Recorded once by `scripts/gen-command-docs.py` (`redis.rs`);
//! usher's own commands answer from their command table's summary, since, group and
//! complexity instead.

mod redis;

use redis::REDIS_COMMAND_DOCS;
use usher_protocol::ReplySink;

/// One value of a recorded COMMAND DOCS entry, with the RESP3 type Redis gives it (RESP2
/// clients get maps and sets as arrays, as from any reply).
#[derive(Debug)]
pub enum DocValue {
    Bulk(&'static str),
    Simple(&'static str),
    Int(i64),
    Array(&'static [DocValue]),
    Set(&'static [DocValue]),
    Map(&'static [(&'static str, DocValue)]),
}

impl DocValue {
    fn write(&self, out: &mut impl ReplySink) {
        match self {
            DocValue::Bulk(s) => out.bulk(s.as_bytes()),
            DocValue::Simple(s) => out.simple(s),
            DocValue::Int(n) => out.int(*n),
            DocValue::Array(items) => {
                out.array(items.len());
                items.iter().for_each(|v| v.write(out));
            }
            DocValue::Set(items) => {
                out.set(items.len());
                items.iter().for_each(|v| v.write(out));
            }
            DocValue::Map(pairs) => {
                out.map(pairs.len());
                write_pairs(pairs, out);
            }
        }
    }
}

/// Writes `fields` as the pairs of a map whose header the caller wrote.
pub fn write_pairs(fields: &[(&str, DocValue)], out: &mut impl ReplySink) {
    for (key, value) in fields {
        out.bulk(key.as_bytes());
        value.write(out);
    }
}

/// Redis's COMMAND DOCS fields for the command `full_name` (`set`, `client|kill`), in
/// Redis's order, without subcommands; `None` for commands Redis does not have.
pub fn redis_docs(full_name: &str) -> Option<&'static [(&'static str, DocValue)]> {
    REDIS_COMMAND_DOCS
        .binary_search_by(|(name, _)| name.cmp(&full_name))
        .ok()
        .map(|i| REDIS_COMMAND_DOCS[i].1)
}
