//! Relay tokens (docs/protocol.md, "Tokens").
//!
//! `v1.<expiry>.<mac>`: `expiry` is a Unix time in seconds (decimal), `mac` the lowercase hex
//! HMAC-SHA256 under `RELAY_SECRET` of `lambda-relay.v1 NUL <relay id> NUL <expiry>`. The
//! gateway mints one per request; the function verifies it before it connects, and the
//! gateway again when the socket arrives. Comparison is constant time.

use core::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::validate::{validate_relay_id, InvocationError};

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// Longest token accepted, in bytes; longer input is refused before any work.
pub const MAX_TOKEN_LEN: usize = 128;

const MAC_DOMAIN: &[u8] = b"lambda-relay.v1\0";
const PREFIX: &str = "v1.";

/// The shared secret (`RELAY_SECRET`). Its `Debug` output never shows the bytes.
#[derive(Clone)]
pub struct RelaySecret(Vec<u8>);

impl RelaySecret {
    /// Wraps a secret of at least [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let secret = secret.into();
        if secret.len() < MIN_SECRET_LEN {
            return Err(TokenError::WeakSecret { len: secret.len() });
        }
        Ok(Self(secret))
    }

    /// Mints the token for `relay_id` that expires at `expires_at` (Unix seconds).
    pub fn mint(&self, relay_id: &str, expires_at: u64) -> Result<String, TokenError> {
        validate_relay_id(relay_id)?;
        let mac = self.mac(relay_id, expires_at).finalize().into_bytes();
        let mut token = String::with_capacity(PREFIX.len() + 20 + 1 + 64);
        token.push_str(PREFIX);
        token.push_str(&expires_at.to_string());
        token.push('.');
        for b in mac {
            token.push(char::from(HEX[usize::from(b >> 4)]));
            token.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        Ok(token)
    }

    /// Checks that `token` was minted for `relay_id` under this secret and has not expired
    /// at `now` (Unix seconds). Returns the expiry.
    pub fn verify(&self, token: &str, relay_id: &str, now: u64) -> Result<u64, TokenError> {
        validate_relay_id(relay_id)?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("longer than 128 bytes"));
        }
        let rest = token
            .strip_prefix(PREFIX)
            .ok_or(TokenError::Malformed("not a v1 token"))?;
        let (expiry, mac_hex) = rest.split_once('.').ok_or(TokenError::Malformed("missing mac"))?;
        if expiry.is_empty() || expiry.len() > 20 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TokenError::Malformed("expiry is not a decimal number"));
        }
        if expiry.len() > 1 && expiry.starts_with('0') {
            // One token has one spelling: the MAC covers the digits as minted.
            return Err(TokenError::Malformed("expiry has leading zeros"));
        }
        let expires_at: u64 = expiry
            .parse()
            .map_err(|_| TokenError::Malformed("expiry out of range"))?;
        let mut mac = [0u8; 32];
        decode_hex(mac_hex, &mut mac).ok_or(TokenError::Malformed("mac is not 64 hex digits"))?;
        // Verify before looking at the expiry, so a forged token learns nothing from timing.
        self.mac(relay_id, expires_at)
            .verify_slice(&mac)
            .map_err(|_| TokenError::BadSignature)?;
        if now >= expires_at {
            return Err(TokenError::Expired { expires_at, now });
        }
        Ok(expires_at)
    }

    fn mac(&self, relay_id: &str, expires_at: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("hmac takes keys of any length");
        mac.update(MAC_DOMAIN);
        mac.update(relay_id.as_bytes());
        mac.update(b"\0");
        mac.update(expires_at.to_string().as_bytes());
        mac
    }
}

impl fmt::Debug for RelaySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RelaySecret(..)")
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(text: &str, out: &mut [u8; 32]) -> Option<()> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(())
}

/// Why a token or secret was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The secret is too short to be safe.
    #[error("relay secret is {len} bytes; at least 16 are required")]
    WeakSecret {
        /// The secret's length.
        len: usize,
    },
    /// The token does not have the `v1.<expiry>.<mac>` shape.
    #[error("malformed relay token: {0}")]
    Malformed(&'static str),
    /// The MAC does not match: wrong secret, wrong relay id or a forgery.
    #[error("relay token signature does not verify")]
    BadSignature,
    /// The token was genuine but has expired.
    #[error("relay token expired at {expires_at} (now {now})")]
    Expired {
        /// Its expiry, Unix seconds.
        expires_at: u64,
        /// The time it was checked, Unix seconds.
        now: u64,
    },
    /// The relay id is not valid.
    #[error(transparent)]
    RelayId(#[from] InvocationError),
}

/// Constant-time equality of two credentials (tokens, session keys). Their lengths are not
/// secret.
pub fn same_credential(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> RelaySecret {
        RelaySecret::new(b"0123456789abcdef0123".to_vec()).unwrap()
    }

    #[test]
    fn minted_token_verifies_until_expiry() {
        let token = secret().mint("abc123", 1_000).unwrap();
        assert!(token.starts_with("v1.1000."));
        assert_eq!(token.len(), 3 + 4 + 1 + 64);
        assert_eq!(secret().verify(&token, "abc123", 999), Ok(1_000));
        assert_eq!(
            secret().verify(&token, "abc123", 1_000),
            Err(TokenError::Expired {
                expires_at: 1_000,
                now: 1_000
            })
        );
    }

    #[test]
    fn known_answer() {
        // HMAC-SHA256(key, "lambda-relay.v1\0id\01700000000"), computed independently with
        // Python's hmac module.
        let token = RelaySecret::new(b"an example secret!".to_vec())
            .unwrap()
            .mint("id", 1_700_000_000)
            .unwrap();
        assert_eq!(
            token,
            "v1.1700000000.bd5d3c25437f361c2e3f72ef5b76c304b72dcc9406b4d918145531e87e993bfc"
        );
    }

    #[test]
    fn refuses_forged_or_misdirected_tokens() {
        let token = secret().mint("abc123", 1_000).unwrap();
        assert_eq!(secret().verify(&token, "abc124", 0), Err(TokenError::BadSignature));
        let other = RelaySecret::new(b"another secret of enough length".to_vec()).unwrap();
        assert_eq!(other.verify(&token, "abc123", 0), Err(TokenError::BadSignature));
        let extended = token.replace("v1.1000.", "v1.9000.");
        assert_eq!(secret().verify(&extended, "abc123", 0), Err(TokenError::BadSignature));
    }

    #[test]
    fn refuses_malformed_tokens() {
        for bad in [
            "",
            "v2.1.00",
            "v1.",
            "v1.12",
            "v1.x.00",
            "v1.1.zz",
            "v1.1.abcd",
            "v1.-1.00",
        ] {
            assert!(
                matches!(secret().verify(bad, "abc", 0), Err(TokenError::Malformed(_))),
                "{bad:?}"
            );
        }
        let token = secret().mint("abc", 1_000).unwrap();
        let padded = token.replace("v1.1000.", "v1.01000.");
        assert_eq!(
            secret().verify(&padded, "abc", 0),
            Err(TokenError::Malformed("expiry has leading zeros"))
        );
        let long = format!("v1.1.{}", "a".repeat(200));
        assert_eq!(
            secret().verify(&long, "abc", 0),
            Err(TokenError::Malformed("longer than 128 bytes"))
        );
    }

    #[test]
    fn refuses_weak_secrets() {
        assert_eq!(
            RelaySecret::new(b"short".to_vec()).unwrap_err(),
            TokenError::WeakSecret { len: 5 }
        );
        assert_eq!(format!("{:?}", secret()), "RelaySecret(..)");
    }

    #[test]
    fn credentials_compare_whole() {
        assert!(same_credential("abc", "abc"));
        assert!(!same_credential("abc", "abd"));
        assert!(!same_credential("abc", "abcd"));
    }
}
