//! Checks that every other module leans on: a relay id's shape, and the error a malformed
//! relay header or setting gets. A leaf: it imports nothing of the protocol's.

/// Longest relay id accepted.
pub const MAX_RELAY_ID_LEN: usize = 128;
/// Checks a relay id: 1 to 128 of `A-Z a-z 0-9 - _`, so it is safe in a path and a MAC.
pub fn validate_relay_id(id: &str) -> Result<(), InvocationError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_RELAY_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(InvocationError::BadRelayId(clip(id)))
    }
}

/// The first 64 characters of a value quoted in an error: enough to recognise it, never a
/// flood.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// A relay header or setting that is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    /// The relay id is empty, too long or has characters outside `A-Z a-z 0-9 - _`.
    #[error("invalid relay id {0:?}")]
    BadRelayId(String),
    /// The body mode header is neither `inline` nor `stream`.
    #[error("invalid relay body mode {0:?} (expected inline or stream)")]
    BadBodyMode(String),
    /// A relay invocation lacks a header it needs.
    #[error("relay invocation without {0}")]
    MissingHeader(&'static str),
    /// The gateway URL is not a ws, wss, http or https URL without query, fragment or user
    /// info.
    #[error("invalid gateway url {0:?}")]
    BadGatewayUrl(String),
    /// A plain-text (`ws://`, `http://`) URL to a host that is not loopback: the token and
    /// the whole response would cross the network unencrypted.
    #[error("{0:?} is not encrypted; use wss:// or https:// (ws:// and http:// only for loopback)")]
    Unencrypted(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_ids() {
        assert!(validate_relay_id("0123abcdef_-XYZ").is_ok());
        assert!(validate_relay_id("").is_err());
        assert!(validate_relay_id(&"a".repeat(129)).is_err());
        assert!(validate_relay_id("a\0b").is_err());
    }
}
