//! The Durable Object: one per client request. It mints the relay id and token, invokes the
//! function, admits the function's socket and turns the session's response parts into the
//! client's response as the client reads them.
//!
//! It is a thin driver of `GatewaySession`: every input (a socket message, a close, a timer,
//! the client reading, the invocation's result) goes to the session, then [`drive`] sends
//! what the session wants sent, arms its one timer and wakes whoever waits.
//!
//! Sockets use the standard WebSocket API (`accept()` and event listeners), not the
//! hibernation API: the session lives in this object's memory, and the client's open request
//! keeps the object in memory while the session lives, so nothing would survive a
//! hibernation worth waking for (docs/protocol.md, "Gateway side").

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;
use futures_util::StreamExt;
use lambda_relay::proto::{
    self, Abort, AbortCode, BodyMode, CloseCode, Exchange, Failure, Frame, GatewaySession, ResponseHead, ResponsePart,
    Timestamp, BODY_HEADER_LEN,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{BinaryType, CloseEvent, MessageEvent};
use worker::{
    durable_object, Delay, DurableObject, Env, Headers, Request, Response, ResponseBody, Result, State, WebSocket,
    WebSocketPair,
};

use crate::body::{pump_request, BodyStream};
use crate::config::GatewayConfig;
use crate::invoke;
use crate::web::{self, HeaderList};

/// One client request and its relay session.
#[durable_object]
pub struct RelaySession {
    state: State,
    env: Env,
    relay: RefCell<Option<Shared>>,
}

/// An event listener registered on a socket, kept alive as long as it is registered.
type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// The function's current socket and the listeners that feed it to the session; dropping it
/// removes them, so a replaced socket's late events never reach the session.
struct Socket {
    ws: WebSocket,
    listeners: [(&'static str, Listener); 3],
}

impl Socket {
    /// Accepts `ws` and routes its events to `shared`'s session.
    fn accept(ws: WebSocket, shared: &Shared) -> Result<Self> {
        ws.accept()?;
        let raw: &web_sys::WebSocket = ws.as_ref();
        // With recent compatibility dates the default is "blob"; the session needs the bytes.
        raw.set_binary_type(BinaryType::Arraybuffer);
        let weak = Rc::downgrade(shared);
        let on_message = Listener::new({
            let weak = weak.clone();
            move |event: web_sys::Event| {
                let Some(shared) = weak.upgrade() else { return };
                let Some(event) = event.dyn_ref::<MessageEvent>() else {
                    return;
                };
                socket_message(&shared, event);
            }
        });
        let on_close = Listener::new({
            let weak = weak.clone();
            move |event: web_sys::Event| {
                let Some(shared) = weak.upgrade() else { return };
                // 1005 (no code) and 1006 (no close frame) mean the peer sent no code.
                let code = event
                    .dyn_ref::<CloseEvent>()
                    .map(CloseEvent::code)
                    .filter(|c| *c != 1005 && *c != 1006)
                    .map(CloseCode);
                socket_gone(&shared, code);
            }
        });
        let on_error = Listener::new(move |_event: web_sys::Event| {
            if let Some(shared) = weak.upgrade() {
                socket_gone(&shared, None);
            }
        });
        let listeners = [("message", on_message), ("close", on_close), ("error", on_error)];
        for (kind, listener) in &listeners {
            raw.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
        }
        Ok(Self { ws, listeners })
    }

    fn close(self, code: CloseCode) {
        let _ = self.ws.close(Some(code.0), code.name());
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let raw: &web_sys::WebSocket = self.ws.as_ref();
        for (kind, listener) in &self.listeners {
            let _ = raw.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
    }
}

/// One message from the function. A body frame's payload never enters wasm memory: the
/// session judges its 13-byte header, and the payload goes to the client's stream as a view
/// of the message's own buffer. Other frames are small and are copied in whole.
fn socket_message(shared: &Shared, event: &MessageEvent) {
    {
        let mut guard = shared.borrow_mut();
        let relay = &mut *guard;
        // A failure is sticky in the session; drive() closes the socket with its code.
        match event.data().dyn_ref::<js_sys::ArrayBuffer>() {
            Some(buffer) => binary_message(relay, buffer),
            None => {
                let _ = relay.session.handle_text_message();
            }
        }
    }
    drive(shared);
}

fn binary_message(relay: &mut Relay, buffer: &js_sys::ArrayBuffer) {
    let len = buffer.byte_length() as usize;
    let head_len = len.min(BODY_HEADER_LEN) as u32;
    let head = js_sys::Uint8Array::new_with_byte_offset_and_length(buffer, 0, head_len).to_vec();
    let split = head.first().and_then(|first| Frame::external_split(len, *first));
    let now = web::now();
    match split {
        Some(at) => {
            let accepted = relay.session.handle_external_body(now, &Bytes::from(head), len - at);
            if accepted.is_ok() {
                let payload = js_sys::Uint8Array::new_with_byte_offset_and_length(buffer, at as u32, (len - at) as u32);
                relay.kept.push_back(payload);
            }
        }
        None if len <= BODY_HEADER_LEN => {
            let _ = relay.session.handle_message(now, &Bytes::from(head));
        }
        None => {
            let whole = js_sys::Uint8Array::new(buffer).to_vec();
            let _ = relay.session.handle_message(now, &Bytes::from(whole));
        }
    }
}

fn socket_gone(shared: &Shared, code: Option<CloseCode>) {
    {
        let mut relay = shared.borrow_mut();
        relay.socket = None;
        relay.session.socket_closed(web::now(), code);
    }
    drive(shared);
}

/// The relay, shared by the tasks that drive it.
pub(crate) type Shared = Rc<RefCell<Relay>>;

/// Everything a relay's tasks share: the session and the I/O objects around it.
pub(crate) struct Relay {
    pub(crate) session: GatewaySession,
    /// Body payloads the session accepted by their header (`ResponsePart::External`), in
    /// order: views of the messages they arrived in.
    pub(crate) kept: std::collections::VecDeque<js_sys::Uint8Array>,
    socket: Option<Socket>,
    /// Resolves the client's response once the head (or a failure) is known.
    start: Option<oneshot::Sender<Start>>,
    /// The client's body stream, waiting for parts.
    pub(crate) body_waker: Option<Waker>,
    /// The request body pump, waiting for window.
    pub(crate) request_waker: Option<Waker>,
    /// The deadline a timer task is armed for.
    timer_at: Option<Timestamp>,
}

/// How the client's response starts.
pub(crate) enum Start {
    /// The function's head: stream its body.
    Head(ResponseHead),
    /// A failure before the head.
    Failed(Failure),
    /// A function that is not relay-aware: its own response.
    PassThrough(Response),
    /// The function's response from the invocation result (outcome `complete`).
    Inline(Response),
}

impl Relay {
    /// Starts the client's response, once.
    pub(crate) fn start(&mut self, start: Start) {
        if let Some(tx) = self.start.take() {
            let _ = tx.send(start);
        }
    }
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
            Err(reason) => return web::failure_response(&Failure::misconfigured(reason)),
        };
        if req.path().starts_with(config.socket_path.as_str()) {
            self.accept_socket(req)
        } else {
            self.relay_request(req, config).await
        }
    }
}

impl RelaySession {
    /// The function's socket: the edge ran `check_upgrade`; the session decides the rest.
    fn accept_socket(&self, req: Request) -> Result<Response> {
        let Some(shared) = self.relay.borrow().clone() else {
            return web::failure_response(&Failure::socket_refused(proto::UpgradeRefusal::UNKNOWN_RELAY));
        };
        let headers = HeaderList::of(req.headers());
        let upgrade = headers.upgrade();
        {
            let mut relay = shared.borrow_mut();
            if let Err(refusal) = relay.session.admit_socket(&upgrade) {
                return web::failure_response(&Failure::socket_refused(refusal));
            }
            let pair = WebSocketPair::new()?;
            let socket = Socket::accept(pair.server, &shared)?;
            if let Some(old) = relay.socket.replace(socket) {
                old.close(CloseCode::REPLACED);
            }
            relay.session.socket_accepted(web::now(), &upgrade);
            drop(relay);
            drive(&shared);
            let out = Headers::new();
            out.set("sec-websocket-protocol", proto::SUBPROTOCOL)?;
            Ok(Response::from_websocket(pair.client)?.with_headers(out))
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

        let headers = HeaderList::of(req.headers());
        let length = headers.get("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let has_body = req.inner().body().is_some() && length != Some(0);
        let mode = BodyMode::choose(has_body, length, config.inline_body_limit);
        let method = req.method();
        let exchange = Exchange::for_method(mode, method.as_ref());
        let invocation = invoke::request(&mut req, &config, &headers, &relay_id, &token, mode, has_body).await?;

        let session = match GatewaySession::new(config.session.clone(), exchange, token, web::now()) {
            Ok(s) => s,
            Err(e) => return web::failure_response(&Failure::misconfigured(e.to_string())),
        };
        let (start_tx, start_rx) = oneshot::channel();
        let shared = Rc::new(RefCell::new(Relay {
            session,
            kept: std::collections::VecDeque::new(),
            socket: None,
            start: Some(start_tx),
            body_waker: None,
            request_waker: None,
            timer_at: None,
        }));
        *self.relay.borrow_mut() = Some(shared.clone());

        spawn_local(invoke::send(shared.clone(), invocation));
        if mode == BodyMode::Stream {
            spawn_local(pump_request(shared.clone(), req.stream()?));
        }
        drive(&shared);

        let start = start_rx.await.unwrap_or_else(|_| {
            Start::Failed(Failure::from_error(&proto::Error::Aborted(Abort {
                code: AbortCode::GATEWAY,
                reason: "the relay ended before a response".into(),
            })))
        });
        match start {
            Start::Head(head) => {
                let status = head.status.as_u16();
                let has_body = exchange.response_has_body(status);
                let headers = web::client_headers(&head, has_body, exchange.head_request)?;
                if has_body {
                    let body = wasm_streams::ReadableStream::from_stream(BodyStream::new(shared)).into_raw();
                    Ok(Response::from_body(ResponseBody::Stream(body))?
                        .with_status(status)
                        .with_headers(headers))
                } else {
                    // The function still ends its (empty) body; read it so the session completes.
                    spawn_local(BodyStream::new(shared).for_each(|_| async {}));
                    Ok(Response::empty()?.with_status(status).with_headers(headers))
                }
            }
            Start::Failed(failure) => web::failure_response(&failure),
            Start::PassThrough(response) => Ok(response),
            Start::Inline(response) => {
                let status = response.status_code();
                let headers = web::inline_headers(response.headers(), status, exchange.head_request)?;
                let (_, body) = response.into_parts();
                Ok(Response::from_body(body)?.with_status(status).with_headers(headers))
            }
        }
    }
}

/// Sends what the session wants sent, closes the socket when it says so, starts the
/// client's response once the head or a failure is known, wakes the waiting streams and
/// arms the timer.
pub(crate) fn drive(shared: &Shared) {
    let mut guard = shared.borrow_mut();
    let relay = &mut *guard;
    if relay.start.is_some() {
        let start = match relay.session.read() {
            Ok(Some(ResponsePart::Head(head))) => Some(Start::Head(head)),
            Ok(Some(ResponsePart::Failed(e))) => Some(Start::Failed(Failure::from_function(&e))),
            Ok(Some(_)) => unreachable!("the session delivers the head first"),
            Ok(None) => None,
            Err(e) => Some(Start::Failed(Failure::from_error(&e))),
        };
        if let Some(start) = start {
            relay.start(start);
        }
    }
    if let Some(socket) = &relay.socket {
        while let Some(message) = relay.session.poll_transmit() {
            if socket.ws.send_with_bytes(&message).is_err() {
                break;
            }
        }
        let close = match relay.session.poll_close() {
            Some(code) => Some(code),
            // The session gave up on this socket (the function fell silent); it may resume.
            None if !relay.session.is_connected() => Some(CloseCode::GOING_AWAY),
            None => None,
        };
        if let Some(code) = close {
            if let Some(socket) = relay.socket.take() {
                socket.close(code);
            }
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
    if over || relay.session.send_capacity() > 0 || !relay.session.wants_request_body() {
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
