//! Node.js binding of the function side: thin `Binding…` exports around
//! `lambda_relay::adapter` (which begins an invocation, reads the request a handler sees and
//! renders its result) and `lambda_relay::client` (which carries a relayed one). The idiomatic
//! API (`streamHandler`, `streamifyHandler`, `serve`) is the TypeScript wrapper in `ts/`; it
//! decides nothing of its own, and takes every name and number it shares with Rust from
//! [`constants`]. Every error it throws or rejects with has a stable `code` property.

use http::HeaderMap;
use lambda_relay::adapter;
use lambda_relay::client::binding;
use lambda_relay::client::websocket::{MessageReader, MessageWriter};
use lambda_relay::client::{self, Connection, RelayStatus, RequestBody, ResponseWriter};
use lambda_relay::proto::websocket::Message;
use lambda_relay::proto::{self, ErrorCode, InvocationResult};
use lambda_relay::serde_json::Value;
use napi::bindgen_prelude::{
    within_runtime_if_available, Buffer, JsError, Null, ToNapiValue, TypeName, Unknown, ValueType,
};
use napi::{sys, Result};
use napi_derive::napi;
use tokio::sync::Mutex;

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
#[napi(catch_unwind)]
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
        error_codes: binding::ERROR_CODES.iter().map(|(c, _, _)| c.to_string()).collect(),
    }
}

/// A stable `ERR_RELAY_*` code, as the `code` property of the JS error it becomes.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// A JS error with a stable `code` property.
fn coded(code: &'static str, message: impl std::fmt::Display) -> napi::Error<Code> {
    napi::Error::new(Code(code), message.to_string())
}

fn event_error(e: adapter::EventError) -> napi::Error<Code> {
    coded(binding::EVENT, e)
}

fn from_client(e: client::Error) -> napi::Error<Code> {
    coded(binding::error_code(&e), e)
}

/// The JS `Error` of a coded error, made on the JS thread.
///
/// # Safety
/// `env` is the current, live environment.
unsafe fn error_value(env: sys::napi_env, error: napi::Error<Code>) -> sys::napi_value {
    JsError::from(error).into_value(env)
}

/// What an async method resolves with, or the coded error it rejects with. napi words an
/// async method's own errors with its status, so the rejection is made here, on the JS
/// thread, as a JS `Error` with the relay's `code`; the promise rejects with that object.
pub struct Coded<T>(std::result::Result<T, napi::Error<Code>>);

impl<T> From<std::result::Result<T, client::Error>> for Coded<T> {
    fn from(r: std::result::Result<T, client::Error>) -> Self {
        Self(r.map_err(from_client))
    }
}

impl<T: ToNapiValue> ToNapiValue for Coded<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        match val.0 {
            Ok(value) => T::to_napi_value(env, value),
            Err(error) => {
                let value = error_value(env, error);
                Err(napi::Error::from(Unknown::from_raw_unchecked(env, value)))
            }
        }
    }
}

impl<T: TypeName> TypeName for Coded<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }

    fn value_type() -> ValueType {
        T::value_type()
    }
}

/// Why the relay was cancelled, as a JS `Error` with its `code`, or `null` when it is over
/// without one.
pub struct Reason(Option<client::Error>);

impl ToNapiValue for Reason {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        match val.0 {
            Some(e) => Ok(error_value(env, from_client(e))),
            None => Null::to_napi_value(env, Null),
        }
    }
}

impl TypeName for Reason {
    fn type_name() -> &'static str {
        "Error | null"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

/// The request a handler sees ([`adapter::RequestView`]).
#[napi(object)]
pub struct BindingRequest {
    /// The method.
    pub method: String,
    /// The absolute URL: the gateway's host on a relayed invocation, the Function URL's own
    /// on a direct one.
    pub url: String,
    /// The path exactly as sent.
    pub raw_path: String,
    /// The query exactly as sent, without `?`.
    pub raw_query: String,
    /// `[name, value]` pairs: lowercase names, relay headers removed, cookies joined.
    pub headers: Vec<Vec<String>>,
    /// The client's address.
    pub client_address: Option<String>,
    /// The event's own body, decoded; `null` when there is none.
    pub body: Option<Buffer>,
    /// Whether it is a HEAD request, whose response has no body.
    pub head_request: bool,
}

impl From<adapter::RequestView> for BindingRequest {
    fn from(view: adapter::RequestView) -> Self {
        Self {
            url: view.url(),
            head_request: view.is_head(),
            method: view.method,
            raw_path: view.raw_path,
            raw_query: view.raw_query,
            headers: view.headers.into_iter().map(|(n, v)| vec![n, v]).collect(),
            client_address: view.client_address,
            body: (!view.body.is_empty()).then(|| Buffer::from(Vec::from(view.body))),
        }
    }
}

/// The request a handler sees for an event (`relayed`: whether its relay token verified, so
/// the gateway's forwarding headers are believed). Throws `ERR_RELAY_EVENT` for an event
/// that is not a Function URL event.
#[napi(catch_unwind)]
pub fn request_view(event: Value, relayed: bool) -> Result<BindingRequest, Code> {
    adapter::RequestView::from_event(&event, relayed)
        .map(BindingRequest::from)
        .map_err(event_error)
}

/// A direct invocation's whole response as the Function URL result. Throws `ERR_RELAY_USAGE`
/// for a status or header HTTP does not allow.
#[napi(catch_unwind)]
pub fn buffered_result(
    status: u32,
    headers: Vec<Vec<String>>,
    body: Buffer,
    head_request: bool,
) -> Result<Value, Code> {
    let pairs = header_pairs(headers)?;
    adapter::direct_result(status, pairs.into_iter(), &body, head_request)
        .map(|r| r.to_json())
        .map_err(|e| coded(binding::USAGE, e))
}

/// An HTTP request as a local server received it.
#[napi(object)]
pub struct BindingLocalRequest {
    /// The method.
    pub method: String,
    /// The request target as sent: `/path?query`.
    pub target: String,
    /// `[name, value]` pairs as sent.
    pub headers: Vec<Vec<String>>,
    /// The whole body.
    pub body: Buffer,
    /// The peer's address.
    pub source_ip: String,
    /// The invocation's request id.
    pub request_id: String,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub time_epoch_ms: f64,
}

/// The Function URL event AWS would build for a request a local server received.
#[napi(catch_unwind)]
pub fn function_url_event(request: BindingLocalRequest) -> Result<Value, Code> {
    let headers = header_pairs(request.headers)?;
    Ok(adapter::function_url_event(&adapter::LocalRequest {
        method: &request.method,
        target: &request.target,
        headers: &headers,
        body: &request.body,
        source_ip: &request.source_ip,
        request_id: &request.request_id,
        time_epoch_ms: request.time_epoch_ms as u64,
    }))
}

/// `AuthType AWS_IAM` for a local Function URL: the 403 Lambda would send `request` when its
/// SigV4 signature does not verify for the key given, or `null` to let it through.
#[napi(catch_unwind)]
pub fn local_iam_refusal(
    request: BindingLocalRequest,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
) -> Result<Option<BindingLocalResponse>, Code> {
    let headers = header_pairs(request.headers)?;
    let credentials = proto::sigv4::AwsCredentials::new(access_key_id, secret_access_key, session_token)
        .map_err(|e| coded(binding::USAGE, e.to_string()))?;
    let local = adapter::LocalRequest {
        method: &request.method,
        target: &request.target,
        headers: &headers,
        body: &request.body,
        source_ip: &request.source_ip,
        request_id: &request.request_id,
        time_epoch_ms: request.time_epoch_ms as u64,
    };
    let unix_time = (request.time_epoch_ms / 1000.0) as u64;
    Ok(adapter::iam_refusal(&local, &credentials, unix_time).map(local_response_of))
}

/// Panics with `message`. Not API: the tests' proof that a panic inside the addon reaches
/// JavaScript as an exception (every synchronous export catches unwinds; async ones reject),
/// never as an abort of the function's process.
#[napi(catch_unwind, js_name = "__panicForTest")]
pub fn panic_for_test(message: String) {
    panic!("{message}");
}

/// What a local server sends for a handler's result.
#[napi(object)]
pub struct BindingLocalResponse {
    /// The status.
    pub status: u32,
    /// `[name, value]` pairs, `set-cookie` repeated.
    pub headers: Vec<Vec<String>>,
    /// The body.
    pub body: Buffer,
}

/// The HTTP response AWS's front door makes of a handler's result. Throws `ERR_RELAY_USAGE`
/// for a result it would refuse (answered 502).
#[napi(catch_unwind)]
pub fn local_response(result: Value) -> Result<BindingLocalResponse, Code> {
    let response = adapter::LocalResponse::from_result(&result).map_err(|e| coded(binding::USAGE, e))?;
    Ok(local_response_of(response))
}

fn local_response_of(response: adapter::LocalResponse) -> BindingLocalResponse {
    BindingLocalResponse {
        status: u32::from(response.status),
        headers: response.headers.into_iter().map(|(n, v)| vec![n, v]).collect(),
        body: Buffer::from(Vec::from(response.body)),
    }
}

fn header_pairs(headers: Vec<Vec<String>>) -> Result<Vec<(String, String)>, Code> {
    headers
        .into_iter()
        .map(|pair| {
            <[String; 2]>::try_from(pair)
                .map(|[n, v]| (n, v))
                .map_err(|_| coded(binding::USAGE, "headers must be [name, value] pairs"))
        })
        .collect()
}

/// What an invocation is: `direct`, `relay` (its connection is opening), or `result`
/// (refused, unconfigured, or the connection could not open: answer with `result`).
#[napi]
pub struct BindingInvocation {
    kind: &'static str,
    streams_body: bool,
    websocket: bool,
    request: Option<BindingRequest>,
    event: Option<Value>,
    result: Option<Value>,
    connection: Option<(Connection, bool)>,
}

#[napi]
impl BindingInvocation {
    /// `direct`, `relay` or `result`.
    #[napi(getter)]
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Whether the request body streams over the socket (else it is the event's own).
    #[napi(getter)]
    pub fn streams_body(&self) -> bool {
        self.streams_body
    }

    /// Whether the request is a client's WebSocket upgrade the handler may accept
    /// (`BindingConnection.acceptWebSocket`).
    #[napi(getter)]
    pub fn websocket(&self) -> bool {
        self.websocket
    }

    /// The request the handler sees, for `direct` and `relay`; taken once.
    #[napi(catch_unwind)]
    pub fn request(&mut self) -> Option<BindingRequest> {
        self.request.take()
    }

    /// The event a handler sees (Hono's `c.env.event`): no relay headers, and the client's
    /// own address. Taken once.
    #[napi(catch_unwind)]
    pub fn event(&mut self) -> Option<Value> {
        self.event.take()
    }

    /// The invocation's result, for `result`.
    #[napi(catch_unwind)]
    pub fn result(&mut self) -> Option<Value> {
        self.result.take()
    }

    /// The connection, for `relay`; taken once.
    #[napi(catch_unwind)]
    pub fn connect(&mut self) -> Option<BindingConnection> {
        self.connection
            .take()
            .map(|(connection, head_request)| BindingConnection::new(connection, head_request))
    }
}

/// Begins an invocation ([`adapter::begin`]): classifies it, reads the request the handler
/// sees, and for a relay invocation starts connecting to the gateway in the background.
/// `time_left_ms` is the Lambda context's remaining time. Throws `ERR_RELAY_EVENT` for an
/// event that is not a Function URL event.
#[napi(catch_unwind)]
pub fn begin_invocation(
    event: Value,
    gateway_url: Option<String>,
    secret: Option<String>,
    time_left_ms: Option<f64>,
) -> Result<BindingInvocation, Code> {
    let bound = within_runtime_if_available(|| {
        adapter::begin_bound(event, gateway_url.as_deref(), secret.as_deref(), time_left_ms)
    })
    .map_err(event_error)?;
    let (request, event) = bound.request.map_or((None, None), |(r, e)| (Some(r.into()), Some(e)));
    Ok(BindingInvocation {
        kind: bound.kind,
        streams_body: bound.streams_body,
        websocket: bound.websocket,
        request,
        event,
        result: bound.result.map(|r| r.to_json()),
        connection: bound.connection,
    })
}

/// One relayed invocation: the request body to read, the response to write.
#[napi]
pub struct BindingConnection {
    body: Mutex<RequestBody>,
    writer: Mutex<ResponseWriter>,
    status: RelayStatus,
    head_request: bool,
    /// An accepted WebSocket's reader and writer (locked before `body` and `writer`).
    messages_in: Mutex<MessageReader>,
    messages_out: Mutex<Option<MessageWriter>>,
}

/// One message of a relayed WebSocket: `text` (with `text`), `binary` (with `data`) or `close`
/// (with `code`, 1005 when the client gave none, and `reason`).
#[napi(object)]
pub struct BindingMessage {
    /// `text`, `binary` or `close`.
    pub kind: String,
    /// A text message's text.
    pub text: Option<String>,
    /// A binary message's bytes.
    pub data: Option<Buffer>,
    /// A close's code.
    pub code: Option<u32>,
    /// A close's reason.
    pub reason: Option<String>,
}

impl From<Message> for BindingMessage {
    fn from(message: Message) -> Self {
        let mut out = BindingMessage {
            kind: String::new(),
            text: None,
            data: None,
            code: None,
            reason: None,
        };
        match message {
            Message::Text(text) => {
                out.kind = "text".into();
                out.text = Some(text);
            }
            Message::Binary(data) => {
                out.kind = "binary".into();
                out.data = Some(Buffer::from(Vec::from(data)));
            }
            Message::Close { code, reason } => {
                out.kind = "close".into();
                out.code = Some(u32::from(code));
                out.reason = Some(reason);
            }
        }
        out
    }
}

impl BindingConnection {
    async fn fail(&self, code: ErrorCode, message: &str) -> Coded<()> {
        self.writer.lock().await.fail(code, message).await.into()
    }

    fn new(connection: Connection, head_request: bool) -> Self {
        let (body, writer) = connection.split();
        let status = writer.status();
        Self {
            body: Mutex::new(body),
            writer: Mutex::new(writer),
            status,
            head_request,
            messages_in: Mutex::new(MessageReader::new()),
            messages_out: Mutex::new(None),
        }
    }

    async fn send_message(&self, message: Message) -> Coded<()> {
        let mut out = self.messages_out.lock().await;
        let Some(out) = out.as_mut() else {
            return Coded(Err(coded(binding::USAGE, "the WebSocket was not accepted")));
        };
        let mut writer = self.writer.lock().await;
        out.send(&mut writer, message).await.into()
    }
}

// Every error a method throws or rejects with is a JS `Error` whose `code` is one of
// `binding::ERROR_CODES`.
#[napi]
impl BindingConnection {
    /// The next piece of the request body, or `null` at its end: one frame, and whatever
    /// else already arrived (up to 1 MiB).
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub async fn read(&self) -> Coded<Option<Buffer>> {
        let mut body = self.body.lock().await;
        let chunk = binding::read_batch(&mut body).await;
        chunk.map(|c| c.map(|c| Buffer::from(Vec::from(c)))).into()
    }

    /// Queues the status and headers (pairs, repeated names allowed).
    #[napi(catch_unwind)]
    pub fn send_head(&self, status: u32, headers: Vec<Vec<String>>) -> Result<(), Code> {
        let pairs = header_pairs(headers)?;
        let (status, map) = adapter::response_head(status, pairs.into_iter()).map_err(|e| coded(binding::USAGE, e))?;
        let mut writer = self
            .writer
            .try_lock()
            .map_err(|_| coded(binding::USAGE, "the head was sent while a write was in progress"))?;
        writer.send_head(status, map).map_err(from_client)
    }

    /// Answers in the invocation result instead of over the socket, if this response may
    /// (`adapter::respond_inline`: the request body did not stream, and the body, all of
    /// `chunks`, is complete and small): the Function URL result, or `null` if it must go
    /// over the socket after all.
    #[napi(catch_unwind)]
    pub fn respond_inline(&self, status: u32, headers: Vec<Vec<String>>, chunks: Vec<Buffer>) -> Option<Value> {
        let pairs = header_pairs(headers).ok()?;
        let (status, map) = adapter::response_head(status, pairs.into_iter()).ok()?;
        let mut writer = self.writer.try_lock().ok()?;
        adapter::respond_inline(&mut writer, status, map, &chunks, self.head_request).map(|r| r.to_json())
    }

    /// Writes several chunks in one crossing of the JS/Rust boundary; resolves when the
    /// window took them.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn write(&self, chunks: Vec<Buffer>) -> Coded<()> {
        let bytes = binding::join(&chunks);
        drop(chunks);
        self.writer.lock().await.write(bytes).await.into()
    }

    /// Ends the response; resolves when the gateway acknowledged the end.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn finish(&self) -> Coded<()> {
        self.writer.lock().await.finish(HeaderMap::new()).await.into()
    }

    /// Fails the response because the handler threw (`handler_error`: before the head the
    /// client gets a 502); resolves when the gateway acknowledged it.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn handler_failed(&self, message: String) -> Coded<()> {
        self.fail(ErrorCode::HANDLER, &message).await
    }

    /// Fails the response because its body failed (`body_error`: after the head the
    /// client's transfer is aborted); resolves when the gateway acknowledged it.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn body_failed(&self, message: String) -> Coded<()> {
        self.fail(ErrorCode::BODY, &message).await
    }

    /// Accepts the client's WebSocket upgrade with these headers (a `sec-websocket-protocol`
    /// the client offered, any `set-cookie`): the gateway answers the client 101.
    #[napi(catch_unwind)]
    pub fn accept_web_socket(&self, headers: Vec<Vec<String>>) -> Result<(), Code> {
        let pairs = header_pairs(headers)?;
        let (_, map) = adapter::response_head(200, pairs.into_iter()).map_err(|e| coded(binding::USAGE, e))?;
        let busy = || {
            coded(
                binding::USAGE,
                "the WebSocket was accepted while a write was in progress",
            )
        };
        let mut out = self.messages_out.try_lock().map_err(|_| busy())?;
        let mut writer = self.writer.try_lock().map_err(|_| busy())?;
        *out = Some(MessageWriter::accept(&mut writer, map).map_err(from_client)?);
        Ok(())
    }

    /// The client's next message; its close is the last, `null` after it. Rejects when the
    /// relay failed, or with `ERR_RELAY_ABORTED` when the client left without a close.
    #[napi(ts_return_type = "Promise<BindingMessage | null>")]
    pub async fn read_message(&self) -> Coded<Option<BindingMessage>> {
        let mut reader = self.messages_in.lock().await;
        let mut body = self.body.lock().await;
        reader.recv(&mut body).await.map(|m| m.map(BindingMessage::from)).into()
    }

    /// Sends a text message; resolves when the window took it.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn send_text(&self, text: String) -> Coded<()> {
        self.send_message(Message::Text(text)).await
    }

    /// Sends a binary message (copied); resolves when the window took it.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn send_binary(&self, data: Buffer) -> Coded<()> {
        let bytes = binding::join(&[&data]);
        drop(data);
        self.send_message(Message::Binary(bytes)).await
    }

    /// Closes the client's WebSocket with `code` (1005 for none) and `reason`; resolves once the
    /// gateway acknowledged it.
    #[napi(ts_return_type = "Promise<void>")]
    pub async fn close_web_socket(&self, code: u32, reason: String) -> Coded<()> {
        let code = u16::try_from(code).unwrap_or(0);
        match Message::close(code, reason) {
            Ok(message) => self.send_message(message).await,
            Err(e) => Coded(Err(coded(binding::USAGE, e))),
        }
    }

    /// Resolves when the relay is cancelled, with why (an `Error` whose `code` is
    /// `ERR_RELAY_ABORTED`, `ERR_RELAY_DEADLINE`, …), or `null` when it is over without one.
    /// Always resolves, so the pending promise never keeps a finished connection alive.
    #[napi(ts_return_type = "Promise<(Error & { code: string }) | null>")]
    pub async fn settled(&self) -> Reason {
        Reason(self.status.clone().cancelled_or_over().await)
    }

    /// Resolves once the relay is over (the response's last frame was acknowledged and the
    /// socket closed, or the relay failed), with the invocation's result. `failure` is why
    /// the wrapper's own work failed, if it did and the relay does not know a reason.
    #[napi]
    pub async fn result(&self, failure: Option<String>) -> Value {
        let over = self.status.clone().over().await;
        let result = adapter::relay_result(over, failure);
        adapter::log_relay(self.status.relay_id(), &result, self.status.elapsed());
        result.to_json()
    }
}
