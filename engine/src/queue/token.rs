//! Signed admission tokens: JSON Web Tokens a booking service can verify offline.
//!
//! When a user is admitted, usher can hand out a token that proves it: a standard JWT signed
//! either with HMAC-SHA256 under the server's `token-secret` (HS256: the verifier needs the
//! secret) or with the current Ed25519 key of the key ring (EdDSA, RFC 8037, header `kid`:
//! the verifier needs only the public JWK set, see [`super::keyring`]). Any JWT library
//! verifies it, so the booking service need not ask usher on every request. Claims:
//!
//! ```text
//! {"sub": "<user>", "aud": "<queue>", "iat": <issued, s>, "exp": <expiry, s>, "jti": "<nonce>"}
//! ```
//!
//! Single use is a separate, stateful step: `TOKENVERIFY token CONSUME` records the `jti` of a
//! TOKENSIGN token; an admission token (claim `"adm": true`) is spent through its record,
//! the same one TOKENCONSUME spends, so one admission is one use.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::keyring::{self, KeyRing};

/// The constant JWT header: `{"alg":"HS256","typ":"JWT"}`.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// A signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Hs256,
    EdDsa,
}

impl Alg {
    /// `HS256` or `EdDSA` (case-insensitive).
    pub fn parse(v: &[u8]) -> Option<Alg> {
        if v.eq_ignore_ascii_case(b"HS256") {
            Some(Alg::Hs256)
        } else if v.eq_ignore_ascii_case(b"EdDSA") {
            Some(Alg::EdDsa)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Hs256 => "HS256",
            Alg::EdDsa => "EdDSA",
        }
    }
}

/// What a token asserts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The admitted user.
    pub sub: String,
    /// The queue (event) the user was admitted to.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// A random nonce, unique per token (the single-use key).
    pub jti: String,
    /// usher's private claim: true for the token of an admission (issued by a queue policy),
    /// which is single-use through its record `<queue>:token:<user>` and dies with the
    /// session (QREVOKE); absent for TOKENSIGN's tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adm: bool,
    /// usher's private claim: true for an invite (TOKENINVITE), the enqueue token ENTER ...
    /// INVITE takes on an invite-only event; absent for every other token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inv: bool,
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    Malformed,
    BadSignature,
    Expired,
    UnknownKey,
}

impl VerifyError {
    /// The reason string TOKENVERIFY replies with.
    pub fn reason(self) -> &'static str {
        match self {
            VerifyError::Malformed => "Malformed token",
            VerifyError::BadSignature => "Bad signature",
            VerifyError::Expired => "Token expired",
            VerifyError::UnknownKey => "Unknown key",
        }
    }
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// Signs `claims` into a compact JWT.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER_JSON);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Signs `claims` with `alg`: HS256 under `secret`, EdDSA with the ring's current key.
pub fn sign_with(alg: Alg, secret: &[u8], claims: &Claims) -> String {
    match alg {
        Alg::Hs256 => sign(secret, claims),
        Alg::EdDsa => sign_eddsa(&keyring::get(), claims),
    }
}

/// Signs `claims` into a compact JWT with the ring's current Ed25519 key, named by `kid`.
pub fn sign_eddsa(ring: &KeyRing, claims: &Claims) -> String {
    let key = ring.current();
    let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": key.kid});
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signing_input = format!("{header}.{payload}");
    let sig = key.sign(signing_input.as_bytes(), claims.exp.saturating_mul(1000));
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// Checks a token's signature (HS256 under `secret` in constant time, or EdDSA with a key of
/// the ring still in its JWK set), header and expiry.
pub fn verify(secret: &[u8], token: &[u8], now_ms: i64) -> Result<Claims, VerifyError> {
    let text = std::str::from_utf8(token).map_err(|_| VerifyError::Malformed)?;
    let mut parts = text.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let header_json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| VerifyError::Malformed)?;
    let header_value: serde_json::Value =
        serde_json::from_slice(&header_json).map_err(|_| VerifyError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| VerifyError::Malformed)?;
    match header_value.get("alg").and_then(|a| a.as_str()) {
        Some("HS256") => {
            let mut m = mac(secret);
            m.update(header.as_bytes());
            m.update(b".");
            m.update(payload.as_bytes());
            m.verify_slice(&sig)
                .map_err(|_| VerifyError::BadSignature)?;
        }
        Some("EdDSA") => {
            let kid = header_value.get("kid").and_then(|k| k.as_str());
            let ring = keyring::get();
            let key = kid
                .and_then(|kid| ring.find(kid, now_ms))
                .ok_or(VerifyError::UnknownKey)?;
            let signing_input = &text[..header.len() + 1 + payload.len()];
            if !key.verify(signing_input.as_bytes(), &sig) {
                return Err(VerifyError::BadSignature);
            }
        }
        _ => return Err(VerifyError::Malformed),
    }
    let claims: Claims = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VerifyError::Malformed)?,
    )
    .map_err(|_| VerifyError::Malformed)?;
    if claims.exp * 1000 <= now_ms {
        return Err(VerifyError::Expired);
    }
    Ok(claims)
}

/// The claims of a token without checking its signature: only for routing (which shard holds
/// its queue); every decision uses [`verify`].
pub fn peek_claims(token: &[u8]) -> Option<Claims> {
    let payload = std::str::from_utf8(token).ok()?.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "user:42".into(),
            aud: "queue:{evt}".into(),
            iat: 1_795_000_000,
            exp: 1_795_000_600,
            jti: "a1b2".into(),
            adm: false,
            inv: false,
        }
    }

    #[test]
    fn tokens_round_trip_and_are_standard_jwts() {
        let token = sign(b"secret", &claims());
        assert_eq!(token.matches('.').count(), 2);
        assert!(
            token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."),
            "the standard HS256 header"
        );
        assert_eq!(
            verify(b"secret", token.as_bytes(), 1_795_000_000_000),
            Ok(claims())
        );
    }

    #[test]
    fn tampering_a_wrong_secret_and_expiry_are_refused() {
        let token = sign(b"secret", &claims());
        assert_eq!(
            verify(b"other", token.as_bytes(), 0),
            Err(VerifyError::BadSignature)
        );
        let mut forged = token.clone().into_bytes();
        let mid = token.find('.').unwrap() + 3;
        forged[mid] = if forged[mid] == b'A' { b'B' } else { b'A' };
        assert!(verify(b"secret", &forged, 0).is_err());
        assert_eq!(
            verify(b"secret", token.as_bytes(), 1_795_000_600_000),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            verify(b"secret", b"not.a.jwt.at.all", 0),
            Err(VerifyError::Malformed)
        );
    }

    #[test]
    fn eddsa_tokens_name_their_key_and_verify_with_the_ring() {
        let token = sign_with(Alg::EdDsa, b"unused", &claims());
        let header = token.split('.').next().unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], keyring::get().current().kid.as_str());
        assert_eq!(verify(b"x", token.as_bytes(), 0), Ok(claims()));
        let mut forged = token.into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(verify(b"x", &forged, 0), Err(VerifyError::BadSignature));
    }
}
