//! TLS on `tls-port`, beside the plain port: `redis-cli --tls` and the `redis` crate connect
//! with a client certificate; without one (under `tls-auth-clients yes`) or with an expired
//! one the handshake is refused; `CONFIG SET tls-...` reloads the certificates for new
//! connections without a restart. Certificates are made per test with the `openssl` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use usher_tests::resp::Reply;
use usher_tests::server::free_port;
use usher_tests::Server;

/// A scratch directory with a CA, a server certificate for 127.0.0.1 and client certificates
/// (a valid one and an expired one), all made by `openssl`.
struct Certs {
    dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI makes the test certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Certs {
    fn new(tag: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("usher-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for ca in ["ca", "other-ca"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN=usher test {ca}"),
                ],
            );
        }
        let sign = |name: &str, ca: &str, ext: &str, days: &str| {
            openssl(
                &dir,
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    &format!("{ca}.crt"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-out",
                    &format!("{name}.crt"),
                    "-days",
                    days,
                    "-extfile",
                    ext,
                ],
            );
        };
        sign("server", "ca", "server.ext", "30");
        sign("other-server", "other-ca", "server.ext", "30");
        sign("client", "ca", "client.ext", "30");
        // Valid until a day before it was issued: expired from the start.
        sign("expired", "ca", "client.ext", "-1");
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// usher with a TLS port; returns it and the port.
fn tls_server(certs: &Certs, extra: &[&str]) -> (Server, u16) {
    let port = free_port();
    let port_s = port.to_string();
    let (cert, key, ca) = (
        certs.path("server.crt"),
        certs.path("server.key"),
        certs.path("ca.crt"),
    );
    let mut args = vec![
        "--tls-port",
        &port_s,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
    ];
    args.extend_from_slice(extra);
    (Server::usher(&args), port)
}

/// `redis-cli --tls` against `port`: its stdout and stderr, trimmed.
fn redis_cli(port: u16, certs: &Certs, ca: &str, client: Option<&str>, cmd: &[&str]) -> String {
    let mut c = Command::new("redis-cli");
    c.args([
        "-p",
        &port.to_string(),
        "--tls",
        "--cacert",
        &certs.path(ca),
    ]);
    if let Some(name) = client {
        c.args([
            "--cert",
            &certs.path(&format!("{name}.crt")),
            "--key",
            &certs.path(&format!("{name}.key")),
        ]);
    }
    let out = c.args(cmd).output().expect("redis-cli runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_string()
}

#[test]
fn redis_cli_tls_with_a_client_certificate_beside_the_plain_port() {
    let certs = Certs::new("cli");
    let (usher, port) = tls_server(&certs, &[]);
    assert_eq!(
        redis_cli(
            port,
            &certs,
            "ca.crt",
            Some("client"),
            &["SET", "k", "over-tls"]
        ),
        "OK"
    );
    // The same data on the plain port, which keeps working beside the TLS one.
    assert_eq!(usher.client().call(&["GET", "k"]), Reply::bulk("over-tls"));
    let listed = redis_cli(port, &certs, "ca.crt", Some("client"), &["CLIENT", "LIST"]);
    assert!(listed.contains("cmd=client|list"), "{listed}");
    // Pipelined and larger replies go through TLS records intact.
    let big = "x".repeat(200_000);
    usher.client().call(&["SET", "big", &big]);
    assert_eq!(
        redis_cli(port, &certs, "ca.crt", Some("client"), &["STRLEN", "big"]),
        "200000"
    );
    assert_eq!(
        redis_cli(port, &certs, "ca.crt", Some("client"), &["GET", "big"]).len(),
        200_000
    );
}

#[test]
fn clients_without_a_valid_certificate_are_refused_when_tls_auth_clients_is_yes() {
    let certs = Certs::new("auth");
    let (usher, port) = tls_server(&certs, &[]);
    let refused = |out: String| !out.contains("PONG");
    assert!(
        refused(redis_cli(port, &certs, "ca.crt", None, &["PING"])),
        "no client certificate"
    );
    assert!(
        refused(redis_cli(
            port,
            &certs,
            "ca.crt",
            Some("expired"),
            &["PING"]
        )),
        "expired certificate"
    );
    assert_eq!(
        redis_cli(port, &certs, "ca.crt", Some("client"), &["PING"]),
        "PONG"
    );
    // `optional` lets a client without a certificate in, but still refuses a bad one.
    let mut admin = usher.client();
    assert_eq!(
        admin.call(&["CONFIG", "SET", "tls-auth-clients", "optional"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(redis_cli(port, &certs, "ca.crt", None, &["PING"]), "PONG");
    assert!(refused(redis_cli(
        port,
        &certs,
        "ca.crt",
        Some("expired"),
        &["PING"]
    )));
    assert_eq!(
        admin.call(&["CONFIG", "SET", "tls-auth-clients", "no"]),
        Reply::Simple("OK".into())
    );
    assert_eq!(redis_cli(port, &certs, "ca.crt", None, &["PING"]), "PONG");
    // A plain-text client on the TLS port gets nothing back.
    let mut plain = usher_tests::resp::Client::connect(port).unwrap();
    plain.send(&["PING"]);
    assert!(plain.closes());
}

#[test]
fn config_set_reloads_certificates_without_a_restart() {
    let certs = Certs::new("reload");
    let (usher, port) = tls_server(&certs, &["--tls-auth-clients", "no"]);
    assert_eq!(redis_cli(port, &certs, "ca.crt", None, &["PING"]), "PONG");
    let mut admin = usher.client();
    // A file that does not load changes nothing.
    let bad = admin.call(&["CONFIG", "SET", "tls-cert-file", "/nonexistent.crt"]);
    assert!(
        bad.err().contains("Unable to update TLS configuration"),
        "{bad:?}"
    );
    assert_eq!(
        admin.call(&["CONFIG", "GET", "tls-cert-file"]).strings()[1],
        certs.path("server.crt")
    );
    assert_eq!(redis_cli(port, &certs, "ca.crt", None, &["PING"]), "PONG");
    // The new certificate (from another CA) serves new connections.
    let reply = admin.call(&[
        "CONFIG",
        "SET",
        "tls-cert-file",
        &certs.path("other-server.crt"),
        "tls-key-file",
        &certs.path("other-server.key"),
    ]);
    assert_eq!(reply, Reply::Simple("OK".into()));
    assert!(!redis_cli(port, &certs, "ca.crt", None, &["PING"]).contains("PONG"));
    assert_eq!(
        redis_cli(port, &certs, "other-ca.crt", None, &["PING"]),
        "PONG"
    );
}

#[test]
fn the_redis_crate_connects_over_tls() {
    let certs = Certs::new("crate");
    let (_usher, port) = tls_server(&certs, &[]);
    let client = redis::Client::build_with_tls(
        format!("rediss://127.0.0.1:{port}/"),
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: certs.read("client.crt"),
                client_key: certs.read("client.key"),
            }),
            root_cert: Some(certs.read("ca.crt")),
        },
    )
    .unwrap();
    let mut con = client.get_connection().expect("TLS connection");
    let _: () = redis::cmd("SET")
        .arg("crate")
        .arg("tls")
        .query(&mut con)
        .unwrap();
    let got: String = redis::cmd("GET").arg("crate").query(&mut con).unwrap();
    assert_eq!(got, "tls");
    // Without the client certificate the handshake fails.
    let anonymous = redis::Client::build_with_tls(
        format!("rediss://127.0.0.1:{port}/"),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(certs.read("ca.crt")),
        },
    )
    .unwrap();
    let refused = anonymous
        .get_connection()
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(refused.is_err(), "{refused:?}");
}
