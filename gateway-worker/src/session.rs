//! The Durable Object: one per client request. It mints the relay id and token, invokes the
//! function, accepts the function's socket and turns the session's response parts into the
//! client's response as the client reads them.
//!
//! It is a thin driver of `GatewaySession`: every input (a socket message, a close, a timer,
//! the client reading, the invocation's result) goes to the session, then [`drive`] sends
//! what the session wants sent, arms its one timer and wakes whoever waits.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;
use futures_util::future::poll_fn;
use futures_util::{Stream, StreamExt};
use lambda_relay::proto::{
    self, AbortCode, BodyMode, CloseCode, GatewaySession, ResponseHead, ResponsePart, StreamError, Timestamp,
};
use wasm_bindgen_futures::spawn_local;
use worker::{
    durable_object, ByteStream, Delay, DurableObject, Env, Fetch, Headers, Method, Request, RequestInit, Response,
    Result, State, WebSocket, WebSocketIncomingMessage, WebSocketPair,
};

use crate::config::GatewayConfig;
use crate::web;

/// One client request and its relay session.
#[durable_object]
pub struct RelaySession {
    state: State,
    env: Env,
    relay: RefCell<Option<Shared>>,
}

type Shared = Rc<RefCell<Relay>>;

struct Relay {
    session: GatewaySession,
    token: String,
    socket: Option<WebSocket>,
    /// Resolves the client's response once the head (or a failure) is known.
    head: Option<oneshot::Sender<Outcome>>,
    /// The client's body stream, waiting for parts.
    body_waker: Option<Waker>,
    /// The request body pump, waiting for window.
    request_waker: Option<Waker>,
    /// The deadline a timer task is armed for.
    timer_at: Option<Timestamp>,
}

/// How the client's response starts.
enum Outcome {
    Head(ResponseHead),
    Failed {
        status: u16,
        code: &'static str,
        text: String,
    },
    Passthrough(Response),
}

impl DurableObject for RelaySession {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            relay: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let config = match GatewayConfig::from_env(&self.env) {
            Ok(c) => c,
            Err(reason) => return web::error_response(500, "gateway_misconfigured", &reason),
        };
        if req.path().starts_with(config.socket_path.as_str()) {
            self.accept_socket(req)
        } else {
            self.relay_request(req, config).await
        }
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let Some(shared) = self.current(&ws) else { return Ok(()) };
        {
            let mut relay = shared.borrow_mut();
            // A failure is sticky in the session; drive() closes the socket with its code.
            let _ = match message {
                WebSocketIncomingMessage::Binary(data) => relay.session.handle_message(web::now(), &Bytes::from(data)),
                WebSocketIncomingMessage::String(_) => Err(relay.session.handle_text_message()),
            };
        }
        drive(&shared);
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, code: usize, _reason: String, _clean: bool) -> Result<()> {
        // 1005 (no code) and 1006 (no close frame) mean the peer sent no code.
        let code = u16::try_from(code)
            .ok()
            .filter(|c| *c != 1005 && *c != 1006)
            .map(CloseCode);
        self.socket_gone(&ws, code);
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.socket_gone(&ws, None);
        Ok(())
    }
}

impl RelaySession {
    /// The relay, if `ws` is its current socket (a replaced socket's late events are ignored).
    fn current(&self, ws: &WebSocket) -> Option<Shared> {
        let shared = self.relay.borrow().clone()?;
        let is_current = shared.borrow().socket.as_ref() == Some(ws);
        is_current.then_some(shared)
    }

    fn socket_gone(&self, ws: &WebSocket, code: Option<CloseCode>) {
        let Some(shared) = self.current(ws) else { return };
        {
            let mut relay = shared.borrow_mut();
            relay.socket = None;
            relay.session.socket_closed(web::now(), code);
        }
        drive(&shared);
    }

    /// The function's socket: the edge checked the upgrade and the token's signature; here
    /// the token must be this session's, and the session must admit a socket.
    fn accept_socket(&self, req: Request) -> Result<Response> {
        let Some(shared) = self.relay.borrow().clone() else {
            return web::error_response(404, "socket_refused", "unknown relay id");
        };
        let headers = req.headers();
        let token = headers.get(proto::RELAY_TOKEN_HEADER)?.unwrap_or_default();
        let resume = headers.has(proto::RELAY_RESUME_HEADER)?;
        {
            let mut relay = shared.borrow_mut();
            if !web::same_token(&token, &relay.token) {
                return web::error_response(403, "socket_refused", "relay token refused");
            }
            if let Err(refusal) = relay.session.admit_socket(resume) {
                return web::refusal_response(refusal);
            }
            let pair = WebSocketPair::new()?;
            self.state.accept_web_socket(&pair.server);
            let now = web::now();
            if let Some(old) = relay.socket.replace(pair.server) {
                relay.session.socket_closed(now, None);
                let _ = old.close(Some(CloseCode::REPLACED.0), Some("replaced"));
            }
            relay.session.socket_opened(now);
            drop(relay);
            drive(&shared);
            let response = Response::from_websocket(pair.client)?;
            let out = Headers::new();
            out.set("sec-websocket-protocol", proto::SUBPROTOCOL)?;
            Ok(response.with_headers(out))
        }
    }

    /// A client request: invoke the function and answer with what it streams back.
    async fn relay_request(&self, mut req: Request, config: GatewayConfig) -> Result<Response> {
        let relay_id = self.state.id().to_string();
        let expires = web::unix_now() + config.token_ttl.as_secs();
        let token = config
            .secret
            .mint(&relay_id, expires)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;

        let method = req.method();
        let headers = req.headers();
        let length = headers
            .get("content-length")?
            .and_then(|v| v.trim().parse::<u64>().ok());
        let has_body = req.inner().body().is_some() && length != Some(0);
        let mode = proto::choose_body_mode(has_body, length, config.inline_body_limit);
        let invocation = self
            .invocation(&mut req, &config, &relay_id, &token, mode, has_body)
            .await?;

        let session = match GatewaySession::new(config.session.clone(), mode, web::now()) {
            Ok(s) => s,
            Err(e) => return web::error_response(500, "gateway_misconfigured", &e.to_string()),
        };
        let (head_tx, head_rx) = oneshot::channel();
        let shared = Rc::new(RefCell::new(Relay {
            session,
            token,
            socket: None,
            head: Some(head_tx),
            body_waker: None,
            request_waker: None,
            timer_at: None,
        }));
        *self.relay.borrow_mut() = Some(shared.clone());

        spawn_local(invoke(shared.clone(), invocation));
        if mode == BodyMode::Stream {
            spawn_local(pump_request(shared.clone(), req.stream()?));
        }
        drive(&shared);

        let outcome = head_rx.await.unwrap_or(Outcome::Failed {
            status: 502,
            code: "internal",
            text: "the relay ended before a response".into(),
        });
        match outcome {
            Outcome::Head(head) => {
                let headers = web::response_headers(&head.headers)?;
                if !headers.has("content-encoding")? {
                    // The edge compresses text bodies it sees without an encoding, and its
                    // compressor buffers: a stream would reach the client all at the end.
                    headers.set("content-encoding", "identity")?;
                }
                let status = head.status.as_u16();
                let bodiless = method == Method::Head || status == 204 || status == 304;
                if bodiless {
                    // The function still ends its (empty) body; read it so the session completes.
                    spawn_local(BodyStream { shared }.for_each(|_| async {}));
                    Ok(Response::empty()?.with_status(status).with_headers(headers))
                } else {
                    Ok(Response::from_stream(BodyStream { shared })?
                        .with_status(status)
                        .with_headers(headers))
                }
            }
            Outcome::Failed { status, code, text } => web::error_response(status, code, &text),
            Outcome::Passthrough(response) => Ok(response),
        }
    }

    /// The invocation request: the client's method, path, query and headers (minus hop-by-hop
    /// ones), `x-forwarded-*`, the relay headers, and the body if it rides inline.
    async fn invocation(
        &self,
        req: &mut Request,
        config: &GatewayConfig,
        relay_id: &str,
        token: &str,
        mode: BodyMode,
        has_body: bool,
    ) -> Result<Request> {
        let url = req.url()?;
        let mut target = format!("{}{}", config.lambda_url, url.path());
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let headers = Headers::new();
        for (name, value) in req.headers().entries() {
            if proto::forwards_request_header(&name) && !name.starts_with("x-forwarded-") {
                headers.append(&name, &value)?;
            }
        }
        let client_ip = req.headers().get("cf-connecting-ip")?;
        let forwarded_for = match (req.headers().get("x-forwarded-for")?, client_ip) {
            (Some(prior), Some(ip)) => format!("{prior}, {ip}"),
            (Some(prior), None) => prior,
            (None, Some(ip)) => ip,
            (None, None) => String::new(),
        };
        if !forwarded_for.is_empty() {
            headers.set("x-forwarded-for", &forwarded_for)?;
        }
        headers.set("x-forwarded-proto", url.scheme())?;
        if let Some(host) = url.host_str() {
            let host = url.port().map_or_else(|| host.to_owned(), |p| format!("{host}:{p}"));
            headers.set("x-forwarded-host", &host)?;
        }
        headers.set(proto::RELAY_ID_HEADER, relay_id)?;
        headers.set(proto::RELAY_TOKEN_HEADER, token)?;
        headers.set(proto::RELAY_BODY_HEADER, mode.as_str())?;
        let mut init = RequestInit::new();
        init.with_method(req.method()).with_headers(headers);
        if mode == BodyMode::Inline && has_body {
            let body = req.bytes().await?;
            init.with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        }
        Request::new_with_init(&target, &init)
    }
}

/// Sends what the session wants sent, closes the socket when it says so, resolves the
/// client's response once the head or a failure is known, wakes the waiting streams and
/// arms the timer.
fn drive(shared: &Shared) {
    let mut guard = shared.borrow_mut();
    let relay = &mut *guard;
    if relay.head.is_some() {
        let outcome = match relay.session.read() {
            Ok(Some(ResponsePart::Head(head))) => Some(Outcome::Head(head)),
            Ok(Some(ResponsePart::Failed(e))) => Some(Outcome::Failed {
                status: 502,
                code: e.code.name().unwrap_or("function_error"),
                text: format!("the function failed: {}", e.message),
            }),
            Ok(Some(_)) => unreachable!("the session delivers the head first"),
            Ok(None) => None,
            Err(e) => {
                let (status, code) = proto::failure_status(&e);
                Some(Outcome::Failed {
                    status,
                    code,
                    text: format!("relay failed: {e}"),
                })
            }
        };
        if let Some(outcome) = outcome {
            let _ = relay.head.take().expect("checked above").send(outcome);
        }
    }
    if let Some(socket) = &relay.socket {
        while let Some(message) = relay.session.poll_transmit() {
            if socket.send_with_bytes(&message).is_err() {
                break;
            }
        }
        if let Some(code) = relay.session.poll_close() {
            let _ = socket.close(Some(code.0), code.name());
            relay.socket = None;
        }
    }
    // Wake only who can progress: a stream woken for nothing would poll, call drive() and
    // be woken again, spinning the isolate.
    let over = relay.session.error().is_some() || relay.session.is_done();
    if over || relay.session.has_readable() {
        if let Some(waker) = relay.body_waker.take() {
            waker.wake();
        }
    }
    if over || relay.session.send_capacity() > 0 {
        if let Some(waker) = relay.request_waker.take() {
            waker.wake();
        }
    }
    let deadline = relay.session.poll_timeout();
    if let Some(at) = deadline {
        if relay.timer_at.is_none_or(|armed| at < armed) {
            relay.timer_at = Some(at);
            drop(guard);
            spawn_local(timer(shared.clone(), at));
        }
    }
}

async fn timer(shared: Shared, at: Timestamp) {
    let wait = at.saturating_since(web::now());
    Delay::from(wait.max(Duration::from_millis(1))).await;
    {
        let mut relay = shared.borrow_mut();
        if relay.timer_at == Some(at) {
            relay.timer_at = None;
        }
        relay.session.handle_timeout(web::now());
    }
    drive(&shared);
}

/// Invokes the function. Its result is a signal, never the end of the response: before a
/// socket connected it explains a failure (or is a non-relay function's own response);
/// after, a failure means the function is gone.
async fn invoke(shared: Shared, invocation: Request) {
    let result = Fetch::Request(invocation).send().await;
    let (connected, undecided) = {
        let relay = shared.borrow();
        (relay.session.has_connected(), relay.head.is_some())
    };
    match result {
        Err(e) if !connected => {
            let text = format!("invoking the function failed: {e}");
            resolve(&mut shared.borrow_mut(), 502, "invocation_failed", text);
        }
        Err(_) => shared
            .borrow_mut()
            .session
            .abort(AbortCode::GATEWAY, "the function invocation failed"),
        Ok(mut response) => {
            let status = response.status_code();
            let relay_aware = response.headers().has(proto::RELAY_OUTCOME_HEADER).unwrap_or(false);
            if !connected && undecided {
                if relay_aware || status >= 500 {
                    let text = response.text().await.unwrap_or_default();
                    let text = format!("the function answered {status}: {}", text.trim());
                    resolve(&mut shared.borrow_mut(), 502, "invocation_failed", text);
                } else {
                    // Not relay-aware: its response is the response.
                    resolve_with(&mut shared.borrow_mut(), Outcome::Passthrough(response));
                }
            } else if connected && !(200..300).contains(&status) {
                let mut relay = shared.borrow_mut();
                if !relay.session.is_done() {
                    relay
                        .session
                        .abort(AbortCode::GATEWAY, "the function invocation failed");
                }
            }
        }
    }
    drive(&shared);
}

fn resolve(relay: &mut Relay, status: u16, code: &'static str, text: String) {
    resolve_with(relay, Outcome::Failed { status, code, text });
}

fn resolve_with(relay: &mut Relay, outcome: Outcome) {
    if let Some(head) = relay.head.take() {
        let _ = head.send(outcome);
    }
    if !relay.session.has_connected() {
        // Nothing will connect any more worth waiting for.
        relay
            .session
            .abort(AbortCode::GATEWAY, "the response was decided without the function");
    }
}

/// Streams the client's request body into the session as the window allows.
async fn pump_request(shared: Shared, mut body: ByteStream) {
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            shared
                .borrow_mut()
                .session
                .abort(AbortCode::CLIENT_GONE, "the client's request body failed");
            drive(&shared);
            return;
        };
        let mut chunk = Bytes::from(chunk);
        let written = poll_fn(|cx| {
            let mut relay = shared.borrow_mut();
            let result = match relay.session.write(&mut chunk) {
                Ok(_) if chunk.is_empty() => Poll::Ready(Ok(())),
                Ok(_) | Err(StreamError::Blocked) => {
                    relay.request_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err(e)),
            };
            drop(relay);
            drive(&shared);
            result
        })
        .await;
        if written.is_err() {
            return;
        }
    }
    let _ = shared.borrow_mut().session.finish_request();
    drive(&shared);
}

/// The client's response body. Reading a part consumes it, which is what lets the session
/// acknowledge and the function send more: a slow client slows the function.
struct BodyStream {
    shared: Shared,
}

impl Stream for BodyStream {
    type Item = Result<Vec<u8>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut relay = self.shared.borrow_mut();
        let poll = match relay.session.read() {
            Ok(Some(ResponsePart::Data(data))) => Poll::Ready(Some(Ok(data.to_vec()))),
            // Workers cannot send trailers; the end is the end.
            Ok(Some(ResponsePart::End(_))) => Poll::Ready(None),
            Ok(Some(ResponsePart::Failed(e))) => Poll::Ready(Some(Err(worker::Error::RustError(format!(
                "the function failed after the head: {}",
                e.message
            ))))),
            Ok(Some(ResponsePart::Head(_))) => unreachable!("the head is read before the body"),
            Ok(None) => {
                relay.body_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Some(Err(worker::Error::RustError(format!("relay failed: {e}"))))),
        };
        drop(relay);
        if poll.is_ready() {
            drive(&self.shared);
        }
        poll
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        // Dropped before the end: the client went away. Tell the function to stop.
        let mut relay = self.shared.borrow_mut();
        if !relay.session.is_done() && relay.session.error().is_none() {
            relay.session.abort(AbortCode::CLIENT_GONE, "the client disconnected");
            drop(relay);
            drive(&self.shared);
        }
    }
}
