//! Tests of the number helpers against outputs read from redis-server 7.0.15.

use super::*;

/// Splits a test-data line into its fields: `"quoted"` byte strings (with `\\` and `\xHH`
/// escapes; spaces and quotes are always escaped) and bare words.
pub(crate) fn data_fields(line: &str) -> Vec<Field> {
    line.split(' ').map(Field::parse).collect()
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Bytes(Vec<u8>),
    Word(String),
}

impl Field {
    fn parse(text: &str) -> Field {
        let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
            return Field::Word(text.to_string());
        };
        let raw = inner.as_bytes();
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] != b'\\' {
                out.push(raw[i]);
                i += 1;
            } else if raw[i + 1] == b'\\' {
                out.push(b'\\');
                i += 2;
            } else {
                assert_eq!(raw[i + 1], b'x', "bad escape in {text}");
                let hex = std::str::from_utf8(&raw[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 4;
            }
        }
        Field::Bytes(out)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Field::Bytes(b) => b,
            Field::Word(w) => panic!("expected a quoted field, got {w}"),
        }
    }
}

/// Replays `"current"|nil "incr" "result"|!notfloat|!naninf` lines through
/// [`incr_by_float`]; returns the mismatches.
fn replay_incrbyfloat(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let f = data_fields(line);
        let current = match &f[0] {
            Field::Word(w) if w == "nil" => b"0".to_vec(),
            other => other.bytes().to_vec(),
        };
        let want = match &f[2] {
            Field::Word(w) if w == "!notfloat" => Err(FloatIncrError::NotFloat),
            Field::Word(w) if w == "!naninf" => Err(FloatIncrError::NanOrInfinity),
            other => Ok(other.bytes().to_vec()),
        };
        let got = incr_by_float(&current, f[1].bytes());
        if got != want {
            bad.push(format!(
                "{line}\n   got {:?}",
                got.map(|v| String::from_utf8_lossy(&v).into_owned())
            ));
        }
    }
    bad
}

/// Replays `"score" "zscore reply"|!notfloat` lines through [`parse_f64`] and `%.17g`.
fn replay_zadd(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let f = data_fields(line);
        let want = match &f[1] {
            Field::Word(w) if w == "!notfloat" => None,
            other => Some(other.bytes().to_vec()),
        };
        // `+ 0.0` turns -0 into 0: the replies were read from a listpack-encoded sorted set,
        // which stores -0 as 0 (a skiplist keeps -0; that is the zset's business, not ours).
        let got =
            parse_f64(f[0].bytes()).map(|v| usher_protocol::double::g17(v + 0.0).into_bytes());
        if got != want {
            bad.push(format!(
                "{line}\n   got {:?}",
                got.map(|v| String::from_utf8_lossy(&v).into_owned())
            ));
        }
    }
    bad
}

/// What `HINCRBYFLOAT` answers, in the order Redis checks: increment, key type, field, sum.
fn hincrbyfloat(current: &Field, incr: &[u8]) -> Result<Vec<u8>, &'static str> {
    let incr = hincr_by_float_increment(incr).map_err(|e| match e {
        HashFloatIncrError::NotFloat => "!notfloat",
        _ => "!incrnaninf",
    })?;
    let current = match current {
        Field::Word(w) if w == "wrongtype" => return Err("!wrongtype"),
        Field::Word(w) if w == "nil" => None,
        other => Some(other.bytes()),
    };
    hincr_by_float(current, incr).map_err(|e| match e {
        HashFloatIncrError::HashValueNotFloat => "!hashnotfloat",
        _ => "!naninf",
    })
}

/// Replays `"field value"|nil|wrongtype "incr" "result"|!error` lines through
/// [`hincr_by_float_increment`] and [`hincr_by_float`].
fn replay_hincrbyfloat(text: &str) -> Vec<String> {
    let mut bad = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let f = data_fields(line);
        let want = match &f[2] {
            Field::Word(w) => Err(w.as_str()),
            other => Ok(other.bytes().to_vec()),
        };
        let got = hincrbyfloat(&f[0], f[1].bytes());
        if got.as_ref().map_err(|e| *e) != want.as_ref().map_err(|e| *e) {
            bad.push(format!(
                "{line}\n   got {:?}",
                got.map(|v| String::from_utf8_lossy(&v).into_owned())
            ));
        }
    }
    bad
}

#[test]
fn incrbyfloat_replays_redis_vectors() {
    let bad = replay_incrbyfloat(include_str!("testdata_incrbyfloat.txt"));
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn zadd_scores_replay_redis_vectors() {
    let bad = replay_zadd(include_str!("testdata_zadd.txt"));
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn hincrbyfloat_replays_redis_vectors() {
    let bad = replay_hincrbyfloat(include_str!("testdata_hincrbyfloat.txt"));
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

fn incr(current: &str, by: &str) -> Result<String, FloatIncrError> {
    incr_by_float(current.as_bytes(), by.as_bytes()).map(|v| String::from_utf8(v).unwrap())
}

// The vectors in the tests below came from redis-server 7.0.15.
#[test]
fn incrbyfloat_examples() {
    assert_eq!(incr("10.5", "0.1").as_deref(), Ok("10.6"));
    assert_eq!(incr("10.6", "1e20").as_deref(), Ok("100000000000000000008"));
    assert_eq!(incr("0", "0x10").as_deref(), Ok("16"));
    assert_eq!(incr("16", "0x1p3").as_deref(), Ok("24"));
    assert_eq!(incr("24", "0e-5000").as_deref(), Ok("24"));
    assert_eq!(incr("24", ".5").as_deref(), Ok("24.5"));
    assert_eq!(incr("24.5", "5.").as_deref(), Ok("29.5"));
    assert_eq!(incr("29.5", "+1").as_deref(), Ok("30.5"));
    assert_eq!(incr("30.5", "0x.8").as_deref(), Ok("31"));
    assert_eq!(incr("31", "-0x1.8p1").as_deref(), Ok("28"));
    assert_eq!(incr("0", "-0.0000000000000000001").as_deref(), Ok("0"));
    assert_eq!(
        incr("0", "0.000003814697265625").as_deref(),
        Ok("0.00000381469726562")
    );
    assert_eq!(
        incr("0", "+993.1439").as_deref(),
        Ok("993.14389999999999997")
    );
    for bad in [
        "abc", " 1", "1 ", "1\0abc", "", "1e-5000", "1e5000", "nan", "0x", ".", "1e",
    ] {
        assert_eq!(incr("24", bad), Err(FloatIncrError::NotFloat), "{bad:?}");
        assert_eq!(incr(bad, "1"), Err(FloatIncrError::NotFloat), "{bad:?}");
    }
    for inf in ["inf", "INFINITY", "-inf", "+Inf"] {
        assert_eq!(
            incr("24", inf),
            Err(FloatIncrError::NanOrInfinity),
            "{inf:?}"
        );
        assert_eq!(
            incr(inf, "1"),
            Err(FloatIncrError::NanOrInfinity),
            "{inf:?}"
        );
    }
    // The result may be thousands of digits long, and it still parses back (it is < 5120).
    let big = incr("1e4930", "1e4932").unwrap();
    assert!(big.starts_with("1009999999999999999977056175763176913719604537836229729256964902"));
    assert!(incr(&big, "0").is_ok());
}

#[test]
fn hincrbyfloat_checks_in_redis_order() {
    let step = |cur: Option<&str>, by: &str| {
        let by = hincr_by_float_increment(by.as_bytes())?;
        hincr_by_float(cur.map(str::as_bytes), by).map(|v| String::from_utf8(v).unwrap())
    };
    assert_eq!(step(Some("5"), "0.5").as_deref(), Ok("5.5"));
    assert_eq!(step(Some("1.5"), "1").as_deref(), Ok("2.5"));
    assert_eq!(step(None, "-0.0").as_deref(), Ok("0"));
    assert_eq!(
        step(Some("abc"), "1"),
        Err(HashFloatIncrError::HashValueNotFloat)
    );
    assert_eq!(
        step(Some(" 1"), "1"),
        Err(HashFloatIncrError::HashValueNotFloat)
    );
    assert_eq!(
        step(None, "inf"),
        Err(HashFloatIncrError::IncrNanOrInfinity)
    );
    assert_eq!(step(Some("abc"), "nan"), Err(HashFloatIncrError::NotFloat));
    assert_eq!(step(None, "1e-5000"), Err(HashFloatIncrError::NotFloat));
    assert_eq!(
        step(Some("1.1e4932"), "1e4932"),
        Err(HashFloatIncrError::NanOrInfinity)
    );
    assert_eq!(
        step(Some("inf"), "1"),
        Err(HashFloatIncrError::NanOrInfinity)
    );
}

#[test]
fn timeouts_in_seconds_follow_redis_7_0() {
    // `BLPOP nokey <t>`: an error, blocked (0 = forever) or timed out at once.
    let cases: &[(&str, Result<u64, TimeoutError>)] = &[
        ("abc", Err(TimeoutError::NotFloat)),
        (" 1", Err(TimeoutError::NotFloat)),
        ("", Err(TimeoutError::NotFloat)),
        ("1e-5000", Err(TimeoutError::NotFloat)),
        ("-1", Err(TimeoutError::Negative)),
        ("-9.3e15", Err(TimeoutError::Negative)),
        ("1e30", Err(TimeoutError::Negative)),
        ("inf", Err(TimeoutError::Negative)),
        ("-inf", Err(TimeoutError::Negative)),
        ("9.3e15", Err(TimeoutError::Negative)),
        ("9223372036854775.808", Err(TimeoutError::Negative)),
        ("18446744073709551.616", Err(TimeoutError::Negative)),
        ("-0.0001", Ok(0)),
        ("-0", Ok(0)),
        ("0", Ok(0)),
        ("0.0005", Ok(1)),
        ("1e-400", Ok(1)),
        ("0x10p-20", Ok(1)),
        ("0.1", Ok(100)),
        ("1.5", Ok(1500)),
        ("9e15", Ok(9_000_000_000_000_000_000)),
        ("9223372036854775.807", Ok(9_223_372_036_854_775_807)),
    ];
    for (text, want) in cases {
        assert_eq!(parse_timeout_secs(text.as_bytes()), *want, "{text:?}");
    }
}

#[test]
fn timeouts_in_milliseconds_are_strict_integers() {
    // `XREAD BLOCK <t> STREAMS s $` on redis-server 7.0.15.
    assert_eq!(parse_timeout_ms(b"0"), Ok(0));
    assert_eq!(parse_timeout_ms(b"1500"), Ok(1500));
    assert_eq!(
        parse_timeout_ms(b"9223372036854775807"),
        Ok(i64::MAX as u64)
    );
    assert_eq!(parse_timeout_ms(b"-1"), Err(TimeoutError::Negative));
    for bad in [
        "abc",
        "1.5",
        "-0",
        "+1",
        "01",
        " 1",
        "1.0",
        "9223372036854775808",
    ] {
        assert_eq!(
            parse_timeout_ms(bad.as_bytes()),
            Err(TimeoutError::NotInteger),
            "{bad:?}"
        );
    }
}

#[test]
fn int_encoding_matches_object_encoding() {
    // `SET k <v>` then `OBJECT ENCODING k` on redis-server 7.0.15.
    for int in [
        "1",
        "-1",
        "0",
        "10000",
        "9223372036854775807",
        "-9223372036854775808",
    ] {
        assert!(is_canonical_i64(int.as_bytes()), "{int}");
    }
    for embstr in [
        "007",
        "-0",
        " 1",
        "+1",
        "1.0",
        "-01",
        "12345678901234567890",
        "9223372036854775808",
        "",
    ] {
        assert!(!is_canonical_i64(embstr.as_bytes()), "{embstr}");
    }
}

#[test]
fn fmt_i64_round_trips() {
    for v in [0, 1, -1, 42, i64::MAX, i64::MIN] {
        let mut out = b"x".to_vec();
        fmt_i64(v, &mut out);
        assert_eq!(&out[1..], v.to_string().as_bytes());
        assert_eq!(parse_i64(&out[1..]), Some(v));
    }
}
