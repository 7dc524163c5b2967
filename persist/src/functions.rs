//! Function libraries in RDB form (Redis 7.0's `rdbSaveFunctions` / `rdbFunctionLoad`): one
//! `FUNCTION2` record per library holding its code, in files ahead of the keys and in
//! `FUNCTION DUMP`'s payload, which seals the records with the same footer as a key's DUMP.
//! Records of Redis 7.0's release candidates (`FUNCTION_PRE_GA`: name, engine, description,
//! body) are read too, and turned into the code a `#!` line would have given, as Redis does.
//!
//! This module only moves bytes: compiling a library, and deciding whether it may join the
//! ones loaded, is the server's business.

use crate::rdb::{self, Reader, OP_FUNCTION2, OP_FUNCTION_PRE_GA};

/// Appends one library's record: `FUNCTION2` and its code, as `rdbSaveFunctions` writes it.
pub fn save_library(out: &mut Vec<u8>, code: &[u8], compress: bool) {
    out.push(OP_FUNCTION2);
    rdb::save_string(out, code, compress);
}

/// Every library's record, as a file holds them between its header and its keys.
pub fn records<'a>(codes: impl IntoIterator<Item = &'a [u8]>, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        save_library(&mut out, code, compress);
    }
    out
}

/// `FUNCTION DUMP`'s payload: every library's record, then the RDB version and CRC-64.
pub fn dump_payload<'a>(codes: impl IntoIterator<Item = &'a [u8]>, compress: bool) -> Vec<u8> {
    let mut out = records(codes, compress);
    rdb::seal_payload(&mut out);
    out
}

/// Reads the library record that follows opcode `kind` (`FUNCTION2` or `FUNCTION_PRE_GA`)
/// and returns its code; the error is Redis's `rdbFunctionLoad` text.
pub fn read_library(r: &mut Reader<'_>, kind: u8) -> Result<Vec<u8>, &'static str> {
    if kind == OP_FUNCTION2 {
        return r.string().map_err(|_| "Failed loading library payload");
    }
    let name = r.string().map_err(|_| "Failed loading library name")?;
    let engine = r.string().map_err(|_| "Failed loading engine name")?;
    let has_desc = r
        .length()
        .map_err(|_| "Failed loading library description indicator")?;
    if has_desc != 0 {
        // Release candidates kept a library description; 7.0 GA has nowhere to put it.
        r.string()
            .map_err(|_| "Failed loading library description")?;
    }
    let body = r.string().map_err(|_| "Failed loading library blob")?;
    let mut code = Vec::with_capacity(engine.len() + name.len() + body.len() + 10);
    code.extend_from_slice(b"#!");
    code.extend_from_slice(&engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(&name);
    code.push(b'\n');
    code.extend_from_slice(&body);
    Ok(code)
}

/// Why a `FUNCTION RESTORE` payload was refused before any library in it was compiled.
#[derive(Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// The footer's version is newer than ours, or its CRC-64 is wrong.
    Footer,
    /// A record could not be read (Redis's text, without `ERR`).
    Record(&'static str),
}

/// Walks a `FUNCTION RESTORE` payload as `functionRestoreCommand` does: checks the footer,
/// then hands each library's code to `each` in order, stopping at the first error (from a
/// record, or from `each`). Like Redis, a record is read while more than the footer's 10
/// bytes remain, and may run into them: a payload Redis accepts is accepted here.
pub fn read_payload<E>(
    payload: &[u8],
    mut each: impl FnMut(Vec<u8>) -> Result<(), E>,
) -> Result<Result<(), E>, PayloadError> {
    if rdb::verify_dump_payload(payload).is_none() {
        return Err(PayloadError::Footer);
    }
    let mut r = Reader::new(payload);
    while r.remaining() > 10 {
        let kind = r
            .u8()
            .map_err(|_| PayloadError::Record("can not read data type"))?;
        if kind != OP_FUNCTION2 && kind != OP_FUNCTION_PRE_GA {
            return Err(PayloadError::Record("given type is not a function"));
        }
        let code = read_library(&mut r, kind).map_err(PayloadError::Record)?;
        if let Err(e) = each(code) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(payload: &[u8]) -> Result<Vec<Vec<u8>>, PayloadError> {
        let mut got = Vec::new();
        read_payload(payload, |c| {
            got.push(c);
            Ok::<(), ()>(())
        })?
        .expect("no error from the callback");
        Ok(got)
    }

    #[test]
    fn a_dumped_payload_reads_back_with_and_without_compression() {
        let long = b"#!lua name=lib\nredis.register_function('f', function() return 1 end)";
        for compress in [false, true] {
            let p = dump_payload([&b"#!lua name=a\nx"[..], &long[..]], compress);
            assert_eq!(
                codes(&p).unwrap(),
                vec![b"#!lua name=a\nx".to_vec(), long.to_vec()]
            );
        }
        assert_eq!(
            codes(&dump_payload([], true)).unwrap(),
            Vec::<Vec<u8>>::new()
        );
    }

    #[test]
    fn a_pre_ga_record_becomes_a_shebang_line() {
        let mut body = vec![OP_FUNCTION_PRE_GA];
        for s in [&b"lib"[..], b"LUA"] {
            rdb::save_string(&mut body, s, false);
        }
        body.push(1);
        rdb::save_string(&mut body, b"a description", false);
        rdb::save_string(&mut body, b"return 1", false);
        rdb::seal_payload(&mut body);
        assert_eq!(
            codes(&body).unwrap(),
            vec![b"#!LUA name=lib\nreturn 1".to_vec()]
        );
    }

    #[test]
    fn damaged_payloads_are_errors_never_panics() {
        let good = dump_payload([&b"#!lua name=a\nreturn 1"[..]], false);
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 1;
        assert_eq!(codes(&bad_crc), Err(PayloadError::Footer));
        let mut not_function = vec![0u8, 1, b'x'];
        rdb::seal_payload(&mut not_function);
        assert_eq!(
            codes(&not_function),
            Err(PayloadError::Record("given type is not a function"))
        );
        for cut in 0..good.len() - 10 {
            let mut p = good[..cut].to_vec();
            rdb::seal_payload(&mut p);
            let _ = codes(&p);
        }
    }
}
