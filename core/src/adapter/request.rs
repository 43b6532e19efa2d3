//! The request a handler sees, read from the invocation's event (docs/adapter.md).

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::EventError;
use crate::proto;

/// The request a handler sees, whatever language it is written in: every binding builds its
/// own request type (`http::Request`, a Fetch `Request`, an ASGI scope) from these fields and
/// decides nothing of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestView {
    /// The method, as sent.
    pub method: String,
    /// `https`, or on a relayed invocation the scheme the gateway saw (`http` locally).
    pub scheme: String,
    /// The host the client addressed: on a relayed invocation the gateway's (its
    /// `x-forwarded-host`); on a direct one the Function URL's own (`requestContext.domainName`).
    /// Never a host header a client could set on a direct call.
    pub host: String,
    /// The path exactly as sent (`%2F` stays `%2F`).
    pub raw_path: String,
    /// The query exactly as sent, without `?`; empty when there is none.
    pub raw_query: String,
    /// Headers with lowercase names, in the event's order, the relay headers removed, the
    /// event's `cookies` joined into one `cookie` header, and on a relayed invocation `host`
    /// the host the client addressed.
    pub headers: Vec<(String, String)>,
    /// The client's address: on a relayed invocation the one the gateway saw, on a direct one
    /// `requestContext.http.sourceIp`.
    pub client_address: Option<String>,
    /// The event's own body, decoded (empty when the body streams over the relay).
    pub body: Bytes,
}

impl RequestView {
    /// Reads a Function URL (or API Gateway HTTP API, payload 2.0) event. `relayed` is whether
    /// the invocation was classified a relay invocation, whose token verified: only then are
    /// the gateway's forwarding headers believed.
    pub fn from_event(event: &Value, relayed: bool) -> Result<Self, EventError> {
        let event = payload_v2(event)?;
        let context = event.get("requestContext").and_then(Value::as_object);
        let http = context.and_then(|c| c.get("http")).and_then(Value::as_object);
        let method = str_field(http, "method").unwrap_or("GET");
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            return Err(EventError::Invalid(format!("invalid method {:?}", proto::clip(method))));
        }
        let headers = event_headers(event)?;
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let domain = str_field(context, "domainName").filter(|d| !d.is_empty());
        let (scheme, host, client_address) = if relayed {
            let scheme = match header("x-forwarded-proto") {
                Some("http") => "http",
                _ => "https",
            };
            let host = header("x-forwarded-host").or(domain).or(header("host"));
            let client = proto::relayed_client_address(header).or(str_field(http, "sourceIp"));
            (scheme, host, client)
        } else {
            ("https", domain.or(header("host")), str_field(http, "sourceIp"))
        };
        let raw_path = match event.get("rawPath").and_then(Value::as_str).or(str_field(http, "path")) {
            Some(p) if p.starts_with('/') => p.to_owned(),
            Some("") | None => "/".to_owned(),
            Some(p) => return Err(EventError::Invalid(format!("invalid rawPath {:?}", proto::clip(p)))),
        };
        let raw_query = event
            .get("rawQueryString")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if raw_path
            .bytes()
            .chain(raw_query.bytes())
            .any(|b| b <= b' ' || b == 0x7f)
        {
            return Err(EventError::Invalid(
                "the path or query has spaces or control characters".into(),
            ));
        }
        let mut out = Vec::with_capacity(headers.len() + 1);
        let cookies = cookie_list(event)?;
        let host = host.unwrap_or("localhost");
        // Relayed with a streamed body, the invocation itself had none: its content-length
        // (0) is not the body's, whose length the handler learns as it streams.
        let body_mode = header(proto::RELAY_BODY_HEADER).filter(|_| relayed);
        let websocket = body_mode == Some(proto::BodyMode::WebSocket.as_str());
        let streamed = body_mode == Some(proto::BodyMode::Stream.as_str()) || websocket;
        for (name, value) in headers.iter() {
            if proto::RELAY_HEADERS.contains(&name.as_str())
                || (name == "cookie" && cookies.is_some())
                || (relayed && is_gateway_signature(name))
                || (streamed && name == "content-length")
            {
                continue;
            }
            // Relayed, the invocation's host is the Lambda URL's: the handler sees the host the
            // client addressed, as behind any proxy that keeps it.
            let value = if relayed && name == "host" { host } else { value };
            out.push((name.clone(), value.to_owned()));
        }
        // Relayed, the invocation's own `authorization` and `x-amz-*` signing headers are the
        // gateway's (its signature, its session token); the client's authorization travels in
        // a relay header, its `x-amz-*` signing headers not at all.
        if let Some(client) = header(proto::CLIENT_AUTHORIZATION_HEADER).filter(|_| relayed) {
            out.push(("authorization".to_owned(), client.to_owned()));
        }
        if let Some(cookies) = cookies {
            out.push(("cookie".to_owned(), cookies));
        }
        if websocket {
            // A client's WebSocket upgrade: its hop-by-hop headers say so to the handler, as a
            // server would show them (the invocation could not carry them).
            out.push(("connection".to_owned(), "upgrade".to_owned()));
            out.push(("upgrade".to_owned(), "websocket".to_owned()));
        }
        Ok(Self {
            method: method.to_owned(),
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            raw_path,
            raw_query,
            headers: out,
            client_address: client_address.filter(|a| !a.is_empty()).map(str::to_owned),
            body: inline_body(event)?,
        })
    }

    /// The path and query, as sent: `/a%2Fb?x=1`.
    pub fn path_and_query(&self) -> String {
        if self.raw_query.is_empty() {
            self.raw_path.clone()
        } else {
            format!("{}?{}", self.raw_path, self.raw_query)
        }
    }

    /// The absolute URL: scheme, host, path and query.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.path_and_query())
    }

    /// The parts of the request a relay token is bound to.
    pub fn token_request<'a>(&'a self, path_and_query: &'a str) -> proto::InvocationRequest<'a> {
        proto::InvocationRequest {
            method: &self.method,
            path_and_query,
            body: &self.body,
        }
    }

    /// Whether the request is a HEAD, whose response carries no body.
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }
}

/// The event a handler that asks for it sees (Hono's `c.env.event`, ASGI's `aws.event`): the
/// invocation's event without the relay headers (the token never reaches a handler), its
/// `authorization` the view's (on a relayed invocation the client's, never the gateway's
/// signature) and, for a relayed invocation, with the client's address as
/// `requestContext.http.sourceIp`.
pub fn handler_event(mut event: Value, view: &RequestView) -> Value {
    if let Some(headers) = event.get_mut("headers").and_then(Value::as_object_mut) {
        let relayed = headers.keys().any(|n| n.eq_ignore_ascii_case(proto::RELAY_ID_HEADER));
        headers.retain(|name, _| {
            let name = name.to_ascii_lowercase();
            !(name == "authorization"
                || (relayed && is_gateway_signature(&name))
                || proto::RELAY_HEADERS.contains(&name.as_str()))
        });
        if let Some((_, value)) = view.headers.iter().find(|(n, _)| n == "authorization") {
            headers.insert("authorization".into(), Value::String(value.clone()));
        }
    }
    if let (Some(address), Some(http)) = (
        &view.client_address,
        event.pointer_mut("/requestContext/http").and_then(Value::as_object_mut),
    ) {
        http.insert("sourceIp".into(), Value::String(address.clone()));
    }
    event
}

/// Whether a (lowercase) header of a relayed invocation is the gateway's SigV4 signature, never
/// the client's (the gateway drops a client's `x-amz-date`, `x-amz-content-sha256` and
/// `x-amz-security-token`, and moves its `authorization`).
fn is_gateway_signature(name: &str) -> bool {
    proto::sigv4::SIGNING_HEADERS.contains(&name)
}

/// The event as a payload 2.0 object, or an error naming the shape it has instead.
fn payload_v2(event: &Value) -> Result<&Map<String, Value>, EventError> {
    let Some(event) = event.as_object() else {
        return Err(EventError::Unsupported("not a JSON object".into()));
    };
    let context = event.get("requestContext").and_then(Value::as_object);
    if context.is_some_and(|c| c.contains_key("elb")) {
        return Err(EventError::Unsupported("an Application Load Balancer event".into()));
    }
    if event.contains_key("httpMethod") {
        return Err(EventError::Unsupported(
            "an API Gateway REST API (payload 1.0) event".into(),
        ));
    }
    if event.get("version").and_then(Value::as_str).is_some_and(|v| v != "2.0") {
        let version = event["version"].as_str().unwrap_or_default();
        return Err(EventError::Unsupported(format!(
            "a payload {:?} event",
            proto::clip(version)
        )));
    }
    let http = context.and_then(|c| c.get("http"));
    if http.is_none() && !event.contains_key("rawPath") {
        return Err(EventError::Unsupported(
            "not an HTTP event (no requestContext.http, no rawPath)".into(),
        ));
    }
    Ok(event)
}

fn str_field<'a>(object: Option<&'a Map<String, Value>>, name: &str) -> Option<&'a str> {
    object?.get(name)?.as_str()
}

/// The event's headers: lowercase names, string values (numbers and booleans as written;
/// nulls skipped), each checked as HTTP allows.
fn event_headers(event: &Map<String, Value>) -> Result<Vec<(String, String)>, EventError> {
    let Some(headers) = event.get("headers") else {
        return Ok(Vec::new());
    };
    let Some(headers) = headers.as_object() else {
        return match headers {
            Value::Null => Ok(Vec::new()),
            _ => Err(EventError::Invalid("headers is not an object".into())),
        };
    };
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => {
                return Err(EventError::Invalid(format!(
                    "header {:?} is not a string",
                    proto::clip(name)
                )))
            }
        };
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(EventError::Invalid(format!(
                "invalid header name {:?}",
                proto::clip(name)
            )));
        }
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(EventError::Invalid(format!("invalid value for header {name}")));
        }
        out.push((name.to_ascii_lowercase(), value));
    }
    Ok(out)
}

/// The event's `cookies`, joined once with `; ` (a cookie's own commas stay); `None` when the
/// event has none, so a `cookie` header (a front door that keeps it) is kept as it is.
fn cookie_list(event: &Map<String, Value>) -> Result<Option<String>, EventError> {
    let Some(cookies) = event.get("cookies").and_then(Value::as_array) else {
        return Ok(None);
    };
    let mut joined = String::new();
    for cookie in cookies {
        let Some(cookie) = cookie.as_str() else {
            return Err(EventError::Invalid("cookies holds a value that is not a string".into()));
        };
        if cookie.bytes().any(|b| b < b' ' || b == 0x7f) {
            return Err(EventError::Invalid("invalid cookie".into()));
        }
        if cookie.is_empty() {
            continue;
        }
        if !joined.is_empty() {
            joined.push_str("; ");
        }
        joined.push_str(cookie);
    }
    Ok((!joined.is_empty()).then_some(joined))
}

/// The event's inline body, base64-decoded when the event says it is.
fn inline_body(event: &Map<String, Value>) -> Result<Bytes, EventError> {
    let body = match event.get("body") {
        None | Some(Value::Null) => return Ok(Bytes::new()),
        Some(Value::String(body)) => body,
        Some(_) => return Err(EventError::Invalid("body is not a string".into())),
    };
    if event.get("isBase64Encoded").and_then(Value::as_bool).unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map(Bytes::from)
            .map_err(|e| EventError::Invalid(format!("body is not valid base64: {e}")))
    } else {
        Ok(Bytes::copy_from_slice(body.as_bytes()))
    }
}

/// A `tchar` of RFC 9110 (5.6.2): what a method or header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
