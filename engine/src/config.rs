//! Settings the engine reads while executing commands, as Redis names them.
//!
//! The server owns the full configuration (and `CONFIG SET`); it hands the engine an immutable
//! snapshot, replaced whole when a setting changes, so the command path reads plain fields.

#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// `proto-max-bulk-len`: also bounds strings built by APPEND and SETRANGE.
    pub proto_max_bulk_len: i64,
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `hll-sparse-max-bytes`: the size past which a sparse HyperLogLog turns dense.
    pub hll_sparse_max_bytes: usize,
    /// `list-max-listpack-size` (negative: a byte limit per node, as Redis).
    pub list_max_listpack_size: i64,
    /// `stream-node-max-bytes`: a stream node (listpack) takes no new entry past this size
    /// (0: Redis's 1 GiB cap only).
    pub stream_node_max_bytes: usize,
    /// `stream-node-max-entries`: entries (live and deleted) per stream node (0: no limit).
    pub stream_node_max_entries: i64,
    /// `token-secret`: the HMAC key of signed admission tokens (JWT, HS256).
    pub token_secret: Vec<u8>,
    /// `queue-now-max-skew`: how far (ms) a `NOW` option of the waiting-room family may be
    /// from the server clock; 0 lets any valid time through (replays, tests).
    pub queue_now_max_skew_ms: i64,
    /// The event classes of `notify-keyspace-events` that are published: its class bits when
    /// it also names `K` or `E`, else 0 (nothing is published without a channel kind).
    pub notify_classes: u32,
    /// The LFU counter's settings (`maxmemory-policy *-lfu`, `lfu-log-factor`,
    /// `lfu-decay-time`), installed into [`crate::lfu`] by the server.
    pub lfu: crate::lfu::LfuConfig,
    /// `cluster-enabled`: one database only (MOVE, COPY ... DB, SWAPDB refuse, as Redis).
    pub cluster_enabled: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            proto_max_bulk_len: 512 * 1024 * 1024,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            hll_sparse_max_bytes: 3000,
            list_max_listpack_size: -2,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            token_secret: Vec::new(),
            queue_now_max_skew_ms: 60_000,
            notify_classes: 0,
            lfu: crate::lfu::LfuConfig::default(),
            cluster_enabled: false,
        }
    }
}
