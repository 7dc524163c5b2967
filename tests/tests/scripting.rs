//! Scripting end to end: EVAL, EVALSHA, SCRIPT and the Lua API against redis-server 7.0.15,
//! and the atomicity of scripts across usher's threads and shards.
//!
//! - the seed scripts (`tests/scripts/`, copies of `shared/seeds/scripts/`) replayed through
//!   EVALSHA on random workloads: same replies, same resulting keys (cjson replies compared as
//!   parsed JSON, since Lua's table order is not defined);
//! - tables of conversions, error shapes and sandbox probes compared byte for byte;
//! - 50 clients on 2 threads running a read-modify-write script lose no update;
//! - scripts that build key names at run time stay atomic on 4 threads and 8 shards;
//! - EVAL in MULTI, in pipelines, WATCH invalidated by a script's write, BUSY and SCRIPT KILL,
//!   and the script cache shared by every thread.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use std::time::{Duration, Instant};
use usher_tests::{diff, Client, Differ, Reply, Server};

fn script(name: &str) -> String {
    std::fs::read_to_string(format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("seed script")
}

fn argv(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

/// EVAL probes whose replies must be identical, error texts included.
const PROBES: &[&[&str]] = &[
    // Lua → RESP conversions.
    &["EVAL", "return 1", "0"],
    &["EVAL", "return 3.99", "0"],
    &["EVAL", "return -3.99", "0"],
    &["EVAL", "return 1e300", "0"],
    &["EVAL", "return 0/0", "0"],
    &["EVAL", "return 'str'", "0"],
    &["EVAL", "return true", "0"],
    &["EVAL", "return false", "0"],
    &["EVAL", "return nil", "0"],
    &["EVAL", "return {1,2,3.7,-3.7,'x',true,false,nil,5}", "0"],
    &["EVAL", "return {1,{2,{3,'x'}},{}}", "0"],
    &["EVAL", "return {ok='fine'}", "0"],
    &["EVAL", "return {err='boom'}", "0"],
    &["EVAL", "return {ok='a\r\nb'}", "0"],
    &["EVAL", "return redis.status_reply('yo')", "0"],
    &["EVAL", "return redis.error_reply('My err')", "0"],
    &["EVAL", "return redis.error_reply('-X y')", "0"],
    &["EVAL", "return {double=3.5}", "0"],
    // tonumber, with its short-decimal shortcut and every other path of Lua's own.
    &["EVAL", "return {tostring(tonumber('1795000000000')), tostring(tonumber('-0')), tostring(tonumber('-42'))}", "0"],
    &["EVAL", "return {tostring(tonumber('0x10')), tostring(tonumber(' 12 ')), tostring(tonumber('1e3')), tostring(tonumber('9999999999999999999'))}", "0"],
    &["EVAL", "return {tostring(tonumber('')), tostring(tonumber('12a')), tostring(tonumber({})), tostring(tonumber('+5'))}", "0"],
    &["EVAL", "return {tostring(tonumber('ff', 16)), tostring(tonumber('z', 36)), tostring(tonumber(' 11 ', 2)), tostring(tonumber('9', 8))}", "0"],
    &["EVAL", "return tonumber('1', 99)", "0"],
    &["EVAL", "return tonumber()", "0"],
    &["EVAL", "return tonumber({}, 16)", "0"],
    &["EVAL", "return tonumber(ARGV[1]) + 1", "0", "1795000000000"],
    &["EVAL", "return cjson.encode({'plain', 'q\"s/b\\\\n\\n\\1\\127end'})", "0"],
    // Tags beside array elements, past the short-array walk, and string keys that are no tag.
    &["EVAL", "return {1,2,err='mixed'}", "0"],
    &["EVAL", "return {1,2,3,4,5,6,7,8,9,ok='long'}", "0"],
    &["EVAL", "return {1,2,3,4,5,6,7,8,9,10}", "0"],
    &["EVAL", "return {1,x=2,'y'}", "0"],
    &["EVAL", "return {[1]=1,[3]=3}", "0"],
    &["EVAL", "return {[1.5]=1,[1]='one'}", "0"],
    &["EVAL", "redis.setresp(3) return true", "0"],
    &["EVAL", "redis.setresp(3) return false", "0"],
    &["EVAL", "redis.setresp(3) return {map={a=1}}", "0"],
    &["EVAL", "return #KEYS + #ARGV", "3", "a", "b", "c", "d", "e"],
    &["EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2]}", "2", "a", "b", "c", "d"],
    // RESP → Lua conversions.
    &["EVAL", "redis.call('set','k',1e20) return redis.call('get','k')", "0"],
    &["EVAL", "redis.call('set','k',0.1) return redis.call('get','k')", "0"],
    &["EVAL", "redis.call('set','k',1795000000000) return redis.call('get','k')", "0"],
    &["EVAL", "redis.call('set','k',-12345678901234567) return redis.call('get','k')", "0"],
    &["EVAL", "redis.call('set','k',-0.0) return redis.call('get','k')", "0"],
    &["EVAL", "redis.call('set','k',0/0) return redis.call('get','k')", "0"],
    &["EVAL", "redis.call('set','k',-2.5e-7) return redis.call('get','k')", "0"],
    &["EVAL", "return redis.call('set','k',42)", "0"],
    &["EVAL", "return redis.call('get','nokey')", "0"],
    &["EVAL", "return redis.call('get','nokey') == false", "0"],
    &["EVAL", "redis.setresp(3) return redis.call('get','nokey') == nil", "0"],
    &["EVAL", "return redis.call('hgetall','nokey')", "0"],
    &["EVAL", "return redis.call('zadd','z',1,'a',2,'b')", "0"],
    &["EVAL", "return redis.call('zrange','z',0,-1,'withscores')", "0"],
    &["EVAL", "redis.setresp(3) return redis.call('zscore','z','a')", "0"],
    &["EVAL", "return redis.call('ping')", "0"],
    &["EVAL", "return redis.call('type','z')", "0"],
    &["EVAL", "return #redis.call('time')", "0"],
    &["EVAL", "return redis.pcall('incr','z')", "0"],
    &["EVAL", "local r = redis.pcall('incr','z') return r['err']", "0"],
    // Error shapes.
    &["EVAL", "return foo", "0"],
    &["EVAL", "foo = 1", "0"],
    &["EVAL", "return redis.call('nosuch')", "0"],
    &["EVAL", "return redis.call('get')", "0"],
    &["EVAL", "return redis.call()", "0"],
    &["EVAL", "return redis.pcall('get','a','b')", "0"],
    &["EVAL", "return redis.call('subscribe','x')", "0"],
    &["EVAL", "return redis.call('eval','return 1','0')", "0"],
    &["EVAL", "return redis.call('set','k',{})", "0"],
    &["EVAL", "return redis.call('incr','z')", "0"],
    &["EVAL", "error('boom')", "0"],
    &["EVAL", "error({err='X boom'})", "0"],
    &["EVAL", "\n\nerror('on line three')", "0"],
    &["EVAL", "return 1 +", "0"],
    &["EVAL_RO", "return redis.call('set','k','v')", "0"],
    &["EVAL", "#!lua flags=no-writes\nreturn redis.call('set','a','b')", "0"],
    &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
    &["EVAL", "#!python\nreturn 1", "0"],
    &["EVAL", "local ok, e = pcall(redis.call, 'incr', 'z') return e", "0"],
    &["EVAL", "local ok, e = pcall(error, {err='x'}) return e", "0"],
    &["EVAL", "return redis.sha1hex()", "0"],
    &["EVAL", "return redis.setresp(4)", "0"],
    &["EVAL", "return redis.log(1)", "0"],
    &["EVAL", "return redis.set_repl(9)", "0"],
    &["EVAL", "return cjson.encode({[1]=1,[2]=2,[20]=3})", "0"],
    &["EVAL", "return 1", "-1"],
    &["EVAL", "return 1", "2", "a"],
    &["EVAL", "return 1", "x"],
    &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    &["EVALSHA", "short", "0"],
    // Sandbox.
    &["EVAL", "os.exit()", "0"],
    &["EVAL", "return io", "0"],
    &["EVAL", "return type(print)", "0"],
    &["EVAL", "return require('x')", "0"],
    &["EVAL", "return type(loadfile)", "0"],
    &["EVAL", "return type(dofile)", "0"],
    &["EVAL", "return type(debug)", "0"],
    &["EVAL", "setmetatable(_G, nil)", "0"],
    &["EVAL", "rawset(_G, 'x', 1)", "0"],
    &["EVAL", "redis.x = 1", "0"],
    &["EVAL", "string.x = 1", "0"],
    &["EVAL", "cjson = nil", "0"],
    // The strings' shared metatable and, through it, the real string library: writable, they
    // would let one script change string methods for every later one (CVE-2025-46818).
    &["EVAL", "getmetatable('').__index.upper = function() return 'owned' end", "0"],
    &["EVAL", "return ('x'):upper()", "0"],
    &["EVAL", "getmetatable('').__index = nil", "0"],
    &["EVAL", "getmetatable('').__add = function() return 1 end", "0"],
    &["EVAL", "rawset(getmetatable(''), '__index', {})", "0"],
    &["EVAL", "setmetatable(getmetatable(''), nil)", "0"],
    &["EVAL", "getmetatable('').__index.stash = KEYS", "1", "k"],
    &["EVAL", "return string.stash", "0"],
    &["EVAL", "return {type(getmetatable('')), rawequal(getmetatable('').__index, string)}", "0"],
    &["EVAL", "return ('abc'):sub(2) .. string.format('%d', 7) .. ('%s'):rep(2)", "0"],
    // unpack's count must not overflow (CVE-2025-46817: vanilla Lua 5.1.5 crashed the server).
    &["EVAL", "return unpack({}, -2147483648, 2147483647)", "0"],
    &["EVAL", "return unpack({1, 2, 3}, 2147483640, -2147483640)", "0"],
    &["EVAL", "return {unpack({1, 2}, 1, 2^40)}", "0"],
    &["EVAL", "return {unpack({}, 2, 1)}", "0"],
    &["EVAL", "return {unpack({1, 2, 3})}", "0"],
    &["EVAL", "return {unpack({1, 2, 3}, 2)}", "0"],
    &["EVAL", "return {unpack({1, 2, 3}, 2.7, nil)}", "0"],
    &["EVAL", "return unpack({}, 1, 100000)", "0"],
    &["EVAL", "return unpack(nil)", "0"],
    &["EVAL", "return unpack({1}, 'x')", "0"],
    // Binary (precompiled) chunks are never loaded: crafted bytecode escapes any sandbox.
    &["EVAL", "local f, e = loadstring(string.dump(function() return 1 end)) return {tostring(f), e}", "0"],
    &["EVAL", "return {loadstring(string.char(27) .. 'return 1', '=short')}", "0"],
    &["EVAL", "return {loadstring(string.char(27), '@a/very/long/path/to/some/file/that/goes/on/and/on/and/on/for/ever.lua')}", "0"],
    &["EVAL", "return {loadstring(string.char(27) .. string.rep('x', 100))}", "0"],
    &["EVAL", "return {loadstring(string.char(27) .. 'ab\ncd')}", "0"],
    &["EVAL", "return {loadstring(string.char(27) .. 'ab', '=' .. string.rep('n', 100))}", "0"],
    &["EVAL", "local n = 0 local f, e = load(function() n = n + 1 if n == 1 then return string.dump(function() return 1 end) end end) return {tostring(f), e}", "0"],
    &["EVAL", "local n = 0 return {load(function() n = n + 1 if n == 1 then return string.char(27) end end, 'named')}", "0"],
    &["EVAL", "local parts, n = {'return ', '4', '2'}, 0 return load(function() n = n + 1 return parts[n] end)()", "0"],
    &["EVAL", "return {load(function() return {} end)}", "0"],
    &["EVAL", "return {load(function() error('boom') end)}", "0"],
    &["EVAL", "return {load(42)}", "0"],
    &["EVAL", "return loadstring('return 1 +', '=x')", "0"],
    &["EVAL", "return {loadstring()}", "0"],
    &["EVAL", "return loadstring('return ...')(7)", "0"],
    &["EVAL", "\u{1b}return 1", "0"],
    // Nesting a script's data drives: bounded as Redis bounds it, never by the thread's stack
    // (a deep cmsgpack document aborted the server).
    &["EVAL", "return #cmsgpack.unpack(string.rep(string.char(0x91), 200000) .. string.char(1))", "0"],
    &["EVAL", "return #cmsgpack.unpack(string.rep(string.char(0x91), 3999) .. string.char(1))", "0"],
    &["EVAL", "return #cmsgpack.unpack(string.rep(string.char(0x91), 4000) .. string.char(1))", "0"],
    &["EVAL", "local a = cmsgpack.unpack_one(string.rep(string.char(0x91), 3999) .. string.char(1)) return a", "0"],
    &["EVAL", "return #cjson.decode(string.rep('[', 200000) .. string.rep(']', 200000))", "0"],
    &["EVAL", "return #cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))", "0"],
    &["EVAL", "return #cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))", "0"],
    &["EVAL", "return #cjson.decode(string.rep('{\"a\":', 999) .. '1' .. string.rep('}', 999))", "0"],
    &["EVAL", "return cjson.decode('[\"[[[\\\\\\\"[[\"]')[1]", "0"],
    &["EVAL", "local t = {} local c = t for i = 1, 200000 do c[1] = {} c = c[1] end return cjson.encode(t)", "0"],
    &["EVAL", "local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return #cmsgpack.pack(t)", "0"],
    &["EVAL", "return {err = '-ERR x'}", "0"],
    &["EVAL", "return {err = '-'}", "0"],
    &["EVAL", "return {err = '--x y'}", "0"],
    &["EVAL", "return redis.error_reply('-x')", "0"],
    &["EVAL", "return redis.error_reply('-')", "0"],
    // KEYS and ARGV: refilled for every EVAL (a script that changed them gets fresh ones),
    // and never visible to a function, whichever EVAL ran before on the thread.
    &["EVAL", "return {#KEYS, #ARGV, KEYS[1], ARGV[3]}", "2", "a", "b", "x", "y", "z"],
    &["EVAL", "return {#KEYS, #ARGV, KEYS[2], ARGV[2]}", "1", "c", "w"],
    &["EVAL", "table.insert(KEYS, 'z') KEYS.x = 1 ARGV[9] = 'n' return #KEYS", "1", "a"],
    &["EVAL", "return {#KEYS, #ARGV, KEYS[1], KEYS[2], KEYS.x, ARGV[9]}", "1", "b"],
    &["EVAL", "setmetatable(ARGV, {__index = function() return 'm' end}) return 1", "0", "a"],
    &["EVAL", "return {#ARGV, ARGV[5]}", "0", "a"],
    &["EVAL", "KEYS[1] = nil return #KEYS", "2", "a", "b"],
    &["EVAL", "return {#KEYS, KEYS[1], KEYS[2], KEYS[3]}", "3", "p", "q", "r"],
    &["EVAL", "return {#KEYS, #ARGV}", "0"],
    &["FUNCTION", "LOAD", "REPLACE", "#!lua name=peek\nredis.register_function('peek_keys', function(keys, args) return KEYS end)\nredis.register_function('peek_argv', function(keys, args) return type(ARGV) end)\nredis.register_function('own', function(keys, args) return {keys[1], args[1]} end)"],
    &["EVAL", "return 1", "1", "leaked"],
    &["FCALL", "peek_keys", "0"],
    &["FCALL", "peek_argv", "0"],
    &["FCALL", "own", "1", "k1", "a1"],
    &["FUNCTION", "DELETE", "peek"],
    // bit.tohex's width of -2^31 (CVE-2024-31449 in Redis's C).
    &["EVAL", "return bit.tohex(65535, -2147483648)", "0"],
    &["EVAL", "return {bit.tohex(65535, -8), bit.tohex(65535, 2147483647), bit.tohex(1, 0)}", "0"],
    &["PING"],
    &["EVAL", "local t = {} rawset(t, 'x', 1) return t.x", "0"],
    // pcall, setmetatable and rawset as Redis has them: no wrapper frame in error positions,
    // the caller's name (or '?') in argument errors, Redis's pcall of nothing.
    &["EVAL", "return {pcall()}", "0"],
    &["EVAL", "return {pcall(pcall)}", "0"],
    &["EVAL", "return {pcall(error, 'x', 2)}", "0"],
    &["EVAL", "return {pcall(rawset, 1, 2, 3)}", "0"],
    &["EVAL", "return {pcall(setmetatable, {}, 1)}", "0"],
    &["EVAL", "local t = setmetatable({}, {__metatable = 'locked'}) return {getmetatable(t), pcall(setmetatable, t, {})}", "0"],
    &["EVAL", "local t = setmetatable({}, {__metatable = 'locked'}) setmetatable(t, {})", "0"],
    &["EVAL", "setmetatable(1, {})", "0"],
    &["EVAL", "rawset(1, 2, 3)", "0"],
    &["EVAL", "local ok, e = pcall(function() error({other = 1}) end) return {ok, type(e)}", "0"],
    &["EVAL", "local ok, e = pcall(cjson.decode, '{bad') return {ok, e}", "0"],
    &["EVAL", "return select('#', pcall(function() return 1, nil, 3, nil end))", "0"],
    &["EVAL", "return loadstring('return 1 + 1')()", "0"],
    &["EVAL", "return table.getn({1,2,3})", "0"],
    &["EVAL", "return unpack({1,2})", "0"],
    &["EVAL", "return math.random(100)", "0"],
    // After the first draw above (a fresh Redis's): the arguments as Lua's luaL_checkint reads
    // them; the draws themselves differ from here, usher restarting the sequence per script.
    &["EVAL", "return math.random(2^40)", "0"],
    &["EVAL", "local a, b = math.random(2^32 + 5), math.random(-2^32 + 1, 2^32 + 3) return {a >= 1 and a <= 5, b >= 1 and b <= 3}", "0"],
    &["EVAL", "return math.random(2^32, 2^33)", "0"],
    &["EVAL", "return redis.REDIS_VERSION .. ' ' .. redis.REDIS_VERSION_NUM", "0"],
    &["EVAL", "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0"],
    &["EVAL", "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_REPLICA, redis.REPL_SLAVE, redis.REPL_ALL}", "0"],
    &["EVAL", "return redis.set_repl(redis.REPL_ALL)", "0"],
    &["EVAL", "return redis.replicate_commands()", "0"],
    &["EVAL", "return redis.log(redis.LOG_WARNING, 'from a script')", "0"],
    &["EVAL", "return redis.sha1hex('abc')", "0"],
    // Libraries.
    &["EVAL", "return cjson.encode({1,2,{a=1.5}})", "0"],
    &["EVAL", "return cjson.encode({})", "0"],
    &["EVAL", "return cjson.encode('a/b\"c\\n')", "0"],
    &["EVAL", "return cjson.encode(0.1)", "0"],
    &["EVAL", "return cjson.encode(123456789012345)", "0"],
    &["EVAL", "return cjson.encode({a=function() end})", "0"],
    &["EVAL", "return cjson.encode({[{}]=1})", "0"],
    &["EVAL", "return cjson.encode({1,nil,3})", "0"],
    &["EVAL", "return cjson.encode({[1.5]=1, x={y={z={1,2}}}})", "0"],
    &["EVAL", "return cjson.encode(-0.0)", "0"],
    &["EVAL", "return cjson.encode(99999999999999)", "0"],
    &["EVAL", "return cjson.encode(1/0)", "0"],
    &["EVAL", "return cjson.encode(true, false)", "0"],
    &["EVAL", "return cjson.decode('{\"a\":[1,2,3]}').a[2]", "0"],
    &["EVAL", "return cjson.decode('[1,null]')[2] == cjson.null", "0"],
    // cjson's settings: returned, validated and applied as lua-cjson does; a setting
    // outlives its script (Redis's one Lua state, usher's server-wide settings) until SCRIPT
    // FLUSH, so each probe puts the defaults back but the four after these.
    &["EVAL", "return {pcall(cjson.encode_keep_buffer, 'x')}", "0"],
    &["EVAL", "return cjson.decode_max_depth(1000)", "0"],
    &["EVAL", "return {pcall(cjson.encode_max_depth, 0)}", "0"],
    &["EVAL", "return {cjson.encode_sparse_array()}", "0"],
    &["EVAL", "return {pcall(cjson.encode_sparse_array, true, -1)}", "0"],
    &["EVAL", "return {pcall(cjson.encode_sparse_array, 1, 2, 3, 4)}", "0"],
    &["EVAL", "return {pcall(cjson.encode_number_precision, 15)}", "0"],
    &["EVAL", "return {cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers()}", "0"],
    &["EVAL", "return {pcall(cjson.encode_invalid_numbers, 'maybe')}", "0"],
    &["EVAL", "local a = {cjson.encode_sparse_array(true)} local r = cjson.encode({[1]=1, [20]=2}) cjson.encode_sparse_array(false) return {r, a[1], a[2], a[3]}", "0"],
    &["EVAL", "local p = cjson.encode_number_precision(3) local r = cjson.encode({1/3, 12345.678, 100, 2^60}) cjson.encode_number_precision(14) return {r, p}", "0"],
    &["EVAL", "local v = cjson.encode_invalid_numbers('null') local r = cjson.encode({1/0, 0/0}) cjson.encode_invalid_numbers(false) return {r, v}", "0"],
    &["EVAL", "local v = cjson.encode_invalid_numbers(true) local r = cjson.encode({1/0, -1/0, 0/0}) cjson.encode_invalid_numbers(false) return {r, tostring(v)}", "0"],
    &["EVAL", "local v = cjson.decode_invalid_numbers(false) local ok, e = pcall(cjson.decode, '[0x10]') local ok2, e2 = pcall(cjson.decode, '[nan]') local ok3, e3 = pcall(cjson.decode, '[007]') cjson.decode_invalid_numbers(true) return {tostring(v), e, e2, e3}", "0"],
    &["EVAL", "local d = cjson.decode_max_depth(2) local ok, e = pcall(cjson.decode, '[[[1]]]') cjson.decode_max_depth(1000) return {d, e}", "0"],
    &["EVAL", "local d = cjson.encode_max_depth(2) local ok, e = pcall(cjson.encode, {{{1}}}) cjson.encode_max_depth(1000) return {d, e}", "0"],
    &["EVAL", "return {cjson.encode_keep_buffer('off'), cjson.encode_keep_buffer(true)}", "0"],
    &["EVAL", "return {cjson.encode_sparse_array('on', 0, 5), cjson.encode({[1]=1, [100]=2}), cjson.encode_sparse_array(false, 2, 10)}", "0"],
    &["EVAL", "return cjson.encode({[1]=1, [100]=2})", "0"],
    &["EVAL", "return {cjson.encode_sparse_array(true)}", "0"],
    &["EVAL", "return cjson.encode({[1]=1, [100]=2})", "0"],
    &["SCRIPT", "FLUSH"],
    &["EVAL", "return {pcall(cjson.encode, {[1]=1, [100]=2})}", "0"],
    // cjson.decode as lua-cjson 2.1.0's: its tokenizer (a NUL ends the document; true,
    // false and null as prefixes; Infinity, NaN, hex and + numbers through strtod), its
    // depth bound and its error texts, character positions included.
    &["EVAL", "return cjson.encode(cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"x\"}'))", "0"],
    &["EVAL", "return cjson.decode('[1,2,3]')[3]", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1,2')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1,2}')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '{\"a\" 1}')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '{1:2}')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '{\"a\":1,}')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1,]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '   ')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, 'nul')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, 'truex')}", "0"],
    &["EVAL", "return tostring(cjson.decode('true'))", "0"],
    &["EVAL", "return cjson.decode('\"a\\\\u00e9\\\\ud83d\\\\ude00b\"')", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\"\\\\ud83d\"')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\"\\\\ude00\"')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\"\\\\q\"')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\"abc')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\"\\\\u12\"')}", "0"],
    &["EVAL", "return cjson.decode('\"\\\\/\\\\b\\\\f\\\\n\\\\r\\\\t\\\\\"\\\\\\\\\"')", "0"],
    &["EVAL", "return tostring(cjson.decode('1e400'))", "0"],
    &["EVAL", "return tostring(cjson.decode('-1e400'))", "0"],
    &["EVAL", "return tostring(cjson.decode('0x1F'))", "0"],
    &["EVAL", "return tostring(cjson.decode('+5'))", "0"],
    &["EVAL", "return tostring(cjson.decode('Infinity'))", "0"],
    &["EVAL", "return tostring(cjson.decode('-inf'))", "0"],
    &["EVAL", "return tostring(cjson.decode('nan'))", "0"],
    &["EVAL", "return tostring(cjson.decode('NaN'))", "0"],
    &["EVAL", "return tostring(cjson.decode('007'))", "0"],
    &["EVAL", "return tostring(cjson.decode('1.'))", "0"],
    &["EVAL", "return {pcall(cjson.decode, '.5')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '-')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '1.5e')}", "0"],
    &["EVAL", "return tostring(cjson.decode('1.5e3'))", "0"],
    &["EVAL", "return tostring(cjson.decode('123456789012345678901234567890'))", "0"],
    &["EVAL", "return tostring(cjson.decode('0.1'))", "0"],
    &["EVAL", "return tostring(cjson.decode('1.7976931348623157e308'))", "0"],
    &["EVAL", "return tostring(cjson.decode('4.9e-324'))", "0"],
    &["EVAL", "return tostring(cjson.decode('1e-400'))", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1]x')}", "0"],
    &["EVAL", "return cjson.decode('[1]' .. string.char(0) .. 'garbage')[1]", "0"],
    &["EVAL", "return {pcall(cjson.decode, string.char(0) .. '1')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '1' .. string.char(0))}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\"a' .. string.char(0) .. 'b\"')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\\239\\187\\191[1]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode)}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '1', '2')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, {})}", "0"],
    &["EVAL", "return cjson.decode(42)", "0"],
    &["EVAL", "return {pcall(cjson.decode, string.rep('[', 1001) .. string.rep(']', 1001))}", "0"],
    &["EVAL", "return {pcall(cjson.decode, string.rep('{\"a\":', 1000) .. '1' .. string.rep('}', 1000))}", "0"],
    &["EVAL", "return {pcall(cjson.decode, string.rep('[', 200000))}", "0"],
    &["EVAL", "return cjson.decode('[\"[[[\\\\\\\\\\\\\"[[\"]')[1]", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1 2]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '{\"a\":1 \"b\":2}')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[tru]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[fals]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[-x]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[+x]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[Inx]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[1,,2]')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, ':')}", "0"],
    &["EVAL", "return {pcall(cjson.decode, '[\\\\u0041]')}", "0"],
    &["EVAL", "return cjson.decode('\"\\\\u0000\"'):len()", "0"],
    &["EVAL", "return cjson.decode(' \\t\\r\\n [ \\t 1 \\n ] \\r ')[1]", "0"],
    &["EVAL", "return {pcall(cjson.decode, '\\f[1]')}", "0"],
    &["EVAL", "return cjson.decode('{\"a\":1,\"a\":2}').a", "0"],
    &["EVAL", "return cjson.decode('\"\\\\u00\"' .. '41\"')", "0"],
    &["EVAL", "local t = cjson.decode('{\"k\":{\"x\":[true,false,null]}}') return {tostring(t.k.x[1]), tostring(t.k.x[2]), t.k.x[3] == cjson.null}", "0"],
    &["EVAL", "return cjson.decode('[' .. string.rep('1,', 5000) .. '1]')[5001]", "0"],
    &["EVAL", "return cjson.decode(\"{\\\"\\\\u00e9\\\": 1}\")[\"\u{e9}\"]", "0"],
    &["EVAL", "return {bit.band(0xff, 0x0f), bit.bor(1, 2), bit.bxor(5, 3), bit.bnot(0)}", "0"],
    &["EVAL", "return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.rol(1, 33)}", "0"],
    &["EVAL", "return {bit.tobit(2^31), bit.tohex(65535), bit.tohex(-1, -4), bit.bswap(1)}", "0"],
    // Argument errors as the C libraries raise them: luaL_argerror names the function as
    // Lua can ('?' through pcall), LuaBitOp checks arguments last to second; error_reply
    // and status_reply return an error table for bad arguments; set_repl's own text.
    &["EVAL", "return {pcall(bit.band)}", "0"],
    &["EVAL", "return {pcall(bit.band, 'x')}", "0"],
    &["EVAL", "return {pcall(bit.band, {})}", "0"],
    &["EVAL", "return bit.band('12', 10)", "0"],
    &["EVAL", "return {pcall(bit.tohex)}", "0"],
    &["EVAL", "return bit.tohex(255, '4')", "0"],
    &["EVAL", "return {pcall(bit.lshift, 1)}", "0"],
    &["EVAL", "return {bit.tobit(2^53), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2^32+1)}", "0"],
    &["EVAL", "return {bit.bor(), pcall(bit.bxor)}", "0"],
    &["EVAL", "return bit.band(0x7fffffff, 0xffffffff, 0xf0f0f0f0)", "0"],
    &["EVAL", "return {struct.unpack('>i2', struct.pack('>i2', '7'))}", "0"],
    &["EVAL", "return {pcall(struct.unpack, 'c', 'abc')}", "0"],
    &["EVAL", "return {pcall(redis.sha1hex)}", "0"],
    &["EVAL", "return redis.sha1hex(12)", "0"],
    &["EVAL", "return {pcall(redis.sha1hex, {})}", "0"],
    &["EVAL", "return {pcall(redis.error_reply)}", "0"],
    &["EVAL", "return {pcall(redis.error_reply, 12)}", "0"],
    &["EVAL", "return {pcall(redis.status_reply)}", "0"],
    &["EVAL", "return {pcall(redis.status_reply, {})}", "0"],
    &["EVAL", "return {pcall(redis.log)}", "0"],
    &["EVAL", "return {pcall(redis.log, 'x', 'y')}", "0"],
    &["EVAL", "return {pcall(redis.log, 99, 'y')}", "0"],
    &["EVAL", "return {pcall(redis.setresp)}", "0"],
    &["EVAL", "return {pcall(redis.setresp, 4)}", "0"],
    &["EVAL", "return {pcall(redis.setresp, 'x')}", "0"],
    &["EVAL", "return {pcall(redis.set_repl)}", "0"],
    &["EVAL", "return {pcall(redis.set_repl, 99)}", "0"],
    &["EVAL", "return {pcall(redis.call)}", "0"],
    &["EVAL", "return {pcall(redis.call, {})}", "0"],
    &["EVAL", "return {pcall(redis.call, 'get', {})}", "0"],
    &["EVAL", "return {pcall(redis.acl_check_cmd)}", "0"],
    &["EVAL", "return {pcall(redis.acl_check_cmd, 'nosuch')}", "0"],
    &["EVAL", "return redis.acl_check_cmd('get', 'x')", "0"],
    &["EVAL", "return {pcall(redis.breakpoint)}", "0"],
    &["EVAL", "return {pcall(redis.debug, 'x')}", "0"],
    &["EVAL", "return {pcall(cjson.encode)}", "0"],
    &["EVAL", "return cjson.encode_sparse_array()", "0"],
    &["EVAL", "return {pcall(string.rep)}", "0"],
    &["EVAL", "return {pcall(tonumber)}", "0"],
    &["EVAL", "return {pcall(loadstring, 1)}", "0"],
    &["EVAL", "return {pcall(bit.band, 1, 'x', {})}", "0"],
    &["EVAL", "return {bit.tohex(-1, -2^31), bit.tohex(0x1234, -3), bit.tohex(7, 0)}", "0"],
    &["EVAL", "return {bit.band('0', 1), pcall(bit.bnot, nil)}", "0"],
    &["EVAL", "return {pcall(math.random, 'x')}", "0"],
    &["EVAL", "return {pcall(math.random, 5, 1)}", "0"],
    &["EVAL", "return {pcall(math.random, 0)}", "0"],
    &["EVAL", "return {pcall(math.randomseed)}", "0"],
    &["EVAL", "return {bit.arshift(-256, 4), bit.rshift(-1, 28), bit.rol(1, 33), bit.ror(1, 1), bit.bswap(0x12345678)}", "0"],
    &["EVAL", "return math.random('x')", "0"],
    &["EVAL", "return bit.band({})", "0"],
    &["EVAL", "return cjson.encode()", "0"],
    &["EVAL", "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483649)", "0"],
    &["EVAL", "return cmsgpack.pack(1.5, 0.1, 1e300, -2.25, true, false, nil)", "0"],
    &["EVAL", "return cmsgpack.pack('abc', string.rep('x', 40), string.rep('y', 300), string.rep('z', 70000))", "0"],
    &["EVAL", "return cmsgpack.pack({1,2,3}, {}, {a=1}, {1,{2,{3}}}, {[1]=1,[3]=3})", "0"],
    &["EVAL", "local t = {} for i=1,20 do t[i]=i end return cmsgpack.pack(t)", "0"],
    &["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, -5))}", "0"],
    &["EVAL", "return cmsgpack.unpack(cmsgpack.pack({x=1})).x", "0"],
    &["EVAL", "return cmsgpack.pack()", "0"],
    // cmsgpack.pack as lua-cmsgpack 0.4.0's: 2^63 is no int64, lua_gettable sees __index,
    // nesting past 16 is nil, the argument errors and the argument count bound.
    &["EVAL", "return cmsgpack.pack(setmetatable({}, {__index = function(t, k) return k * 10 end, __len = function() return 3 end}))", "0"],
    &["EVAL", "return cmsgpack.pack({1, 2, nil, 4})", "0"],
    &["EVAL", "return cmsgpack.pack({[1]=1, [2]=2, [4]=4})", "0"],
    &["EVAL", "return cmsgpack.pack({[1.5]=1})", "0"],
    &["EVAL", "return cmsgpack.pack({[-1]=1})", "0"],
    &["EVAL", "return cmsgpack.pack({[0]=1})", "0"],
    &["EVAL", "return cmsgpack.pack({[2^40]=1})", "0"],
    &["EVAL", "return cmsgpack.pack(0/0)", "0"],
    &["EVAL", "return cmsgpack.pack(1/0, -1/0)", "0"],
    &["EVAL", "return cmsgpack.pack(2^63, -2^63, 2^64)", "0"],
    &["EVAL", "return cmsgpack.pack(print)", "0"],
    &["EVAL", "return cmsgpack.pack(coroutine.create(function() end))", "0"],
    &["EVAL", "return {pcall(cmsgpack.pack)}", "0"],
    &["EVAL", "return cmsgpack.pack(nil)", "0"],
    &["EVAL", "return cmsgpack.pack(nil, nil)", "0"],
    &["EVAL", "return cmsgpack.pack(-0.0)", "0"],
    &["EVAL", "return cmsgpack.pack(3.4028235e38, 3.5e38, 1e-45)", "0"],
    &["EVAL", "return cmsgpack.pack(string.rep('a', 31), string.rep('b', 32), string.rep('c', 255), string.rep('d', 256))", "0"],
    &["EVAL", "return cmsgpack.pack({a={b={c={d={e={f={g={h={i={j={k={l={m={n={o={p={q={r=1}}}}}}}}}}}}}}}}})", "0"],
    &["EVAL", "local t = {} t.self = t return cmsgpack.pack(t)", "0"],
    &["EVAL", "local t = {} for i=1,16 do t[i]=i end return cmsgpack.pack(t)", "0"],
    &["EVAL", "local t = {} for i=1,70000 do t[i]=i%256 end return #cmsgpack.pack(t)", "0"],
    &["EVAL", "local t = {} for i=1,20 do t['k'..i]=i end return #cmsgpack.pack(t)", "0"],
    &["EVAL", "return cmsgpack.pack(true, false, 'x', 1, {})", "0"],
    &["EVAL", "return {pcall(cmsgpack.pack, unpack({}, 1, 7000))}", "0"],
    // cmsgpack's decoder as lua-cmsgpack 0.4.0's: every integer width (uint64 wraps through
    // Lua 5.1's signed lua_Integer), no bin/ext types, nil and NaN keys refused by
    // lua_settable, offsets and limits checked, the stack bounds of its luaL_checkstack calls.
    &["EVAL", "return {cmsgpack.unpack(string.char(0x81, 0xc0, 1))}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.char(0x92, 1))}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.char(0xc1))}", "0"],
    &["EVAL", "return cmsgpack.unpack(string.char(0x92, 1))", "0"],
    &["EVAL", "return {cmsgpack.unpack_one(string.char(1,2,3), 1)}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack_one, string.char(1,2,3), 5)}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack_one, string.char(1,2,3), -1)}", "0"],
    &["EVAL", "return {cmsgpack.unpack_one(string.char(1,2,3), 3)}", "0"],
    &["EVAL", "return {cmsgpack.unpack('')}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack)}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, {})}", "0"],
    &["EVAL", "return {cmsgpack.unpack(12)}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.char(0x81, 0xcb, 0x7f,0xf8,0,0,0,0,0,0, 1))}", "0"],
    &["EVAL", "return {cmsgpack.unpack_one(string.char(1,2,3))}", "0"],
    &["EVAL", "return {cmsgpack.unpack_one(string.char(1,2,3), 2.7)}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack_one, string.char(1,2,3), 'x')}", "0"],
    &["EVAL", "return {cmsgpack.unpack_one(string.char(1,2,3), '1')}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xcf, 0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xff))}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xcf, 0x80,0,0,0,0,0,0,1), string.char(0xd3, 0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xfe))}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xd3, 0xff,0xff,0xff,0xff,0xff,0xff,0xff,0xfe))}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xd4, 1, 2))}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.char(0xc4, 2, 65, 66))}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xd1, 0x80, 0x01, 0xd2, 0x80,0,0,1, 0xd0, 0x85, 0xcc, 0xff, 0xcd, 0xff, 0xff, 0xce, 0xff,0xff,0xff,0xff))}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xca, 0x3f, 0xc0, 0, 0, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc3, 0xc2))}", "0"],
    &["EVAL", "local t = cmsgpack.unpack(string.char(0x82, 0xa1, 0x61, 1, 0xa1, 0x62, 0x91, 2)) return {t.a, t.b[1]}", "0"],
    &["EVAL", "return {cmsgpack.unpack_limit(string.char(1,2,3,4), 2)}", "0"],
    &["EVAL", "return {cmsgpack.unpack_limit(string.char(1,2,3,4), 2, 3)}", "0"],
    &["EVAL", "return {cmsgpack.unpack_limit(string.char(1,2,3,4), 0)}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack_limit, string.char(1,2,3,4))}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack_limit, string.char(1,2,3,4), -1)}", "0"],
    &["EVAL", "return cmsgpack.unpack_limit(string.char(1,2,3,4))", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xd9, 3) .. 'abc', string.char(0xda, 0, 2) .. 'xy')}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xda, 0, 2) .. 'xy' .. string.char(0xdb, 0, 0, 0, 1) .. 'z')}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.char(0xdb, 0, 0, 0, 9) .. 'z')}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.char(0xdd, 0, 0, 0, 2, 1))}", "0"],
    &["EVAL", "return {cmsgpack.unpack(string.char(0xdc, 0, 2, 1, 2, 0xde, 0, 1, 1, 2))}", "0"],
    &["EVAL", "return #{cmsgpack.unpack(string.rep(string.char(1), 9000))}", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.rep(string.char(1), 9000))}", "0"],
    &["EVAL", "return #{cmsgpack.unpack(string.rep(string.char(1), 7990))}", "0"],
    &["EVAL", "return #cmsgpack.unpack(string.rep(string.char(0x81, 1), 3000) .. string.char(1))", "0"],
    &["EVAL", "return {pcall(cmsgpack.unpack, string.rep(string.char(0x81, 1), 5000) .. string.char(1))}", "0"],
    &["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, -5, 1.5, 2^40, -2^40))}", "0"],
    &["EVAL", "return struct.pack('>I2', 258)", "0"],
    &["EVAL", "return struct.pack('bBhHlL', -1, 255, -2, 65535, -3, 7)", "0"],
    &["EVAL", "return struct.pack('>d', 1.5)", "0"],
    &["EVAL", "return struct.pack('c3s', 'abcdef', 'zz')", "0"],
    &["EVAL", "return {struct.unpack('<i4s', struct.pack('<i4s', -7, 'hey'))}", "0"],
    &["EVAL", "return {struct.unpack('>I2c0', struct.pack('>I2', 3) .. 'abc')}", "0"],
    &["EVAL", "return {struct.size('>iId'), struct.size('!4bi')}", "0"],
    &["EVAL", "return struct.pack('!4bi', 1, 2)", "0"],
    &["EVAL", "return struct.pack('q', 1)", "0"],
    // struct's argument errors as lua_struct raises them (its nil mark after pack's
    // arguments, luaL_checklstring taking numbers as text, size's fixed-size errors).
    &["EVAL", "return {pcall(struct.pack)}", "0"],
    &["EVAL", "return {pcall(struct.pack, 'i')}", "0"],
    &["EVAL", "return {pcall(struct.pack, 'ii', 1)}", "0"],
    &["EVAL", "return {pcall(struct.pack, 'z')}", "0"],
    &["EVAL", "return {pcall(struct.unpack, 'i4', 'ab')}", "0"],
    &["EVAL", "return {pcall(struct.size)}", "0"],
    &["EVAL", "return {pcall(struct.size, 's')}", "0"],
    &["EVAL", "return {pcall(struct.size, 'c0')}", "0"],
    &["EVAL", "return {pcall(struct.pack, '>i2', 'x')}", "0"],
    &["EVAL", "return {pcall(struct.pack, 'c', 1)}", "0"],
    &["EVAL", "return {pcall(struct.pack, 's', 12.5)}", "0"],
    &["EVAL", "return {pcall(struct.pack, 's', {})}", "0"],
    &["EVAL", "return {pcall(struct.unpack)}", "0"],
    &["EVAL", "return {pcall(struct.unpack, 'i')}", "0"],
    &["EVAL", "return {struct.unpack('i', struct.pack('i', 7), 1)}", "0"],
    &["EVAL", "return {struct.unpack('c2', 'abcd', 3)}", "0"],
    &["EVAL", "return struct.pack('i', '12')", "0"],
    &["EVAL", "return {pcall(struct.pack, 'i', true)}", "0"],
    &["EVAL", "return struct.size('>i2hd')", "0"],
    // The script cache.
    &["SCRIPT", "LOAD", "return 'loaded'"],
    &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    &["SCRIPT", "EXISTS", "b534286061d4b9e4026607613b95c06c06015ae8", "ffffffffffffffffffffffffffffffffffffffff"],
    &["SCRIPT", "FLUSH", "BOGUS"],
    &["SCRIPT", "FLUSH", "ASYNC"],
    &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    &["SCRIPT", "KILL"],
    &["SCRIPT", "NOSUCH"],
];

#[test]
fn conversions_errors_and_sandbox_match_redis() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    d.check(&argv(&["FLUSHALL"])).expect("flushall");
    let seq: Vec<Vec<Vec<u8>>> = PROBES.iter().map(|p| argv(p)).collect();
    d.run_all(&seq, 0);
}

/// A script's reply nested deeper than Lua's stack allows ends where Redis's does: as many
/// nested arrays, maps and sets as Redis writes, then its `reached lua stack limit` error
/// (the reply is about 8,000 levels deep: parsed on a thread with room for that).
#[test]
fn deep_replies_end_where_redis_ends_them() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let (u_port, r_port) = (usher.port, redis.port);
    let probes: Vec<Vec<Vec<u8>>> = [
        "local t = {} local c = t for i = 1, 200000 do c[1] = {} c = c[1] end return t",
        "local t = {} local c = t for i = 1, 7994 do c[1] = {} c = c[1] end c[1] = 'x' return t",
        "redis.setresp(3) local t = {} local c = t for i = 1, 5000 do local n = {} c.map = {k = n} c = n end return t",
        "redis.setresp(3) local t = {} local c = t for i = 1, 5000 do local n = {} c.map = {[n] = 1} c = n end return t",
        "redis.setresp(3) local t = {} local c = t for i = 1, 5000 do local n = {} c.set = {[n] = true} c = n end return t",
    ]
    .iter()
    .map(|script| argv(&["EVAL", script, "0"]))
    .collect();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut u = Client::connect(u_port).unwrap();
            let mut r = Client::connect(r_port).unwrap();
            for p in &probes {
                let (ours, theirs) = (u.call(p), r.call(p));
                assert!(
                    ours == theirs,
                    "{:?} differs",
                    String::from_utf8_lossy(&p[1])
                );
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Scripts in the shapes job-queue and rate-limit libraries send: many keys, key names built
/// at run time, `pcall` error handling, `cmsgpack` payloads, RESP3 replies.
const LIBRARY_SHAPES: &[&[&str]] = &[
    // A job queue: push a msgpack'd job, move it between lists, count, read it back.
    &["EVAL", "local id = redis.call('INCR', KEYS[1]) \
        local job = cmsgpack.pack({id = id, name = ARGV[1], attempts = 0}) \
        redis.call('HSET', KEYS[2] .. ':' .. id, 'data', job, 'state', 'wait') \
        redis.call('RPUSH', KEYS[3], id) \
        return id", "3", "{q}:id", "{q}:job", "{q}:wait", "send-email"],
    &["EVAL", "local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') \
        if not id then return false end \
        local key = KEYS[3] .. ':' .. id \
        redis.call('HSET', key, 'state', 'active') \
        local job = cmsgpack.unpack(redis.call('HGET', key, 'data')) \
        return {id, job.name, redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2])}",
        "3", "{q}:wait", "{q}:active", "{q}:job"],
    // A rate limiter: sliding window with pcall around a failing call.
    &["EVAL", "local ok, err = pcall(redis.call, 'INCR', KEYS[2]) \
        redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1] - ARGV[2]) \
        local n = redis.call('ZCARD', KEYS[1]) \
        if n < tonumber(ARGV[3]) then redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4]) end \
        return {n, tostring(ok), err}", "2", "rl:{u1}", "rl:{u1}:wrongtype", "1000", "100", "5", "r1"],
    &["SET", "rl:{u1}:wrongtype:x", "1"],
    &["EVAL", "local r = redis.pcall('HSET', KEYS[1], 'a') \
        if type(r) == 'table' and r.err then return 'caught: ' .. r.err end return r", "1", "rl:{u1}"],
    // Many keys, named by the caller.
    &["EVAL", "local t = {} for i, k in ipairs(KEYS) do t[i] = redis.call('INCRBY', k, i) end return t",
        "12", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k12"],
    &["EVAL", "return redis.call('MGET', unpack(KEYS))", "4", "k1", "k5", "nokey", "k12"],
    // RESP3 inside the script and towards a RESP2 caller.
    &["EVAL", "redis.setresp(3) redis.call('HSET', KEYS[1], 'f', 'v') \
        local m = redis.call('HGETALL', KEYS[1]) return {m.map.f, redis.call('ZSCORE', KEYS[2], 'x')}",
        "2", "h3", "z3"],
    &["EVAL", "redis.setresp(3) return {map = {a = 1}, set = {}}", "0"],
    &["EVAL", "redis.setresp(3) return redis.call('SMEMBERS', 'noset')", "0"],
];

#[test]
fn library_shaped_scripts_match_redis() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    d.check(&argv(&["FLUSHALL"])).expect("flushall");
    let seq: Vec<Vec<Vec<u8>>> = LIBRARY_SHAPES
        .iter()
        .chain(LIBRARY_SHAPES)
        .map(|p| argv(p))
        .collect();
    d.run_all(&seq, 0);
    // Over RESP3, the same scripts reply with RESP3 types.
    let mut u = usher.client();
    let mut r = redis.client();
    for c in [&mut u, &mut r] {
        c.call(&["HELLO", "3"]);
    }
    for probe in [
        &["EVAL", "redis.setresp(3) return {map = {a = 1}}", "0"][..],
        &["EVAL", "redis.setresp(3) return {double = 1.5}", "0"],
        &["EVAL", "redis.setresp(3) return true", "0"],
        &["EVAL", "return redis.call('GET', 'nokey')", "0"],
    ] {
        assert_eq!(u.call(probe), r.call(probe), "{probe:?}");
    }
    // And a script may call usher's native commands.
    let reply = u.call(&[
        "EVAL",
        "redis.call('ZADD', KEYS[1], 1, 'alice') return redis.call('ADMIT', KEYS[1], KEYS[2], 1)",
        "2",
        "queue:{n}",
        "active:{n}",
    ]);
    assert_eq!(
        format!("{reply:?}"),
        format!(
            "{:?}",
            Reply::Array(vec![
                Reply::Int(1),
                Reply::Array(vec![Reply::bulk("alice")])
            ])
        )
    );
}

/// One usher and one redis-server, fed the same commands.
struct Pair {
    usher: Client,
    redis: Client,
    log: Vec<String>,
    seed: u64,
}

impl Pair {
    fn new(usher: &Server, redis: &Server, seed: u64) -> Pair {
        let mut p = Pair {
            usher: usher.client(),
            redis: redis.client(),
            log: Vec::new(),
            seed,
        };
        p.same(&["FLUSHALL"]);
        p
    }

    fn fail(&self, what: String) -> ! {
        let start = self.log.len().saturating_sub(30);
        panic!(
            "{what}\n(seed {}; rerun with USHER_DIFF_SEED={})\nlast commands:\n  {}",
            self.seed,
            self.seed,
            self.log[start..].join("\n  ")
        );
    }

    /// Runs `args` on both; replies must be equal (cjson strings as parsed JSON).
    fn same<A: AsRef<str>>(&mut self, args: &[A]) -> Reply {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        self.log.push(args.join(" "));
        let (u, r) = (self.usher.call(&args), self.redis.call(&args));
        if as_json(&u) != as_json(&r) {
            self.fail(format!(
                "reply differs for {args:?}\n usher: {u:?}\n redis: {r:?}"
            ));
        }
        r
    }

    fn load(&mut self, name: &str) -> String {
        let body = script(name);
        self.same(&["SCRIPT", "LOAD", &body]).text()
    }

    /// Every key must hold the same value on both servers (hash fields unordered; `heldAt`,
    /// stamped from each server's clock, within two seconds).
    fn same_keys(&mut self, keys: &[String]) {
        for key in keys {
            let t = self.same(&["TYPE", key]).text();
            let read: Vec<&str> = match t.as_str() {
                "zset" => vec!["ZRANGE", key, "0", "-1", "WITHSCORES"],
                "hash" => vec!["HGETALL", key],
                "string" => vec!["GET", key],
                _ => continue,
            };
            let (u, r) = (self.usher.call(&read), self.redis.call(&read));
            let ((u, u_held), (r, r_held)) = if t == "hash" {
                (hash_fields(&u), hash_fields(&r))
            } else {
                (
                    (vec![format!("{u:?}")], None),
                    (vec![format!("{r:?}")], None),
                )
            };
            let held_apart = match (u_held, r_held) {
                (Some(a), Some(b)) => (a - b).abs() > 2000,
                (a, b) => a.is_some() != b.is_some(),
            };
            if u != r || held_apart {
                self.fail(format!(
                    "{key} differs\n usher: {u:?} heldAt {u_held:?}\n redis: {r:?} heldAt {r_held:?}"
                ));
            }
            let (pu, pr) = (
                self.usher.call(&["PTTL", key]).int(),
                self.redis.call(&["PTTL", key]).int(),
            );
            if ((pu < 0 || pr < 0) && pu != pr) || (pu - pr).abs() > 2000 {
                self.fail(format!("PTTL {key}: usher {pu}, redis {pr}"));
            }
        }
    }
}

/// A bulk string holding JSON compares as parsed JSON; anything else as itself.
fn as_json(r: &Reply) -> String {
    if let Reply::Bulk(b) = r {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(b) {
            if v.is_object() || v.is_array() {
                return format!("json:{v}");
            }
        }
    }
    format!("{r:?}")
}

/// HGETALL as sorted `field=value` lines, and `heldAt` (ms, stamped from each server's own
/// clock) apart, to be compared within a tolerance: rounding it to a bucket made two clocks a
/// millisecond apart differ whenever they straddled a bucket's edge.
fn hash_fields(r: &Reply) -> (Vec<String>, Option<i64>) {
    let mut held = None;
    let mut out: Vec<String> = r
        .items()
        .chunks(2)
        .filter_map(|c| {
            let (f, v) = (c[0].text(), c[1].text());
            if f == "heldAt" {
                held = Some(v.parse().unwrap_or(0));
                None
            } else {
                Some(format!("{f}={v}"))
            }
        })
        .collect();
    out.sort();
    (out, held)
}

/// Each seed script through EVALSHA on a random workload, on usher (4 shards, 2 threads; keys
/// with and without a shared hash tag) and redis-server: same replies, same keys.
#[test]
fn seed_scripts_match_redis_on_random_workloads() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let redis = Server::redis(&[]);
    let seed = diff::seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut p = Pair::new(&usher, &redis, seed);
    let admission = p.load("admission_zpopmin.lua");
    let cleanup = p.load("cleanup_stale.lua");
    let consume = p.load("consume_token.lua");
    let enter = p.load("enter_queue.lua");
    let verify = p.load("payment_verify.lua");
    let lock = p.load("seat_lock_with_token.lua");
    let now: i64 = 1_795_000_000_000;
    for tag in ["evt", "{evt}"] {
        let queue = format!("queue:{tag}");
        let active = format!("active:{tag}");
        let hb = format!("hb:{tag}");
        let mut keys = vec![queue.clone(), active.clone(), hb.clone()];
        for i in 0..diff::ops(1500) {
            let user = format!("user:{}", rng.random_range(0..60));
            let t = now + i as i64 * rng.random_range(1..500);
            match rng.random_range(0..9) {
                0 => {
                    p.same(&["ZADD", &queue, "NX", &s(t), &user]);
                    p.same(&["ZADD", &hb, &s(t), &user]);
                }
                1 => {
                    let (count, ttl, cap) = (
                        rng.random_range(0..8),
                        rng.random_range(1000..60_000),
                        rng.random_range(0..30),
                    );
                    let args = [
                        s("EVALSHA"),
                        admission.clone(),
                        s(2),
                        queue.clone(),
                        active.clone(),
                        s(count),
                        s(t),
                        s(ttl),
                        s(cap),
                    ];
                    p.same(&args);
                }
                2 => {
                    let args = [
                        s("EVALSHA"),
                        cleanup.clone(),
                        s(2),
                        hb.clone(),
                        queue.clone(),
                        s(t - rng.random_range(0..200_000)),
                        s(rng.random_range(1..10)),
                    ];
                    p.same(&args);
                }
                3 => {
                    let token = format!("token:{tag}:{}", rng.random_range(0..10));
                    if rng.random_range(0..3) == 0 {
                        p.same(&["HSET", &token, "user", &user, "issuedAt", &s(t)]);
                    }
                    p.same(&[s("EVALSHA"), consume.clone(), s(1), token.clone(), s(t)]);
                    keys.push(token);
                }
                4 | 5 => {
                    let at = format!("activeToken:{tag}:{user}");
                    if rng.random_range(0..4) == 0 {
                        let exp = t + rng.random_range(-5000..5000);
                        p.same(&["HSET", &at, "expiresAt", &s(exp)]);
                    }
                    let args = [
                        s("EVALSHA"),
                        enter.clone(),
                        s(2),
                        at.clone(),
                        queue.clone(),
                        user.clone(),
                        s(t),
                        s(t),
                    ];
                    p.same(&args);
                    keys.push(at);
                }
                _ => {
                    let seat = format!("seat:{tag}:{}", rng.random_range(0..12));
                    let ttl = s(rng.random_range(60..600));
                    let r = p.same(&[
                        s("EVALSHA"),
                        lock.clone(),
                        s(1),
                        seat.clone(),
                        user.clone(),
                        ttl,
                    ]);
                    let token = match r.items() {
                        [Reply::Int(1), Reply::Int(tok)] => *tok,
                        _ => rng.random_range(0..5),
                    };
                    if rng.random_range(0..2) == 0 {
                        let token = s(token + rng.random_range(0..2));
                        p.same(&[
                            s("EVALSHA"),
                            verify.clone(),
                            s(1),
                            seat.clone(),
                            user.clone(),
                            token,
                        ]);
                    }
                    keys.push(format!("{seat}:token"));
                    keys.push(seat);
                }
            }
        }
        keys.sort();
        keys.dedup();
        p.same_keys(&keys);
    }
    // EVAL of the body gives what EVALSHA gave, and leaves the same cache.
    let body = script("payment_verify.lua");
    p.same(&["EVAL", &body, "1", "seat:evt:0", "user:1", "1"]);
    p.same(&["SCRIPT", "EXISTS", &verify, &lock]);
}

/// A read-modify-write script (GET, then SET of the value plus one, on two keys, one named
/// at run time) by 50 clients over 2 threads: no increment is lost.
#[test]
fn fifty_clients_on_two_threads_lose_no_update() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let body = "local v = tonumber(redis.call('GET', KEYS[1]) or '0')
                redis.call('SET', KEYS[1], v + 1)
                local other = 'shadow:' .. KEYS[1]
                local w = tonumber(redis.call('GET', other) or '0')
                redis.call('SET', other, w + 1)
                return v + 1";
    let sha = usher.client().call(&["SCRIPT", "LOAD", body]).text();
    let (clients, rounds) = (50, 200);
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let port = usher.port;
            let sha = sha.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(port).expect("connect");
                for j in 0..rounds {
                    let key = if (i + j) % 2 == 0 {
                        "counter:a"
                    } else {
                        "counter:b"
                    };
                    let r = c.call(&["EVALSHA", &sha, "1", key]);
                    assert!(matches!(r, Reply::Int(_)), "{r:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let mut c = usher.client();
    let total: i64 = ["counter:a", "counter:b"]
        .iter()
        .map(|k| c.call(&["GET", k]).text().parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, clients * rounds);
    let shadow: i64 = ["shadow:counter:a", "shadow:counter:b"]
        .iter()
        .map(|k| c.call(&["GET", k]).text().parse::<i64>().unwrap())
        .sum();
    assert_eq!(
        shadow,
        clients * rounds,
        "run-time key names must be atomic too"
    );
}

/// Transfers between accounts whose names the script builds at run time (no declared keys)
/// on 4 threads and 8 shards, while auditors sum every account in a script: the sum never
/// changes, and every transfer is counted.
#[test]
fn scripts_building_key_names_at_run_time_stay_atomic_on_four_threads() {
    let usher = Server::usher(&["--threads", "4", "--shards", "8"]);
    let accounts = 16;
    let mut c = usher.client();
    for a in 0..accounts {
        c.call(&["SET", &format!("acct:{a}"), "100"]);
    }
    let transfer = c
        .call(&[
            "SCRIPT",
            "LOAD",
            "local from, to = 'acct:' .. ARGV[1], 'acct:' .. ARGV[2]
             local a = tonumber(redis.call('GET', from))
             local b = tonumber(redis.call('GET', to))
             redis.call('SET', from, a - 1)
             redis.call('SET', to, b + 1)
             redis.call('INCR', 'transfers')
             return 1",
        ])
        .text();
    let audit = c
        .call(&[
            "SCRIPT",
            "LOAD",
            "local sum = 0
             for i = 0, tonumber(ARGV[1]) - 1 do
               sum = sum + tonumber(redis.call('GET', 'acct:' .. i))
             end
             return sum",
        ])
        .text();
    let (workers, rounds) = (12, 300);
    let mut handles = Vec::new();
    for w in 0..workers {
        let (port, transfer) = (usher.port, transfer.clone());
        handles.push(std::thread::spawn(move || {
            let mut rng = SmallRng::seed_from_u64(w);
            let mut c = Client::connect(port).expect("connect");
            for _ in 0..rounds {
                let from = rng.random_range(0..accounts);
                let to = (from + rng.random_range(1..accounts)) % accounts;
                let r = c.call(&["EVALSHA", &transfer, "0", &s(from), &s(to)]);
                assert_eq!(r, Reply::Int(1));
            }
        }));
    }
    for _ in 0..4 {
        let (port, audit) = (usher.port, audit.clone());
        handles.push(std::thread::spawn(move || {
            let mut c = Client::connect(port).expect("connect");
            for _ in 0..200 {
                let r = c.call(&["EVALSHA", &audit, "0", &s(accounts)]);
                assert_eq!(
                    r,
                    Reply::Int(100 * accounts as i64),
                    "an audit saw a half transfer"
                );
            }
        }));
    }
    for h in handles {
        h.join().expect("worker");
    }
    assert_eq!(
        c.call(&["GET", "transfers"]).text(),
        s(workers * rounds),
        "every transfer counted once"
    );
    assert_eq!(
        c.call(&["EVALSHA", &audit, "0", &s(accounts)]),
        Reply::Int(100 * accounts as i64)
    );
}

/// EVAL inside MULTI, a pipeline of EVALSHAs, and WATCH seeing a script's write.
#[test]
fn scripts_in_transactions_and_pipelines() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let seq: Vec<Vec<Vec<u8>>> = [
        &["FLUSHALL"][..],
        &["MULTI"],
        &["EVAL", "return redis.call('INCR', KEYS[1])", "1", "m:{x}"],
        &[
            "EVAL",
            "return redis.call('INCRBY', 'm:' .. ARGV[1], 5)",
            "0",
            "other",
        ],
        &["EVAL", "return redis.call('nosuch')", "0"],
        &["GET", "m:{x}"],
        &["EXEC"],
        &[
            "SCRIPT",
            "LOAD",
            "return redis.call('RPUSH', KEYS[1], ARGV[1])",
        ],
    ]
    .iter()
    .map(|a| argv(a))
    .collect();
    d.run_all(&seq, 0);
    let sha = "b9705020f551c492b7692cdba607bbdb64837972";
    let batch: Vec<Vec<Vec<u8>>> = (0..20)
        .map(|i| argv(&["EVALSHA", sha, "1", "plist", &s(i)]))
        .collect();
    d.check_pipelined(&batch)
        .unwrap_or_else(|m| panic!("{}", d.report(&m, None)));
    d.run_all(&[argv(&["LRANGE", "plist", "0", "-1"])], 0);

    // WATCH is invalidated by a script's write from another client.
    let mut a = usher.client();
    let mut b = usher.client();
    a.call(&["WATCH", "watched"]);
    b.call(&[
        "EVAL",
        "return redis.call('SET', KEYS[1], 'x')",
        "1",
        "watched",
    ]);
    a.call(&["MULTI"]);
    a.call(&["SET", "watched", "y"]);
    assert_eq!(a.call(&["EXEC"]), Reply::NilArray);
    assert_eq!(a.call(&["GET", "watched"]), Reply::bulk("x"));
}

/// A script loaded on one connection runs on every thread; SCRIPT FLUSH forgets it everywhere;
/// INFO counts cached scripts and Lua memory.
#[test]
fn the_script_cache_is_shared_by_every_thread() {
    let usher = Server::usher(&["--threads", "4"]);
    let mut clients: Vec<Client> = (0..8).map(|_| usher.client()).collect();
    let sha = clients[0].call(&["SCRIPT", "LOAD", "return 'hi'"]).text();
    for c in clients.iter_mut() {
        assert_eq!(c.call(&["EVALSHA", &sha, "0"]), Reply::bulk("hi"));
    }
    let info = clients[1].call(&["INFO", "memory"]).text();
    assert!(info.contains("number_of_cached_scripts:1\r\n"), "{info}");
    let lua: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_lua:"))
        .and_then(|v| v.parse().ok())
        .expect("used_memory_lua");
    assert!(lua > 10_000, "Lua states use memory: {lua}");
    assert!(info.contains("number_of_functions:0\r\n"), "{info}");
    assert!(clients[2].call(&["SCRIPT", "FLUSH"]).is_simple("OK"));
    for c in clients.iter_mut() {
        assert!(c
            .call(&["EVALSHA", &sha, "0"])
            .err()
            .starts_with("NOSCRIPT"));
    }
    assert_eq!(
        clients[0].call(&["SCRIPT", "EXISTS", &sha]),
        Reply::Array(vec![Reply::Int(0)])
    );
}

/// Past busy-reply-threshold other clients get BUSY; SCRIPT KILL stops a script that has not
/// written (its caller gets Redis's error), and refuses one that has.
#[test]
fn busy_scripts_answer_busy_and_can_be_killed() {
    let usher = Server::usher(&["--threads", "2", "--busy-reply-threshold", "100"]);
    let port = usher.port;
    let runner = std::thread::spawn(move || {
        let mut c = Client::connect(port).expect("connect");
        c.call(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
    });
    // Connections are handed out round robin: this one is on the other thread.
    let mut other = usher.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = other.call(&["PING"]);
        if r.is_error() {
            assert_eq!(
                r.err(),
                "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
            );
            break;
        }
        assert!(Instant::now() < deadline, "never BUSY");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(other.call(&["SCRIPT", "KILL"]).is_simple("OK"));
    let killed = runner.join().expect("runner");
    assert!(
        killed
            .err()
            .starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed:?}"
    );
    assert!(other.call(&["PING"]).is_simple("PONG"));
    assert_eq!(
        other.call(&["SCRIPT", "KILL"]).err(),
        "NOTBUSY No scripts in execution right now."
    );
}

/// A worker running a script cannot answer its own clients, so new connections go to the
/// other workers: every fresh connection gets BUSY at once (none waits behind the script), and
/// an operator's fresh `redis-cli SCRIPT KILL` always gets through, also with a runaway script
/// on each of several workers but one.
#[test]
fn new_connections_avoid_a_worker_busy_with_a_script() {
    let usher = Server::usher(&["--threads", "3", "--busy-reply-threshold", "100"]);
    let port = usher.port;
    let runner = std::thread::spawn(move || {
        let mut c = Client::connect(port).expect("connect");
        c.call(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
    });
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..9 {
        let mut fresh = Client::connect(port).expect("connect");
        fresh.set_timeout(Duration::from_secs(3));
        let r = fresh.call(&["PING"]);
        assert_eq!(
            r.err(),
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "connection {i}"
        );
    }
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "SCRIPT", "KILL"])
        .output()
        .expect("redis-cli runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    assert!(runner.join().expect("runner").is_error());
    // Every worker takes connections again.
    for _ in 0..6 {
        assert!(Client::connect(port)
            .unwrap()
            .call(&["PING"])
            .is_simple("PONG"));
    }
}

/// A worker's cron (active expiry, the queue policies' tick) runs on the worker's own thread.
/// It must not wait for a shard that another worker's script holds, or every client of its
/// worker waits with it: with two shards, one of the two keys below lies in the share of the
/// cron of the worker that does not run the script.
#[test]
fn a_script_on_one_worker_never_stalls_the_clients_of_another() {
    let usher = Server::usher(&["--threads", "2", "--shards", "2"]);
    let port = usher.port;
    let key_on = |shard: u16| {
        (0..)
            .map(|i| format!("k{i}"))
            .find(|k| (usher_tests::crc16(k.as_bytes()) & 0x3FFF) % 2 == shard)
            .expect("a key")
    };
    let spin = "local t0 = redis.call('TIME') \
        repeat local t = redis.call('TIME') \
        until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > tonumber(ARGV[1]) \
        return redis.call('EXISTS', KEYS[1])";
    for key in [key_on(0), key_on(1)] {
        let slowest_ping = |spin_us: &str| {
            std::thread::scope(|scope| {
                let script = scope.spawn(|| {
                    let mut c = Client::connect(port).expect("connect");
                    c.call(&["EVAL", spin, "1", &key, spin_us])
                });
                std::thread::sleep(Duration::from_millis(100));
                // The script's worker has been busy for over 20 ms: this goes to the other.
                let mut other = Client::connect(port).expect("connect");
                let mut slowest = Duration::ZERO;
                for _ in 0..6 {
                    let started = Instant::now();
                    assert!(other.call(&["PING"]).is_simple("PONG"));
                    slowest = slowest.max(started.elapsed());
                    std::thread::sleep(Duration::from_millis(50));
                }
                assert_eq!(script.join().expect("script"), Reply::Int(0));
                slowest
            })
        };
        // Each cron tick (10 a second) would have waited out the script's remaining 300 ms or
        // more; a loaded machine's one slow answer is asked again before it counts.
        let slowest = slowest_ping("700000");
        if slowest >= Duration::from_millis(150) {
            let again = slowest_ping("700000");
            assert!(
                again < Duration::from_millis(150),
                "PING on the other worker waited {slowest:?}, then {again:?}, while a script held {key}"
            );
        }
    }
}

/// A script that catches SCRIPT KILL's error with `pcall` and goes on looping is still
/// stopped: after a kill the check runs at every instruction, as Redis's hook turns to every
/// line, so the error meets the script again as soon as `pcall` returns. Before, such a
/// script could be stopped by neither SCRIPT KILL nor SHUTDOWN NOSAVE.
/// Runs `body` as a script on its own connection, checks that other clients are answered
/// BUSY, stops it with SCRIPT KILL and checks the script's caller got Redis's error. Returns
/// the connection that sent the kill.
fn kill_a_running_script(port: u16, body: &'static str) -> Client {
    let runner = std::thread::spawn(move || {
        let mut c = Client::connect(port).expect("connect");
        c.call(&["EVAL", body, "0"])
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut fresh = Client::connect(port).expect("connect");
    fresh.set_timeout(Duration::from_secs(3));
    assert_eq!(
        fresh.call(&["PING"]).err(),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        "{body}"
    );
    assert!(fresh.call(&["SCRIPT", "KILL"]).is_simple("OK"), "{body}");
    let killed = runner.join().expect("runner");
    assert!(
        killed
            .err()
            .starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{body}: {killed:?}"
    );
    fresh
}

#[test]
fn a_script_catching_the_kill_with_pcall_is_still_killed() {
    for server in [
        Server::usher(&["--busy-reply-threshold", "100"]),
        Server::redis(&["--busy-reply-threshold", "100"]),
    ] {
        let port = server.port;
        for body in [
            "while true do pcall(function() while true do end end) end",
            "while true do pcall(error, 'x') end",
        ] {
            kill_a_running_script(port, body);
            // The thread's Lua state runs the next script as usual.
            let mut c = Client::connect(port).expect("connect");
            assert_eq!(
                c.call(&[
                    "EVAL",
                    "local n = 0 for i = 1, 100000 do n = n + 1 end return n",
                    "0"
                ]),
                Reply::Int(100000)
            );
        }
    }
}

#[test]
fn a_script_looping_inside_a_coroutine_is_killed() {
    // The hook fires in the coroutine (Lua copies it into every new thread); it once read the
    // main thread's stack there and let the killed script spin on, its worker lost for good.
    let bodies = [
        "coroutine.wrap(function() while true do end end)() return 1",
        "local co = coroutine.create(function() while true do end end) \
         while true do coroutine.resume(co) end",
    ];
    // Redis lets the main thread finish after its coroutine is killed (until its next hook
    // check); usher stops the whole script at once, so this one is usher's alone.
    let usher_only = "local co = coroutine.create(function() \
         while true do pcall(function() while true do end end) end end) \
         coroutine.resume(co) return 5";
    for (server, extra) in [
        (
            Server::usher(&["--busy-reply-threshold", "100"]),
            Some(usher_only),
        ),
        (Server::redis(&["--busy-reply-threshold", "100"]), None),
    ] {
        let port = server.port;
        for body in bodies.iter().copied().chain(extra) {
            let mut fresh = kill_a_running_script(port, body);
            assert!(fresh.call(&["PING"]).is_simple("PONG"), "{body}");
            // Coroutines still run, and the next script is not stopped by the old kill.
            assert_eq!(
                fresh.call(&[
                    "EVAL",
                    "local f = coroutine.wrap(function() for i = 1, 100000 do end \
                     coroutine.yield(3) end) return f()",
                    "0"
                ]),
                Reply::Int(3)
            );
        }
    }
}

/// A pattern that backtracks for ever (Lua 5.1's matcher is exponential in `a?` items) runs
/// inside one C call, where Redis's instruction hook never fires: Redis can neither answer
/// BUSY nor stop it. usher's matcher asks for a stop as it goes, so the script turns BUSY past
/// the threshold and SCRIPT KILL ends it, also from `pcall` and from `gsub`'s balance scan.
#[test]
fn a_script_stuck_in_a_pattern_is_killed() {
    let usher = Server::usher(&["--busy-reply-threshold", "100"]);
    for body in [
        "return string.find(string.rep('a', 60), string.rep('a?', 60) .. string.rep('a', 60))",
        "local s, p = string.rep('a', 60), string.rep('a?', 60) .. string.rep('a', 60) \
         while true do pcall(string.match, s, p) end",
        "return string.gsub(string.rep('(', 3000000), '%b()', 'x')",
        "for w in string.gmatch(string.rep('a', 60), string.rep('a?', 60) .. string.rep('a', 60)) do end",
    ] {
        let mut fresh = kill_a_running_script(usher.port, body);
        assert!(fresh.call(&["PING"]).is_simple("PONG"), "{body}");
        assert_eq!(
            fresh.call(&["EVAL", "return string.match('key:42', ':(%d+)')", "0"]),
            Reply::Bulk(b"42".to_vec()),
            "{body}"
        );
    }
}

#[test]
fn with_one_thread_a_runaway_script_is_stopped_from_a_new_connection() {
    // The one worker is stuck in the script: new connections go to the spare worker, where
    // everything but SCRIPT KILL / SHUTDOWN NOSAVE is answered BUSY, as Redis does.
    let usher = Server::usher(&["--threads", "1", "--busy-reply-threshold", "100"]);
    let port = usher.port;
    let runner = std::thread::spawn(move || {
        let mut c = Client::connect(port).expect("connect");
        c.call(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut fresh = Client::connect(port).expect("connect");
    fresh.set_timeout(Duration::from_secs(3));
    assert_eq!(
        fresh.call(&["GET", "k"]).err(),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    assert!(fresh.call(&["SCRIPT", "KILL"]).is_simple("OK"));
    let killed = runner.join().expect("runner");
    assert!(
        killed
            .err()
            .contains("Script killed by user with SCRIPT KILL"),
        "{killed:?}"
    );
    assert!(fresh.call(&["SET", "k", "v"]).is_simple("OK"));
    // Once the script is gone new connections go to the worker again, and all see the data.
    for _ in 0..3 {
        let mut c = Client::connect(port).unwrap();
        assert_eq!(c.call(&["GET", "k"]), Reply::Bulk(b"v".to_vec()));
    }
}

/// A library's code loads with `redis` (register_function, log, its levels, the version) as its
/// only global, as in Redis 7.0: anything else, `string` and `pairs` included, is refused at
/// FUNCTION LOAD, while the functions it registers see every global when they run.
#[test]
fn library_code_loads_with_only_the_loading_api() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let at_load = [
        "string.rep('a', 2)",
        "type(1)",
        "pairs({})",
        "redis.call('ping')",
        "redis.pcall",
        "redis.setresp(3)",
        "redis.sha1hex('a')",
        "redis.log(redis.LOG_NOTICE, 'loading')",
        "redis.LOG_DEBUG + redis.LOG_VERBOSE + redis.LOG_WARNING",
        "redis.REDIS_VERSION .. redis.REDIS_VERSION_NUM",
        "redis.register_function",
        "('a'):rep(2)",
        "KEYS",
        "ARGV",
        "cjson",
        "cmsgpack",
        "bit",
        "struct",
        "math",
        "table",
        "_G",
        "pcall(function() end)",
        "loadstring('return 1')",
        "unpack({1})",
        "error('boom')",
        "os",
    ];
    let mut seq: Vec<Vec<Vec<u8>>> = Vec::new();
    for expr in at_load {
        let code = format!(
            "#!lua name=probe\nlocal x = {expr}\n\
             redis.register_function('probe_f', function() return 1 end)"
        );
        seq.push(argv(&["FUNCTION", "LOAD", "REPLACE", &code]));
    }
    for code in [
        "x = 1\nredis.register_function('f', function() return 1 end)",
        "redis.register_function('f', function() return type(string) .. type(redis.call) end)",
        "local function helper() return string.rep('a', 2) end\n\
         redis.register_function('f', function() return helper() end)",
    ] {
        seq.push(argv(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            &format!("#!lua name=p2\n{code}"),
        ]));
        seq.push(argv(&["FCALL", "f", "0"]));
    }
    d.run_all(&seq, 0);
}

/// `redis.register_function`'s arguments are read and refused as Redis 7.0's
/// `luaRegisterFunctionReadArgs` reads them (named arguments in the table's order, names
/// without regard to case, numbers taken as text, flags up to the first nil), and function
/// names are found without regard to case across libraries (`FCALL F` calls `f`), as in
/// Redis's functions dictionary.
#[test]
fn register_function_and_function_names_as_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let cases: &[(&str, &[&[&str]])] = &[
        (
            "redis.register_function('f', function() return redis.register_function('g', function() end) end)",
            &[&["FCALL", "f", "0"]],
        ),
        (
            "redis.register_function('f', function() return 1 end, 'extra')",
            &[],
        ),
        (
            "redis.register_function()",
            &[],
        ),
        (
            "redis.register_function('f')",
            &[],
        ),
        (
            "redis.register_function(1, function() return 'one' end)",
            &[&["FCALL", "1", "0"]],
        ),
        (
            "redis.register_function('f', 'notfn')",
            &[],
        ),
        (
            "redis.register_function{function_name='f'}",
            &[],
        ),
        (
            "redis.register_function{callback=function() end}",
            &[],
        ),
        (
            "redis.register_function{function_name='f', callback=function() return 1 end, flags={'bad'}}",
            &[],
        ),
        (
            "redis.register_function{function_name='f', callback=function() return 1 end, flags='no-writes'}",
            &[],
        ),
        (
            "redis.register_function{function_name='f', callback=function() return 1 end, unknown=1}",
            &[],
        ),
        (
            "redis.register_function{function_name='f', callback=function() return 1 end, description=5}",
            &[&["FUNCTION", "LIST"]],
        ),
        (
            "redis.register_function{function_name='f', callback=function() return 1 end, flags={'NO-WRITES'}}",
            &[&["FUNCTION", "LIST"]],
        ),
        (
            "redis.register_function{function_name='f', callback=function() return 1 end, flags={1}}",
            &[],
        ),
        (
            "redis.register_function{FUNCTION_NAME='f', CallBack=function() return 1 end}",
            &[&["FCALL", "f", "0"]],
        ),
        (
            "redis.register_function{function_name=5, callback=function() return 1 end, description=7}",
            &[&["FUNCTION", "LIST"]],
        ),
        (
            "redis.register_function{[1]='x', function_name='f', callback=function() return 1 end}",
            &[],
        ),
        (
            "redis.register_function{function_name={}, callback=function() return 1 end}",
            &[],
        ),
        (
            "redis.register_function('bad name!', function() return 1 end)",
            &[],
        ),
        (
            "redis.register_function('', function() return 1 end)",
            &[],
        ),
        (
            "redis.register_function('f', function() return 1 end)\nredis.register_function('f', function() return 2 end)",
            &[],
        ),
        (
            "redis.register_function('f', function() return 1 end)\nredis.register_function('F', function() return 2 end)",
            &[],
        ),
        (
            "redis.register_function('f', function() return 1 end)",
            &[&["FCALL", "F", "0"], &["FUNCTION", "LIST", "LIBRARYNAME", "T"], &["FUNCTION", "LIST", "LIBRARYNAME"], &["FUNCTION", "LIST", "LIBRARYNAME", "*", "WITHCODE", "WITHCODE"], &["FUNCTION", "DELETE", "T"], &["FUNCTION", "LOAD", "#!lua name=other\nredis.register_function('F', function() return 2 end)"]],
        ),
        (
            "redis.register_function('f', function() error({err='my error'}) end)",
            &[&["FCALL", "f", "0"]],
        ),
        (
            "redis.register_function('f', function() return redis.call('nosuch') end)",
            &[&["FCALL", "F", "0"]],
        ),
    ];
    let mut seq: Vec<Vec<Vec<u8>>> = Vec::new();
    for (code, then) in cases {
        seq.push(argv(&["FUNCTION", "FLUSH"]));
        seq.push(argv(&[
            "FUNCTION",
            "LOAD",
            &format!("#!lua name=t\n{code}"),
        ]));
        seq.extend(then.iter().map(|c| argv(c)));
    }
    d.run_all(&seq, 0);
}

/// FUNCTION LOAD bounds a library's code to Redis's 500 ms (`ERR FUNCTION LOAD timeout`), and
/// a load is never taken for a busy script. Before, code that looped forever hung its worker
/// for good, and a load that ran 10,000 instructions or more, longer than
/// busy-reply-threshold after the thread's last script started, left the server answering
/// every client BUSY.
#[test]
fn a_library_load_is_bounded_and_never_a_busy_script() {
    let usher = Server::usher(&["--busy-reply-threshold", "100"]);
    let redis = Server::redis(&["--busy-reply-threshold", "100"]);
    let mut d = Differ::new(&usher, &redis);
    d.run_all(&[argv(&["EVAL", "return 1", "0"])], 0);
    // The last script started longer ago than the threshold.
    std::thread::sleep(Duration::from_millis(300));
    let seq: Vec<Vec<Vec<u8>>> = [
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=slow\nlocal i = 0\nwhile i < 1000000 do i = i + 1 end\n\
             redis.register_function('f', function() return 1 end)",
        ][..],
        &["PING"],
        &["SET", "a", "b"],
        &["FCALL", "f", "0"],
        &["FUNCTION", "LOAD", "#!lua name=forever\nwhile true do end"],
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=forever\nlocal s = ('x'):rep(9)\nwhile true do s = s:sub(2) .. 'x' end",
        ],
        &["PING"],
        &["FUNCTION", "LIST"],
    ]
    .iter()
    .map(|a| argv(a))
    .collect();
    d.run_all(&seq, 0);
}

/// EVAL scripts and functions run in separate Lua states in Redis, so each keeps its own
/// `cjson` settings: a function's change is not seen by scripts nor a script's by functions,
/// SCRIPT FLUSH resets only the scripts', and FUNCTION FLUSH resets nothing.
#[test]
fn functions_keep_cjson_settings_of_their_own() {
    let usher = Server::usher(&["--threads", "2"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let encode = "local t = {} t[1] = 1 t[20] = 20 \
        local ok, r = pcall(cjson.encode, t) return tostring(ok) .. ':' .. tostring(r)";
    let lib = format!(
        "#!lua name=lib\n\
         redis.register_function('setsparse', function(k, a) \
             return tostring(cjson.encode_sparse_array(true)) end)\n\
         redis.register_function('enc', function(k, a) {encode} end)"
    );
    let only_enc =
        format!("#!lua name=lib\nredis.register_function('enc', function(k, a) {encode} end)");
    let seq: Vec<Vec<Vec<u8>>> = [
        &["FUNCTION", "LOAD", &lib][..],
        &["FCALL", "enc", "0"],
        &["EVAL", "cjson.encode_sparse_array(true) return 1", "0"],
        &["FCALL", "enc", "0"],
        &["EVAL", encode, "0"],
        &["FCALL", "setsparse", "0"],
        &["FCALL", "enc", "0"],
        &["FUNCTION", "FLUSH"],
        &["FUNCTION", "LOAD", &only_enc],
        &["FCALL", "enc", "0"],
        &["SCRIPT", "FLUSH"],
        &["FCALL", "enc", "0"],
        &["EVAL", encode, "0"],
    ]
    .iter()
    .map(|a| argv(a))
    .collect();
    d.run_all(&seq, 0);
    // The functions' setting holds on every thread: each connection may land on another.
    for _ in 0..4 {
        assert_eq!(
            usher.client().call(&["FCALL", "enc", "0"]),
            Reply::bulk("true:{\"1\":1,\"20\":20}")
        );
    }
}

/// FUNCTION LOAD / FCALL / FCALL_RO / DELETE / FLUSH / STATS answer as Redis's do; functions
/// run on every thread (each Lua state loads the library on first call).
#[test]
fn functions_match_redis() {
    let usher = Server::usher(&["--threads", "2", "--shards", "4"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let lib = "#!lua name=mylib\n\
        redis.register_function('echo_key', function(keys, args) return keys[1] end)\n\
        redis.register_function{function_name='getter', callback=function(keys, args) \
            return redis.call('get', keys[1]) end, flags={'no-writes'}, description='d'}\n\
        redis.register_function('inc', function(keys, args) \
            return redis.call('incrby', keys[1], args[1]) end)";
    let seq: Vec<Vec<Vec<u8>>> = [
        &["FLUSHALL"][..],
        &["FUNCTION", "FLUSH"],
        &["FUNCTION", "LOAD", lib],
        &["FCALL", "echo_key", "1", "a"],
        &["FCALL", "inc", "1", "cnt", "5"],
        &["FCALL", "inc", "1", "cnt", "5"],
        &["FCALL", "getter", "1", "cnt"],
        &["FCALL_RO", "getter", "1", "cnt"],
        &["FCALL_RO", "inc", "1", "cnt", "1"],
        &["FCALL", "nosuch", "0"],
        &["FCALL", "inc", "2", "cnt"],
        &["FUNCTION", "LOAD", "return 1"],
        &["FUNCTION", "LOAD", "#!lua name=mylib\nreturn 1"],
        &["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
        &["FUNCTION", "LOAD", "#!lua name=y\nredis.register_function('inc', function() end)"],
        &["FUNCTION", "LOAD", "#!lua name=w\nredis.call('set','a','b')"],
        &["FUNCTION", "LOAD", "#!lua name=z\nredis.register_function('boom', function() error('oops') end)"],
        &["FCALL", "boom", "0"],
        &["FUNCTION", "STATS"],
        &["FUNCTION", "DELETE", "nosuch"],
        &["FUNCTION", "DELETE", "z"],
        &["FCALL", "boom", "0"],
        &["FUNCTION", "LOAD", "REPLACE", "#!lua name=mylib\nredis.register_function('inc', function(keys, args) return redis.call('decrby', keys[1], args[1]) end)"],
        &["FCALL", "inc", "1", "cnt", "1"],
        &["FCALL", "getter", "1", "cnt"],
        &["FUNCTION", "FLUSH", "ASYNC"],
        &["FUNCTION", "STATS"],
        &["FCALL", "inc", "1", "cnt", "1"],
        &["FUNCTION", "KILL"],
    ]
    .iter()
    .map(|a| argv(a))
    .collect();
    d.run_all(&seq, 0);
    // A library loaded on one connection is callable from the other thread's connections.
    let mut a = usher.client();
    let mut b = usher.client();
    assert_eq!(
        a.call(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=t\nredis.register_function('two', function() return 2 end)"
        ]),
        Reply::bulk("t")
    );
    assert_eq!(b.call(&["FCALL", "two", "0"]), Reply::Int(2));
    let info = b.call(&["INFO", "memory"]).text();
    assert!(info.contains("number_of_functions:1\r\n"), "{info}");
}

/// A script cannot take unbounded memory: past its Lua state's bound it fails with a clear
/// error, the state's garbage is reclaimed, and the server goes on.
#[test]
fn a_script_cannot_take_unbounded_memory() {
    let usher = Server::usher(&["--threads", "1"]);
    let mut c = usher.client();
    for script in [
        "return #string.rep('x', 300 * 1024 * 1024)",
        "local t = {} for i = 1, 100000000 do t[i] = i end return #t",
    ] {
        let r = c.call(&["EVAL", script, "0"]);
        assert_eq!(
            r.err(),
            "ERR Lua state out of memory: the script's state is over its 256 MB bound"
        );
    }
    assert_eq!(
        c.call(&["EVAL", "return 'still here'", "0"]),
        Reply::bulk("still here")
    );
    let info = c.call(&["INFO", "memory"]).text();
    let lua: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_lua:"))
        .and_then(|v| v.parse().ok())
        .expect("used_memory_lua");
    assert!(
        lua < 64 << 20,
        "garbage reclaimed after the failed scripts: {lua}"
    );
}

/// SHUTDOWN NOSAVE still works while a script is busy.
#[test]
fn shutdown_nosave_stops_a_busy_server() {
    let mut usher = Server::usher(&["--threads", "2", "--busy-reply-threshold", "100"]);
    let port = usher.port;
    std::thread::spawn(move || {
        let mut c = Client::connect(port).expect("connect");
        c.set_timeout(Duration::from_secs(30));
        c.send(&["EVAL", "while true do end", "0"]);
        let _ = c.read();
    });
    let mut other = usher.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !other.call(&["PING"]).is_error() {
        assert!(Instant::now() < deadline, "never BUSY");
        std::thread::sleep(Duration::from_millis(20));
    }
    other.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(
        usher.wait_exit(Duration::from_secs(10)).is_some(),
        "server still running"
    );
}

/// A script's declared flags (a shebang line, `register_function`'s flags) decide up front
/// whether it may run, as the commands it would run would be: over `maxmemory` a script
/// without `allow-oom` (or `no-writes`) is refused with OOM, one with it runs, a script without
/// a shebang runs and is stopped at its first write; `EVAL_RO` refuses a declared writer.
#[test]
fn declared_script_flags_gate_the_script_as_redis_does() {
    let usher = Server::usher(&["--threads", "2"]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let write = "redis.call('SET', KEYS[1], 'v'); return 1";
    let read = "return redis.call('GET', KEYS[1])";
    let lib = "#!lua name=flags\n\
        redis.register_function('w', function(keys) return redis.call('SET', keys[1], 'f') end)\n\
        redis.register_function{function_name='oomok', callback=function(keys) \
            return redis.call('SET', keys[1], 'g') end, flags={'allow-oom'}}\n\
        redis.register_function{function_name='r', callback=function(keys) \
            return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    let shebang = |flags: &str, body: &str| format!("#!lua{flags}\n{body}");
    let plain_write = shebang("", write);
    let allow_oom = shebang(" flags=allow-oom", write);
    let no_writes = shebang(" flags=no-writes", read);
    let no_writes_but_writes = shebang(" flags=no-writes", write);
    let sha = redis
        .client()
        .call(&["SCRIPT", "LOAD", &plain_write])
        .text();
    let seq: Vec<Vec<Vec<u8>>> = [
        &["FLUSHALL"][..],
        &["FUNCTION", "FLUSH"],
        &["FUNCTION", "LOAD", lib],
        &["SET", "k", "1"],
        &["EVAL_RO", &plain_write, "1", "k"],
        &["EVAL_RO", &no_writes, "1", "k"],
        &["EVAL_RO", write, "1", "k"],
        &["EVAL", &no_writes_but_writes, "1", "k"],
        &["CONFIG", "SET", "maxmemory", "1"],
        &["EVAL", &plain_write, "1", "k"],
        &["EVAL", &allow_oom, "1", "k"],
        &["EVAL", &no_writes, "1", "k"],
        &["EVAL", write, "1", "k"],
        &["EVAL", read, "1", "k"],
        &["SCRIPT", "LOAD", &plain_write],
        &["EVALSHA", &sha, "1", "k"],
        &["FCALL", "w", "1", "k"],
        &["FCALL", "oomok", "1", "k"],
        &["FCALL", "r", "1", "k"],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["EVAL", &plain_write, "1", "k"],
        &["GET", "k"],
    ]
    .iter()
    .map(|a| argv(a))
    .collect();
    d.run_all(&seq, 0);
}

/// XREAD and XREADGROUP refuse BLOCK inside a script as Redis 7.0 does, with the command's
/// name as the script spelt it, at the option's place in the parse (an earlier bad COUNT
/// wins); MULTI still runs them without waiting.
#[test]
fn stream_reads_refuse_block_inside_scripts_as_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let script = |body: &str| -> Vec<Vec<u8>> {
        ["EVAL", body, "1", "s"]
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect()
    };
    for body in [
        "return redis.call('xadd', 's', '1-1', 'a', 1)",
        "return redis.call('xread', 'block', 100, 'streams', 's', '$')",
        "return redis.call('XREAD', 'BLOCK', 0, 'STREAMS', 's', 0)",
        "return redis.call('xread', 'count', 'x', 'block', 100, 'streams', 's', 0)",
        "return redis.call('xread', 'streams', 's', 0, 'block')",
        "return redis.call('xread', 'count', 1, 'streams', 's', 0)",
        "return redis.call('xgroup', 'create', 's', 'g', 0)",
        "return redis.pcall('xreadgroup', 'group', 'g', 'c', 'block', 0, 'streams', 's', '>')",
        "return redis.call('xreadgroup', 'group', 'g', 'c', 'streams', 's', '>')",
    ] {
        d.run(&script(body));
    }
    let bytes =
        |args: &[&str]| -> Vec<Vec<u8>> { args.iter().map(|a| a.as_bytes().to_vec()).collect() };
    d.run(&bytes(&["MULTI"]));
    d.run(&bytes(&["XREAD", "BLOCK", "100", "STREAMS", "s", "0"]));
    let read = d.run(&bytes(&["EXEC"]));
    assert!(
        matches!(&read, Reply::Array(v) if v.len() == 1),
        "MULTI reads without waiting: {read:?}"
    );
}
