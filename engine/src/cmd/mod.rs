//! Command families, one module each, every one ending with its `COMMANDS` table.
//!
//! To add a command: write its handler in the family's module (parse and validate every
//! argument first, then act, then reply), add a row to that module's `COMMANDS`, and the
//! server's registry picks it up. The handler must never fail after writing its first reply
//! byte.

pub mod keys;
pub mod scan;
pub mod strings;
pub mod zset;

use crate::command::{CommandSpec, EngineHandler};

/// Every engine command family, in registration order.
pub fn families() -> [&'static [CommandSpec<EngineHandler>]; 3] {
    [keys::COMMANDS, strings::COMMANDS, zset::COMMANDS]
}
