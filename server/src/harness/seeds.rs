//! Every committed fuzz input replayed by a plain `cargo test`: the seeds of each target
//! (`fuzz/seeds/<target>/`) and, named `finding-*` among them, the inputs of past findings,
//! each kept as a regression test of what it found (see `docs/fuzzing.md`). No cargo-fuzz or
//! libFuzzer is needed; the inputs go through the same functions the fuzz targets call.

use super::targets;
use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a seed").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no seeds in {}", dir.display());
    for path in inputs {
        let data = std::fs::read(&path).expect("read a seed");
        eprintln!("replaying {}", path.display());
        run(&data);
    }
}

#[test]
fn config_file_seeds() {
    replay("config_file", targets::config_file);
}

#[test]
fn dispatch_seeds() {
    replay("dispatch", targets::dispatch);
}

#[test]
fn lua_scripts_seeds() {
    replay("lua_scripts", targets::lua_script);
}

#[test]
fn rdb_load_seeds() {
    replay("rdb_load", targets::rdb_file);
}

#[test]
fn aof_load_seeds() {
    replay("aof_load", targets::aof_file);
}

#[test]
fn restore_payload_seeds() {
    replay("restore_payload", targets::restore_payload);
}
