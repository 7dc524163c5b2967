//! TEMPORARY shim; the real module arrives from branch h/num.

pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

pub fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, crate::error::CmdError> {
    let a = parse_f64(current).ok_or(crate::error::CmdError::NotFloat)?;
    let b = parse_f64(incr).ok_or(crate::error::CmdError::NotFloat)?;
    let r = a + b;
    if !r.is_finite() {
        return Err(crate::error::CmdError::Static(
            usher_protocol::errors::INCR_NAN_OR_INF,
        ));
    }
    Ok(format!("{r}").into_bytes())
}
