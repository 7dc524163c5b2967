//! The `usher` executable: jemalloc as the global allocator (Redis's, so `used_memory` and
//! fragmentation compare with Redis's), then the command line (`usher_server::run_cli`).

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    usher_server::run_cli();
}
