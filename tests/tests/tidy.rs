//! Repository hygiene, checked like rust-analyzer's `tidy`: every Rust module opens with a
//! `//!` paragraph saying what it owns, and every command family ends with its table.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !["target", "fuzz", "corpus", "artifacts"].contains(&name) {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn every_module_opens_with_a_doc_paragraph() {
    let root = workspace();
    let mut files = Vec::new();
    for crate_dir in [
        "protocol/src",
        "engine/src",
        "cluster/src",
        "lua-compat/src",
        "persist/src",
        "server/src",
        "tests/src",
        "tests/tests",
        "bench/src",
        "bench/benches",
    ] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap_or(f).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a leading //! paragraph:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_command_family_ends_with_its_table() {
    let root = workspace();
    let mut files = Vec::new();
    rust_files(&root.join("engine/src/cmd"), &mut files);
    rust_files(&root.join("server/src/cmd"), &mut files);
    let families: Vec<&PathBuf> = files
        .iter()
        .filter(|f| f.parent().is_some_and(|p| p.ends_with("cmd")))
        .collect();
    let without: Vec<String> = families
        .iter()
        .filter(|f| !["mod.rs", "scan.rs"].contains(&f.file_name().unwrap().to_str().unwrap()))
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .contains("pub static COMMANDS")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        without.is_empty(),
        "families without a COMMANDS table: {without:?}"
    );
}
