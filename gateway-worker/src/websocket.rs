//! A client's WebSocket, once the function accepted it (docs/protocol.md, "WebSockets"): the
//! client's messages become records of the request body, the function's records become the
//! client's messages. The rules (record layout, limits, close codes) are
//! `proto::websocket`'s; this is the wiring to workerd's socket.
//!
//! workerd delivers a client's messages as events, without backpressure, so the ones the
//! function's window has not taken wait here, at most `CLIENT_BACKLOG_BYTES`; past that the
//! client is closed (1008), never buffered without bound. The runtime answers the client's
//! pings itself.

use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use lambda_relay::proto::websocket::{
    client_close_for_failure, close, Message, MessageDecoder, CLIENT_BACKLOG_BYTES, MAX_MESSAGE_BYTES,
};
use lambda_relay::proto::{AbortCode, FunctionError, ResponsePart, StreamError};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent};
use worker::{Headers, Response, Result, WebSocket, WebSocketPair};

use crate::driver::{drive, Driver, DriverRef};
use crate::web;

type Listener = Closure<dyn FnMut(web_sys::Event)>;

/// The client's side of an accepted upgrade.
pub(crate) struct ClientSocket {
    ws: WebSocket,
    listeners: [(&'static str, Listener); 3],
    /// Records of the client's messages the window has not taken yet, oldest first.
    backlog: VecDeque<Bytes>,
    backlog_bytes: usize,
    /// The request body ends once the backlog is sent: the client closed.
    end_after_backlog: bool,
    /// The function's messages, joined from its response body.
    decoder: MessageDecoder,
    /// The client's socket was closed (by either side): nothing more goes to it.
    closed: bool,
}

impl Drop for ClientSocket {
    fn drop(&mut self) {
        let raw: &web_sys::WebSocket = self.ws.as_ref();
        for (kind, listener) in &self.listeners {
            let _ = raw.remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
        }
    }
}

/// Accepts the client's upgrade: the 101 response (with the subprotocol and the headers the
/// function chose) and its socket, bridged to the session.
pub(crate) fn accept(driver: &DriverRef, headers: Headers) -> Result<Response> {
    let pair = WebSocketPair::new()?;
    let ws = pair.server;
    ws.accept()?;
    let raw: &web_sys::WebSocket = ws.as_ref();
    raw.set_binary_type(BinaryType::Arraybuffer);
    let weak = Rc::downgrade(driver);
    let on_message = Listener::new({
        let weak = weak.clone();
        move |event: web_sys::Event| {
            let (Some(driver), Some(event)) = (weak.upgrade(), event.dyn_ref::<MessageEvent>()) else {
                return;
            };
            let data = event.data();
            let message = match data.as_string() {
                Some(text) => Message::Text(text),
                None => match data.dyn_ref::<js_sys::ArrayBuffer>() {
                    Some(buffer) => Message::Binary(Bytes::from(js_sys::Uint8Array::new(buffer).to_vec())),
                    None => return,
                },
            };
            client_message(&driver, message);
        }
    });
    let on_close = Listener::new({
        let weak = weak.clone();
        move |event: web_sys::Event| {
            let (Some(driver), Some(event)) = (weak.upgrade(), event.dyn_ref::<CloseEvent>()) else {
                return;
            };
            client_closed(&driver, event.code(), &event.reason());
        }
    });
    let on_error = Listener::new(move |_event: web_sys::Event| {
        if let Some(driver) = weak.upgrade() {
            client_closed(&driver, close::ABNORMAL, "");
        }
    });
    let listeners = [("message", on_message), ("close", on_close), ("error", on_error)];
    for (kind, listener) in &listeners {
        raw.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref())?;
    }
    driver.borrow_mut().client_socket = Some(ClientSocket {
        ws,
        listeners,
        backlog: VecDeque::new(),
        backlog_bytes: 0,
        end_after_backlog: false,
        decoder: MessageDecoder::new(MAX_MESSAGE_BYTES),
        closed: false,
    });
    // Messages the function sent right after its 101 wait in the session: deliver them now.
    drive(driver);
    Ok(Response::from_websocket(pair.client)?.with_headers(headers))
}

/// A message from the client: queued as a record for the function.
fn client_message(driver: &DriverRef, message: Message) {
    {
        let mut guard = driver.borrow_mut();
        let state = &mut *guard;
        let Some(socket) = state.client_socket.as_mut() else {
            return;
        };
        if socket.closed || socket.end_after_backlog {
            return;
        }
        match message.encode(MAX_MESSAGE_BYTES) {
            Ok(record) if socket.backlog_bytes + record.len() <= CLIENT_BACKLOG_BYTES => {
                socket.backlog_bytes += record.len();
                socket.backlog.push_back(record);
            }
            Ok(_) => close_both(
                socket,
                close::POLICY_VIOLATION,
                "the client sends messages faster than the function reads them",
            ),
            Err(e) => close_both(socket, e.close_code(), &e.to_string()),
        }
    }
    drive(driver);
}

/// Closes the client with `code` and tells the function the same, after what it already has.
fn close_both(socket: &mut ClientSocket, code: u16, reason: &str) {
    close_client(socket, code, reason);
    end_requests(socket, code, reason);
}

/// The function's messages end with a close of `code`, after the backlog.
fn end_requests(socket: &mut ClientSocket, code: u16, reason: &str) {
    if socket.end_after_backlog {
        return;
    }
    let close = Message::close(code, reason).unwrap_or(Message::Close {
        code: close::NO_STATUS,
        reason: String::new(),
    });
    if let Ok(record) = close.encode(MAX_MESSAGE_BYTES) {
        socket.backlog_bytes += record.len();
        socket.backlog.push_back(record);
    }
    socket.end_after_backlog = true;
}

fn close_client(socket: &mut ClientSocket, code: u16, reason: &str) {
    if socket.closed {
        return;
    }
    socket.closed = true;
    let result = if code == close::NO_STATUS {
        socket.ws.close::<&str>(None, None)
    } else {
        socket.ws.close(Some(code), Some(reason))
    };
    if let Err(e) = result {
        worker::console_warn!("lambda-relay: closing the client's WebSocket failed: {e:?}");
    }
}

/// The client closed (or its connection ended without a close: `ABNORMAL`).
fn client_closed(driver: &DriverRef, code: u16, reason: &str) {
    {
        let mut guard = driver.borrow_mut();
        let state = &mut *guard;
        let Some(socket) = state.client_socket.as_mut() else {
            return;
        };
        let was_closed = socket.closed;
        socket.closed = true;
        if was_closed {
            // A close already went one way or the other; the connection ending after it (the
            // runtime reports an error then) changes nothing.
        } else if code == close::ABNORMAL {
            // No close frame: the client is gone, as a client that leaves a response.
            state
                .session
                .abort(AbortCode::CLIENT_GONE, "the client's WebSocket ended without a close");
        } else {
            let code = if code == close::NO_STATUS || close_code_ok(code) {
                code
            } else {
                close::NO_STATUS
            };
            end_requests(socket, code, if code == close::NO_STATUS { "" } else { reason });
        }
    }
    drive(driver);
}

fn close_code_ok(code: u16) -> bool {
    lambda_relay::proto::websocket::valid_close_code(code)
}

/// Moves the client's messages into the window and the function's to the client. Called by
/// [`drive`] while an accepted upgrade is open.
pub(crate) fn pump(state: &mut Driver) {
    let Some(socket) = state.client_socket.as_mut() else {
        return;
    };
    let now = web::now();
    // Client → function, as the window allows.
    while let Some(front) = socket.backlog.front_mut() {
        if !state.session.wants_request_body() {
            socket.backlog.clear();
            socket.backlog_bytes = 0;
            break;
        }
        let before = front.len();
        match state.session.write(now, front) {
            Ok(taken) => socket.backlog_bytes -= taken.min(before),
            Err(StreamError::Blocked) => break,
            Err(_) => {
                socket.backlog.clear();
                socket.backlog_bytes = 0;
                break;
            }
        }
        if front.is_empty() {
            socket.backlog.pop_front();
        }
    }
    if socket.end_after_backlog && socket.backlog.is_empty() && state.session.wants_request_body() {
        let _ = state.session.finish_request();
    }
    // Function → client, as it comes: the client's socket takes what it is sent.
    loop {
        let part = match state.session.read() {
            Ok(Some(part)) => part,
            Ok(None) => break,
            Err(e) => {
                let (code, reason) = client_close_for_failure(None, Some(&e as &dyn std::fmt::Display));
                close_client(socket, code, &reason);
                break;
            }
        };
        match part {
            ResponsePart::Data(data) => socket.decoder.push(&data),
            ResponsePart::External(_) => {
                if let Some(payload) = state.external_payloads.pop_front() {
                    socket.decoder.push(&payload.to_vec());
                }
            }
            ResponsePart::Head(_) => {}
            ResponsePart::End(_) => {
                deliver(socket);
                let unfinished = socket.decoder.finish().err();
                let failure = unfinished.map(|e| FunctionError {
                    code: lambda_relay::proto::ErrorCode::INTERNAL,
                    message: e.to_string(),
                });
                let (code, reason) = client_close_for_failure(failure.as_ref(), None);
                close_client(socket, code, &reason);
                continue;
            }
            ResponsePart::Failed(failure) => {
                deliver(socket);
                let (code, reason) = client_close_for_failure(Some(&failure), None);
                close_client(socket, code, &reason);
                continue;
            }
        }
        deliver(socket);
    }
}

/// Sends the client every whole message the decoder holds.
fn deliver(socket: &mut ClientSocket) {
    loop {
        let message = match socket.decoder.next_message() {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(e) => {
                close_client(socket, close::INTERNAL_ERROR, &e.to_string());
                return;
            }
        };
        if socket.closed {
            continue;
        }
        let sent = match message {
            Message::Text(text) => socket.ws.send_with_str(&text),
            Message::Binary(bytes) => socket.ws.send_with_bytes(&bytes),
            Message::Close { code, reason } => {
                close_client(socket, code, &reason);
                Ok(())
            }
        };
        if let Err(e) = sent {
            worker::console_warn!("lambda-relay: sending to the client's WebSocket failed: {e:?}");
        }
    }
}
