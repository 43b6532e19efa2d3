//! Node.js binding of the function side: thin `Binding…` exports around
//! `lambda_relay::client`. The idiomatic API (`streamHandler`, `streamifyHandler`) is the
//! TypeScript wrapper in `ts/`; no protocol logic lives there or here.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use lambda_relay::client::{self, Cancelled, ClientConfig, Connection, Invocation, RequestBody, ResponseWriter};
use lambda_relay::proto::{self, BodyMode, ErrorCode, RelaySecret};
use napi::bindgen_prelude::{within_runtime_if_available, Buffer};
use napi_derive::napi;
use tokio::sync::Mutex;

use napi::{Result, Status};

/// A JS error whose message starts with one of the stable `ERR_RELAY_*` codes; the
/// TypeScript wrapper moves it into the error's `code` property (napi class methods only
/// throw with napi's own statuses).
fn js_error(code: &'static str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{code}: {message}"))
}

/// The stable code of a client error, in one place.
fn code_of(e: &client::Error) -> &'static str {
    match e {
        client::Error::Session(proto::Error::Aborted(_)) => "ERR_RELAY_ABORTED",
        client::Error::Session(proto::Error::Protocol(_)) => "ERR_RELAY_PROTOCOL",
        client::Error::Session(_) => "ERR_RELAY_SESSION",
        client::Error::Usage(_) => "ERR_RELAY_USAGE",
        client::Error::Refused { .. } => "ERR_RELAY_REFUSED",
        client::Error::Connect(_) => "ERR_RELAY_CONNECT",
        client::Error::Config(_) => "ERR_RELAY_CONFIG",
        client::Error::Closed => "ERR_RELAY_CLOSED",
    }
}

fn from_client(e: client::Error) -> napi::Error {
    js_error(code_of(&e), e)
}

/// What an invocation is, from its headers.
#[napi(object)]
pub struct BindingInvocation {
    /// `direct` (no relay headers), `relay` (verified), or `refused`.
    pub kind: String,
    /// The relay id (relay).
    pub relay_id: Option<String>,
    /// `inline` or `stream` (relay).
    pub body_mode: Option<String>,
    /// HTTP status to answer the invocation with (refused).
    pub status: Option<u32>,
    /// The relay outcome header value (refused).
    pub outcome: Option<String>,
    /// Why (refused).
    pub reason: Option<String>,
}

/// Names of the headers the function removes before the handler sees the request.
#[napi]
pub fn relay_header_names() -> Vec<String> {
    proto::RELAY_HEADERS.iter().map(|h| h.to_string()).collect()
}

/// The header a relay result carries its outcome in.
#[napi]
pub fn outcome_header_name() -> String {
    proto::RELAY_OUTCOME_HEADER.to_owned()
}

/// Reads the relay headers (names lowercase) and verifies the token with `secret`.
#[napi]
pub fn classify_invocation(
    headers: HashMap<String, String>,
    secret: Option<String>,
    gateway_url: Option<String>,
) -> BindingInvocation {
    let refused = |status: u32, outcome: &str, reason: String| BindingInvocation {
        kind: "refused".into(),
        relay_id: None,
        body_mode: None,
        status: Some(status),
        outcome: Some(outcome.into()),
        reason: Some(reason),
    };
    let Some(relay) = proto::read_relay_headers(|name| headers.get(name).map(String::as_str)) else {
        return BindingInvocation {
            kind: "direct".into(),
            relay_id: None,
            body_mode: None,
            status: None,
            outcome: None,
            reason: None,
        };
    };
    let relay = match relay {
        Ok(r) => r,
        Err(e) => return refused(400, "refused", e.to_string()),
    };
    let (Some(secret), Some(_)) = (secret.filter(|s| !s.is_empty()), gateway_url.filter(|u| !u.is_empty())) else {
        return refused(
            500,
            "unconfigured",
            "relay invocation, but RELAY_GATEWAY_URL and RELAY_SECRET are not set".into(),
        );
    };
    let secret = match RelaySecret::new(secret) {
        Ok(s) => s,
        Err(e) => return refused(500, "unconfigured", format!("RELAY_SECRET: {e}")),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if let Err(e) = secret.verify(&relay.token, &relay.relay_id, now) {
        return refused(403, "refused", format!("relay token refused: {e}"));
    }
    BindingInvocation {
        kind: "relay".into(),
        relay_id: Some(relay.relay_id),
        body_mode: Some(relay.body_mode.as_str().into()),
        status: None,
        outcome: None,
        reason: None,
    }
}

/// One relayed invocation: the request body to read, the response to write.
#[napi]
pub struct BindingConnection {
    body: Mutex<RequestBody>,
    writer: Mutex<ResponseWriter>,
    cancelled: Cancelled,
}

#[napi]
impl BindingConnection {
    /// Starts connecting to the gateway in the background; returns at once.
    #[napi(constructor)]
    pub fn new(gateway_url: String, relay_id: String, token: String, body_mode: String) -> Result<Self> {
        let body_mode = body_mode
            .parse::<BodyMode>()
            .map_err(|e| js_error("ERR_RELAY_CONFIG", e.to_string()))?;
        let invocation = Invocation {
            relay_id,
            token,
            body_mode,
        };
        let connection = within_runtime_if_available(|| Connection::open(ClientConfig::new(gateway_url), invocation))
            .map_err(from_client)?;
        let (body, writer) = connection.split();
        let cancelled = writer.cancelled();
        Ok(Self {
            body: Mutex::new(body),
            writer: Mutex::new(writer),
            cancelled,
        })
    }

    /// The next piece of the request body, or `null` at its end. Waits for one frame, then
    /// takes whatever else already arrived (up to 1 MiB), so a fast upload crosses into JS
    /// once per batch rather than once per frame.
    #[napi]
    pub async fn read(&self) -> Result<Option<Buffer>> {
        const BATCH: usize = 1024 * 1024;
        let mut body = self.body.lock().await;
        let first = match body.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => return Err(from_client(e)),
            None => return Ok(None),
        };
        let mut joined = first.to_vec();
        while joined.len() < BATCH {
            // An end or an error stays in the session; the next read reports it.
            match body.next().now_or_never() {
                Some(Some(Ok(chunk))) => joined.extend_from_slice(&chunk),
                _ => break,
            }
        }
        Ok(Some(Buffer::from(joined)))
    }

    /// Queues the status and headers (pairs, repeated names allowed).
    #[napi]
    pub fn send_head(&self, status: u32, headers: Vec<Vec<String>>) -> Result<()> {
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .filter(|s| (200..=599).contains(&s.as_u16()))
            .ok_or_else(|| js_error("ERR_RELAY_USAGE", format!("invalid status {status}")))?;
        let mut map = HeaderMap::new();
        for pair in headers {
            let [name, value] = <[String; 2]>::try_from(pair)
                .map_err(|_| js_error("ERR_RELAY_USAGE", "headers must be [name, value] pairs"))?;
            let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| js_error("ERR_RELAY_USAGE", format!("invalid header name {name:?}")))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| js_error("ERR_RELAY_USAGE", format!("invalid value for header {name}")))?;
            map.append(name, value);
        }
        let mut writer = self
            .writer
            .try_lock()
            .map_err(|_| js_error("ERR_RELAY_USAGE", "the head was sent while a write was in progress"))?;
        writer.send_head(status, map).map_err(from_client)
    }

    /// Writes one chunk; resolves when the window took it.
    #[napi]
    pub async fn write(&self, chunk: Buffer) -> Result<()> {
        let bytes = Bytes::copy_from_slice(&chunk);
        self.writer.lock().await.write(bytes).await.map_err(from_client)
    }

    /// Writes several chunks in one crossing of the JS/Rust boundary.
    #[napi]
    pub async fn writev(&self, chunks: Vec<Buffer>) -> Result<()> {
        let total = chunks.iter().map(|c| c.len()).sum();
        let mut joined = Vec::with_capacity(total);
        for chunk in &chunks {
            joined.extend_from_slice(chunk);
        }
        self.writer
            .lock()
            .await
            .write(Bytes::from(joined))
            .await
            .map_err(from_client)
    }

    /// Ends the response; resolves when the gateway acknowledged the end.
    #[napi]
    pub async fn finish(&self) -> Result<()> {
        self.writer
            .lock()
            .await
            .finish(HeaderMap::new())
            .await
            .map_err(from_client)
    }

    /// Fails the response (`handler_error`, `body_error`, `deadline` or `internal`);
    /// resolves when the gateway acknowledged it.
    #[napi]
    pub async fn fail(&self, code: String, message: String) -> Result<()> {
        let code = ErrorCode::from_name(&code).unwrap_or(ErrorCode::INTERNAL);
        self.writer.lock().await.fail(code, &message).await.map_err(from_client)
    }

    /// Resolves when the relay is over: with the coded reason (`ERR_RELAY_ABORTED: …`) if
    /// the gateway aborted or the relay failed for good, `null` if it finished. Always
    /// resolves, so the pending promise never keeps a finished connection alive.
    #[napi]
    pub async fn settled(&self) -> Result<Option<String>> {
        Ok(self
            .cancelled
            .clone()
            .settled()
            .await
            .map(|e| format!("{}: {e}", code_of(&e))))
    }
}
