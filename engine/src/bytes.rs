//! `SmallBytes`: the immutable byte string used for keys, members, fields and short values.
//!
//! It is 24 bytes wide and stores up to 23 bytes inline (tag byte = length), longer strings in a
//! boxed slice. Most keys (`queue:{evt42}`), members (`user:1234567`) and hash fields fit inline,
//! which saves one allocation and 16 to 32 bytes of allocator overhead per string compared with
//! `Box<[u8]>`, and keeps a sorted-set member in the same cache line as its score.
//!
//! Invariant: a string of length <= [`INLINE_MAX`] is always stored inline, so equality and
//! hashing can work on the byte view without caring how it is stored.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Longest string kept inline.
pub const INLINE_MAX: usize = 23;

/// Tag value marking the heap layout; inline tags are lengths 0..=23.
const HEAP_TAG: u8 = u8::MAX;

/// An immutable byte string, inline up to 23 bytes.
///
/// Layout: 24 bytes; byte 23 is the tag in both layouts. Inline: bytes 0..len hold the data.
/// Heap: a pointer and a length from a leaked `Box<[u8]>`, reclaimed in `Drop`.
#[repr(C)]
pub struct SmallBytes {
    repr: Repr,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Inline {
    data: [u8; INLINE_MAX],
    tag: u8,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Heap {
    ptr: *mut u8,
    len: usize,
    _pad: [u8; 7],
    tag: u8,
}

#[repr(C)]
union Repr {
    inline: Inline,
    heap: Heap,
}

// SAFETY: a SmallBytes owns its heap bytes exclusively, exactly like a Box<[u8]>.
unsafe impl Send for SmallBytes {}
// SAFETY: shared access only reads, exactly like a Box<[u8]>.
unsafe impl Sync for SmallBytes {}

impl SmallBytes {
    pub const fn empty() -> Self {
        SmallBytes {
            repr: Repr {
                inline: Inline {
                    data: [0; INLINE_MAX],
                    tag: 0,
                },
            },
        }
    }

    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= INLINE_MAX {
            let mut data = [0; INLINE_MAX];
            data[..bytes.len()].copy_from_slice(bytes);
            SmallBytes {
                repr: Repr {
                    inline: Inline {
                        data,
                        tag: bytes.len() as u8,
                    },
                },
            }
        } else {
            Self::from_box(bytes.into())
        }
    }

    fn from_box(b: Box<[u8]>) -> Self {
        debug_assert!(b.len() > INLINE_MAX);
        let len = b.len();
        let ptr = Box::into_raw(b) as *mut u8;
        SmallBytes {
            repr: Repr {
                heap: Heap {
                    ptr,
                    len,
                    _pad: [0; 7],
                    tag: HEAP_TAG,
                },
            },
        }
    }

    #[inline]
    fn tag(&self) -> u8 {
        // SAFETY: both layouts initialise byte 23 (the tag) and every constructor writes it.
        unsafe { self.repr.inline.tag }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        let tag = self.tag();
        if tag == HEAP_TAG {
            // SAFETY: the heap layout holds a live allocation of `len` bytes owned by self.
            unsafe { std::slice::from_raw_parts(self.repr.heap.ptr, self.repr.heap.len) }
        } else {
            // SAFETY: the inline layout is active whenever the tag is a length <= 23.
            unsafe { &self.repr.inline.data[..tag as usize] }
        }
    }

    pub fn is_inline(&self) -> bool {
        self.tag() != HEAP_TAG
    }

    /// Heap bytes owned beyond the 24-byte value itself (for `MEMORY USAGE`).
    pub fn heap_size(&self) -> usize {
        if self.is_inline() {
            0
        } else {
            self.len()
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_slice().to_vec()
    }
}

impl Drop for SmallBytes {
    fn drop(&mut self) {
        if self.tag() == HEAP_TAG {
            // SAFETY: the pointer and length came from Box::into_raw of a Box<[u8]>.
            unsafe {
                let heap = self.repr.heap;
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                    heap.ptr, heap.len,
                )));
            }
        }
    }
}

const _: () = assert!(std::mem::size_of::<SmallBytes>() == 24);

impl Deref for SmallBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Clone for SmallBytes {
    fn clone(&self) -> Self {
        SmallBytes::new(self.as_slice())
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        SmallBytes::empty()
    }
}

impl PartialEq for SmallBytes {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SmallBytes {}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialOrd for SmallBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallBytes {
    /// Lexicographic byte order, as Redis's `memcmp`-based comparisons.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for SmallBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> Self {
        SmallBytes::new(b)
    }
}

impl From<&str> for SmallBytes {
    fn from(s: &str) -> Self {
        SmallBytes::new(s.as_bytes())
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_MAX {
            SmallBytes::new(&v)
        } else {
            SmallBytes::from_box(v.into_boxed_slice())
        }
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_are_not() {
        let short = SmallBytes::new(b"user:1234567890123456789");
        assert_eq!(short.len(), 24);
        assert!(!short.is_inline());
        let fits = SmallBytes::new(&[7u8; INLINE_MAX]);
        assert!(fits.is_inline());
        assert_eq!(&*fits, &[7u8; INLINE_MAX][..]);
        assert!(SmallBytes::from(vec![1u8; 3]).is_inline());
    }

    #[test]
    fn equality_and_order_follow_the_bytes() {
        let a = SmallBytes::from("abc");
        let long = SmallBytes::from(&b"abc-and-a-rather-long-suffix"[..]);
        assert!(a < long);
        assert_eq!(a.clone(), a);
        assert_eq!(long.clone(), long);
        assert_eq!(SmallBytes::from(long.to_vec()), long);
    }
}
