//! The EdDSA key ring: the Ed25519 keys asymmetric tokens are signed with, and the JWK set
//! (RFC 7517, RFC 8037) a booking service verifies them with, knowing no secret.
//!
//! The ring lives in server memory, so signing on the admission path takes no extra lock: the
//! last key is the current one (it signs), earlier keys stay only to verify tokens they signed
//! until their retirement time. Its durable, replicated copy is the STRING `usher:tokenkeys`
//! in database 0 (JSON, private keys included as PKCS#8), written by `TOKENKEYS ROTATE` and
//! `RETIRE`, which propagate as `TOKENKEYS RESTORE <json>` so a replica or an AOF replay
//! installs exactly the primary's keys; after every load (start-up, DEBUG RELOAD, a replica's
//! full sync) the server installs the ring that key holds. Until the first rotation the ring
//! is the key of `token-signing-key`, or one generated at start-up (per process).
//!
//! A key id (`kid`) is the first 16 characters of the key's RFC 7638 thumbprint, so the same
//! key always has the same id on every node.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use parking_lot::RwLock;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The key (database 0) holding the ring's durable copy.
pub const RING_KEY: &[u8] = b"usher:tokenkeys";

/// How long a previous key stays when nothing is known of the tokens it signed (it was loaded
/// from a file, so this process never saw them): a day outlives any admission token.
pub const UNKNOWN_KEEP_MS: i64 = 86_400_000;

/// One Ed25519 key of the ring.
pub struct SigningKey {
    pub kid: String,
    pkcs8: Vec<u8>,
    pair: Ed25519KeyPair,
    pub created_ms: i64,
    /// `None`: the current key. `Some(t)`: a previous key, verifying until Unix ms `t`.
    pub retire_at_ms: Option<i64>,
    /// The latest expiry (Unix ms) of a token signed with it, as far as this process knows.
    max_exp_ms: AtomicI64,
}

impl SigningKey {
    /// A key from its PKCS#8 document (v1, as `openssl genpkey -algorithm ed25519` writes it,
    /// or v2 with the public key).
    pub fn from_pkcs8(der: &[u8], created_ms: i64) -> Result<SigningKey, String> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| format!("not an Ed25519 PKCS#8 private key ({e})"))?;
        Ok(SigningKey {
            kid: kid_of(pair.public_key().as_ref()),
            pkcs8: der.to_vec(),
            pair,
            created_ms,
            retire_at_ms: None,
            max_exp_ms: AtomicI64::new(0),
        })
    }

    /// A fresh random key.
    pub fn generate(created_ms: i64) -> SigningKey {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("system random");
        SigningKey::from_pkcs8(doc.as_ref(), created_ms).expect("ring's own PKCS#8")
    }

    /// The public key, 32 bytes.
    pub fn public(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// Signs `message`, noting that a token expiring at `exp_ms` now depends on this key.
    pub fn sign(&self, message: &[u8], exp_ms: i64) -> Vec<u8> {
        self.max_exp_ms.fetch_max(exp_ms, Ordering::Relaxed);
        self.pair.sign(message).as_ref().to_vec()
    }

    /// True if `signature` is this key's over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.public())
            .verify(message, signature)
            .is_ok()
    }

    fn copy(&self) -> SigningKey {
        let mut k = SigningKey::from_pkcs8(&self.pkcs8, self.created_ms).expect("valid");
        k.retire_at_ms = self.retire_at_ms;
        k.max_exp_ms = AtomicI64::new(self.max_exp_ms.load(Ordering::Relaxed));
        k
    }

    fn live_at(&self, now_ms: i64) -> bool {
        self.retire_at_ms.is_none_or(|t| now_ms < t)
    }

    /// The key's JWK (public part only).
    fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.public()),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

/// The RFC 7638 thumbprint of an Ed25519 public key, shortened to 16 characters.
pub fn kid_of(public: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    let digest = Sha256::digest(canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)[..16].to_string()
}

/// The keys, oldest first; the last is the current one.
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

/// The durable form of one key.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    pkcs8: String,
    created_ms: i64,
    retire_at_ms: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    keys: Vec<StoredKey>,
}

impl KeyRing {
    pub fn with_key(key: SigningKey) -> KeyRing {
        KeyRing { keys: vec![key] }
    }

    /// The key that signs.
    pub fn current(&self) -> &SigningKey {
        self.keys.last().expect("a ring is never empty")
    }

    /// The key `kid`, if it still verifies at `now_ms`.
    pub fn find(&self, kid: &str, now_ms: i64) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid && k.live_at(now_ms))
    }

    /// Every key still verifying at `now_ms`, oldest first.
    pub fn live(&self, now_ms: i64) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().filter(move |k| k.live_at(now_ms))
    }

    /// The JWK set: `{"keys":[...]}`, current key last.
    pub fn jwks(&self, now_ms: i64) -> String {
        let keys: Vec<_> = self.live(now_ms).map(SigningKey::jwk).collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    /// A ring with `new` as current key. The previous current key verifies until `now + keep`
    /// when given, else until the last token it signed expires (a day when unknown); keys
    /// already retired by `now` are dropped.
    pub fn rotated(&self, new: SigningKey, now_ms: i64, keep_ms: Option<i64>) -> KeyRing {
        let mut keys: Vec<SigningKey> = self
            .keys
            .iter()
            .filter(|k| k.live_at(now_ms))
            .map(SigningKey::copy)
            .collect();
        if let Some(last) = keys.last_mut() {
            let seen = last.max_exp_ms.load(Ordering::Relaxed);
            last.retire_at_ms = Some(match keep_ms {
                Some(keep) => now_ms.saturating_add(keep),
                None if seen < 0 => now_ms + UNKNOWN_KEEP_MS,
                None => seen.max(now_ms),
            });
        }
        keys.retain(|k| k.kid != new.kid);
        keys.push(new);
        KeyRing { keys }
    }

    /// A ring without the previous key `kid`; `None` if it is not a previous key.
    pub fn retired(&self, kid: &str, now_ms: i64) -> Option<KeyRing> {
        let at = self.keys.iter().position(|k| k.kid == kid)?;
        if at + 1 == self.keys.len() {
            return None;
        }
        let keys = self
            .keys
            .iter()
            .enumerate()
            .filter(|(i, k)| *i != at && k.live_at(now_ms))
            .map(|(_, k)| k.copy())
            .collect();
        Some(KeyRing { keys })
    }

    /// The durable JSON form (private keys included).
    pub fn to_json(&self) -> String {
        let keys = self
            .keys
            .iter()
            .map(|k| StoredKey {
                kid: k.kid.clone(),
                pkcs8: STANDARD.encode(&k.pkcs8),
                created_ms: k.created_ms,
                retire_at_ms: k.retire_at_ms,
            })
            .collect();
        serde_json::to_string(&Stored { keys }).expect("serializes")
    }

    /// Reads the durable form. Keys loaded this way have signed tokens this process never saw.
    pub fn from_json(json: &[u8]) -> Result<KeyRing, String> {
        let stored: Stored =
            serde_json::from_slice(json).map_err(|e| format!("invalid key ring JSON: {e}"))?;
        let mut keys = Vec::with_capacity(stored.keys.len());
        for s in stored.keys {
            let der = STANDARD
                .decode(&s.pkcs8)
                .map_err(|_| format!("key '{}': pkcs8 is not base64", s.kid))?;
            let mut k = SigningKey::from_pkcs8(&der, s.created_ms)?;
            if k.kid != s.kid {
                return Err(format!("key '{}' does not match its id", s.kid));
            }
            k.retire_at_ms = s.retire_at_ms;
            k.max_exp_ms = AtomicI64::new(-1);
            keys.push(k);
        }
        match keys.last() {
            None => Err("the key ring is empty".into()),
            Some(k) if k.retire_at_ms.is_some() => Err("the last key must be current".into()),
            Some(_) => Ok(KeyRing { keys }),
        }
    }
}

/// A PKCS#8 private key from a PEM (`-----BEGIN PRIVATE KEY-----`) or DER file.
pub fn pkcs8_from_file(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    let Some(start) = text.find("-----BEGIN PRIVATE KEY-----") else {
        return Err("expected a PEM 'PRIVATE KEY' (PKCS#8) or a DER file".into());
    };
    let body: String = text[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD
        .decode(body.trim())
        .map_err(|_| "the PEM body is not base64".into())
}

static RING: RwLock<Option<Arc<KeyRing>>> = RwLock::new(None);

/// Installs `ring` as the process's key ring.
pub fn install(ring: KeyRing) {
    *RING.write() = Some(Arc::new(ring));
}

/// The process's key ring (a generated one if none was installed, as in unit tests).
pub fn get() -> Arc<KeyRing> {
    if let Some(r) = RING.read().as_ref() {
        return r.clone();
    }
    let mut w = RING.write();
    w.get_or_insert_with(|| Arc::new(KeyRing::with_key(SigningKey::generate(0))))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_previous_key_until_its_tokens_expire() {
        let a = SigningKey::generate(1);
        a.sign(b"m", 5_000);
        let ring = KeyRing::with_key(a);
        let old = ring.current().kid.clone();
        let ring = ring.rotated(SigningKey::generate(2), 1_000, None);
        assert_ne!(ring.current().kid, old);
        assert!(ring.find(&old, 4_999).is_some());
        assert!(ring.find(&old, 5_000).is_none());
        let back = KeyRing::from_json(ring.to_json().as_bytes()).unwrap();
        assert_eq!(back.jwks(0), ring.jwks(0));
        let sig = back.current().sign(b"hello", 0);
        assert!(ring.current().verify(b"hello", &sig));
        assert!(ring.retired(&old, 0).is_some());
        assert!(ring.retired(&ring.current().kid, 0).is_none());
    }
}
