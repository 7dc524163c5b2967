//! Doubles as Redis 7.0 writes them: C's `%.17g`, with `inf`, `-inf` and `nan` spelled out.
//!
//! Redis 7.0 formats scores (`ZSCORE`, `ZRANGE ... WITHSCORES`, `ZINCRBY`, RESP3 doubles) with
//! `snprintf("%.17g")`, so `ZADD z 1.1 a` then `ZSCORE z a` answers `1.1000000000000001`.
//! Redis 7.2 switched to the shortest round-trip form; usher matches 7.0 (see docs/compatibility.md).
//! The way back for the common case is here too: [`small_integer`] reads a plain integer as
//! `strtod` would (ZADD's scores in the engine, `tonumber` in scripts).

/// The fast path for the commonest number, a plain integer (a ZADD arrival score, a script's
/// `tonumber(ARGV[n])`): an optional `-` and 1 to 15 digits, which an `f64` holds exactly (below 2^53), so the value
/// is the one `strtod` gives without the general scan (a tenth of its instructions). Anything
/// else, `+`, spaces, a point or a longer number included, is `None` and takes the general path.
#[inline]
pub fn small_integer(s: &[u8]) -> Option<f64> {
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (d - b'0') as u64;
    }
    let v = v as f64;
    Some(if negative { -v } else { v })
}

/// Appends `v` formatted as `%.17g` (infinities as `inf`/`-inf`, NaN as `nan`).
pub fn write_g17(v: f64, out: &mut Vec<u8>) {
    if v.is_nan() {
        // As glibc prints it: a Lua script's `0/0` is a negative NaN on x86-64.
        out.extend_from_slice(if v.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // An integral value below 1e17 prints as that integer: 17 significant digits hold all of
    // its digits and %g drops the zeros after the point. Scores that are arrival times and
    // numbers a script passes to `redis.call` are mostly such, and the general path below
    // costs thousands of instructions.
    if v.fract() == 0.0 && v.abs() < 1e17 {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
        return;
    }
    // Rust's `{:.16e}` is correctly rounded to 17 significant digits, which is exactly the
    // digit string %.17g lays out; only the layout rules of %g remain.
    let sci = format!("{:.16e}", v);
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("scientific notation has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: Vec<u8> = mantissa.bytes().filter(|b| *b != b'.').collect();
    debug_assert_eq!(digits.len(), 17);
    if negative {
        out.push(b'-');
    }
    if (-4..17).contains(&exp) {
        // Fixed notation with 16 - exp decimals, trailing zeros removed.
        if exp >= 0 {
            let int_len = exp as usize + 1;
            out.extend_from_slice(&digits[..int_len]);
            push_fraction(&digits[int_len..], out);
        } else {
            out.push(b'0');
            let mut frac = vec![b'0'; (-exp - 1) as usize];
            frac.extend_from_slice(&digits);
            push_fraction(&frac, out);
        }
    } else {
        out.push(digits[0]);
        push_fraction(&digits[1..], out);
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(abs.to_string().as_bytes());
    }
}

/// Returns `v` formatted as `%.17g`.
pub fn g17(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_g17(v, &mut out);
    String::from_utf8(out).expect("ASCII")
}

fn push_fraction(frac: &[u8], out: &mut Vec<u8>) {
    let keep = frac.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
    if keep > 0 {
        out.push(b'.');
        out.extend_from_slice(&frac[..keep]);
    }
}

#[cfg(test)]
mod tests {
    use super::g17;

    #[test]
    fn matches_redis_7_0_output() {
        // Each pair was read from redis-server 7.0.15 (`ZADD z <in> m`, `ZSCORE z m`).
        let cases = [
            (1.1, "1.1000000000000001"),
            (1.2000000000000002, "1.2000000000000002"),
            (1e20, "1e+20"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.000001, "9.9999999999999995e-07"),
            (1e-5, "1.0000000000000001e-05"),
            (16.0, "16"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.0001, "0.0001"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1738468800123.0, "1738468800123"),
        ];
        for (v, want) in cases {
            assert_eq!(g17(v), want, "{v:e}");
        }
        assert_eq!(g17(f64::INFINITY), "inf");
        assert_eq!(g17(f64::NEG_INFINITY), "-inf");
        assert_eq!(g17(0.0), "0");
        assert_eq!(g17(-0.0), "-0");
    }

    /// The C library's own `%.17g`, which Redis 7.0 calls.
    fn libc_g17(v: f64) -> String {
        let mut buf = [0u8; 64];
        // Safety: the buffer is larger than any `%.17g` output (at most 24 bytes).
        let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), v) };
        String::from_utf8(buf[..n as usize].to_vec()).expect("ASCII")
    }

    proptest::proptest! {
        #[test]
        fn matches_the_c_library(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            proptest::prop_assert_eq!(g17(v), libc_g17(v));
        }

        #[test]
        fn nans_match_the_c_library(payload in 1u64..(1 << 52), negative: bool) {
            let v = f64::from_bits(0x7FF0_0000_0000_0000 | payload | ((negative as u64) << 63));
            proptest::prop_assert_eq!(g17(v), libc_g17(v));
        }

        #[test]
        fn integers_match_the_c_library(i in -200_000_000_000_000_000i64..200_000_000_000_000_000) {
            for v in [i as f64, (i % 10_000_000_000_000) as f64, (i % 1_000) as f64 / 8.0] {
                proptest::prop_assert_eq!(g17(v), libc_g17(v));
            }
        }
    }
}
