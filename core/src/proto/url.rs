//! The URLs of the relay (docs/protocol.md, "Invocation" and "Upgrade"): the socket URL the
//! function dials under its gateway's base URL, and the function URL the gateway invokes;
//! plain text only to loopback.

use super::validate::{clip, validate_relay_id, InvocationError};

/// Default path prefix of the relay socket; the relay id follows it.
pub const DEFAULT_SOCKET_PATH: &str = "/_relay/";
/// The socket URL for `relay_id` under the gateway base URL (`RELAY_GATEWAY_URL`).
///
/// `http(s)` becomes `ws(s)`. A base ending in the socket path's prefix is used as is;
/// otherwise the default prefix is appended. Plain-text URLs are refused unless their host
/// is loopback.
pub fn socket_url(gateway_url: &str, relay_id: &str) -> Result<String, InvocationError> {
    validate_relay_id(relay_id)?;
    let base = gateway_url.trim_end_matches('/');
    let (secure, rest) = if let Some(rest) = base.strip_prefix("wss://").or(base.strip_prefix("https://")) {
        (true, rest)
    } else if let Some(rest) = base.strip_prefix("ws://").or(base.strip_prefix("http://")) {
        (false, rest)
    } else {
        return Err(InvocationError::BadGatewayUrl(clip(gateway_url)));
    };
    let host = authority_host(rest).ok_or_else(|| InvocationError::BadGatewayUrl(clip(gateway_url)))?;
    if !secure && !is_loopback_host(host) {
        return Err(InvocationError::Unencrypted(clip(gateway_url)));
    }
    let scheme = if secure { "wss://" } else { "ws://" };
    let prefix = DEFAULT_SOCKET_PATH.trim_end_matches('/');
    if rest.ends_with(prefix) {
        Ok(format!("{scheme}{rest}/{relay_id}"))
    } else {
        Ok(format!("{scheme}{rest}{DEFAULT_SOCKET_PATH}{relay_id}"))
    }
}

/// Checks the gateway's `LAMBDA_URL`: an `https://` URL, or `http://` to a loopback host.
pub fn check_function_url(url: &str) -> Result<(), InvocationError> {
    let (secure, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(InvocationError::BadGatewayUrl(clip(url)));
    };
    let host = authority_host(rest).ok_or_else(|| InvocationError::BadGatewayUrl(clip(url)))?;
    if !secure && !is_loopback_host(host) {
        return Err(InvocationError::Unencrypted(clip(url)));
    }
    Ok(())
}

/// The host of `authority[/path]`, or `None` if the URL has user info, a query, a fragment,
/// no host, or characters no host has.
fn authority_host(rest: &str) -> Option<&str> {
    if rest.contains(['?', '#', '@', '\\']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        host
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return None,
            None => authority,
        }
    };
    (!host.is_empty()).then_some(host)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host == "::1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_urls() {
        assert_eq!(
            socket_url("https://gw.example.com", "ab").unwrap(),
            "wss://gw.example.com/_relay/ab"
        );
        assert_eq!(
            socket_url("ws://127.0.0.1:8787/", "ab").unwrap(),
            "ws://127.0.0.1:8787/_relay/ab"
        );
        assert_eq!(
            socket_url("wss://h/base/_relay", "ab").unwrap(),
            "wss://h/base/_relay/ab"
        );
        assert_eq!(socket_url("http://[::1]:80", "ab").unwrap(), "ws://[::1]:80/_relay/ab");
        assert_eq!(socket_url("ws://localhost", "ab").unwrap(), "ws://localhost/_relay/ab");
        assert!(matches!(
            socket_url("ftp://h", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://h?x=1", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://u:p@h", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://h:x", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert!(matches!(
            socket_url("wss://", "ab"),
            Err(InvocationError::BadGatewayUrl(_))
        ));
        assert_eq!(
            socket_url("wss://h", "a/b"),
            Err(InvocationError::BadRelayId("a/b".into()))
        );
    }

    #[test]
    fn plain_text_urls_only_to_loopback() {
        for url in [
            "ws://gw.example.com",
            "http://10.0.0.1:8787",
            "ws://127.0.0.1.evil.com",
            "ws://[::2]",
        ] {
            assert!(
                matches!(socket_url(url, "ab"), Err(InvocationError::Unencrypted(_))),
                "{url}"
            );
        }
        assert!(check_function_url("https://abc.lambda-url.us-east-1.on.aws").is_ok());
        assert!(check_function_url("http://127.0.0.1:9000").is_ok());
        assert!(matches!(
            check_function_url("http://abc.lambda-url.us-east-1.on.aws"),
            Err(InvocationError::Unencrypted(_))
        ));
        assert!(check_function_url("wss://x").is_err());
    }
}
