//! A handler's response as the invocation's result: the Function URL result (payload 2.0).

use base64::Engine;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use crate::proto::{self, InvocationResult};

/// A Function URL result (payload 2.0), as every binding returns it from the handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionUrlResult {
    /// The HTTP status.
    pub status_code: u16,
    /// The headers but `set-cookie` (repeated names are joined with `, ` in the result).
    pub headers: HeaderMap,
    /// Each `set-cookie`, apart: a cookie's own commas would break a joined header.
    pub cookies: Vec<String>,
    /// The body: UTF-8 text as it is, other bytes base64.
    pub body: Option<String>,
    /// Whether `body` is base64.
    pub is_base64_encoded: bool,
}

impl FunctionUrlResult {
    /// A whole response as the result: `set-cookie` moved into `cookies`, the body dropped
    /// where HTTP has none (a HEAD request; 204, 205, 304), UTF-8 bodies as text and others
    /// base64.
    pub fn buffered(status: StatusCode, mut headers: HeaderMap, body: &[u8], head_request: bool) -> Self {
        let cookies = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.remove(SET_COOKIE);
        let mut out = Self {
            status_code: status.as_u16(),
            headers,
            cookies,
            ..Self::default()
        };
        if !body.is_empty() && proto::response_has_body(out.status_code, head_request) {
            match std::str::from_utf8(body) {
                Ok(text) => out.body = Some(text.to_owned()),
                Err(_) => {
                    out.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
                    out.is_base64_encoded = true;
                }
            }
        }
        out
    }

    /// A small complete response answered in the invocation result instead of over the socket
    /// ([`FunctionSession::respond_inline`](crate::proto::FunctionSession::respond_inline)):
    /// the response itself, marked `complete`.
    pub fn inline(status: StatusCode, headers: HeaderMap, body: &[u8], head_request: bool) -> Self {
        let mut out = Self::buffered(status, headers, body, head_request);
        let (name, value) = InvocationResult::complete_header();
        out.headers.insert(name, HeaderValue::from_static(value));
        out
    }

    /// The result of a relay invocation whose response went over the socket (or could not):
    /// its status, outcome and reason.
    pub fn relay(result: &InvocationResult) -> Self {
        let mut headers = HeaderMap::new();
        for (name, value) in result.headers() {
            headers.insert(name, HeaderValue::from_static(value));
        }
        Self {
            status_code: result.status,
            headers,
            body: Some(result.message.clone()),
            ..Self::default()
        }
    }

    /// The result as Lambda takes it: `statusCode`, `headers` (repeated names joined with
    /// `, `), and `cookies`, `body` and `isBase64Encoded` when there are any.
    pub fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for name in self.headers.keys() {
            let joined = self
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
                .collect::<Vec<_>>()
                .join(", ");
            headers.insert(name.as_str().to_owned(), Value::String(joined));
        }
        let mut out = Map::new();
        out.insert("statusCode".into(), self.status_code.into());
        out.insert("headers".into(), Value::Object(headers));
        if !self.cookies.is_empty() {
            out.insert("cookies".into(), self.cookies.clone().into());
        }
        if let Some(body) = &self.body {
            out.insert("body".into(), body.clone().into());
        }
        if self.is_base64_encoded {
            out.insert("isBase64Encoded".into(), true.into());
        }
        Value::Object(out)
    }
}

#[cfg(feature = "lambda")]
impl serde::Serialize for FunctionUrlResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// A response head from a handler's values: a status (the relay and [`direct_result`] take
/// 200 to 599 of it) and `(name, value)` pairs (repeated names allowed, any case), each checked as HTTP allows.
/// The error is the handler's mistake, in words.
pub fn response_head<N, V>(
    status: u32,
    pairs: impl ExactSizeIterator<Item = (N, V)>,
) -> Result<(StatusCode, HeaderMap), String>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| format!("invalid status {status}"))?;
    if pairs.len() > proto::MAX_HEADER_COUNT {
        return Err(proto::StreamError::TooManyHeaders {
            count: pairs.len(),
            max: proto::MAX_HEADER_COUNT,
        }
        .to_string());
    }
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (name, value) in pairs {
        let (name, value) = (name.as_ref(), value.as_ref());
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| format!("invalid header name {:?}", proto::clip(name)))?;
        let value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        map.append(name, value);
    }
    Ok((status, map))
}

/// A direct invocation's whole response as its result: the head checked as
/// [`response_head`] does, and a status the relay would carry too (200 to 599), so a handler
/// behaves the same direct and relayed.
pub fn direct_result<N, V>(
    status: u32,
    pairs: impl ExactSizeIterator<Item = (N, V)>,
    body: &[u8],
    head_request: bool,
) -> Result<FunctionUrlResult, String>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    let (status, headers) = response_head(status, pairs)?;
    if !proto::valid_response_status(status.as_u16()) {
        return Err(format!(
            "invalid status {} (a response's status is 200 to 599)",
            status.as_u16()
        ));
    }
    Ok(FunctionUrlResult::buffered(status, headers, body, head_request))
}
