//! The Durable Object: one per client request. It mints the relay id and token, invokes the
//! function, admits the function's socket and turns the session's response parts into the
//! client's response as the client reads them.
//!
//! It is a thin driver of `GatewaySession`: every input (a socket message, a close, a timer,
//! the client reading, the invocation's result) goes to the session, then [`drive`] sends
//! what the session wants sent, arms its one timer and wakes whoever waits.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;
use futures_util::StreamExt;
use lambda_relay::proto::{
    self, Abort, AbortCode, BodyMode, CloseCode, Exchange, Failure, GatewaySession, ResponseHead, ResponsePart,
    Timestamp,
};
use wasm_bindgen_futures::spawn_local;
use worker::{
    durable_object, Delay, DurableObject, Env, Headers, Request, Response, Result, State, WebSocket,
    WebSocketIncomingMessage, WebSocketPair,
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

/// The relay, shared by the tasks that drive it.
pub(crate) type Shared = Rc<RefCell<Relay>>;

/// Everything a relay's tasks share: the session and the I/O objects around it.
pub(crate) struct Relay {
    pub(crate) session: GatewaySession,
    socket: Option<WebSocket>,
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

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        let Some(shared) = self.current(&ws) else {
            return Ok(());
        };
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
    /// The relay, if `ws` is its current socket. Any other socket (a replaced one, or one
    /// whose session is gone) is closed with a final code, so its function stops.
    fn current(&self, ws: &WebSocket) -> Option<Shared> {
        let shared = self.relay.borrow().clone();
        let current = shared.filter(|s| s.borrow().socket.as_ref() == Some(ws));
        if current.is_none() {
            let _ = ws.close(Some(CloseCode::GONE.0), CloseCode::GONE.name());
        }
        current
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
            self.state.accept_web_socket(&pair.server);
            if let Some(old) = relay.socket.replace(pair.server) {
                let _ = old.close(Some(CloseCode::REPLACED.0), CloseCode::REPLACED.name());
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
                    Ok(Response::from_stream(BodyStream::new(shared))?
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
