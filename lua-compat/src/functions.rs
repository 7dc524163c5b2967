//! Redis 7 function libraries (`FUNCTION LOAD` ... `FCALL`): the server-wide set of libraries
//! and their functions' metadata. Each worker's Lua state loads a library's code the first time
//! it calls one of its functions (the [`Library::generation`] tells it when to reload).

use crate::cache::ScriptFlags;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One function registered by a library.
#[derive(Clone, Debug)]
pub struct FunctionDef {
    pub name: String,
    pub description: Option<String>,
    pub flags: ScriptFlags,
    /// What FCALL has learned about the shards this function reaches (see `Script`).
    pub state: Arc<crate::cache::Script>,
}

/// One library: its name, code and functions.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionDef>,
    /// Unique per load: a Lua state that loaded an older generation reloads.
    pub generation: u64,
}

/// Every library, and which library each function belongs to.
#[derive(Default)]
pub struct Libraries {
    inner: RwLock<Inner>,
    next_generation: AtomicU64,
}

#[derive(Default)]
struct Inner {
    libs: BTreeMap<String, Arc<Library>>,
    by_function: BTreeMap<String, String>,
}

impl Libraries {
    pub fn next_generation(&self) -> u64 {
        self.next_generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds (or with `replace`, replaces) a library whose code already loaded cleanly.
    pub fn insert(&self, lib: Library, replace: bool) -> Result<(), String> {
        let mut inner = self.inner.write();
        if inner.libs.contains_key(&lib.name) && !replace {
            return Err(format!("ERR Library '{}' already exists", lib.name));
        }
        for f in &lib.functions {
            if let Some(owner) = inner.by_function.get(&f.name) {
                if *owner != lib.name {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        if let Some(old) = inner.libs.remove(&lib.name) {
            for f in &old.functions {
                inner.by_function.remove(&f.name);
            }
        }
        for f in &lib.functions {
            inner.by_function.insert(f.name.clone(), lib.name.clone());
        }
        inner.libs.insert(lib.name.clone(), Arc::new(lib));
        Ok(())
    }

    pub fn delete(&self, name: &str) -> bool {
        let mut inner = self.inner.write();
        match inner.libs.remove(name) {
            Some(old) => {
                for f in &old.functions {
                    inner.by_function.remove(&f.name);
                }
                true
            }
            None => false,
        }
    }

    pub fn flush(&self) {
        let mut inner = self.inner.write();
        inner.libs.clear();
        inner.by_function.clear();
    }

    /// The library owning function `name`, and the function's definition.
    pub fn function(&self, name: &str) -> Option<(Arc<Library>, FunctionDef)> {
        let inner = self.inner.read();
        let lib = inner.libs.get(inner.by_function.get(name)?)?.clone();
        let def = lib.functions.iter().find(|f| f.name == name)?.clone();
        Some((lib, def))
    }

    pub fn all(&self) -> Vec<Arc<Library>> {
        self.inner.read().libs.values().cloned().collect()
    }

    pub fn function_count(&self) -> usize {
        self.inner.read().by_function.len()
    }

    pub fn library_count(&self) -> usize {
        self.inner.read().libs.len()
    }
}
