//! Signed admission tokens: JSON Web Tokens (HS256) a booking service can verify offline.
//!
//! When a user is admitted, usher can hand out a token that proves it: a standard JWT signed
//! with HMAC-SHA256 under the server's `token-secret`. Any JWT library verifies it with the
//! same secret, so the booking service need not ask usher on every request. Claims:
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

/// The constant JWT header: `{"alg":"HS256","typ":"JWT"}`.
const HEADER_JSON: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

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
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    Malformed,
    BadSignature,
    Expired,
}

impl VerifyError {
    /// The reason string TOKENVERIFY replies with.
    pub fn reason(self) -> &'static str {
        match self {
            VerifyError::Malformed => "Malformed token",
            VerifyError::BadSignature => "Bad signature",
            VerifyError::Expired => "Token expired",
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

/// Checks a token's signature (constant time), header and expiry.
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
    if header_value.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(VerifyError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| VerifyError::Malformed)?;
    let mut m = mac(secret);
    m.update(header.as_bytes());
    m.update(b".");
    m.update(payload.as_bytes());
    m.verify_slice(&sig)
        .map_err(|_| VerifyError::BadSignature)?;
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
}
