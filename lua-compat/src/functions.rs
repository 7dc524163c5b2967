//! Redis 7 function libraries (`FUNCTION LOAD` ... `FCALL`): the server-wide set of libraries
//! and their functions' metadata. Each worker's Lua state loads a library's code the first time
//! it calls one of its functions (the [`Library::generation`] tells it when to reload).
//!
//! A set of libraries can also be assembled on the side (a `FUNCTION RESTORE` payload's) and
//! then joined to the server's in one step, with Redis's collision rules ([`Libraries::join`]):
//! either every library joins or none does.

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

#[derive(Default, Clone)]
struct Inner {
    libs: BTreeMap<String, Arc<Library>>,
    /// Function name, lowercased, to its library: Redis's functions dictionary compares
    /// names without regard to case (`FCALL F` calls `f`, and two libraries cannot hold `f`
    /// and `F`), while library names are compared exactly.
    by_function: BTreeMap<String, String>,
}

/// A function's key in [`Inner::by_function`].
fn folded(name: &str) -> String {
    name.to_ascii_lowercase()
}

impl Inner {
    fn link(&mut self, lib: Arc<Library>) {
        for f in &lib.functions {
            self.by_function
                .entry(folded(&f.name))
                .or_insert_with(|| lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let old = self.libs.remove(name)?;
        for f in &old.functions {
            self.by_function.remove(&folded(&f.name));
        }
        Some(old)
    }
}

/// What `FUNCTION RESTORE` does with the libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Drop them all first.
    Flush,
    /// Keep them; a library of the same name fails the restore.
    Append,
    /// Keep them, but a restored library replaces the one of its name.
    Replace,
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
            if let Some(owner) = inner.by_function.get(&folded(&f.name)) {
                if *owner != lib.name {
                    return Err(format!("ERR Function {} already exists", f.name));
                }
            }
        }
        inner.unlink(&lib.name);
        inner.link(Arc::new(lib));
        Ok(())
    }

    /// Moves every library of `src` into this set, or none (Redis's `libraryJoin`, and the
    /// swap of `FUNCTION RESTORE ... FLUSH`): under APPEND a library whose name is taken fails
    /// the join, under REPLACE it replaces the old one; then a function whose name another
    /// library still uses fails it. Errors are Redis 7.0's texts.
    pub fn join(&self, src: Libraries, policy: RestorePolicy) -> Result<(), String> {
        let src = src.inner.into_inner();
        let mut inner = self.inner.write();
        if policy == RestorePolicy::Flush {
            *inner = src;
            return Ok(());
        }
        let mut next = inner.clone();
        for name in src.libs.keys() {
            if next.unlink(name).is_some() && policy == RestorePolicy::Append {
                return Err(format!("ERR Library {name} already exists"));
            }
        }
        if let Some(f) = src
            .libs
            .values()
            .flat_map(|lib| &lib.functions)
            .find(|f| next.by_function.contains_key(&folded(&f.name)))
        {
            return Err(format!("ERR Function {} already exists", f.name));
        }
        for lib in src.libs.into_values() {
            next.link(lib);
        }
        *inner = next;
        Ok(())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.inner.read().libs.contains_key(name)
    }

    pub fn delete(&self, name: &str) -> bool {
        self.inner.write().unlink(name).is_some()
    }

    pub fn flush(&self) {
        let mut inner = self.inner.write();
        inner.libs.clear();
        inner.by_function.clear();
    }

    /// The library owning function `name`, and the function's definition.
    pub fn function(&self, name: &str) -> Option<(Arc<Library>, FunctionDef)> {
        let inner = self.inner.read();
        let lib = inner
            .libs
            .get(inner.by_function.get(&folded(name))?)?
            .clone();
        let def = lib
            .functions
            .iter()
            .find(|f| f.name == name)
            .or_else(|| {
                lib.functions
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(name))
            })?
            .clone();
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
