//! Every error text usher sends, worded exactly as Redis 7.0 words it.
//!
//! Texts that more than one command (or more than one crate) sends live here, so a wording fix
//! lands everywhere at once; a text that only one command sends stays beside that command, where
//! a reader of its parser sees it. Texts include their prefix code (`ERR`, `WRONGTYPE`, ...) but
//! not the leading `-`.

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const INCR_NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
pub const OUT_OF_RANGE: &str = "ERR value is out of range";
pub const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const TIMEOUT_NOT_INTEGER: &str = "ERR timeout is not an integer or out of range";
pub const HASH_VALUE_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const VALUE_NAN_OR_INF: &str = "ERR value is NaN or Infinity";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '%s' command";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
pub const BITOP_NOT_ONE_KEY: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITFIELD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO_GET_ONLY: &str = "ERR BITFIELD_RO only supports the GET subcommand";
pub const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
pub const LCS_LEN_AND_IDX: &str =
    "ERR If you want both the length and indexes, please just use IDX.";
pub const LCS_TOO_LONG: &str = "ERR String too long for LCS";
pub const LCS_TOO_MUCH_MEMORY: &str =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
pub const HLL_WRONGTYPE: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
pub const HLL_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
pub const PFDEBUG_NO_KEY: &str = "ERR The specified key does not exist";
pub const PFDEBUG_NOT_SPARSE: &str = "ERR HLL encoding is not sparse";
pub const PFDEBUG_UNKNOWN: &str = "ERR Unknown PFDEBUG subcommand '%s'";
pub const GEO_INVALID_PAIR: &str = "ERR invalid longitude,latitude pair ";
pub const GEO_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";
pub const GEO_NEED_RADIUS: &str = "ERR need numeric radius";
pub const GEO_NEED_WIDTH: &str = "ERR need numeric width";
pub const GEO_NEED_HEIGHT: &str = "ERR need numeric height";
pub const GEO_RADIUS_NEGATIVE: &str = "ERR radius cannot be negative";
pub const GEO_BOX_NEGATIVE: &str = "ERR height or width cannot be negative";
pub const GEO_BAD_MEMBER: &str = "ERR could not decode requested zset member";
pub const GEO_COUNT: &str = "ERR COUNT must be > 0";
pub const GEO_STORE_WITH: &str =
    "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options";
pub const GEO_FROM: &str = "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %s";
pub const GEO_BY: &str = "ERR exactly one of BYRADIUS and BYBOX can be specified for %s";
pub const GEO_ANY_NEEDS_COUNT: &str = "ERR the ANY argument requires COUNT argument";
pub const SORT_NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";
pub const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
pub const INVALID_DB_INDEX: &str = "ERR invalid DB index";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const AUTH_NO_PASSWORD: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const NOPROTO: &str = "NOPROTO unsupported protocol version";
/// Redis 7.0's wording (7.2 changed it to `HELLO <proto> AUTH`).
pub const HELLO_NOAUTH: &str = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time";
pub const HELLO_PROTO_NOT_INTEGER: &str = "ERR Protocol version is not an integer or out of range";
/// Redis's `getIntFromObjectOrReply` for a number outside a C `int`.
pub const INT_OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const LPOS_RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
pub const LPOS_COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
pub const LPOS_MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_INSIDE_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
pub const CLIENT_NAME_INVALID: &str =
    "ERR Client names cannot contain spaces, newlines or special characters.";
pub const SCORE_NAN: &str = "ERR resulting score is not a number (NaN)";
pub const MIN_MAX_NOT_FLOAT: &str = "ERR min or max is not a float";
pub const MIN_MAX_NOT_STRING_RANGE: &str = "ERR min or max not valid string range item";
pub const XX_NX_INCOMPATIBLE: &str = "ERR XX and NX options at the same time are not compatible";
pub const GT_LT_NX_INCOMPATIBLE: &str =
    "ERR GT, LT, and/or NX options at the same time are not compatible";
pub const INCR_SINGLE_PAIR: &str = "ERR INCR option supports a single increment-element pair";
pub const NUMKEYS_ZERO: &str = "ERR numkeys should be greater than 0";
pub const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";
pub const HASH_VALUE_NOT_INTEGER: &str = "ERR hash value is not an integer";
/// `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`: SRANDMEMBER, HRANDFIELD and
/// ZRANDMEMBER counts, e.g. `ZRANDMEMBER key -9223372036854775808`.
pub const NOT_IN_LONG_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
/// The same text, under the name the hash and set families use.
pub const COUNT_NOT_NEGATABLE: &str = NOT_IN_LONG_RANGE;
pub const NUMKEYS_OVER_ARGS: &str = "ERR Number of keys can't be greater than number of args";
pub const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";
pub const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
pub const AT_LEAST_ONE_KEY: &str = "ERR at least 1 input key is needed for '%s' command";
pub const ZRANGE_LIMIT_NEEDS_BY: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
pub const ZRANGE_WITHSCORES_BYLEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
pub const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub const PUBSUB_CONTEXT: &str = "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

pub const PROTO_INVALID_MBULK_LEN: &str = "ERR Protocol error: invalid multibulk length";
pub const PROTO_INVALID_BULK_LEN: &str = "ERR Protocol error: invalid bulk length";
pub const PROTO_UNAUTH_MBULK_LEN: &str = "ERR Protocol error: unauthenticated multibulk length";
pub const PROTO_UNAUTH_BULK_LEN: &str = "ERR Protocol error: unauthenticated bulk length";
pub const PROTO_BIG_MBULK_COUNT: &str = "ERR Protocol error: too big mbulk count string";
pub const PROTO_BIG_BULK_COUNT: &str = "ERR Protocol error: too big bulk count string";
pub const PROTO_BIG_INLINE: &str = "ERR Protocol error: too big inline request";
pub const PROTO_UNBALANCED_QUOTES: &str = "ERR Protocol error: unbalanced quotes in request";

/// `ERR wrong number of arguments for 'get' command` (the name lower-cased, `cmd|sub` for
/// subcommands, as Redis 7 prints it).
pub fn wrong_arity(full_name: &str) -> String {
    format!(
        "ERR wrong number of arguments for '{}' command",
        full_name.to_ascii_lowercase()
    )
}

/// `ERR unknown command 'foo', with args beginning with: 'a' 'b' ` (sic: trailing space).
pub fn unknown_command(name: &[u8], args: &mut dyn Iterator<Item = &[u8]>) -> String {
    let mut listed = String::new();
    for arg in args {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push('\'');
        listed.push_str(&sanitize(arg, room));
        listed.push_str("' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        sanitize(name, 128),
        listed
    )
}

/// `ERR unknown subcommand 'foo'. Try CLIENT HELP.`
pub fn unknown_subcommand(sub: &[u8], container: &str) -> String {
    format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        sanitize(sub, 128),
        container.to_ascii_uppercase()
    )
}

/// `ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.`
/// (Redis's `addReplySubcommandSyntaxError`: the subcommand as typed, the container upper-case.)
pub fn subcommand_syntax(sub: &[u8], container: &str) -> String {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        sanitize(sub, 128),
        container.to_ascii_uppercase()
    )
}

/// Redis turns newlines in echoed user input into spaces so the error stays one line, and
/// truncates it (`%.128s`).
pub fn sanitize(bytes: &[u8], max: usize) -> String {
    let end = bytes.len().min(max);
    String::from_utf8_lossy(&bytes[..end]).replace(['\r', '\n'], " ")
}

/// Replaces the `%s` placeholder of a template constant (e.g. [`INVALID_EXPIRE`]).
pub fn fill(template: &str, value: &str) -> String {
    template.replacen("%s", value, 1)
}

// Persistence (DUMP/RESTORE, SAVE/BGSAVE, loading).
pub const DUMP_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";
pub const BAD_DATA_FORMAT: &str = "ERR Bad data format";
pub const INVALID_TTL: &str = "ERR Invalid TTL value, must be >= 0";
pub const INVALID_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
pub const INVALID_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";
pub const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

// Streams (`t_stream.c`).
pub const STREAM_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
pub const STREAM_XADD_ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
pub const STREAM_XADD_ID_SMALL: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
pub const STREAM_EXHAUSTED: &str =
    "ERR The stream has exhausted the last possible ID, unable to add more items";
pub const STREAM_MAXLEN_NEGATIVE: &str = "ERR The MAXLEN argument must be >= 0.";
pub const STREAM_LIMIT_NEGATIVE: &str = "ERR The LIMIT argument must be >= 0.";
pub const STREAM_MAXLEN_AND_MINID: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
pub const STREAM_LIMIT_WITHOUT_STRATEGY: &str =
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
pub const STREAM_LIMIT_WITHOUT_APPROX: &str =
    "ERR syntax error, LIMIT cannot be used without the special ~ option";
pub const STREAM_XTRIM_NO_STRATEGY: &str =
    "ERR syntax error, XTRIM must be called with a trimming strategy";
pub const STREAM_INVALID_START: &str = "ERR invalid start ID for the interval";
pub const STREAM_INVALID_END: &str = "ERR invalid end ID for the interval";
/// Both XREAD and XREADGROUP say "XREAD" (Redis 7.0).
pub const STREAM_UNBALANCED: &str =
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
pub const STREAM_GROUP_ONLY_XREADGROUP: &str =
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
pub const STREAM_NOACK_ONLY_XREADGROUP: &str =
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
pub const STREAM_MISSING_GROUP: &str = "ERR Missing GROUP option for XREADGROUP";
pub const STREAM_DOLLAR_IN_XREADGROUP: &str = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
pub const STREAM_GT_ONLY_XREADGROUP: &str = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
pub const STREAM_BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
pub const STREAM_XGROUP_NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
pub const STREAM_ENTRIES_READ: &str = "ERR value for ENTRIESREAD must be positive or -1";
pub const STREAM_XCLAIM_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XCLAIM";
pub const STREAM_XCLAIM_IDLE: &str = "ERR Invalid IDLE option argument for XCLAIM";
pub const STREAM_XCLAIM_TIME: &str = "ERR Invalid TIME option argument for XCLAIM";
pub const STREAM_XCLAIM_RETRYCOUNT: &str = "ERR Invalid RETRYCOUNT option argument for XCLAIM";
pub const STREAM_XAUTOCLAIM_MIN_IDLE: &str = "ERR Invalid min-idle-time argument for XAUTOCLAIM";
pub const STREAM_COUNT_POSITIVE: &str = "ERR COUNT must be > 0";
pub const STREAM_ENTRIES_ADDED_NEGATIVE: &str = "ERR entries_added must be positive";
pub const STREAM_XSETID_BELOW_MAXDELETED_ARG: &str =
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
pub const STREAM_XSETID_BELOW_TOP: &str =
    "ERR The ID specified in XSETID is smaller than the target stream top item";
pub const STREAM_XSETID_ENTRIES_ADDED: &str =
    "ERR The entries_added specified in XSETID is smaller than the target stream length";
/// A blocked XREADGROUP whose stream was deleted (Redis 7.0).
pub const STREAM_BLOCKED_KEY_DELETED: &str = "UNBLOCKED the stream key no longer exists";
/// A blocked XREADGROUP whose group was destroyed.
pub const STREAM_BLOCKED_GROUP_DESTROYED: &str =
    "NOGROUP the consumer group this client was blocked on no longer exists";
// Replication (server/src/replication): Redis 7.0.15's texts.
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
// Persistence (server/src/persistence): writes refused while the disk fails, Redis 7.0.15's texts.
pub const BGSAVE_ERR: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
/// Followed by the error's text (`strerror`), as Redis's `writeCommandsGetDiskErrorMessage`.
pub const AOF_WRITE_ERR: &str = "MISCONF Errors writing to the AOF file: ";

/// An OS error's text as Redis shows it (`strerror`): Rust's without its " (os error N)" tail.
pub fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
pub const INVALID_MASTER_PORT: &str = "ERR Invalid master port";
pub const WAIT_ON_REPLICA: &str = "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_text_matches_redis() {
        let args: [&[u8]; 2] = [b"a", b"b"];
        assert_eq!(
            unknown_command(b"foo", &mut args.into_iter()),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            unknown_command(b"foo", &mut std::iter::empty()),
            "ERR unknown command 'foo', with args beginning with: "
        );
    }

    #[test]
    fn arity_text_uses_the_lower_case_full_name() {
        assert_eq!(
            wrong_arity("GET"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            wrong_arity("client|setname"),
            "ERR wrong number of arguments for 'client|setname' command"
        );
    }
}
