//! Lua's pattern functions (`string.find`, `match`, `gmatch`, `gfind`, `gsub`), which usher
//! runs through its own port of Lua 5.1's matcher (`lua-compat/src/patterns.rs`):
//!
//! - a table of calls and a few thousand random patterns against random subjects give the
//!   same replies and the same error texts as redis-server 7.0.15;
//! - the deepest patterns Redis's Lua survives give the same answer; deeper ones, which crash
//!   Redis (its stack overflows), give an error and the server goes on. (Killing a pattern
//!   that backtracks for ever is in `scripting.rs`, beside the other SCRIPT KILL tests.)

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use usher_tests::{Client, Differ, Reply, Server};

fn argv(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Scripts whose replies must be identical, error texts included: each function, its
/// arguments' edge cases, every pattern item and every error of the matcher.
const CALLS: &[&str] = &[
    "return {string.find('hello world', 'o w')}",
    "return {string.find('hello world', 'l+')}",
    "return {string.find('hello world', '(l+)(o)')}",
    "return {string.find('hello', '()ll()')}",
    "return {string.find('hello', 'l', -2)}",
    "return {string.find('hello', 'l', -100)}",
    "return {string.find('hello', 'l', 100)}",
    "return {string.find('hello', '', 100)}",
    "return {string.find('hello', '', 6)}",
    "return {string.find('a.b', '.', 1, true)}",
    "return {string.find('a+b', '+', 1, true)}",
    "return {string.find('a\\0b.c', '\\0b')}",
    "return {string.find('a\\0b.c', 'b.', 1)}",
    "return {string.find('x\\0yz', 'x\\0.')}",
    "return {string.match('x\\0yz', 'x\\0.')}",
    "return {string.match('key:123:abc', '^(%w+):(%d+):(%a+)$')}",
    "return {string.match('  trim  ', '^%s*(.-)%s*$')}",
    "return {string.match('THE (quick) fox', '%((%a+)%)')}",
    "return {string.match('f(a(b)c)d', '%b()')}",
    "return {string.match('THE quick', '%f[%a]%a+', 4)}",
    "return {string.match('hello', '(h)(e)(l)(l)(o)')}",
    "return {string.match('abcabc', '(abc)%1')}",
    "return {string.match('abc', '()a()')}",
    "return {string.match('abc', 'a%')}",
    "return {string.match('abc', '[a')}",
    "return {string.match('abc', '[a%')}",
    "return {string.match('abc', '(a')}",
    "return {string.match('abc', 'a)')}",
    "return {string.match('abc', '%1')}",
    "return {string.match('abc', '(a)%2')}",
    "return {string.match('abc', '%ba')}",
    "return {string.match('abc', '%f')}",
    "return {string.match('abc', '%fa')}",
    "return {string.match('abc', string.rep('(a)', 33))}",
    "return {string.match('a]b', '[]]')}",
    "return {string.match('a-b', '[a-]+')}",
    "return {string.match('a^b', '[%^b]+')}",
    "return {string.match('x\\11y', '%s')}",
    "return {string.match('\\200\\201', '%a')}",
    "return {string.match('\\200abc', '[%W]+')}",
    "return {string.match('hello', '.-l')}",
    "return {string.match('hello', 'l*')}",
    "return {string.match('hello', 'x*$')}",
    "return {string.match('hello$', 'o$')}",
    "return {string.match('he$llo', 'e$l')}",
    "return {string.match('hello', '^h?e')}",
    "return {string.match(12345, '2(3)4')}",
    "return {string.match('hello')}",
    "return {string.match(nil, 'x')}",
    "return {string.match('hello', {})}",
    "local t={} for w in string.gmatch('one two  three', '%a+') do t[#t+1]=w end return t",
    "local t={} for k,v in string.gmatch('a=1, b=2', '(%w+)=(%w+)') do t[#t+1]=k..v end return t",
    "local t={} for w in string.gmatch('abc', '') do t[#t+1]='['..w..']' end return t",
    "local t={} for w in string.gmatch('abc', '^a') do t[#t+1]=w end return t",
    "local t={} for p in string.gmatch('abc', '()') do t[#t+1]=p end return t",
    "local t={} for w in string.gfind('a b', '%a') do t[#t+1]=w end return t",
    "return tostring(string.gfind == string.gmatch)",
    "return {string.gsub('hello world', 'o', '0')}",
    "return {string.gsub('hello world', 'o', '0', 1)}",
    "return {string.gsub('hello world', 'o', '0', 0)}",
    "return {string.gsub('hello world', 'o', '0', -1)}",
    "return {string.gsub('hello world', '(%w+)', '<%1>')}",
    "return {string.gsub('hello world', '%w+', '%0 %0')}",
    "return {string.gsub('hello', '', '-')}",
    "return {string.gsub('hello', '^h', 'H')}",
    "return {string.gsub('hello', 'l', '%')}",
    "return {string.gsub('hello', 'l', '%x')}",
    "return {string.gsub('hello', 'l', '%2')}",
    "return {string.gsub('hello', '(l)', '%2')}",
    "return {string.gsub('hello', '()l', '%1')}",
    "return {string.gsub('hello', 'l', {l='L'})}",
    "return {string.gsub('hello', '(h)(e)', {h='H'})}",
    "return {string.gsub('hello', 'l', {l=true})}",
    "return {string.gsub('hello', 'l', {l=false})}",
    "return {string.gsub('hello', 'l', {l=7})}",
    "return {string.gsub('hello', '%w', function(c) return c:upper() end)}",
    "return {string.gsub('hello', '(h)(e)', function(a,b) return b..a end)}",
    "return {string.gsub('hello', 'l', function() return nil end)}",
    "return {string.gsub('hello', 'l', function() return {} end)}",
    "return {string.gsub('hello', 'l', function() error('boom') end)}",
    "return {string.gsub('hello', 'l', true)}",
    "return {string.gsub('hello', 'l')}",
    "return {string.gsub('hello', 'l', 5)}",
    "return {string.gsub('abc', '%w', '%%')}",
    "return {string.gsub('abc', '.', {a=1, b=2})}",
    "return {('x'):rep(3):gsub('x', 'y')}",
    "return {('key:1'):match('(%a+):(%d)')}",
    "return {('key:1'):find(':', 1, true)}",
    "return {pcall(string.find, 'x', '[')}",
    "return {pcall(string.gsub, 'x', '(', 'y')}",
    "return {string.find(string.rep('a', 1000), string.rep('a?', 1000))}",
    "return {string.match('hello world from lua', '(%w+) (%w+) (%w+)')}",
    "return {string.gsub('abc def', '(%w+) (%w+)', '%2 %1')}",
    "return {string.match('[[nested]]', '%[(%b[])%]')}",
    "return {string.match('2024-01-15', '(%d+)-(%d+)-(%d+)')}",
    "return {string.gsub('a,b,,c', ',', ';', 2)}",
    "return {string.find('abc', 'b', 1.9)}",
    "return {string.find('abc', 'b', '2')}",
    "return {string.find('abc', 'b', 'x')}",
    "return {string.gsub('abc', 'b', 'x', 'y')}",
    "return {string.gsub('abc', 'b', 'x', 1.7)}",
];

#[test]
fn pattern_functions_match_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let seq: Vec<Vec<Vec<u8>>> = CALLS.iter().map(|s| argv(&["EVAL", s, "0"])).collect();
    d.run_all(&seq, 0);
}

/// A random pattern of at most `len` items: classes, sets, anchors, captures, back
/// references, balances and frontiers, malformed ones included.
fn random_pattern(rng: &mut SmallRng, len: usize) -> String {
    const ITEMS: &[&str] = &[
        "a", "b", "1", ".", "%a", "%d", "%s", "%W", "%(", "%%", "[ab]", "[^a]", "[a-c]", "[%d)]",
        "(", ")", "()", "*", "+", "-", "?", "^", "$", "%1", "%2", "%b()", "%bab", "%f[%w]",
        "%f[%W]", "%", "[", "[a", "%b", "%f", " ",
    ];
    (0..rng.random_range(1..=len))
        .map(|_| ITEMS[rng.random_range(0..ITEMS.len())])
        .collect()
}

fn random_subject(rng: &mut SmallRng) -> String {
    const CHARS: &[u8] = b"ab1( )-a_bAB";
    (0..rng.random_range(0..16))
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Random patterns against random subjects through every function, each call under `pcall`
/// so that an error is compared as the value it is, in pipelined batches.
#[test]
fn random_patterns_match_redis() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    let script = "local f, s, p, r = ARGV[1], ARGV[2], ARGV[3], ARGV[4] \
        local out \
        if f == 'gmatch' then \
          out = {pcall(function() local t = {} \
            for a, b in string.gmatch(s, p) do t[#t + 1] = tostring(a) .. '|' .. tostring(b) \
              if #t > 50 then break end end return table.concat(t, ',') end)} \
        elseif f == 'gsub' then out = {pcall(string.gsub, s, p, r)} \
        elseif f == 'gsubf' then out = {pcall(string.gsub, s, p, function(a, b) \
            return b and (tostring(b) .. tostring(a)) or nil end)} \
        elseif f == 'find' then out = {pcall(string.find, s, p, tonumber(r))} \
        else out = {pcall(string.match, s, p, tonumber(r))} end \
        for i = 1, #out do out[i] = tostring(out[i]) end return out";
    let seed = std::env::var("USHER_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261208u64);
    let mut rng = SmallRng::seed_from_u64(seed);
    let functions = ["find", "match", "gmatch", "gsub", "gsubf"];
    let replacements = ["x", "<%0>", "%1%1", "%2", "%", "%x"];
    for _ in 0..40 {
        let batch: Vec<Vec<Vec<u8>>> = (0..100)
            .map(|_| {
                let f = functions[rng.random_range(0..functions.len())];
                let subject = random_subject(&mut rng);
                let pattern = random_pattern(&mut rng, 6);
                let extra = if f.starts_with("gsub") {
                    replacements[rng.random_range(0..replacements.len())].to_string()
                } else {
                    rng.random_range(-4i32..18).to_string()
                };
                argv(&["EVAL", script, "0", f, &subject, &pattern, &extra])
            })
            .collect();
        if let Err(m) = d.check_pipelined(&batch) {
            panic!("{}", d.report(&m, Some(seed)));
        }
    }
}

fn deep(function: &str, n: usize) -> Vec<Vec<u8>> {
    let body = match function {
        "gsub" => {
            format!("return {{string.gsub(string.rep('a', {n}), string.rep('a?', {n}), 'x')}}")
        }
        "gmatch" => format!(
            "local t = {{}} for m in string.gmatch(string.rep('a', {n}), string.rep('a?', {n})) \
             do t[#t + 1] = #m end return t"
        ),
        _ => format!("return {{string.{function}(string.rep('a', {n}), string.rep('a?', {n}))}}"),
    };
    argv(&["EVAL", &body, "0"])
}

/// Lua 5.1's matcher recurses once per pattern item. Redis's Lua survives 150,000 levels and
/// overflows its stack (the server dies) by 200,000; usher answers the same up to 200,192
/// levels and an error above them, and goes on serving.
#[test]
fn deep_patterns_never_crash_the_server() {
    let usher = Server::usher(&[]);
    let redis = Server::redis(&[]);
    let mut d = Differ::new(&usher, &redis);
    for function in ["find", "match", "gmatch", "gsub"] {
        d.check(&deep(function, 150_000))
            .unwrap_or_else(|m| panic!("{}", d.report(&m, None)));
    }
    let mut c = Client::connect(usher.port).unwrap();
    for function in ["find", "match", "gmatch", "gsub"] {
        for n in [200_200, 2_000_000] {
            let reply = c.call(&deep(function, n));
            assert!(
                reply
                    .err()
                    .starts_with("ERR user_script:1: pattern too complex"),
                "{function} {n}: {reply:?}"
            );
        }
    }
    assert!(c.call(&["PING"]).is_simple("PONG"));
    assert_eq!(
        c.call(&["EVAL", "return string.find('abc', 'b')", "0"]),
        Reply::Int(2)
    );
}
