//! Client-side caching (CLIENT TRACKING) against redis-server 7.0.15: the same script of
//! tracking clients and writers runs on both, and every reply and invalidation push must be
//! identical (RESP3 pushes, RESP2 redirection to `__redis__:invalidate`, BCAST prefixes,
//! OPTIN, NOLOOP, FLUSHALL's null, TRACKINGINFO, GETREDIR and the option errors).

use usher_tests::{Client, Reply, Server};

/// Runs `script` where each step is (client index, command, replies to read); returns every
/// reply read, in order.
fn transcript(server: &Server, script: &[(usize, &[&str], usize)]) -> Vec<Reply> {
    let mut c: Vec<Client> = (0..3).map(|_| server.client()).collect();
    // Client ids differ between the servers: REDIRECT targets client 2 by its own id.
    let redir_id = c[2].call(&["CLIENT", "ID"]).int().to_string();
    let mut out = Vec::new();
    for (i, cmd, reads) in script {
        let cmd: Vec<&str> = cmd
            .iter()
            .map(|a| if *a == "$REDIR" { redir_id.as_str() } else { a })
            .collect();
        c[*i].send(&cmd);
        for _ in 0..*reads {
            let reply = c[*i].read().expect("a reply");
            match reply {
                // HELLO's map holds the connection id, which differs between servers.
                Reply::Map(_) if cmd[0] == "HELLO" => {}
                Reply::Int(id) if cmd.contains(&"GETREDIR") && id.to_string() == redir_id => {
                    out.push(Reply::bulk("the redirect client"))
                }
                other => out.push(other),
            }
        }
    }
    out
}

fn same(script: &[(usize, &[&str], usize)]) {
    let (usher, redis) = (Server::usher(&["--threads", "2"]), Server::redis(&[]));
    let u = transcript(&usher, script);
    let r = transcript(&redis, script);
    assert_eq!(u, r);
}

#[test]
fn resp3_default_mode_invalidates_a_read_key_once_when_another_client_writes_it() {
    same(&[
        (0, &["HELLO", "3"], 1),
        (0, &["CLIENT", "TRACKING", "on"], 1),
        (1, &["SET", "k", "1"], 1),
        (0, &["GET", "k"], 1),
        (0, &["MGET", "k", "other"], 1),
        (1, &["SET", "k", "2"], 1),
        (0, &["PING"], 2),          // the push, then PONG
        (1, &["SET", "k", "3"], 1), // not read again: no second push
        (0, &["GET", "k"], 1),
        (1, &["DEL", "k"], 1),
        (0, &["PING"], 2),
        (0, &["GET", "k"], 1),
        (1, &["FLUSHALL"], 1),
        (0, &["PING"], 2), // null invalidation
        (0, &["CLIENT", "TRACKINGINFO"], 1),
        (0, &["CLIENT", "GETREDIR"], 1),
        (0, &["CLIENT", "TRACKING", "off"], 1),
        (0, &["CLIENT", "TRACKINGINFO"], 1),
        (0, &["CLIENT", "GETREDIR"], 1),
    ]);
}

#[test]
fn resp2_redirection_goes_to_the_invalidate_channel() {
    same(&[
        (2, &["SUBSCRIBE", "__redis__:invalidate"], 1),
        (0, &["CLIENT", "TRACKING", "on", "REDIRECT", "$REDIR"], 1),
        (0, &["GET", "a"], 1),
        (1, &["SET", "a", "1"], 1),
        (2, &[], 0),
        (0, &["CLIENT", "GETREDIR"], 1),
    ]);
    // The message itself: read it from client 2 after the write.
    let (usher, redis) = (Server::usher(&[]), Server::redis(&[]));
    for server in [&usher, &redis] {
        let (mut t, mut w, mut sub) = (server.client(), server.client(), server.client());
        let id = sub.call(&["CLIENT", "ID"]).int().to_string();
        sub.send(&["SUBSCRIBE", "__redis__:invalidate"]);
        sub.read().unwrap();
        assert!(t
            .call(&["CLIENT", "TRACKING", "on", "REDIRECT", &id])
            .is_simple("OK"));
        t.call(&["GET", "a"]);
        w.call(&["SET", "a", "1"]);
        assert_eq!(
            sub.read().unwrap(),
            Reply::Array(vec![
                Reply::bulk("message"),
                Reply::bulk("__redis__:invalidate"),
                Reply::Array(vec![Reply::bulk("a")]),
            ])
        );
    }
}

#[test]
fn bcast_prefixes_optin_and_noloop_behave_as_redis() {
    same(&[
        (0, &["HELLO", "3"], 1),
        (
            0,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "seat:",
            ],
            1,
        ),
        (1, &["SET", "user:1", "x"], 1),
        (0, &["PING"], 2),
        (1, &["MSET", "seat:1", "a", "seat:2", "b", "other", "c"], 1),
        (0, &["PING"], 2),
        (0, &["SET", "user:2", "mine"], 2), // not NOLOOP: its own write comes back
        (0, &["CLIENT", "TRACKINGINFO"], 1),
        (0, &["CLIENT", "TRACKING", "off"], 1),
        (0, &["CLIENT", "TRACKING", "on", "OPTIN", "NOLOOP"], 1),
        (0, &["GET", "x"], 1), // not cached without CLIENT CACHING yes
        (0, &["CLIENT", "CACHING", "yes"], 1),
        (0, &["GET", "y"], 1),
        (1, &["SET", "x", "1"], 1),
        (1, &["SET", "y", "1"], 1),
        (0, &["PING"], 2),
        (0, &["GET", "y"], 1),
        (0, &["CLIENT", "CACHING", "yes"], 1),
        (0, &["GET", "y"], 1),
        (0, &["SET", "y", "2"], 1), // NOLOOP: no push for its own write
        (0, &["PING"], 1),
        (0, &["CLIENT", "TRACKINGINFO"], 1),
    ]);
}

#[test]
fn option_errors_match_redis() {
    same(&[
        (0, &["CLIENT", "TRACKING", "maybe"], 1),
        (0, &["CLIENT", "TRACKING", "on", "PREFIX", "a"], 1),
        (0, &["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"], 1),
        (0, &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"], 1),
        (0, &["CLIENT", "TRACKING", "on", "REDIRECT", "999999"], 1),
        (0, &["CLIENT", "TRACKING", "on", "REDIRECT", "x"], 1),
        (
            0,
            &[
                "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a",
            ],
            1,
        ),
        (0, &["CLIENT", "TRACKING", "on", "FOO"], 1),
        (0, &["CLIENT", "CACHING", "yes"], 1),
        (0, &["CLIENT", "TRACKING", "on", "OPTOUT"], 1),
        (0, &["CLIENT", "CACHING", "yes"], 1),
        (0, &["CLIENT", "CACHING", "maybe"], 1),
        (0, &["CLIENT", "TRACKING", "on", "OPTIN"], 1),
        (0, &["CLIENT", "TRACKING", "on", "BCAST"], 1),
        (0, &["CLIENT", "GETREDIR"], 1),
    ]);
}
