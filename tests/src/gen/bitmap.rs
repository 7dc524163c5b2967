//! Random bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO
//! with offsets near byte and word boundaries, negative and reversed ranges in both units,
//! `#` offsets, every field width edge (i1, i64, u63, the refused u64) and all three overflow
//! policies, plus malformed arguments, since errors must match too.
//!
//! Offsets stay small (the strings a few hundred bytes) except for a few fixed large ones:
//! the tests lower `proto-max-bulk-len` to 1 MB on both servers so the bound itself
//! (8388607 valid, 8388608 refused) is cheap to hit.

use super::{Cmd, Gen};
use crate::cmd;

/// A bit offset: mostly small, sometimes on the `proto-max-bulk-len` edge or malformed.
pub fn bit_offset(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 30) {
        0 => g
            .pick(&[
                "8388607",
                "8388608",
                "-1",
                "x",
                "1.5",
                "",
                "9223372036854775807",
            ])
            .as_bytes()
            .to_vec(),
        1..=4 => g.range(0, 7).to_string().into_bytes(),
        _ => g.range(0, 300).to_string().into_bytes(),
    }
}

fn range_arg(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 20) {
        0 => g
            .pick(&["x", "9223372036854775807", "-9223372036854775808", "1.5"])
            .as_bytes()
            .to_vec(),
        1..=6 => g.range(-20, -1).to_string().into_bytes(),
        _ => g.range(0, 60).to_string().into_bytes(),
    }
}

fn unit(g: &mut Gen) -> Vec<u8> {
    g.pick(&["BIT", "BYTE", "bit", "byte", "BITS"])
        .as_bytes()
        .to_vec()
}

fn field_type(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 12) {
        0 => g
            .pick(&["u64", "i65", "i0", "u0", "x8", "i", "u-1", "I8", "i 8"])
            .as_bytes()
            .to_vec(),
        1 => g.pick(&["i64", "u63", "i1", "u1"]).as_bytes().to_vec(),
        _ => {
            let sign = *g.pick(&["i", "u"]);
            format!("{sign}{}", g.range(1, 32)).into_bytes()
        }
    }
}

fn field_offset(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 10) {
        0 => format!("#{}", g.range(0, 20)).into_bytes(),
        1 => g
            .pick(&["#", "#x", "#-1", "-1", "x", "8388607", "#1048576"])
            .as_bytes()
            .to_vec(),
        _ => g.range(0, 200).to_string().into_bytes(),
    }
}

fn field_value(g: &mut Gen) -> Vec<u8> {
    match g.range(0, 10) {
        0 => g
            .pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "x",
                "255",
                "256",
                "-129",
                "128",
            ])
            .as_bytes()
            .to_vec(),
        _ => g.range(-300, 300).to_string().into_bytes(),
    }
}

/// A BITFIELD (or BITFIELD_RO) command with 1..=4 subcommands.
fn bitfield_cmd(g: &mut Gen, read_only: bool) -> Cmd {
    let mut c = cmd!(if read_only { "BITFIELD_RO" } else { "BITFIELD" }, g.key());
    for _ in 0..g.range(0, 4) {
        match g.range(0, 9) {
            0..=2 => {
                c.push(b"GET".to_vec());
                c.push(field_type(g));
                c.push(field_offset(g));
            }
            3 | 4 if !read_only || g.chance(20) => {
                c.push(b"SET".to_vec());
                c.push(field_type(g));
                c.push(field_offset(g));
                c.push(field_value(g));
            }
            5 | 6 if !read_only || g.chance(20) => {
                c.push(b"INCRBY".to_vec());
                c.push(field_type(g));
                c.push(field_offset(g));
                c.push(field_value(g));
            }
            7 => {
                c.push(b"OVERFLOW".to_vec());
                c.push(
                    g.pick(&["WRAP", "SAT", "FAIL", "fail", "NOPE"])
                        .as_bytes()
                        .to_vec(),
                );
            }
            8 if g.chance(30) => c.push(
                g.pick(&["GET", "SET", "FOO", "OVERFLOW"])
                    .as_bytes()
                    .to_vec(),
            ),
            _ => {
                c.push(b"GET".to_vec());
                c.push(b"u8".to_vec());
                c.push(g.range(0, 64).to_string().into_bytes());
            }
        }
    }
    c
}

/// Bitmap-family commands.
pub fn bitmap(g: &mut Gen) -> Cmd {
    let k = g.key();
    match g.range(0, 21) {
        0..=4 => cmd!(
            "SETBIT",
            k,
            bit_offset(g),
            g.pick(&["0", "1", "1", "0", "2", "-1", "x"])
        ),
        5 | 6 => cmd!("GETBIT", k, bit_offset(g)),
        7 => cmd!("BITCOUNT", k),
        8 => cmd!("BITCOUNT", k, range_arg(g), range_arg(g)),
        9 => cmd!("BITCOUNT", k, range_arg(g), range_arg(g), unit(g)),
        10 => cmd!("BITCOUNT", k, range_arg(g)),
        11 => cmd!("BITPOS", k, g.pick(&["0", "1", "2", "x"])),
        12 => cmd!("BITPOS", k, g.pick(&["0", "1"]), range_arg(g)),
        13 => cmd!("BITPOS", k, g.pick(&["0", "1"]), range_arg(g), range_arg(g)),
        14 => cmd!(
            "BITPOS",
            k,
            g.pick(&["0", "1"]),
            range_arg(g),
            range_arg(g),
            unit(g)
        ),
        15 | 16 => {
            let op = *g.pick(&["AND", "OR", "XOR", "NOT", "and", "NAND"]);
            let mut c = cmd!("BITOP", op, g.key());
            let n = if op == "NOT" && g.chance(80) {
                1
            } else {
                g.range(1, 3) as usize
            };
            for _ in 0..n {
                c.push(g.key());
            }
            c
        }
        17 | 18 => bitfield_cmd(g, false),
        19 => bitfield_cmd(g, true),
        20 => cmd!("GET", k),
        _ => cmd!("OBJECT", "ENCODING", k),
    }
}
