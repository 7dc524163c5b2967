//! Command errors: what went wrong, as a value; the wire text comes from `usher_protocol::errors`.
//!
//! Handlers return `Err(CmdError)` before writing any reply; the dispatcher writes the error.
//! Most errors are fixed texts; a few carry a formatted message (arity, unknown subcommand).

use std::borrow::Cow;
use usher_protocol::errors as wire;

#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    WrongType,
    Syntax,
    NotInteger,
    NotFloat,
    Overflow,
    NoSuchKey,
    OutOfRange,
    /// A complete wire text from `usher_protocol::errors`.
    Static(&'static str),
    /// A complete wire text built at run time.
    Owned(String),
    /// A wire text whose error a nested command's run already counted in the error
    /// statistics (a script raising what `redis.call` got): the call fails, nothing more is
    /// counted, as Redis's `ERR_REPLY_FLAG_NO_STATS_UPDATE`.
    Counted(String),
}

pub type CmdResult = Result<(), CmdError>;

impl CmdError {
    /// The error text as sent (without the leading `-`).
    pub fn wire_text(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            CmdError::WrongType => wire::WRONGTYPE,
            CmdError::Syntax => wire::SYNTAX,
            CmdError::NotInteger => wire::NOT_INTEGER,
            CmdError::NotFloat => wire::NOT_FLOAT,
            CmdError::Overflow => wire::OVERFLOW,
            CmdError::NoSuchKey => wire::NO_SUCH_KEY,
            CmdError::OutOfRange => wire::OUT_OF_RANGE,
            CmdError::Static(s) => s,
            CmdError::Owned(s) | CmdError::Counted(s) => return Cow::Borrowed(s.as_str()),
        })
    }

    pub fn msg(text: impl Into<String>) -> Self {
        CmdError::Owned(text.into())
    }
}

/// The code an error reply is counted under in `errorstats`, as Redis's `afterErrorReply`
/// finds it in `-<text>`: the bytes before the first space within the reply's first 32 bytes,
/// `ERR` when there is none (`{err='X'}` counts as ERR). Bytes, not text: a script's error
/// may hold any.
pub fn error_code(text: &[u8]) -> &[u8] {
    let window = &text[..text.len().min(31)];
    match window.iter().position(|&b| b == b' ') {
        Some(end) => &text[..end],
        None => b"ERR",
    }
}

impl From<&'static str> for CmdError {
    fn from(s: &'static str) -> Self {
        CmdError::Static(s)
    }
}

impl From<crate::num::FloatIncrError> for CmdError {
    fn from(e: crate::num::FloatIncrError) -> Self {
        match e {
            crate::num::FloatIncrError::NotFloat => CmdError::NotFloat,
            crate::num::FloatIncrError::NanOrInfinity => CmdError::Static(wire::INCR_NAN_OR_INF),
        }
    }
}

impl From<crate::num::HashFloatIncrError> for CmdError {
    fn from(e: crate::num::HashFloatIncrError) -> Self {
        use crate::num::HashFloatIncrError as E;
        CmdError::Static(match e {
            E::NotFloat => wire::NOT_FLOAT,
            E::IncrNanOrInfinity => wire::VALUE_NAN_OR_INF,
            E::HashValueNotFloat => wire::HASH_VALUE_NOT_FLOAT,
            E::NanOrInfinity => wire::INCR_NAN_OR_INF,
        })
    }
}

impl From<crate::num::TimeoutError> for CmdError {
    fn from(e: crate::num::TimeoutError) -> Self {
        CmdError::Static(match e {
            crate::num::TimeoutError::NotFloat => wire::TIMEOUT_NOT_FLOAT,
            crate::num::TimeoutError::NotInteger => wire::TIMEOUT_NOT_INTEGER,
            crate::num::TimeoutError::Negative => wire::TIMEOUT_NEGATIVE,
        })
    }
}
