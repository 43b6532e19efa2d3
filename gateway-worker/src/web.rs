//! Small conversions between workerd's types and the relay's.

use http::HeaderMap;
use lambda_relay::proto::{self, UpgradeRefusal};
use worker::{Date, Headers, Response, Result};

/// Now, as the session's clock: milliseconds since the Unix epoch.
pub fn now() -> proto::Timestamp {
    proto::Timestamp::from_millis(Date::now().as_millis())
}

/// Now in Unix seconds, for tokens.
pub fn unix_now() -> u64 {
    Date::now().as_millis() / 1000
}

/// A short plain-text error with the relay's error code header.
pub fn error_response(status: u16, code: &str, text: &str) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "text/plain; charset=utf-8")?;
    headers.set(proto::ERROR_CODE_HEADER, code)?;
    Ok(Response::from_bytes(format!("{text}\n").into_bytes())?
        .with_status(status)
        .with_headers(headers))
}

/// The answer to a refused relay socket.
pub fn refusal_response(refusal: UpgradeRefusal) -> Result<Response> {
    error_response(refusal.status, "socket_refused", refusal.reason)
}

/// Response headers for the client: hop-by-hop ones dropped, repeated ones kept, and
/// values' bytes preserved. workerd writes a header string out as UTF-8, so UTF-8 values
/// pass as they are; other bytes (obs-text that is not UTF-8) cannot be represented and
/// are replaced.
pub fn response_headers(headers: &HeaderMap) -> Result<Headers> {
    let out = Headers::new();
    for (name, value) in headers {
        if proto::forwards_response_header(name.as_str()) {
            out.append(name.as_str(), &String::from_utf8_lossy(value.as_bytes()))?;
        }
    }
    Ok(out)
}

/// Constant-time equality of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
