//! Command families, one module each, every one ending with its `COMMANDS` table.
//!
//! To add a command: write its handler in the family's module (parse and validate every
//! argument first, then act, then reply), add a row to that module's `COMMANDS`, and the
//! server's registry picks it up. The handler must never fail after writing its first reply
//! byte.

pub mod bitmap;
pub mod blocking_list;
pub mod blocking_zset;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod lcs;
pub mod list;
pub mod qpolicy;
pub mod qsplit;
pub mod queue;
pub mod scan;
pub mod seat;
pub mod set;
pub mod sort;
pub mod stream;
pub mod strings;
pub mod token;
pub mod tokenkeys;
pub mod zset;

use crate::command::{CommandSpec, EngineHandler};

/// Every engine command family, in registration order (one line per family).
pub fn families() -> Vec<&'static [CommandSpec<EngineHandler>]> {
    vec![
        keys::COMMANDS,
        sort::COMMANDS,
        strings::COMMANDS,
        lcs::COMMANDS,
        bitmap::COMMANDS,
        hll::COMMANDS,
        list::COMMANDS,
        blocking_list::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        zset::COMMANDS,
        blocking_zset::COMMANDS,
        geo::COMMANDS,
        stream::COMMANDS,
        queue::COMMANDS,
        qpolicy::COMMANDS,
        qsplit::COMMANDS,
        seat::COMMANDS,
        token::COMMANDS,
        tokenkeys::COMMANDS,
    ]
}
