//! Cache prefetch hints: start loading a line the code will read shortly, so that independent
//! lookups (the commands of one pipelined batch) wait for memory together instead of in turn.
//!
//! A hint never changes what the program computes; on targets without one it does nothing.

/// Starts loading the cache line holding `*value` into all cache levels.
#[inline(always)]
pub fn read<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: PREFETCHT0 is a hint that never faults and reads nothing architecturally;
        // SSE is part of the x86_64 baseline, and the address comes from a live reference.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = value;
    }
}
