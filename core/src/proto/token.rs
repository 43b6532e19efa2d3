//! Relay tokens (docs/protocol.md, "Tokens").
//!
//! `v2.<issued>.<expiry>.<binding>.<mac>`: `issued` and `expiry` are Unix times in seconds
//! (decimal), `binding` the first 16 bytes, lowercase hex, of the SHA-256 of the request the
//! token was minted for ([`RequestBinding`]), and `mac` the lowercase hex HMAC-SHA256 under
//! `RELAY_SECRET` of `lambda-relay.v2 NUL <relay id> NUL <issued> NUL <expiry> NUL <binding>`.
//! The gateway mints one per request; the function verifies it and that it was minted for the
//! request it arrived with, not long ago ([`TokenClaims::admit`]), before it runs a handler;
//! the gateway verifies it again when the socket arrives. Comparisons are constant time.

use core::fmt;
use core::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::codec::lower_hex;
use super::exchange::BodyMode;
use super::validate::{validate_relay_id, InvocationError};

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// Longest token accepted, in bytes; longer input is refused before any work.
pub const MAX_TOKEN_LEN: usize = 160;
/// Oldest token a function starts a handler on: the time from the gateway's minting to the
/// handler's start (a cold start included). The socket's own lifetime is the token's expiry.
pub const MAX_TOKEN_AGE: Duration = Duration::from_secs(60);
/// How far in the future a token's issue time may be, for clocks that disagree.
pub const MAX_TOKEN_SKEW: Duration = Duration::from_secs(30);

const MAC_DOMAIN: &[u8] = b"lambda-relay.v2\0";
const BINDING_DOMAIN: &[u8] = b"lambda-relay.binding.v2\0";
const PREFIX: &str = "v2.";
const BINDING_HEX_LEN: usize = 32;

/// The request a token is minted for: what the gateway sends and the function reads back from
/// its event. A token leaked from a log starts no handler on a request with another method,
/// path, query, body or client address (headers are not bound: Lambda rewrites some of them;
/// `AuthType AWS_IAM` keeps anyone else from invoking the function at all).
#[derive(Clone, Copy, Debug)]
pub struct RequestBinding<'a> {
    /// The method.
    pub method: &'a str,
    /// The path the function's URL is invoked at and the query, as sent (no `?` when the query
    /// is empty: both sides leave it out).
    pub path_and_query: &'a str,
    /// Where the body travels.
    pub body_mode: BodyMode,
    /// The invocation's own body (empty in stream mode).
    pub inline_body: &'a [u8],
    /// The client's address as the gateway sent it (`x-forwarded-for`), if it knew one.
    pub client_address: Option<&'a str>,
}

impl RequestBinding<'_> {
    /// The binding as it appears in a token: 32 lowercase hex digits.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(BINDING_DOMAIN);
        for part in [
            self.method.as_bytes(),
            self.path_and_query.as_bytes(),
            self.body_mode.as_str().as_bytes(),
            Sha256::digest(self.inline_body).as_slice(),
            self.client_address.unwrap_or("").as_bytes(),
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        lower_hex(&hash.finalize()[..BINDING_HEX_LEN / 2])
    }
}

/// What a token says, once its MAC verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    /// When the gateway minted it (Unix seconds).
    pub issued_at: u64,
    /// When it stops opening sockets (Unix seconds).
    pub expires_at: u64,
    /// The request's [`RequestBinding::digest`].
    pub binding: String,
}

impl TokenClaims {
    /// Claims for a token minted at `issued_at`, valid `ttl` seconds, for `request`.
    pub fn new(issued_at: u64, ttl: u64, request: &RequestBinding<'_>) -> Self {
        Self {
            issued_at,
            expires_at: issued_at.saturating_add(ttl),
            binding: request.digest(),
        }
    }

    /// Whether a handler may start on this token for `request` at `now` (Unix seconds): it was
    /// minted for this request, at most [`MAX_TOKEN_AGE`] ago and not more than
    /// [`MAX_TOKEN_SKEW`] ahead.
    pub fn admit(&self, request: &RequestBinding<'_>, now: u64) -> Result<(), TokenError> {
        if !same_credential(&self.binding, &request.digest()) {
            return Err(TokenError::OtherRequest);
        }
        let age = now.checked_sub(self.issued_at);
        let too_old = age.is_some_and(|a| a > MAX_TOKEN_AGE.as_secs());
        let too_new = age.is_none() && self.issued_at - now > MAX_TOKEN_SKEW.as_secs();
        if too_old || too_new {
            return Err(TokenError::Stale {
                issued_at: self.issued_at,
                now,
            });
        }
        Ok(())
    }
}

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

    /// Mints the token for `relay_id` that says `claims`.
    pub fn mint(&self, relay_id: &str, claims: &TokenClaims) -> Result<String, TokenError> {
        validate_relay_id(relay_id)?;
        if claims.binding.len() != BINDING_HEX_LEN || !claims.binding.bytes().all(is_lower_hex) {
            return Err(TokenError::Malformed("binding is not 32 hex digits"));
        }
        let mac = self.mac(relay_id, claims).finalize().into_bytes();
        Ok(format!(
            "{PREFIX}{}.{}.{}.{}",
            claims.issued_at,
            claims.expires_at,
            claims.binding,
            lower_hex(&mac)
        ))
    }

    /// Checks that `token` was minted for `relay_id` under this secret and has not expired at
    /// `now` (Unix seconds). Returns its claims; whether it was minted for a given request is
    /// [`TokenClaims::admit`]'s to say.
    pub fn verify(&self, token: &str, relay_id: &str, now: u64) -> Result<TokenClaims, TokenError> {
        validate_relay_id(relay_id)?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("longer than 160 bytes"));
        }
        let rest = token
            .strip_prefix(PREFIX)
            .ok_or(TokenError::Malformed("not a v2 token"))?;
        let mut parts = rest.split('.');
        let (Some(issued), Some(expiry), Some(binding), Some(mac_hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed("not v2.<issued>.<expiry>.<binding>.<mac>"));
        };
        let issued_at = decimal(issued)?;
        let expires_at = decimal(expiry)?;
        if binding.len() != BINDING_HEX_LEN || !binding.bytes().all(is_lower_hex) {
            return Err(TokenError::Malformed("binding is not 32 hex digits"));
        }
        let mut mac = [0u8; 32];
        decode_hex(mac_hex, &mut mac).ok_or(TokenError::Malformed("mac is not 64 hex digits"))?;
        let claims = TokenClaims {
            issued_at,
            expires_at,
            binding: binding.to_owned(),
        };
        // Verify before looking at the times, so a forged token learns nothing from timing.
        self.mac(relay_id, &claims)
            .verify_slice(&mac)
            .map_err(|_| TokenError::BadSignature)?;
        if now >= expires_at {
            return Err(TokenError::Expired { expires_at, now });
        }
        Ok(claims)
    }

    fn mac(&self, relay_id: &str, claims: &TokenClaims) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("hmac takes keys of any length");
        mac.update(MAC_DOMAIN);
        mac.update(relay_id.as_bytes());
        mac.update(b"\0");
        mac.update(claims.issued_at.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(claims.expires_at.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(claims.binding.as_bytes());
        mac
    }
}

impl fmt::Debug for RelaySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RelaySecret(..)")
    }
}

fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

/// A time as a token spells it: decimal digits, no leading zeros (one token has one spelling:
/// the MAC covers the digits as minted).
fn decimal(text: &str) -> Result<u64, TokenError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Malformed("a time is not a decimal number"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(TokenError::Malformed("a time has leading zeros"));
    }
    text.parse()
        .map_err(|_| TokenError::Malformed("a time is out of range"))
}

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
    /// The token does not have the `v2.<issued>.<expiry>.<binding>.<mac>` shape.
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
    /// The token was genuine but minted for another request (method, path and query, body,
    /// or client address).
    #[error("relay token was minted for another request")]
    OtherRequest,
    /// The token was genuine but minted too long ago (or too far ahead) to start a handler.
    #[error("relay token was minted at {issued_at}, too far from now ({now}) to start a handler")]
    Stale {
        /// Its issue time, Unix seconds.
        issued_at: u64,
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

    const REQUEST: RequestBinding<'static> = RequestBinding {
        method: "POST",
        path_and_query: "/orders?id=7",
        body_mode: BodyMode::Inline,
        inline_body: b"{\"qty\":1}",
        client_address: Some("203.0.113.9"),
    };

    fn claims(issued_at: u64, expires_at: u64) -> TokenClaims {
        TokenClaims {
            issued_at,
            expires_at,
            binding: REQUEST.digest(),
        }
    }

    #[test]
    fn minted_token_verifies_until_expiry() {
        let token = secret().mint("abc123", &claims(900, 1_000)).unwrap();
        assert!(token.starts_with("v2.900.1000."));
        assert_eq!(token.len(), 3 + 3 + 1 + 4 + 1 + 32 + 1 + 64);
        assert_eq!(secret().verify(&token, "abc123", 999), Ok(claims(900, 1_000)));
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
        // Computed independently with Python's hashlib and hmac:
        //   b = sha256(b"lambda-relay.binding.v2\0" + each part as 8-byte big-endian length
        //       + bytes, the body as its sha256).digest()[:16].hex()
        //   hmac(key, b"lambda-relay.v2\0id\x001700000000\x001700000960\0" + b, sha256)
        let binding = RequestBinding {
            method: "GET",
            path_and_query: "/",
            body_mode: BodyMode::Inline,
            inline_body: b"",
            client_address: None,
        };
        assert_eq!(binding.digest(), "5e3c88bf512178dd117891a4fa1990a2");
        let token = RelaySecret::new(b"an example secret!".to_vec())
            .unwrap()
            .mint("id", &TokenClaims::new(1_700_000_000, 960, &binding))
            .unwrap();
        assert_eq!(
            token,
            "v2.1700000000.1700000960.5e3c88bf512178dd117891a4fa1990a2.\
             95216beb29cfef87e33a2eaf0fd533539017e149342819bbefa1d16f40ddd16d"
        );
    }

    #[test]
    fn refuses_forged_or_misdirected_tokens() {
        let token = secret().mint("abc123", &claims(0, 1_000)).unwrap();
        assert_eq!(secret().verify(&token, "abc124", 0), Err(TokenError::BadSignature));
        let other = RelaySecret::new(b"another secret of enough length".to_vec()).unwrap();
        assert_eq!(other.verify(&token, "abc123", 0), Err(TokenError::BadSignature));
        let extended = token.replace("v2.0.1000.", "v2.0.9000.");
        assert_eq!(secret().verify(&extended, "abc123", 0), Err(TokenError::BadSignature));
        let rebound = token.replace(&REQUEST.digest(), &"0".repeat(32));
        assert_eq!(secret().verify(&rebound, "abc123", 0), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_token_starts_a_handler_only_for_its_request_and_only_soon() {
        let c = claims(1_000, 2_000);
        assert_eq!(c.admit(&REQUEST, 1_000), Ok(()));
        assert_eq!(c.admit(&REQUEST, 1_000 + MAX_TOKEN_AGE.as_secs()), Ok(()));
        assert_eq!(
            c.admit(&REQUEST, 1_001 + MAX_TOKEN_AGE.as_secs()),
            Err(TokenError::Stale {
                issued_at: 1_000,
                now: 1_061
            })
        );
        assert_eq!(c.admit(&REQUEST, 1_000 - MAX_TOKEN_SKEW.as_secs()), Ok(()));
        assert!(matches!(c.admit(&REQUEST, 969), Err(TokenError::Stale { .. })));
        let others = [
            RequestBinding {
                method: "PUT",
                ..REQUEST
            },
            RequestBinding {
                path_and_query: "/orders?id=8",
                ..REQUEST
            },
            RequestBinding {
                path_and_query: "/orders",
                ..REQUEST
            },
            RequestBinding {
                body_mode: BodyMode::Stream,
                ..REQUEST
            },
            RequestBinding {
                inline_body: b"{\"qty\":9}",
                ..REQUEST
            },
            RequestBinding {
                client_address: Some("198.51.100.1"),
                ..REQUEST
            },
            RequestBinding {
                client_address: None,
                ..REQUEST
            },
        ];
        for other in others {
            assert_eq!(c.admit(&other, 1_000), Err(TokenError::OtherRequest), "{other:?}");
        }
        // Bytes are bound as they are: `/p?x?` is not `/p?x`.
        let bare = RequestBinding {
            path_and_query: "/p?x",
            ..REQUEST
        };
        let asked = RequestBinding {
            path_and_query: "/p?x?",
            ..REQUEST
        };
        assert_ne!(bare.digest(), asked.digest());
        // Parts are length-prefixed: moving a byte between two parts changes the digest.
        let split = RequestBinding {
            method: "POST/",
            path_and_query: "orders?id=7",
            ..REQUEST
        };
        assert_ne!(split.digest(), REQUEST.digest());
    }

    #[test]
    fn refuses_malformed_tokens() {
        for bad in [
            "",
            "v1.1.00",
            "v2.",
            "v2.12",
            "v2.1.2.3",
            "v2.x.1.00000000000000000000000000000000.00",
            "v2.1.1.0000000000000000000000000000000Z.00",
            "v2.1.1.00000000000000000000000000000000.zz",
            "v2.1.1.00000000000000000000000000000000.abcd",
            "v2.-1.1.00000000000000000000000000000000.00",
            "v2.1.1.00000000000000000000000000000000.00.extra",
        ] {
            assert!(
                matches!(secret().verify(bad, "abc", 0), Err(TokenError::Malformed(_))),
                "{bad:?}"
            );
        }
        let token = secret().mint("abc", &claims(5, 1_000)).unwrap();
        let padded = token.replace("v2.5.1000.", "v2.05.1000.");
        assert_eq!(
            secret().verify(&padded, "abc", 0),
            Err(TokenError::Malformed("a time has leading zeros"))
        );
        let long = format!("v2.1.{}", "a".repeat(200));
        assert_eq!(
            secret().verify(&long, "abc", 0),
            Err(TokenError::Malformed("longer than 160 bytes"))
        );
        let longest = TokenClaims {
            issued_at: u64::MAX,
            expires_at: u64::MAX,
            binding: REQUEST.digest(),
        };
        let token = secret().mint("abc", &longest).unwrap();
        assert!(token.len() <= MAX_TOKEN_LEN);
        assert_eq!(secret().verify(&token, "abc", 0), Ok(longest));
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
