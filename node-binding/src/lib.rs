//! Node.js binding of the function side: thin `Binding…` exports around
//! `lambda_relay::proto` (which classifies an invocation and words its result) and
//! `lambda_relay::client` (which carries a relayed one). The idiomatic API (`streamHandler`,
//! `streamifyHandler`) is the TypeScript wrapper in `ts/`; it decides nothing the protocol
//! decides, and takes every name and number it shares with Rust from [`constants`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use lambda_relay::client::{self, Cancelled, ClientConfig, Connection, Invocation, RequestBody, ResponseWriter};
use lambda_relay::proto::{self, Classification, ErrorCode, InvocationResult, RelaySettings};
use napi::bindgen_prelude::{within_runtime_if_available, Buffer};
use napi::{Result, Status};
use napi_derive::napi;
use tokio::sync::Mutex;

/// Most request-body bytes one `read()` hands to JS: it waits for one frame, then takes
/// whatever else already arrived up to this, so a fast upload crosses into JS once per batch.
const READ_BATCH_BYTES: usize = 1024 * 1024;
/// Most response bytes the wrapper gathers into one `write()`: every crossing into Rust is a
/// promise round trip, so small chunks are batched.
const WRITE_BATCH_BYTES: usize = 1024 * 1024;
/// What one queued chunk costs the wrapper's read-ahead besides its bytes (a `Buffer` object
/// and its queue slot), so a handler writing one byte at a time is bounded by count too.
const CHUNK_COST_BYTES: usize = 256;

/// The stable JS error codes, in one place: `(code, what it means)`.
const ERROR_CODES: [(&str, &str); 9] = [
    ("ERR_RELAY_ABORTED", "the gateway aborted: the client went away"),
    ("ERR_RELAY_PROTOCOL", "the gateway broke the protocol"),
    (
        "ERR_RELAY_SESSION",
        "the session failed (no resume in time, a final close)",
    ),
    (
        "ERR_RELAY_USAGE",
        "the handler asked for something the stream cannot do",
    ),
    ("ERR_RELAY_REFUSED", "the gateway refused the relay socket"),
    ("ERR_RELAY_CONNECT", "the gateway could not be reached"),
    ("ERR_RELAY_CONFIG", "the relay configuration is not valid"),
    ("ERR_RELAY_CLOSED", "the relay connection closed"),
    ("ERR_RELAY_DEADLINE", "the invocation reached its deadline"),
];

/// A JS error whose message starts with one of the stable `ERR_RELAY_*` codes; the
/// TypeScript wrapper moves it into the error's `code` property (napi class methods only
/// throw with napi's own statuses).
fn js_error(code: &'static str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{code}: {message}"))
}

/// The stable code of a client error.
fn code_of(e: &client::Error) -> &'static str {
    let code = match e {
        client::Error::Session(proto::Error::Aborted(_)) => 0,
        client::Error::Session(proto::Error::Protocol(_)) => 1,
        client::Error::Session(_) => 2,
        client::Error::Usage(_) => 3,
        client::Error::Refused { .. } => 4,
        client::Error::Connect(_) => 5,
        client::Error::Config(_) => 6,
        client::Error::Closed => 7,
        client::Error::Deadline => 8,
    };
    ERROR_CODES[code].0
}

fn from_client(e: client::Error) -> napi::Error {
    js_error(code_of(&e), e)
}

/// The names and numbers the TypeScript wrapper shares with Rust. The build writes them to
/// `dist/constants.json`, so the wrapper has them on platforms without an addon too.
#[napi(object)]
pub struct BindingConstants {
    /// The invocation header whose presence makes an invocation a relay invocation.
    pub relay_id_header: String,
    /// The headers the function strips before the handler sees the request.
    pub relay_headers: Vec<String>,
    /// `RELAY_GATEWAY_URL`.
    pub gateway_url_env: String,
    /// `RELAY_SECRET`.
    pub secret_env: String,
    /// Most bytes gathered into one native write.
    pub write_batch_bytes: u32,
    /// What one queued chunk costs besides its bytes.
    pub chunk_cost_bytes: u32,
    /// Largest response body answered in the invocation result instead of over the socket.
    pub inline_response_limit: u32,
    /// The header (name, value) that marks a response answered in the invocation result.
    pub complete_header: Vec<String>,
    /// The stable JS error codes.
    pub error_codes: Vec<String>,
}

/// The names and numbers the wrapper shares with Rust.
#[napi]
pub fn constants() -> BindingConstants {
    BindingConstants {
        relay_id_header: proto::RELAY_ID_HEADER.into(),
        relay_headers: proto::RELAY_HEADERS.iter().map(|h| h.to_string()).collect(),
        gateway_url_env: proto::GATEWAY_URL_ENV.into(),
        secret_env: proto::SECRET_ENV.into(),
        write_batch_bytes: WRITE_BATCH_BYTES as u32,
        chunk_cost_bytes: CHUNK_COST_BYTES as u32,
        inline_response_limit: proto::INLINE_RESPONSE_LIMIT as u32,
        complete_header: {
            let (name, value) = InvocationResult::complete_header();
            vec![name.to_owned(), value.to_owned()]
        },
        error_codes: ERROR_CODES.iter().map(|(c, _)| c.to_string()).collect(),
    }
}

/// A Function URL result, ready to return from the handler.
#[napi(object)]
pub struct BindingResult {
    /// The HTTP status.
    pub status_code: u32,
    /// Its headers (the outcome among them).
    pub headers: HashMap<String, String>,
    /// Its plain-text body.
    pub body: String,
}

fn render(result: &InvocationResult) -> BindingResult {
    BindingResult {
        status_code: u32::from(result.status),
        headers: result
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: result.message.clone(),
    }
}

/// What an invocation is: `direct`, `relay` (its connection is opening), or `result`
/// (refused, unconfigured, or the connection could not open: answer with `result`).
#[napi]
pub struct BindingInvocation {
    kind: &'static str,
    streams_body: bool,
    client_address: Option<String>,
    result: Option<BindingResult>,
    connection: Option<Connection>,
}

#[napi]
impl BindingInvocation {
    /// `direct`, `relay` or `result`.
    #[napi(getter)]
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The client's address (relay: as the gateway saw it), for `requestContext.http.sourceIp`.
    #[napi(getter)]
    pub fn client_address(&self) -> Option<String> {
        self.client_address.clone()
    }

    /// Whether the request body streams over the socket (else it is the event's own).
    #[napi(getter)]
    pub fn streams_body(&self) -> bool {
        self.streams_body
    }

    /// The invocation's result, for `result`.
    #[napi]
    pub fn result(&mut self) -> Option<BindingResult> {
        self.result.take()
    }

    /// The connection, for `relay`; taken once.
    #[napi]
    pub fn connect(&mut self) -> Option<BindingConnection> {
        self.connection.take().map(BindingConnection::new)
    }
}

/// Classifies an invocation with `proto::classify_invocation` (headers with lowercase
/// names), and for a relay invocation starts connecting to the gateway in the background.
/// `time_left_ms` is the Lambda context's remaining time.
#[napi]
pub fn begin_invocation(
    headers: HashMap<String, String>,
    method: String,
    gateway_url: Option<String>,
    secret: Option<String>,
    time_left_ms: Option<f64>,
) -> BindingInvocation {
    let settings = RelaySettings::from_values(gateway_url.as_deref(), secret.as_deref());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let get = |name: &str| headers.get(name).map(String::as_str);
    let answer = |result: InvocationResult| BindingInvocation {
        kind: "result",
        streams_body: false,
        client_address: None,
        result: Some(render(&result)),
        connection: None,
    };
    let relay = match proto::classify_invocation(get, settings.as_ref().map(Option::as_ref), now) {
        Classification::Direct => {
            return BindingInvocation {
                kind: "direct",
                streams_body: false,
                client_address: None,
                result: None,
                connection: None,
            }
        }
        Classification::Refused(result) => return answer(result),
        Classification::Relay(relay) => relay,
    };
    let Ok(Some(settings)) = settings else {
        unreachable!("classify_invocation relays only with valid settings")
    };
    let streams_body = relay.body_mode == proto::BodyMode::Stream;
    let client_address = proto::relayed_client_address(get).map(str::to_owned);
    let mut invocation = Invocation::new(relay, &method);
    if let Some(ms) = time_left_ms.filter(|ms| ms.is_finite() && *ms >= 0.0) {
        invocation = invocation.with_time_left(Duration::from_millis(ms as u64));
    }
    let config = ClientConfig::new(settings.gateway_url());
    match within_runtime_if_available(|| Connection::open(config, invocation)) {
        Ok(connection) => BindingInvocation {
            kind: "relay",
            streams_body,
            client_address,
            result: None,
            connection: Some(connection),
        },
        Err(e) => answer(e.invocation_result()),
    }
}

/// One relayed invocation: the request body to read, the response to write.
#[napi]
pub struct BindingConnection {
    body: Mutex<RequestBody>,
    writer: Mutex<ResponseWriter>,
    cancelled: Cancelled,
}

impl BindingConnection {
    async fn fail(&self, code: ErrorCode, message: &str) -> Result<()> {
        self.writer.lock().await.fail(code, message).await.map_err(from_client)
    }

    fn new(connection: Connection) -> Self {
        let (body, writer) = connection.split();
        let cancelled = writer.cancelled();
        Self {
            body: Mutex::new(body),
            writer: Mutex::new(writer),
            cancelled,
        }
    }
}

#[napi]
impl BindingConnection {
    /// The next piece of the request body, or `null` at its end: one frame, and whatever
    /// else already arrived (up to 1 MiB).
    #[napi]
    pub async fn read(&self) -> Result<Option<Buffer>> {
        let mut body = self.body.lock().await;
        let first = match body.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => return Err(from_client(e)),
            None => return Ok(None),
        };
        let mut joined = first.to_vec();
        while joined.len() < READ_BATCH_BYTES {
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
            .ok_or_else(|| js_error("ERR_RELAY_USAGE", format!("invalid status {status}")))?;
        if headers.len() > proto::MAX_HEADER_COUNT {
            return Err(js_error(
                "ERR_RELAY_USAGE",
                proto::StreamError::TooManyHeaders {
                    count: headers.len(),
                    max: proto::MAX_HEADER_COUNT,
                },
            ));
        }
        let mut map = HeaderMap::with_capacity(headers.len());
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

    /// Answers in the invocation result instead of over the socket, if this response may
    /// (`FunctionSession::respond_inline`: the request body did not stream, and the body is
    /// complete and small): `true` if it keeps its body, `false` if its status or method
    /// drops it, `null` if it must go over the socket after all.
    #[napi]
    pub fn respond_inline(&self, status: u32, body_len: u32) -> Option<bool> {
        let status = StatusCode::from_u16(u16::try_from(status).ok()?).ok()?;
        let mut writer = self.writer.try_lock().ok()?;
        writer.respond_inline(status, body_len as usize).ok()
    }

    /// Writes several chunks in one crossing of the JS/Rust boundary; resolves when the
    /// window took them.
    #[napi]
    pub async fn write(&self, chunks: Vec<Buffer>) -> Result<()> {
        let bytes = match <[Buffer; 1]>::try_from(chunks) {
            Ok([one]) => Bytes::copy_from_slice(&one),
            Err(chunks) => {
                let mut joined = Vec::with_capacity(chunks.iter().map(|c| c.len()).sum());
                for chunk in &chunks {
                    joined.extend_from_slice(chunk);
                }
                Bytes::from(joined)
            }
        };
        self.writer.lock().await.write(bytes).await.map_err(from_client)
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

    /// Fails the response because the handler threw (`handler_error`: before the head the
    /// client gets a 502); resolves when the gateway acknowledged it.
    #[napi]
    pub async fn handler_failed(&self, message: String) -> Result<()> {
        self.fail(ErrorCode::HANDLER, &message).await
    }

    /// Fails the response because its body failed (`body_error`: after the head the
    /// client's transfer is aborted); resolves when the gateway acknowledged it.
    #[napi]
    pub async fn body_failed(&self, message: String) -> Result<()> {
        self.fail(ErrorCode::BODY, &message).await
    }

    /// Resolves when the relay is cancelled, with the coded reason (`ERR_RELAY_ABORTED: …`,
    /// `ERR_RELAY_DEADLINE: …`), or `null` when it is over without one. Always resolves, so
    /// the pending promise never keeps a finished connection alive.
    #[napi]
    pub async fn settled(&self) -> Option<String> {
        self.cancelled
            .clone()
            .settled()
            .await
            .map(|e| format!("{}: {e}", code_of(&e)))
    }

    /// Resolves once the relay is over (the response's last frame was acknowledged and the
    /// socket closed, or the relay failed), with the invocation's result. `failure` is why
    /// the wrapper's own work failed, if it did and the relay does not know a reason.
    #[napi]
    pub async fn result(&self, failure: Option<String>) -> BindingResult {
        let cancelled = self.cancelled.clone().over().await;
        let result = match (cancelled, failure) {
            (Some(e), _) => e.invocation_result(),
            (None, Some(why)) => InvocationResult::failed(why),
            (None, None) => InvocationResult::relayed(),
        };
        render(&result)
    }
}
