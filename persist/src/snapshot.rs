//! Snapshots without stopping the world: each shard is serialized under its own lock, one at a
//! time, straight into a temporary file (through a 1 MB buffer, so a save costs about 1 MB of
//! extra memory however large the data), which is renamed over the target once it is complete
//! and synced (Redis's `rdbSave`). The lock covers serializing and handing the bytes to the
//! OS; the `fsync` happens after every lock is released.
//!
//! Consistency: every shard's image is a point-in-time copy of that shard (nothing runs on it
//! while it is serialized), but shards are taken one after another, so the file is not one
//! point in time: a MULTI/EXEC or a command that spans two shards can appear half-applied
//! if it ran between the two shards' turns. Keys that share a hash tag share a shard, so the
//! waiting-room family (one slot per command) is always whole. Each shard writes its own
//! `SELECTDB`/`RESIZEDB` sections (a database may appear once per shard, which Redis's loader
//! and `redis-check-rdb` accept), so nothing has to be collected across shards first.

use crate::crc64;
use crate::rdb::{self, Aux, WriteOptions};
use std::io::Write;
use std::path::Path;
use usher_engine::shard::Shard;
use usher_engine::store::Store;

/// One shard's serialized keys: per database, (index, bytes, keys, keys with a TTL).
pub struct ShardImage {
    pub dbs: Vec<(usize, Vec<u8>, u64, u64)>,
}

impl ShardImage {
    pub fn len(&self) -> usize {
        self.dbs.iter().map(|(_, b, _, _)| b.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.dbs.is_empty()
    }

    pub fn keys(&self) -> u64 {
        self.dbs.iter().map(|(_, _, k, _)| k).sum()
    }
}

/// Bytes gathered before they are handed to the sink.
const CHUNK: usize = 1 << 20;

/// Serializes every key of `shard` (expired ones too, as Redis does; the loader drops them)
/// into `sink`, a chunk of about [`CHUNK`] bytes at a time. Returns the number of keys.
pub fn write_shard(
    shard: &Shard,
    o: WriteOptions,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    let mut out = Vec::with_capacity(CHUNK + 4096);
    let mut keys = 0;
    for (i, db) in shard.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        out.extend_from_slice(&rdb::db_header(
            i,
            db.len() as u64,
            db.volatile_len() as u64,
        ));
        for (key, entry) in db.iter() {
            rdb::save_key_value(&mut out, key, &entry.value, entry.expire_at(), o);
            keys += 1;
            if out.len() >= CHUNK {
                sink(&out)?;
                out.clear();
            }
        }
    }
    if !out.is_empty() {
        sink(&out)?;
    }
    Ok(keys)
}

/// Serializes every key of `shard` into memory (an AOF base or a replica's sync can use it).
pub fn image_of(shard: &Shard, o: WriteOptions) -> ShardImage {
    let mut dbs = Vec::new();
    for (i, db) in shard.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let mut out = rdb::db_header(i, db.len() as u64, db.volatile_len() as u64);
        let (mut keys, mut expires) = (0, 0);
        for (key, entry) in db.iter() {
            let exp = entry.expire_at();
            expires += u64::from(exp.is_some());
            keys += 1;
            rdb::save_key_value(&mut out, key, &entry.value, exp, o);
        }
        dbs.push((i, out, keys, expires));
    }
    ShardImage { dbs }
}

/// A file being written: CRC-64 kept over everything, as Redis's rio checksum does.
struct CrcFile {
    file: std::io::BufWriter<std::fs::File>,
    crc: u64,
    bytes: u64,
    checksum: bool,
}

impl CrcFile {
    fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, b);
        }
        self.bytes += b.len() as u64;
        self.file.write_all(b)
    }
}

/// What a save wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Saved {
    pub keys: u64,
    pub bytes: u64,
}

/// Writes a snapshot of `store` to `path`: the header, the function libraries' `functions`
/// records (`crate::functions::records`), then shard by shard, each under its own lock only
/// while it is serialized and written out; via `temp-<pid>.rdb` in the same directory,
/// synced, then renamed.
/// `checksum` is `rdbchecksum` (no: eight zero bytes, as Redis).
pub fn save(
    store: &Store,
    path: &Path,
    aux: &Aux,
    functions: &[u8],
    o: WriteOptions,
    checksum: bool,
) -> std::io::Result<Saved> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!("temp-{}.rdb", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut f = CrcFile {
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            crc: 0,
            bytes: 0,
            checksum,
        };
        f.write(&rdb::file_header(aux))?;
        f.write(functions)?;
        let mut keys = 0;
        for i in 0..store.shard_count() {
            let mut locked = store.lock_one(i);
            let shard = locked.iter_mut().next().expect("one shard locked");
            keys += write_shard(shard, o, &mut |b| f.write(b))?;
        }
        f.write(&[rdb::OP_EOF])?;
        let crc = if checksum { f.crc } else { 0 };
        f.file.write_all(&crc.to_le_bytes())?;
        f.bytes += 8;
        let file = f.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(Saved {
            keys,
            bytes: f.bytes,
        })
    })();
    match result {
        Ok(saved) => {
            std::fs::rename(&tmp, path)?;
            // The rename is durable once the directory is synced.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(saved)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// An RDB file written by several threads, one whole shard at a time, in any shard order
/// (each shard carries its own `SELECTDB` sections): the base of an AOF rewrite, where a
/// command that reaches a shard before the rewrite's thread does serializes it itself.
pub struct ImageFile {
    f: CrcFile,
    pub keys: u64,
}

impl ImageFile {
    /// Creates `path` and writes the RDB header.
    pub fn create(path: &Path, aux: &Aux) -> std::io::Result<ImageFile> {
        let file = std::fs::File::create(path)?;
        let mut f = CrcFile {
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            crc: 0,
            bytes: 0,
            checksum: true,
        };
        f.write(&rdb::file_header(aux))?;
        Ok(ImageFile { f, keys: 0 })
    }

    /// Appends the function libraries' records (`crate::functions::records`): before any
    /// shard, as Redis writes them ahead of the keys.
    pub fn write_functions(&mut self, records: &[u8]) -> std::io::Result<()> {
        self.f.write(records)
    }

    /// Appends every key of `shard`.
    pub fn write_shard(&mut self, shard: &Shard, o: WriteOptions) -> std::io::Result<()> {
        let f = &mut self.f;
        self.keys += write_shard(shard, o, &mut |b| f.write(b))?;
        Ok(())
    }

    /// Writes the EOF marker and checksum and syncs the file; returns what was written.
    pub fn finish(mut self) -> std::io::Result<Saved> {
        self.f.write(&[rdb::OP_EOF])?;
        let crc = self.f.crc;
        self.f.file.write_all(&crc.to_le_bytes())?;
        self.f.bytes += 8;
        let file = self.f.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(Saved {
            keys: self.keys,
            bytes: self.f.bytes,
        })
    }
}
