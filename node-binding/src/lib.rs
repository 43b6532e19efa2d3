//! Node.js binding of the function side: thin `Binding…` exports around
//! `lambda_relay::proto` (which classifies an invocation and words its result) and
//! `lambda_relay::client` (which carries a relayed one). The idiomatic API (`streamHandler`,
//! `streamifyHandler`) is the TypeScript wrapper in `ts/`; it decides nothing the protocol
//! decides, and takes every name and number it shares with Rust from [`constants`].

use std::collections::HashMap;

use http::{HeaderMap, StatusCode};
use lambda_relay::client::binding::{self, Begun};
use lambda_relay::client::{self, Cancelled, Connection, RequestBody, ResponseWriter};
use lambda_relay::proto::{self, ErrorCode, InvocationResult};
use napi::bindgen_prelude::{within_runtime_if_available, Buffer};
use napi::{Result, Status};
use napi_derive::napi;
use tokio::sync::Mutex;

/// A JS error whose message starts with one of the stable `ERR_RELAY_*` codes; the
/// TypeScript wrapper moves it into the error's `code` property (napi class methods only
/// throw with napi's own statuses).
fn js_error(code: &'static str, message: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("{code}: {message}"))
}

fn from_client(e: client::Error) -> napi::Error {
    js_error(binding::error_code(&e), e)
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
        write_batch_bytes: binding::WRITE_BATCH_BYTES as u32,
        chunk_cost_bytes: binding::CHUNK_COST_BYTES as u32,
        inline_response_limit: proto::INLINE_RESPONSE_LIMIT as u32,
        complete_header: {
            let (name, value) = InvocationResult::complete_header();
            vec![name.to_owned(), value.to_owned()]
        },
        error_codes: binding::ERROR_CODES.iter().map(|(c, _)| c.to_string()).collect(),
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
    let get = |name: &str| headers.get(name).map(String::as_str);
    let begun = within_runtime_if_available(|| {
        binding::begin_invocation(
            get,
            &method,
            gateway_url.as_deref(),
            secret.as_deref(),
            binding::time_left(time_left_ms),
        )
    });
    let (kind, result, relay) = match begun {
        Begun::Direct => ("direct", None, None),
        Begun::Answer(result) => ("result", Some(render(&result)), None),
        Begun::Relay {
            connection,
            streams_body,
            client_address,
        } => ("relay", None, Some((connection, streams_body, client_address))),
    };
    let (connection, streams_body, client_address) = match relay {
        Some((connection, streams_body, client_address)) => (Some(connection), streams_body, client_address),
        None => (None, false, None),
    };
    BindingInvocation {
        kind,
        streams_body,
        client_address,
        result,
        connection,
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
        let chunk = binding::read_batch(&mut body).await.map_err(from_client)?;
        Ok(chunk.map(|c| Buffer::from(Vec::from(c))))
    }

    /// Queues the status and headers (pairs, repeated names allowed).
    #[napi]
    pub fn send_head(&self, status: u32, headers: Vec<Vec<String>>) -> Result<()> {
        let mut pairs = Vec::with_capacity(headers.len());
        for pair in headers {
            let [name, value] = <[String; 2]>::try_from(pair)
                .map_err(|_| js_error(binding::USAGE, "headers must be [name, value] pairs"))?;
            pairs.push((name, value));
        }
        let (status, map) =
            binding::response_head(status, pairs.into_iter()).map_err(|e| js_error(binding::USAGE, e))?;
        let mut writer = self
            .writer
            .try_lock()
            .map_err(|_| js_error(binding::USAGE, "the head was sent while a write was in progress"))?;
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
        let bytes = binding::join(&chunks);
        drop(chunks);
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
            .map(|e| format!("{}: {e}", binding::error_code(&e)))
    }

    /// Resolves once the relay is over (the response's last frame was acknowledged and the
    /// socket closed, or the relay failed), with the invocation's result. `failure` is why
    /// the wrapper's own work failed, if it did and the relay does not know a reason.
    #[napi]
    pub async fn result(&self, failure: Option<String>) -> BindingResult {
        let over = self.cancelled.clone().over().await;
        render(&binding::invocation_result(over, failure))
    }
}
