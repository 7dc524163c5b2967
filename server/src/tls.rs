//! TLS for client connections with rustls (ring provider: no OpenSSL), configured by Redis's
//! directives: `tls-port`, `tls-cert-file`, `tls-key-file`, `tls-ca-cert-file`,
//! `tls-auth-clients`, `tls-protocols`, `tls-ciphersuites`.
//!
//! The plain port and the TLS port run side by side; both hand connections to the same workers,
//! which run the handshake and then serve the connection exactly as a plain one (the protocol
//! loop is generic over the stream, see `connection::Transport`). The server's rustls
//! configuration is rebuilt from the files on every `CONFIG SET tls-...` (also with unchanged
//! values, to pick up a rotated certificate): connections accepted afterwards use it, open ones
//! keep theirs. A configuration that does not load leaves the previous one in force.

use crate::config::Config;
use parking_lot::RwLock;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A TLS handshake that has not finished by then is dropped (a client that connects and says
/// nothing must not hold a connection slot forever).
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The TLS configuration new connections get; `None` when TLS is off.
#[derive(Default)]
pub struct Tls {
    current: RwLock<Option<TlsAcceptor>>,
}

impl Tls {
    /// The acceptor for a connection accepted now.
    pub fn acceptor(&self) -> Option<TlsAcceptor> {
        self.current.read().clone()
    }

    /// Loads the files `config` names and puts the result in force.
    pub fn reload(&self, config: &Config) -> Result<(), String> {
        let built = build(config)?;
        *self.current.write() = built.map(TlsAcceptor::from);
        Ok(())
    }
}

/// True when TLS is configured (a TLS port, or certificate files to load).
pub fn enabled(config: &Config) -> bool {
    config.tls_port != 0
}

/// The rustls server configuration `config` describes, or `None` without a TLS port.
pub fn build(config: &Config) -> Result<Option<Arc<ServerConfig>>, String> {
    if !enabled(config) {
        return Ok(None);
    }
    let certs = read_certs(&config.tls_cert_file, "tls-cert-file")?;
    let key = read_key(&config.tls_key_file)?;
    // ring: built with a C compiler alone, no OpenSSL, no CMake. (rustls now prefers aws-lc-rs
    // for post-quantum key exchange, hence the deprecation.)
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    if !config.tls_ciphersuites.is_empty() {
        let wanted: Vec<&str> = config.tls_ciphersuites.split(':').collect();
        provider.cipher_suites.retain(|cs| {
            // rustls says TLS13_AES_256_GCM_SHA384 where OpenSSL (and Redis) say TLS_AES_....
            let name = format!("{:?}", cs.suite()).replacen("TLS13_", "TLS_", 1);
            // TLS 1.2 suites are chosen by `tls-ciphers` in Redis; keep them.
            cs.version() == &rustls::version::TLS12 || wanted.contains(&name.as_str())
        });
        if !provider
            .cipher_suites
            .iter()
            .any(|cs| cs.version() == &rustls::version::TLS13)
        {
            return Err(format!(
                "Failed to configure ciphersuites: no supported TLS 1.3 suite in '{}'",
                config.tls_ciphersuites
            ));
        }
    }
    let versions = protocol_versions(&config.tls_protocols)?;
    let builder = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;
    let auth = config.tls_auth_clients.as_str();
    let builder = if auth == "no" {
        builder.with_no_client_auth()
    } else {
        if config.tls_ca_cert_file.is_empty() {
            return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
        }
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&config.tls_ca_cert_file, "tls-ca-cert-file")? {
            roots
                .add(ca)
                .map_err(|e| format!("Failed to load tls-ca-cert-file: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
        let verifier = if auth == "optional" {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        let verifier = verifier
            .build()
            .map_err(|e| format!("Failed to configure client verification: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    };
    let server = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("Failed to load certificate and key: {e}"))?;
    Ok(Some(Arc::new(server)))
}

/// `tls-protocols "TLSv1.2 TLSv1.3"`: empty means both (rustls has nothing older).
fn protocol_versions(text: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let mut versions = Vec::new();
    for word in text.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1.2" => versions.push(&rustls::version::TLS12),
            "tlsv1.3" => versions.push(&rustls::version::TLS13),
            "tlsv1" | "tlsv1.1" => {
                return Err(format!(
                    "Unsupported TLS protocol '{word}' (rustls has TLSv1.2 and TLSv1.3)"
                ))
            }
            _ => return Err(format!("Invalid tls-protocols specified: {word}")),
        }
    }
    if versions.is_empty() {
        versions = vec![&rustls::version::TLS12, &rustls::version::TLS13];
    }
    Ok(versions)
}

fn read_certs(path: &str, directive: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if path.is_empty() {
        return Err(format!("{directive} is not set"));
    }
    let pem =
        std::fs::read(path).map_err(|e| format!("Failed to load {directive} '{path}': {e}"))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("Failed to parse {directive} '{path}': {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "Failed to load {directive} '{path}': no certificate in it"
        ));
    }
    Ok(certs)
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    if path.is_empty() {
        return Err("tls-key-file is not set".into());
    }
    let pem =
        std::fs::read(path).map_err(|e| format!("Failed to load tls-key-file '{path}': {e}"))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| format!("Failed to parse tls-key-file '{path}': {e}"))?
        .ok_or_else(|| format!("Failed to load tls-key-file '{path}': no private key in it"))
}
