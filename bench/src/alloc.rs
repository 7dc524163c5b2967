//! A counting global allocator for memory-per-element measurements.
//!
//! A bench binary installs [`CountingAlloc`] as its `#[global_allocator]` and reads
//! [`CountingAlloc::snapshot`] before and after building a structure. Two figures are kept:
//! the bytes requested, and the bytes jemalloc (Redis's allocator, and usher's) would really
//! hand out, since it rounds every request up to a size class ([`jemalloc_class`]). Redis's
//! `used_memory` counts the latter, so that is the figure to compare against it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting live bytes.
pub struct CountingAlloc {
    requested: AtomicUsize,
    classed: AtomicUsize,
}

/// Live bytes at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    pub requested: usize,
    /// Rounded up to jemalloc size classes.
    pub classed: usize,
}

impl Snapshot {
    /// Bytes allocated since `earlier`.
    pub fn since(self, earlier: Snapshot) -> Snapshot {
        Snapshot {
            requested: self.requested.wrapping_sub(earlier.requested),
            classed: self.classed.wrapping_sub(earlier.classed),
        }
    }
}

impl CountingAlloc {
    pub const fn new() -> Self {
        CountingAlloc {
            requested: AtomicUsize::new(0),
            classed: AtomicUsize::new(0),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            requested: self.requested.load(Relaxed),
            classed: self.classed.load(Relaxed),
        }
    }

    fn add(&self, size: usize) {
        self.requested.fetch_add(size, Relaxed);
        self.classed.fetch_add(jemalloc_class(size), Relaxed);
    }

    fn sub(&self, size: usize) {
        self.requested.fetch_sub(size, Relaxed);
        self.classed.fetch_sub(jemalloc_class(size), Relaxed);
    }
}

impl Default for CountingAlloc {
    fn default() -> Self {
        CountingAlloc::new()
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters are side effects only.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.add(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.add(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.sub(layout.size());
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.sub(layout.size());
        self.add(new_size);
        // SAFETY: `ptr` came from `System` with `layout`; the caller guarantees `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The size jemalloc serves a request of `size` bytes with: 8, then multiples of 16 up to
/// 128, then four classes per power of two (e.g. 160, 192, 224, 256, 320, ...).
pub fn jemalloc_class(size: usize) -> usize {
    if size <= 8 {
        return 8;
    }
    if size <= 128 {
        return (size + 15) & !15;
    }
    let log2 = usize::BITS - 1 - (size - 1).leading_zeros();
    let step = 1usize << (log2 - 2);
    (size + step - 1) & !(step - 1)
}

#[cfg(test)]
mod tests {
    use super::jemalloc_class;

    #[test]
    fn size_classes_match_jemalloc() {
        let cases = [
            (1, 8),
            (9, 16),
            (17, 32),
            (100, 112),
            (129, 160),
            (256, 256),
            (257, 320),
        ];
        for (size, class) in cases {
            assert_eq!(jemalloc_class(size), class, "{size}");
        }
        assert_eq!(jemalloc_class(760), 768);
        assert_eq!(jemalloc_class(1296), 1536);
        assert_eq!(jemalloc_class(32 * 1024), 32 * 1024);
    }
}
