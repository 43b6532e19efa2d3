//! Small conversions between workerd's types and the relay's.

use lambda_relay::proto::{self, Failure, ResponseHead, UpgradeRequest};
use worker::{Date, Headers, Response, Result};

/// Now, as the session's clock: milliseconds since the Unix epoch.
pub fn now() -> proto::Timestamp {
    proto::Timestamp::from_millis(Date::now().as_millis())
}

/// Now in Unix seconds, for tokens.
pub fn unix_now() -> u64 {
    Date::now().as_millis() / 1000
}

/// A request's headers as owned pairs (names lowercase), for the proto's lookups.
pub struct HeaderList(Vec<(String, String)>);

impl HeaderList {
    /// The headers of a request or response.
    pub fn of(headers: &Headers) -> Self {
        Self(headers.entries().collect())
    }

    /// The value of `name` (lowercase), if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The relay socket upgrade these headers describe.
    pub fn upgrade(&self) -> UpgradeRequest<'_> {
        UpgradeRequest::read(|name| self.get(name))
    }
}

/// The client's answer for a failure before the head: its status, error code and text.
pub fn failure_response(failure: &Failure) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in failure.headers() {
        headers.set(name, value)?;
    }
    Ok(Response::from_bytes(failure.body().into_bytes())?
        .with_status(failure.status)
        .with_headers(headers))
}

/// The client's headers for a response the function answered in the invocation result: those
/// proto lets through, as they came.
pub fn inline_headers(from: &Headers, status: u16, head_request: bool) -> Result<Headers> {
    let entries: Vec<(String, String)> = from.entries().collect();
    let out = Headers::new();
    let pairs = entries.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    for (name, value) in proto::client_response_headers(pairs, status, head_request, true) {
        out.append(name, value)?;
    }
    Ok(out)
}

/// The client's response headers for the function's head (docs/protocol.md, "Gateway
/// side"): the ones proto forwards, repeated ones kept, values' bytes preserved, and
/// `content-encoding: identity` on a body whose encoding the function did not set, because
/// the edge compresses such text and its compressor buffers a stream to its end. workerd
/// writes a header string out as UTF-8, so UTF-8 values pass as they are; other bytes
/// (obs-text that is not UTF-8) cannot be represented and are replaced.
pub fn client_headers(head: &ResponseHead, has_body: bool, head_request: bool) -> Result<Headers> {
    let status = head.status.as_u16();
    let out = Headers::new();
    let pairs: Vec<(&str, &[u8])> = head.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
    for (name, value) in proto::client_response_headers(pairs, status, head_request, false) {
        out.append(name, &String::from_utf8_lossy(value))?;
    }
    if has_body && !head.headers.contains_key("content-encoding") {
        out.set("content-encoding", "identity")?;
    }
    Ok(out)
}
