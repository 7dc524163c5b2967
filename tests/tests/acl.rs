//! ACL against redis-server 7.0.15: the same users, rules and commands on both servers, and the
//! replies compared (allowed or denied, NOPERM texts, ACL GETUSER / ACL LIST shapes, ACL LOG
//! entries, DRYRUN), plus what only usher has: the waiting room's categories and the three
//! roles of docs/security.md.
//!
//! Redis lists the single commands of a user's description in its hash table's order, which
//! changes from process to process; descriptions are compared with those tokens sorted.

use std::collections::BTreeMap;
use usher_tests::resp::{Client, Reply};
use usher_tests::{Differ, Server};

fn args(c: &[&str]) -> Vec<Vec<u8>> {
    c.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// Sorts the single-command rules (`+get`, `-config|set`) of any rule text in a reply, keeping
/// flags, patterns and categories in place.
fn sorted_rules(reply: Reply) -> Reply {
    match reply {
        Reply::Bulk(b) => {
            let text = String::from_utf8_lossy(&b).into_owned();
            let words: Vec<&str> = text.split(' ').collect();
            let single = |w: &str| (w.starts_with('+') || w.starts_with('-')) && !w.contains('@');
            let mut singles: Vec<&str> = words.iter().copied().filter(|w| single(w)).collect();
            singles.sort_unstable();
            let mut singles = singles.into_iter();
            let out: Vec<&str> = words
                .iter()
                .map(|w| {
                    if single(w) {
                        singles.next().unwrap()
                    } else {
                        w
                    }
                })
                .collect();
            Reply::Bulk(out.join(" ").into_bytes())
        }
        Reply::Array(v) => Reply::Array(v.into_iter().map(sorted_rules).collect()),
        Reply::Set(v) => Reply::Set(v.into_iter().map(sorted_rules).collect()),
        Reply::Map(m) => Reply::Map(
            m.into_iter()
                .map(|(k, v)| (sorted_rules(k), sorted_rules(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Runs each command on both servers; replies must match once rule texts are sorted.
fn same(d: &mut Differ, commands: &[&[&str]]) {
    for c in commands {
        let (u, r) = d.both(&args(c));
        assert_eq!(sorted_rules(u), sorted_rules(r), "{c:?}");
    }
}

/// A client authenticated as `user` on each server.
fn as_user(usher: &Server, redis: &Server, user: &str, pass: &str) -> (Client, Client) {
    let (mut u, mut r) = (usher.client(), redis.client());
    for c in [&mut u, &mut r] {
        assert_eq!(c.call(&["AUTH", user, pass]), Reply::Simple("OK".into()));
    }
    (u, r)
}

fn both_run(u: &mut Client, r: &mut Client, c: &[&str]) -> Reply {
    let (ur, rr) = (u.call(c), r.call(c));
    assert_eq!(ur, rr, "{c:?}");
    rr
}

/// ACL LOG without the fields that differ per process (age, client details beyond the user).
fn log_entries(c: &mut Client) -> Vec<BTreeMap<String, String>> {
    c.call(&["ACL", "LOG"])
        .items()
        .iter()
        .map(|e| {
            let items = match e {
                Reply::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
                other => other.items().to_vec(),
            };
            let mut m = BTreeMap::new();
            for kv in items.chunks(2) {
                let (k, v) = (kv[0].text(), &kv[1]);
                match k.as_str() {
                    "age-seconds" => {}
                    "client-info" => {
                        let user = v
                            .text()
                            .split(' ')
                            .find(|f| f.starts_with("user="))
                            .map(str::to_string);
                        m.insert(k, user.unwrap_or_default());
                    }
                    "count" => {
                        m.insert(k, v.int().to_string());
                    }
                    _ => {
                        m.insert(k, v.text());
                    }
                }
            }
            m
        })
        .collect()
}

#[test]
fn acl_categories_in_command_info_match_redis_for_every_shared_command() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let categories = |c: &mut Client| -> BTreeMap<String, Vec<String>> {
        fn walk(e: &Reply, out: &mut BTreeMap<String, Vec<String>>) {
            let e = e.items();
            out.insert(e[0].text(), e[6].items().iter().map(Reply::text).collect());
            for sub in e[9].items() {
                walk(sub, out);
            }
        }
        let mut out = BTreeMap::new();
        for e in c.call(&["COMMAND"]).items() {
            walk(e, &mut out);
        }
        out
    };
    let (u, r) = (
        categories(&mut usher.client()),
        categories(&mut redis.client()),
    );
    let mut shared = 0;
    let mut differ = Vec::new();
    for (name, cats) in &u {
        if let Some(theirs) = r.get(name) {
            shared += 1;
            if cats != theirs {
                differ.push(format!("{name}: usher {cats:?} redis {theirs:?}"));
            }
        }
    }
    assert!(shared > 200, "only {shared} commands in common");
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    // usher's own commands carry the waiting room's categories.
    assert!(
        u["enter"].contains(&"@waitingroom".to_string()),
        "{:?}",
        u["enter"]
    );
    assert!(u["admit"].contains(&"@admission".to_string()));
    assert!(u["seatlock"].contains(&"@seat".to_string()));
    assert!(u["tokenverify"].contains(&"@token".to_string()));
}

#[test]
fn setuser_getuser_list_and_their_errors_match_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &[
                "ACL",
                "SETUSER",
                "bob",
                "on",
                ">pw",
                "~q:*",
                "%R~r:*",
                "&ch:*",
                "+@read",
                "+set",
                "-get",
                "+config|get",
            ],
            &["ACL", "GETUSER", "bob"],
            &[
                "ACL",
                "SETUSER",
                "alice",
                "on",
                "nopass",
                "~*",
                "&*",
                "+@all",
                "-flushall",
            ],
            &[
                "ACL",
                "SETUSER",
                "s",
                "on",
                "nopass",
                "~a*",
                "+get",
                "(%R~b* +set)",
                "(~c*",
                "+@hash)",
            ],
            &["ACL", "GETUSER", "s"],
            &[
                "ACL",
                "SETUSER",
                "w",
                "reset",
                "%W~w:*",
                "%RW~rw:*",
                "+@write",
                "+@read",
                "#30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4",
            ],
            &[
                "ACL",
                "SETUSER",
                "w",
                "<pw",
                "+select|0",
                "+@string",
                "-incr",
            ],
            &["ACL", "DRYRUN", "w", "incr", "w:1"],
            &["ACL", "DRYRUN", "w", "incrby", "w:1", "2"],
            &["ACL", "DRYRUN", "w", "select", "0"],
            &["ACL", "DRYRUN", "w", "select", "1"],
            &["ACL", "SETUSER", "w", "+@all", "-@write"],
            &["ACL", "GETUSER", "w"],
            &["ACL", "LIST"],
            &["ACL", "USERS"],
            &["ACL", "GETUSER", "default"],
            &["ACL", "GETUSER", "nosuch"],
            // Errors, each leaving the user as it was.
            &["ACL", "SETUSER", "x", "%Z~a"],
            &["ACL", "SETUSER", "x", "~*", "~a"],
            &["ACL", "SETUSER", "x", "&*", "&a"],
            &["ACL", "SETUSER", "x", "+nosuch"],
            &["ACL", "SETUSER", "x", "-@nosuch"],
            &["ACL", "SETUSER", "x", "#abc"],
            &["ACL", "SETUSER", "x", "(~a", "+get"],
            &["ACL", "SETUSER", "x", "+config|get|x"],
            &["ACL", "SETUSER", "x", "+get|"],
            &["ACL", "SETUSER", "x", "bogus"],
            &["ACL", "SETUSER", "bob", "<nosuch"],
            &["ACL", "SETUSER", "a b"],
            &["ACL", "SETUSER", "bob", "+get", "bogus"],
            &["ACL", "GETUSER", "bob"],
            &["ACL", "USERS"],
            &["ACL", "DELUSER", "default"],
            &["ACL", "DELUSER", "x", "nosuch", "alice"],
            &["ACL", "USERS"],
            &["ACL", "CAT", "nosuch"],
            &["ACL", "CAT", "a", "b"],
            &["ACL", "GENPASS", "0"],
            &["ACL", "GENPASS", "4097"],
            &["ACL", "GENPASS", "x"],
            &["ACL", "LOG", "x"],
            &["ACL", "LOG", "1", "2"],
            &["ACL", "WHOAMI"],
            &["ACL", "WHOAMI", "x"],
            &["ACL", "LOAD"],
            &["ACL", "SAVE"],
            &["ACL", "HELP"],
            &["ACL", "NOSUCH"],
            &["ACL", "DRYRUN", "nosuch", "get", "a"],
            &["ACL", "DRYRUN", "bob", "nosuch"],
            &["ACL", "DRYRUN", "bob", "get"],
        ],
    );
    // GENPASS: hex of the asked bits, rounded up to a nibble.
    let pass = d.usher.call(&["ACL", "GENPASS"]).text();
    assert_eq!(pass.len(), 64);
    assert!(pass.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(d.usher.call(&["ACL", "GENPASS", "5"]).text().len(), 2);
    assert_ne!(pass, d.usher.call(&["ACL", "GENPASS"]).text());
    // ACL CAT: Redis's categories first, in its order, then usher's four.
    let mut cats = d.usher.call(&["ACL", "CAT"]).strings();
    assert_eq!(
        cats.split_off(21),
        ["waitingroom", "admission", "seat", "token"]
    );
    assert_eq!(cats, d.redis.call(&["ACL", "CAT"]).strings());
    let mut strings_u = d.usher.call(&["ACL", "CAT", "string"]).strings();
    let mut strings_r = d.redis.call(&["ACL", "CAT", "string"]).strings();
    strings_u.sort();
    strings_r.sort();
    assert_eq!(strings_u, strings_r);
}

#[test]
fn acl_log_keeps_acllog_max_len_entries_and_folds_repeats() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    for server in [&usher, &redis] {
        let mut admin = server.client();
        admin.call(&["ACL", "SETUSER", "bob", "on", ">pw", "-@all", "+get", "~a*"]);
        admin.call(&["CONFIG", "SET", "acllog-max-len", "2"]);
    }
    let (mut u, mut r) = as_user(&usher, &redis, "bob", "pw");
    for c in [
        &["SET", "a", "1"][..],
        &["INCR", "a"],
        &["GET", "c"],
        &["GET", "b"],
        &["GET", "b"],
    ] {
        both_run(&mut u, &mut r, c);
    }
    let entries = log_entries(&mut usher.client());
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        (entries[0]["object"].as_str(), entries[0]["count"].as_str()),
        ("b", "2")
    );
    assert_eq!(entries, log_entries(&mut redis.client()));
}

#[test]
fn setuser_rules_are_redacted_from_the_slow_log() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
            &["SLOWLOG", "RESET"],
            &["ACL", "SETUSER", "bob", "on", ">secret"],
        ],
    );
    let (u, r) = d.both(&args(&["SLOWLOG", "GET", "1"]));
    assert_eq!(u.items()[0].items()[3], r.items()[0].items()[3]);
    assert!(!format!("{u:?}").contains("secret"));
}

#[test]
fn commands_keys_and_channels_are_allowed_and_denied_as_in_redis() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &[
                "ACL",
                "SETUSER",
                "bob",
                "on",
                ">pw",
                "~q:*",
                "%R~r:*",
                "%W~w:*",
                "&ch:*",
                "+@all",
                "-get",
                "-flushall",
            ],
            &["ACL", "LOG", "RESET"],
        ],
    );
    let (mut u, mut r) = as_user(&usher, &redis, "bob", "pw");
    let script = "return redis.call('set', KEYS[1], 1)";
    for c in [
        &["GET", "q:1"][..],
        &["SET", "q:1", "v"],
        &["SET", "x", "v"],
        &["SET", "r:1", "v"],
        &["SET", "w:1", "v"],
        &["SET", "w:1", "v", "GET"],
        &["BITFIELD", "r:b", "GET", "u8", "0"],
        &["BITFIELD", "r:b", "SET", "u8", "0", "1"],
        &["BITFIELD", "w:b", "SET", "u8", "0", "1"],
        &["APPEND", "w:1", "v"],
        &["STRLEN", "r:1"],
        &["STRLEN", "w:1"],
        &["EXISTS", "w:1"],
        &["MGET", "q:1", "r:1"],
        &["MGET", "q:1", "x"],
        &["MSET", "q:1", "1", "w:2", "2"],
        &["MSET", "q:1", "1", "r:2", "2"],
        &["RENAME", "q:1", "w:1"],
        &["RENAME", "w:1", "q:1"],
        &["LPUSH", "w:l", "a"],
        &["RPOPLPUSH", "w:l", "q:l"],
        &["ZUNIONSTORE", "q:z", "2", "r:a", "q:b"],
        &["ZUNIONSTORE", "r:z", "2", "r:a", "q:b"],
        &["FLUSHALL"],
        &["CONFIG", "GET", "maxmemory"],
        &["PUBLISH", "ch:1", "m"],
        &["PUBLISH", "other", "m"],
        &["SPUBLISH", "ch:1", "m"],
        &["SPUBLISH", "other", "m"],
        &["EVAL", script, "1", "q:s"],
        &["EVAL", script, "1", "r:s"],
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "q:s"],
        &["EVAL", "return redis.pcall('get', KEYS[1])", "1", "q:s"],
        &["MULTI"],
        &["GET", "q:1"],
        &["SET", "x", "1"],
        &["SET", "q:1", "1"],
        &["EXEC"],
        &["ACL", "WHOAMI"],
    ] {
        both_run(&mut u, &mut r, c);
    }
    // Subscribing: channel patterns in SUBSCRIBE are matched; PSUBSCRIBE's must be literal.
    for c in [
        &["SUBSCRIBE", "ch:1", "other"][..],
        &["PSUBSCRIBE", "ch:*x"],
        &["PSUBSCRIBE", "ch:*"],
    ] {
        both_run(&mut u, &mut r, c);
    }
    let (mut lu, mut lr) = (usher.client(), redis.client());
    assert_eq!(log_entries(&mut lu), log_entries(&mut lr));
    assert!(log_entries(&mut lu).len() >= 8);
    // DRYRUN answers without running, with the key or channel named.
    same(
        &mut d,
        &[
            &["ACL", "DRYRUN", "bob", "get", "q:1"],
            &["ACL", "DRYRUN", "bob", "set", "x", "1"],
            &["ACL", "DRYRUN", "bob", "set", "q:x", "1"],
            &["ACL", "DRYRUN", "bob", "set", "r:x", "1"],
            &["ACL", "DRYRUN", "bob", "strlen", "r:x"],
            &["ACL", "DRYRUN", "bob", "subscribe", "ch:1", "x"],
            &["ACL", "DRYRUN", "bob", "publish", "x", "m"],
            &["ACL", "DRYRUN", "bob", "config", "set", "x", "y"],
            &["ACL", "DRYRUN", "default", "flushall"],
        ],
    );
}

#[test]
fn selectors_allow_a_command_when_any_selector_does() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[&[
            "ACL",
            "SETUSER",
            "s",
            "on",
            ">p",
            "~a*",
            "+get",
            "(%R~b* +strlen +get)",
            "(~c* +@hash)",
        ]],
    );
    let (mut u, mut r) = as_user(&usher, &redis, "s", "p");
    for c in [
        &["GET", "a1"][..],
        &["GET", "b1"],
        &["STRLEN", "b1"],
        &["STRLEN", "a1"],
        &["HSET", "c1", "f", "v"],
        &["HSET", "a1", "f", "v"],
        &["GET", "c1"],
        &["SET", "b1", "v"],
    ] {
        both_run(&mut u, &mut r, c);
    }
    let (mut lu, mut lr) = (usher.client(), redis.client());
    assert_eq!(log_entries(&mut lu), log_entries(&mut lr));
}

#[test]
fn auth_hello_and_requirepass_go_through_the_acl() {
    let (usher, redis) = (
        Server::usher(&["--requirepass", "secret"]),
        Server::redis(&["--requirepass", "secret"]),
    );
    let (mut u, mut r) = (usher.client(), redis.client());
    for c in [
        &["GET", "k"][..],
        &["AUTH", "wrong"],
        &["AUTH", "default", "wrong"],
        &["AUTH", "nosuch", "x"],
        &["HELLO", "3", "AUTH", "default", "wrong"],
        &["AUTH", "secret"],
        &["ACL", "SETUSER", "off", "off", ">pw", "+@all", "~*"],
        &["ACL", "SETUSER", "bob", "on", ">pw", "+@all", "~*"],
        &["AUTH", "off", "pw"],
        &["ACL", "WHOAMI"],
        &["AUTH", "bob", "pw"],
        &["ACL", "WHOAMI"],
        &["ACL", "GETUSER", "default"],
        &["CONFIG", "SET", "requirepass", "other"],
        &["AUTH", "secret"],
        &["AUTH", "other"],
        &["ACL", "GETUSER", "default"],
        &["CONFIG", "SET", "requirepass", ""],
        &["ACL", "GETUSER", "default"],
        &["AUTH", "x"],
        &["RESET"],
        &["ACL", "WHOAMI"],
    ] {
        let (ur, rr) = (u.call(c), r.call(c));
        // HELLO's map carries the connection id; compare errors and the rest exactly.
        if c[0] != "HELLO" || ur.is_error() || rr.is_error() {
            assert_eq!(ur, rr, "{c:?}");
        }
    }
    assert_eq!(
        log_entries(&mut usher.client()),
        log_entries(&mut redis.client())
    );
    // HELLO AUTH authenticates as that user.
    for c in [&mut usher.client(), &mut redis.client()] {
        assert!(!c.call(&["HELLO", "2", "AUTH", "bob", "pw"]).is_error());
        assert_eq!(c.call(&["ACL", "WHOAMI"]), Reply::bulk("bob"));
        let list = c.call(&["CLIENT", "LIST"]).text();
        assert!(list.contains("user=bob"), "{list}");
    }
}

#[test]
fn deleting_a_user_closes_its_connections() {
    let usher = Server::usher(&[]);
    let mut admin = usher.client();
    admin.call(&["ACL", "SETUSER", "temp", "on", ">pw", "+@all", "~*"]);
    let mut c = usher.client();
    assert_eq!(c.call(&["AUTH", "temp", "pw"]), Reply::Simple("OK".into()));
    let mut other = usher.client();
    assert_eq!(admin.call(&["ACL", "DELUSER", "temp"]), Reply::Int(1));
    assert!(c.closes(), "a deleted user's connection stays open");
    assert_eq!(other.call(&["PING"]), Reply::Simple("PONG".into()));
    // Changing a user applies to its open connections at once.
    admin.call(&["ACL", "SETUSER", "live", "on", ">pw", "+@all", "~*"]);
    let mut live = usher.client();
    live.call(&["AUTH", "live", "pw"]);
    assert_eq!(live.call(&["SET", "k", "v"]), Reply::Simple("OK".into()));
    admin.call(&["ACL", "SETUSER", "live", "-set"]);
    assert!(live.call(&["SET", "k", "v"]).err().starts_with("NOPERM"));
}

#[test]
fn aclfile_save_load_and_user_directives() {
    let dir = std::env::temp_dir().join(format!("usher-acl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.acl");
    std::fs::write(
        &file,
        "user default on nopass ~* &* +@all\nuser web on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~line:* -@all +enter +qpos\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let usher = Server::usher(&["--aclfile", path]);
    let mut c = usher.client();
    assert_eq!(c.call(&["ACL", "USERS"]).strings(), ["default", "web"]);
    c.call(&["ACL", "SETUSER", "booking", "on", ">b", "+@seat"]);
    assert_eq!(c.call(&["ACL", "SAVE"]), Reply::Simple("OK".into()));
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains("user booking on #"), "{saved}");
    // A broken file changes nothing and names the line.
    std::fs::write(&file, "user web on +nosuch\nbogus line\n").unwrap();
    let err = c.call(&["ACL", "LOAD"]).err().to_string();
    assert!(
        err.contains(":1: Unknown command or category name in ACL.")
            && err.contains(":2 should start with user keyword"),
        "{err}"
    );
    assert_eq!(
        c.call(&["ACL", "USERS"]).strings(),
        ["booking", "default", "web"]
    );
    std::fs::write(&file, saved.replace("user booking", "user booker")).unwrap();
    assert_eq!(c.call(&["ACL", "LOAD"]), Reply::Simple("OK".into()));
    assert_eq!(
        c.call(&["ACL", "USERS"]).strings(),
        ["booker", "default", "web"]
    );
    // `user` lines in the config file.
    let conf = dir.join("usher.conf");
    std::fs::write(
        &conf,
        "user worker on >w +admit ~line:*\nuser default on >admin +@all ~* &*\n",
    )
    .unwrap();
    let configured = Server::usher(&[conf.to_str().unwrap()]);
    let mut c = configured.client();
    assert!(c.call(&["PING"]).err().starts_with("NOAUTH"));
    assert_eq!(c.call(&["AUTH", "worker", "w"]), Reply::Simple("OK".into()));
    assert!(c.call(&["GET", "line:a"]).err().starts_with("NOPERM"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_rewrite_keeps_the_users_in_the_config_file() {
    let dir = std::env::temp_dir().join(format!("usher-acl-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("usher.conf");
    std::fs::write(&conf, "user old on nopass +@all ~*\n").unwrap();
    let conf = conf.to_str().unwrap();
    // The rewrite records `dir`: one that outlives the first server.
    let data = dir.to_str().unwrap();
    let usher = Server::usher(&[conf, "--dir", data]);
    let mut c = usher.client();
    c.call(&["ACL", "DELUSER", "old"]);
    c.call(&[
        "ACL", "SETUSER", "web", "on", ">pw", "-@all", "+enter", "+qpos", "~line:*",
    ]);
    assert_eq!(c.call(&["CONFIG", "REWRITE"]), Reply::Simple("OK".into()));
    let text = std::fs::read_to_string(conf).unwrap();
    assert!(!text.contains("user old"), "{text}");
    assert!(
        text.contains("user default on nopass ~* &* +@all"),
        "{text}"
    );
    drop(usher);
    let restarted = Server::usher(&[conf, "--dir", data]);
    let mut c = restarted.client();
    assert_eq!(c.call(&["ACL", "USERS"]).strings(), ["default", "web"]);
    assert_eq!(c.call(&["AUTH", "web", "pw"]), Reply::Simple("OK".into()));
    assert!(c.call(&["GET", "line:x"]).err().starts_with("NOPERM"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The three roles of docs/security.md: the web tier joins and polls, the booking service
/// holds seats and checks tokens, the admission worker admits. Each is refused the others'.
#[test]
fn waiting_room_roles_are_enforced() {
    let usher = Server::usher(&[]);
    let mut admin = usher.client();
    for rules in [
        &[
            "ACL",
            "SETUSER",
            "web",
            "on",
            ">web-secret",
            "-@all",
            "+enter",
            "+qpos",
            "~line:*",
        ][..],
        &[
            "ACL",
            "SETUSER",
            "booking",
            "on",
            ">booking-secret",
            "-@all",
            "+@seat",
            "+tokenverify",
            "~seat:*",
            "~line:*",
        ],
        &[
            "ACL",
            "SETUSER",
            "admission",
            "on",
            ">admission-secret",
            "-@all",
            "+admit",
            "~line:*",
        ],
    ] {
        assert_eq!(admin.call(rules), Reply::Simple("OK".into()), "{rules:?}");
    }
    let login = |user: &str| {
        let mut c = usher.client();
        assert_eq!(
            c.call(&["AUTH", user, &format!("{user}-secret")]),
            Reply::Simple("OK".into())
        );
        c
    };
    let (mut web, mut booking, mut worker) = (login("web"), login("booking"), login("admission"));
    let denied = |r: Reply| r.is_error() && r.err().starts_with("NOPERM");
    // Web tier.
    let entered = web.call(&["ENTER", "line:{show}", "line:{show}:active", "alice"]);
    assert!(!entered.is_error(), "{entered:?}");
    assert!(!web
        .call(&["QPOS", "line:{show}", "line:{show}:active", "alice"])
        .is_error());
    assert!(denied(web.call(&[
        "ADMIT",
        "line:{show}",
        "line:{show}:active",
        "1"
    ])));
    assert!(denied(web.call(&["SEATLOCK", "seat:{1}", "alice", "60"])));
    assert!(denied(web.call(&["GET", "line:{show}"])));
    assert!(denied(web.call(&[
        "ENTER",
        "other",
        "other:active",
        "alice"
    ])));
    // Admission worker.
    let admitted = worker.call(&["ADMIT", "line:{show}", "line:{show}:active", "1"]);
    assert!(!admitted.is_error(), "{admitted:?}");
    assert!(denied(worker.call(&[
        "ENTER",
        "line:{show}",
        "line:{show}:active",
        "bob"
    ])));
    assert!(denied(
        worker.call(&["SEATLOCK", "seat:{1}", "alice", "60"])
    ));
    // Booking service.
    let locked = booking.call(&["SEATLOCK", "seat:{1}", "alice", "60"]);
    assert!(!locked.is_error(), "{locked:?}");
    assert!(!booking.call(&["SEATSTATUS", "seat:{1}"]).is_error());
    assert!(denied(booking.call(&[
        "ADMIT",
        "line:{show}",
        "line:{show}:active",
        "1"
    ])));
    assert!(denied(booking.call(&[
        "QPOS",
        "line:{show}",
        "line:{show}:active",
        "alice"
    ])));
    assert!(denied(booking.call(&[
        "SEATLOCK",
        "other:{1}",
        "alice",
        "60"
    ])));
    assert!(denied(booking.call(&["FLUSHALL"])));
    // Categories say the same as the rules above.
    let mut cat = |c: &str| admin.call(&["ACL", "CAT", c]).strings();
    assert!(cat("waitingroom").contains(&"enter".to_string()));
    assert!(cat("seat").contains(&"seatlock".to_string()));
    assert!(cat("admission").contains(&"admit".to_string()));
    assert!(!cat("waitingroom").contains(&"admit".to_string()));
}

#[test]
fn rules_changed_after_queueing_are_checked_again_at_exec() {
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    for server in [&usher, &redis] {
        server
            .client()
            .call(&["ACL", "SETUSER", "bob", "on", ">pw", "+@all", "~*", "&*"]);
    }
    let (mut u, mut r) = as_user(&usher, &redis, "bob", "pw");
    for c in [
        &["MULTI"][..],
        &["SET", "k", "1"],
        &["GET", "k"],
        &["PUBLISH", "ch", "m"],
    ] {
        both_run(&mut u, &mut r, c);
    }
    for server in [&usher, &redis] {
        let mut admin = server.client();
        admin.call(&["ACL", "SETUSER", "bob", "-set", "resetchannels"]);
        admin.call(&["ACL", "LOG", "RESET"]);
    }
    both_run(&mut u, &mut r, &["EXEC"]);
    assert_eq!(
        log_entries(&mut usher.client()),
        log_entries(&mut redis.client())
    );
}

#[test]
fn subscribers_are_disconnected_when_their_channels_are_revoked() {
    let usher = Server::usher(&[]);
    let mut admin = usher.client();
    admin.call(&[
        "ACL", "SETUSER", "sub", "on", ">pw", "+@all", "~*", "&news:*", "&alerts",
    ]);
    let mut kept = usher.client();
    let mut cut = usher.client();
    for c in [&mut kept, &mut cut] {
        assert_eq!(c.call(&["AUTH", "sub", "pw"]), Reply::Simple("OK".into()));
    }
    kept.call(&["SUBSCRIBE", "alerts"]);
    cut.call(&["SUBSCRIBE", "news:1"]);
    admin.call(&["ACL", "SETUSER", "sub", "resetchannels", "&alerts"]);
    assert!(
        cut.closes(),
        "a subscriber to a revoked channel stays connected"
    );
    assert_eq!(admin.call(&["PUBLISH", "alerts", "m"]), Reply::Int(1));
}

#[test]
fn acl_pubsub_default_allchannels_gives_new_users_every_channel() {
    let (usher, redis) = (
        Server::usher(&["--acl-pubsub-default", "allchannels"]),
        Server::redis(&["--acl-pubsub-default", "allchannels"]),
    );
    let mut d = Differ::new(&usher, &redis);
    same(
        &mut d,
        &[
            &["ACL", "SETUSER", "p", "on", "nopass", "+@all"],
            &["ACL", "GETUSER", "p"],
            &["ACL", "SETUSER", "p", "reset"],
            &["ACL", "LIST"],
            &["CONFIG", "SET", "acl-pubsub-default", "resetchannels"],
            &["ACL", "SETUSER", "q"],
            &["ACL", "LIST"],
            &["CONFIG", "SET", "acl-pubsub-default", "bogus"],
            &["CONFIG", "GET", "acl-pubsub-default"],
            &["CONFIG", "GET", "acllog-max-len"],
        ],
    );
}
