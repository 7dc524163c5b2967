//! TEMPORARY shim; the real module arrives from branch h/num.

pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    fn m(p: &[u8], s: &[u8], nc: bool) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], s, nc) || (!s.is_empty() && m(p, &s[1..], nc)),
            (Some(b'?'), Some(_)) => m(&p[1..], &s[1..], nc),
            (Some(a), Some(b)) if a == b || (nc && a.eq_ignore_ascii_case(b)) => {
                m(&p[1..], &s[1..], nc)
            }
            _ => false,
        }
    }
    m(pattern, s, nocase)
}
