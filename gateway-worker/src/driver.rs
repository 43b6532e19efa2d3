//! The driver of one relay session in the Durable Object, as `core/src/client/driver.rs` is
//! the function side's: every input (a socket message, a close, a timer, the client reading,
//! the invocation's result) goes to the `GatewaySession`, then [`drive`] sends what the
//! session wants sent, arms its one timer and wakes whoever waits.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;
use lambda_relay::proto::{
    self, AbortCode, CloseCode, Failure, GatewaySession, Intake, ResponseHead, ResponsePart, Timestamp, Transmit,
    UpgradeRequest,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{BinaryType, CloseEvent, MessageEvent};
use worker::{Delay, Response, Result, WebSocket};

use crate::budget::Share;
use crate::log::RequestLog;
use crate::web;

/// An event listener registered on a socket, kept alive as long as it is registered.
type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// The function's current socket and the listeners that feed it to the session; dropping it
/// removes them, so a replaced socket's late events never reach the session.
struct Socket {
    ws: WebSocket,
    listeners: [(&'static str, Listener); 3],
}

impl Socket {
    /// Accepts `ws` and routes its events to `driver`'s session.
    fn accept(ws: WebSocket, driver: &DriverRef) -> Result<Self> {
        ws.accept()?;
        let raw: &web_sys::WebSocket = ws.as_ref();
        // With recent compatibility dates the default is "blob"; the session needs the bytes.
        raw.set_binary_type(BinaryType::Arraybuffer);
        let weak = Rc::downgrade(driver);
        let on_message = Listener::new({
            let weak = weak.clone();
            move |event: web_sys::Event| {
                let Some(driver) = weak.upgrade() else { return };
                let Some(event) = event.dyn_ref::<MessageEvent>() else {
                    return;
                };
                socket_message(&driver, event);
            }
        });
        let on_close = Listener::new({
            let weak = weak.clone();
            move |event: web_sys::Event| {
                let Some(driver) = weak.upgrade() else { return };
                // 1005 (no code) and 1006 (no close frame) mean the peer sent no code.
                let code = event
                    .dyn_ref::<CloseEvent>()
                    .map(CloseEvent::code)
                    .filter(|c| *c != 1005 && *c != 1006)
                    .map(CloseCode);
                socket_gone(&driver, code);
            }
        });
        let on_error = Listener::new(move |_event: web_sys::Event| {
            if let Some(driver) = weak.upgrade() {
                socket_gone(&driver, None);
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
fn socket_message(driver: &DriverRef, event: &MessageEvent) {
    {
        let mut guard = driver.borrow_mut();
        let state = &mut *guard;
        let handled = match event.data().dyn_ref::<js_sys::ArrayBuffer>() {
            Some(buffer) => binary_message(state, buffer),
            None => Err(state.session.handle_text_message()),
        };
        if let Err(e) = handled {
            // Sticky in the session: drive() closes the socket with its code and fails the
            // client's response. Once per session, never per frame.
            worker::console_warn!("lambda-relay: the function's socket failed the session: {e}");
        }
    }
    drive(driver);
}

fn binary_message(state: &mut Driver, buffer: &js_sys::ArrayBuffer) -> std::result::Result<(), proto::Error> {
    let len = buffer.byte_length() as usize;
    let first = js_sys::Uint8Array::new_with_byte_offset_and_length(buffer, 0, len.min(1) as u32).to_vec();
    let Some(&first) = first.first() else {
        // An empty message: the session judges it (a decode error).
        return state.session.handle_message(web::now(), &Bytes::new());
    };
    let copy = |at: usize, n: usize| js_sys::Uint8Array::new_with_byte_offset_and_length(buffer, at as u32, n as u32);
    let now = web::now();
    match state.session.intake(len, first) {
        Intake::External(at) => {
            state
                .session
                .handle_external_body(now, &Bytes::from(copy(0, at).to_vec()), len - at)?;
            state.external_payloads.push_back(copy(at, len - at));
            Ok(())
        }
        Intake::Whole => state.session.handle_message(now, &Bytes::from(copy(0, len).to_vec())),
        Intake::Oversized => Err(state.session.handle_oversized_message(len)),
    }
}

fn socket_gone(driver: &DriverRef, code: Option<CloseCode>) {
    {
        let mut state = driver.borrow_mut();
        state.socket = None;
        state.session.socket_closed(web::now(), code);
    }
    drive(driver);
}

/// Acknowledged request frames' buffers kept for reuse: enough for a window of frames in
/// flight while the next ones fill.
const SPARE_FRAMES: usize = 8;

/// The driver's state, shared by the tasks that drive it.
pub(crate) type DriverRef = Rc<RefCell<Driver>>;

/// Everything the driving tasks share: the session and the I/O objects around it.
pub(crate) struct Driver {
    pub(crate) session: GatewaySession,
    /// Body payloads the session accepted by their header (`ResponsePart::External`), in
    /// order: views of the messages they arrived in, held outside the session.
    pub(crate) external_payloads: VecDeque<js_sys::Uint8Array>,
    /// Request body frames written by their length (`write_external`), header and payload as
    /// they go on the socket, by sequence number, until the function acknowledged them.
    pub(crate) request_frames: VecDeque<(u64, js_sys::Uint8Array)>,
    /// Buffers of acknowledged request frames, for the pump's next frames.
    pub(crate) spare_frames: Vec<js_sys::ArrayBuffer>,
    socket: Option<Socket>,
    /// Resolves the client's response once the head (or a failure) is known.
    start: Option<oneshot::Sender<Start>>,
    /// The client's body stream, waiting for parts.
    pub(crate) body_waker: Option<Waker>,
    /// The request body pump, waiting for window.
    pub(crate) request_waker: Option<Waker>,
    /// The frame the pump waits to write by its length: it is woken when that fits.
    pub(crate) request_frame_waits: Option<usize>,
    /// Whether the client's streamed body is still being read (pumped, or drained once the
    /// function wants no more): the response's end waits for it, so a client still uploading
    /// is not cut off under its writes before it read the answer.
    pub(crate) request_pending: bool,
    /// The client's body stream, holding the response's end until the request is read.
    pub(crate) end_waker: Option<Waker>,
    /// The deadline a timer task is armed for.
    timer_at: Option<Timestamp>,
    /// The request's log line, written once the exchange is over.
    pub(crate) log: RequestLog,
    /// The client's WebSocket, once the function accepted its upgrade.
    pub(crate) client_socket: Option<crate::websocket::ClientSocket>,
    /// The session's part of the isolate's buffer budget, until it ends.
    share: Option<Share>,
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

impl Driver {
    /// The state of a new session admitted with `share` ([`admit`]), whose client's response
    /// starts through `start`.
    pub(crate) fn new(
        session: GatewaySession,
        share: Share,
        start: oneshot::Sender<Start>,
        log: RequestLog,
    ) -> DriverRef {
        Rc::new(RefCell::new(Self {
            session,
            external_payloads: VecDeque::new(),
            request_frames: VecDeque::new(),
            spare_frames: Vec::new(),
            socket: None,
            start: Some(start),
            body_waker: None,
            request_waker: None,
            request_frame_waits: None,
            request_pending: false,
            end_waker: None,
            timer_at: None,
            log,
            client_socket: None,
            share: Some(share),
        }))
    }

    /// Whether a recheck of the isolate's budget should go on for this session: it is still
    /// held below its window by its share (and not over).
    pub(crate) fn keep_rechecking(&mut self) -> bool {
        self.share.as_mut().is_some_and(Share::keep_rechecking)
    }

    /// Starts the client's response, once.
    pub(crate) fn start(&mut self, start: Start) {
        if let Some(tx) = self.start.take() {
            let _ = tx.send(start);
        }
    }
}

/// Accepts an admitted socket `ws` as the session's current one; a socket it replaces is
/// closed with `REPLACED`.
pub(crate) fn attach_socket(driver: &DriverRef, ws: WebSocket, upgrade: &UpgradeRequest<'_>) -> Result<()> {
    let socket = Socket::accept(ws, driver)?;
    let mut state = driver.borrow_mut();
    if let Some(old) = state.socket.replace(socket) {
        old.close(CloseCode::REPLACED);
    }
    state.session.socket_accepted(web::now(), upgrade);
    drop(state);
    drive(driver);
    Ok(())
}

/// Sends what the session wants sent, closes the socket when it says so, starts the
/// client's response once the head or a failure is known, wakes the waiting streams and
/// arms the timer.
/// The client went away: the function is told at once (an `Abort`, or a 410 to a socket that
/// comes later), unless the exchange already ended.
pub(crate) fn client_left(driver: &DriverRef, reason: &str) {
    let mut relay = driver.borrow_mut();
    if !relay.session.is_done() && relay.session.error().is_none() {
        relay.session.abort(AbortCode::CLIENT_GONE, reason);
        drop(relay);
        drive(driver);
    }
}

pub(crate) fn drive(driver: &DriverRef) {
    let mut guard = driver.borrow_mut();
    let state = &mut *guard;
    if state.start.is_some() {
        let start = match state.session.read() {
            Ok(Some(ResponsePart::Head(head))) => Some(Start::Head(head)),
            Ok(Some(ResponsePart::Failed(e))) => Some(Start::Failed(Failure::from_function(&e))),
            Ok(Some(_)) => unreachable!("the session delivers the head first"),
            Ok(None) => None,
            Err(e) => Some(Start::Failed(Failure::from_error(&e))),
        };
        if let Some(start) = start {
            state.start(start);
        }
    }
    crate::websocket::pump(state);
    if let Some(share) = &mut state.share {
        // Before transmitting: a limit raised since frees withheld acks now.
        share.update(driver, &mut state.session);
    }
    if let Some(socket) = &state.socket {
        let raw: &web_sys::WebSocket = socket.ws.as_ref();
        let mut lost = false;
        while let Some(transmit) = state.session.poll_transmit_parts() {
            let sent = match transmit {
                Transmit::Message(message) => raw.send_with_u8_array(&message),
                Transmit::External(seq) => match state.request_frames.iter().find(|(s, _)| *s == seq) {
                    Some((_, frame)) => raw.send_with_array_buffer_view(frame),
                    None => {
                        // Ours, not the function's. Nothing after it may go on this socket, or
                        // the function would see a gap: the session is failed (if it still can
                        // be) and the socket closed as aborted.
                        state
                            .session
                            .abort(AbortCode::GATEWAY, "a request body frame was lost in the gateway");
                        lost = true;
                        break;
                    }
                },
            };
            if sent.is_err() {
                break;
            }
        }
        let close = match state.session.poll_close() {
            _ if lost => Some(CloseCode::ABORTED),
            Some(code) => Some(code),
            // The session gave up on this socket (the function fell silent); it may resume.
            None if !state.session.is_connected() => Some(CloseCode::GOING_AWAY),
            None => None,
        };
        if let Some(code) = close {
            if let Some(socket) = state.socket.take() {
                socket.close(code);
            }
        }
    }
    // Frames the function acknowledged are not needed for a resume any more.
    let acked = state.session.peer_acked();
    while state.request_frames.front().is_some_and(|(seq, _)| *seq < acked) {
        if let Some((_, frame)) = state.request_frames.pop_front() {
            if state.spare_frames.len() < SPARE_FRAMES {
                state.spare_frames.push(frame.buffer());
            }
        }
    }
    let over = state.session.error().is_some() || state.session.is_done();
    if over {
        // Nothing more is read from the session: its payloads and its budget go now, not
        // when the object is collected.
        state.external_payloads = VecDeque::new();
        state.request_frames = VecDeque::new();
        state.spare_frames = Vec::new();
        state.share = None;
    } else if let Some(share) = &mut state.share {
        share.update(driver, &mut state.session);
    }
    // Wake only who can progress: a stream woken for nothing would poll, call drive() and
    // be woken again, spinning the isolate.
    if over || state.session.has_readable() {
        if let Some(waker) = state.body_waker.take() {
            waker.wake();
        }
    }
    let room = match state.request_frame_waits {
        Some(len) => state.session.external_fits(len),
        None => state.session.send_capacity() > 0,
    };
    if over || room || !state.session.wants_request_body() {
        if let Some(waker) = state.request_waker.take() {
            waker.wake();
        }
    }
    if state.log.pending() {
        let summary = state.session.summary();
        if summary.outcome != "open" {
            state.log.write(&summary, web::now());
        }
    }
    let deadline = state.session.poll_timeout();
    if let Some(at) = deadline {
        if state.timer_at.is_none_or(|armed| at < armed) {
            state.timer_at = Some(at);
            drop(guard);
            spawn_local(timer(driver.clone(), at));
        }
    }
}

async fn timer(driver: DriverRef, at: Timestamp) {
    let wait = at.saturating_since(web::now());
    Delay::from(wait.max(Duration::from_millis(1))).await;
    {
        let mut state = driver.borrow_mut();
        if state.timer_at == Some(at) {
            state.timer_at = None;
        }
        state.session.handle_timeout(web::now());
    }
    drive(&driver);
}
