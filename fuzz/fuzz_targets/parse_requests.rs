//! Fuzz target for usher's request parser (RESP multibulk and inline requests).
//!
//! ```text
//! scripts/fuzz 120 parse_requests
//! ```
//!
//! Arbitrary bytes go through [`RequestParser`] exactly as `server/src/connection.rs` feeds it:
//! bytes arrive in reads of varying size and are appended to a buffer; every complete command
//! at the front is parsed and its argv read, skipped frames are dropped, an incomplete command
//! waits for the next read with the parser keeping its progress, and a protocol error ends the
//! connection. Checked on every input:
//!
//! - nothing panics, and every `consumed` and argv span stays inside the buffer;
//! - a command has at least one argument, an error is an `ERR Protocol error: ...` text;
//! - resumability: the same bytes give the same commands and the same error whether they
//!   arrive in one read or in many (for inputs under the 64 KiB line limits, whose
//!   "too big" errors depend on how much is buffered, in Redis too);
//! - round trip: every command parsed, encoded again as a multibulk request, parses back to
//!   the same arguments; and arguments cut from the input encode and parse back unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use usher_protocol::parse::INLINE_MAX_BYTES;
use usher_protocol::{Limits, Parsed, RequestParser};

type Command = Vec<Vec<u8>>;

/// What a connection saw: the commands it ran, then the protocol error that closed it, if any.
#[derive(Debug, PartialEq)]
struct Outcome {
    commands: Vec<Command>,
    error: Option<String>,
}

/// The connection loop: reads of the given sizes appended to one buffer.
fn serve(input: &[u8], read_sizes: &mut dyn Iterator<Item = usize>, limits: &Limits) -> Outcome {
    let mut parser = RequestParser::new();
    let mut rbuf: Vec<u8> = Vec::new();
    let mut commands = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = read_sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        rbuf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        let mut offset = 0;
        while offset < rbuf.len() {
            let buf = &rbuf[offset..];
            match parser.parse(buf, limits) {
                Ok(Parsed::Command { consumed }) => {
                    assert!(
                        consumed > 0 && consumed <= buf.len(),
                        "consumed {consumed} of {}",
                        buf.len()
                    );
                    let argv = parser.argv(buf);
                    assert!(!argv.is_empty(), "a command without a name");
                    commands.push(argv.iter().map(<[u8]>::to_vec).collect());
                    offset += consumed;
                }
                Ok(Parsed::Skip { consumed }) => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    offset += consumed;
                }
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    assert!(
                        e.message.starts_with("ERR Protocol error: "),
                        "{}",
                        e.message
                    );
                    return Outcome {
                        commands,
                        error: Some(e.message),
                    };
                }
            }
        }
        rbuf.drain(..offset);
    }
    Outcome {
        commands,
        error: None,
    }
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses a buffer that must hold only well-formed multibulk commands.
fn parse_encoded(wire: &[u8]) -> Vec<Command> {
    let outcome = serve(wire, &mut std::iter::empty(), &Limits::default());
    assert_eq!(outcome.error, None, "an encoded command was refused");
    outcome.commands
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, input)) = data.split_first() else {
        return;
    };
    // One byte picks the limits and the read pattern, so both get explored.
    let limits = Limits {
        proto_max_bulk_len: if shape & 1 == 0 {
            512 * 1024 * 1024
        } else {
            64
        },
        auth_required: shape & 2 != 0,
    };
    let step = (shape >> 2) as usize % 7 + 1;
    let whole = serve(input, &mut std::iter::empty(), &limits);
    let mut sizes = (0..).map(|i| (i * 7 + step) % 13 + 1);
    let pieces = serve(input, &mut sizes, &limits);
    let mut single = std::iter::repeat(1);
    let bytewise = serve(input, &mut single, &limits);
    if input.len() <= INLINE_MAX_BYTES {
        assert_eq!(whole, pieces, "reads of varying size changed the result");
        assert_eq!(whole, bytewise, "byte-by-byte reads changed the result");
    }
    // Round trip of everything the parser accepted.
    for cmd in &whole.commands {
        assert_eq!(parse_encoded(&encode(cmd)), vec![cmd.clone()]);
    }
    let all: Vec<u8> = whole.commands.iter().flat_map(|c| encode(c)).collect();
    assert_eq!(parse_encoded(&all), whole.commands);
    // Arguments cut from the raw input (any bytes at all) survive encoding.
    let args: Command = input.split(|&b| b == 0xff).map(<[u8]>::to_vec).collect();
    assert_eq!(parse_encoded(&encode(&args)), vec![args]);
});
