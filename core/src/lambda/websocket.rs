//! A client's WebSocket, taken by a handler as axum's `WebSocketUpgrade` is
//! (docs/protocol.md, "WebSockets"): the gateway invokes the function with the client's
//! upgrade request, and the handler either answers it with any HTTP response (a refusal) or
//! accepts it with [`WebSocketUpgrade::on_upgrade`], whose callback gets a [`WebSocket`]: a
//! `Stream` of the client's messages and a `Sink` of the function's.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use lambda_relay::http::{Request, Response};
//! use lambda_relay::lambda::websocket::{Message, WebSocketUpgrade};
//! use lambda_relay::lambda::Body;
//!
//! async fn handler(mut request: Request<Body>) -> Result<Response<Body>, std::convert::Infallible> {
//!     let upgrade = match WebSocketUpgrade::from_request(&mut request) {
//!         Ok(upgrade) => upgrade,
//!         Err(not_one) => return Ok(not_one.into_response()),
//!     };
//!     Ok(upgrade.protocols(["chat.v1"]).on_upgrade(|mut socket| async move {
//!         while let Some(Ok(message)) = socket.next().await {
//!             if matches!(message, Message::Close { .. }) || socket.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }))
//! }
//! ```
//!
//! The invocation lasts while the socket is open: it ends once the callback returned and the
//! close went out (the client's close is answered with its own code when the callback has not
//! closed first; a callback that returns without closing closes with 1000). The gateway
//! answers pings; message sizes and the deadline's close are `proto::websocket`'s.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Sink, Stream, StreamExt};
use http::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderMap, Request, Response, StatusCode};

use super::Body;
use crate::client::websocket::{MessageReader, MessageWriter};
use crate::client::{Error, RequestBody, ResponseWriter};
use crate::proto::websocket::close;
pub use crate::proto::websocket::{Message, MessageError, MAX_MESSAGE_BYTES};
use crate::proto::{ErrorCode, StreamError};

/// Marks the request of a relayed WebSocket upgrade and holds the client's message stream
/// until a handler takes it (request extensions are cloned, hence the shared slot).
#[derive(Clone)]
pub(super) struct Upgradable(Arc<Mutex<Option<RequestBody>>>);

impl Upgradable {
    pub(super) fn new(body: RequestBody) -> Self {
        Self(Arc::new(Mutex::new(Some(body))))
    }
}

type Callback = Box<dyn FnOnce(WebSocket) -> BoxFuture<'static, ()> + Send>;

/// What [`WebSocketUpgrade::on_upgrade`] leaves in its 101 response's extensions for the
/// invocation to run once the head went out.
#[derive(Clone)]
pub(super) struct Accepted(Arc<Mutex<Option<(RequestBody, Callback)>>>);

/// Why a request cannot be upgraded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// The request is not a client's WebSocket upgrade relayed by the gateway (a plain
    /// request, or a direct invocation: a Function URL cannot hold a WebSocket).
    #[error("not a client's WebSocket upgrade relayed by the gateway")]
    NotAnUpgrade,
    /// The upgrade was already taken from this request (or a clone of it).
    #[error("the WebSocket upgrade was already taken")]
    AlreadyTaken,
}

impl UpgradeError {
    /// The answer for a client whose request cannot be upgraded: 400 with the reason (a
    /// WebSocket handler reached without an upgrade), or 500 for an upgrade taken twice.
    pub fn into_response(self) -> Response<Body> {
        let status = match self {
            UpgradeError::NotAnUpgrade => StatusCode::BAD_REQUEST,
            UpgradeError::AlreadyTaken => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = Response::new(Body::from(self.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// A client's WebSocket upgrade, taken from its request: accept it with
/// [`on_upgrade`](Self::on_upgrade), or drop it and answer with any response to refuse.
pub struct WebSocketUpgrade {
    body: RequestBody,
    offered: Vec<String>,
    protocol: Option<HeaderValue>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("offered", &self.offered)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// Takes the upgrade from a request the gateway relayed (its body stays empty).
    pub fn from_request<B>(request: &mut Request<B>) -> Result<Self, UpgradeError> {
        Self::from_parts(request.headers(), request.extensions())
    }

    /// [`from_request`](Self::from_request) from a request's headers and extensions, as
    /// frameworks' extractors see them.
    pub fn from_parts(headers: &HeaderMap, extensions: &http::Extensions) -> Result<Self, UpgradeError> {
        let slot = extensions.get::<Upgradable>().ok_or(UpgradeError::NotAnUpgrade)?;
        let body = slot
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .ok_or(UpgradeError::AlreadyTaken)?;
        let offered = headers
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        Ok(Self {
            body,
            offered,
            protocol: None,
        })
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn offered_protocols(&self) -> &[String] {
        &self.offered
    }

    /// Chooses the first subprotocol the client offered that is in `supported` (none when
    /// they share none: the client then decides whether to stay).
    pub fn protocols<I>(mut self, supported: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let supported: Vec<I::Item> = supported.into_iter().collect();
        self.protocol = self
            .offered
            .iter()
            .find(|offered| supported.iter().any(|s| s.as_ref() == offered.as_str()))
            .and_then(|p| HeaderValue::from_str(p).ok());
        self
    }

    /// The subprotocol chosen by [`protocols`](Self::protocols).
    pub fn selected_protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// Accepts: the handler returns this 101 response (headers may be added to it, such as
    /// `set-cookie`); once its head is on its way to the gateway, `callback` runs with the
    /// socket (messages it sends follow the head).
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response<Body>
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let callback: Callback = Box::new(move |socket| callback(socket).boxed());
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        if let Some(protocol) = self.protocol {
            response.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        response
            .extensions_mut()
            .insert(Accepted(Arc::new(Mutex::new(Some((self.body, callback))))));
        response
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Response<Body>;

    async fn from_request_parts(parts: &mut http::request::Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(&parts.headers, &parts.extensions).map_err(UpgradeError::into_response)
    }
}

/// The client's WebSocket on the function's side: a `Stream` of its messages (its close is
/// the last, then `None`; an error when the client left without one) and a `Sink` of the
/// function's (a close is the last one sent).
pub struct WebSocket {
    reader: MessageReader,
    body: RequestBody,
    outgoing: futures_channel::mpsc::Sender<Message>,
    /// Tells the writer the client's close, to answer it if the callback does not.
    client_closed: Option<tokio::sync::oneshot::Sender<(u16, String)>>,
    protocol: Option<HeaderValue>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// The subprotocol the upgrade chose.
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// The next message ([`StreamExt::next`], without the import).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.next().await
    }

    /// Closes with `code` (one a peer may send: 1000–1003, 1007–1014, 3000–4999) and `reason`
    /// (at most 123 bytes).
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        let message = Message::close(code, reason).map_err(|e| Error::Usage(StreamError::Message(e)))?;
        futures_util::SinkExt::send(self, message).await
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let message = match this.reader.poll_recv(cx, &mut this.body) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r.transpose(),
        };
        if let Some(Ok(Message::Close { code, reason })) = &message {
            if let Some(tell) = this.client_closed.take() {
                let _ = tell.send((*code, reason.clone()));
            }
        }
        Poll::Ready(message)
    }
}

impl Sink<Message> for WebSocket {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().outgoing.poll_ready(cx).map_err(|_| closed())
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        // A message the relay cannot carry is the caller's error, found before it is queued.
        message
            .record_header(MAX_MESSAGE_BYTES)
            .map_err(|e| Error::Usage(StreamError::Message(e)))?;
        self.get_mut().outgoing.start_send(message).map_err(|_| closed())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().outgoing)
            .poll_flush(cx)
            .map_err(|_| closed())
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().outgoing)
            .poll_close(cx)
            .map_err(|_| closed())
    }
}

/// Sending after the close (or after the relay ended).
fn closed() -> Error {
    Error::Usage(StreamError::Finished)
}

/// Runs an accepted upgrade: sends the 101 head, then the callback with its socket and the
/// writer of its messages side by side, until both are done.
pub(super) async fn serve(accepted: Accepted, headers: HeaderMap, writer: &mut ResponseWriter) -> Result<(), Error> {
    let Some((body, callback)) = accepted.0.lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return Err(Error::Usage(StreamError::Finished));
    };
    let protocol = headers.get(SEC_WEBSOCKET_PROTOCOL).cloned();
    let mut messages = match MessageWriter::accept(writer, headers) {
        Ok(messages) => messages,
        // A head the relay cannot carry (too many headers, say): the handler's error.
        Err(Error::Usage(usage)) => return writer.fail(ErrorCode::HANDLER, &usage.to_string()).await,
        Err(e) => return Err(e),
    };
    // One message waits while the writer sends the one before (backpressure past that).
    let (outgoing, mut queued) = futures_channel::mpsc::channel(0);
    let (client_closed, mut closed_by_client) = tokio::sync::oneshot::channel();
    let socket = WebSocket {
        reader: MessageReader::new(),
        body,
        outgoing,
        client_closed: Some(client_closed),
        protocol,
    };
    let app = callback(socket);
    // Moved in, so the queue closes as soon as the close went out: later sends fail.
    let write = async move {
        // The client's close was told, or can no longer be (the socket is gone): a oneshot
        // is never polled again after it answered.
        let mut told = false;
        loop {
            tokio::select! {
                // Messages already queued go before the reply to the client's close.
                biased;
                message = queued.next() => match message {
                    Some(message) => {
                        messages.send(writer, message).await?;
                        if messages.is_closed() {
                            return Ok(());
                        }
                    }
                    // The socket is gone (the callback returned without closing).
                    None => return messages.close(writer, close::NORMAL, "").await,
                },
                // The client closed first: answer with its code, as a WebSocket server does.
                closed = &mut closed_by_client, if !told => {
                    told = true;
                    if let Ok((code, reason)) = closed {
                        // A close without a code comes with no reason: it is repeated as it came.
                        return messages.close(writer, code, &reason).await;
                    }
                }
            }
        }
    };
    let mut app = std::pin::pin!(app);
    let mut write = std::pin::pin!(write);
    tokio::select! {
        // The relay failed under the writer: the callback's work ends with it.
        written = &mut write => {
            written?;
            app.await;
            Ok(())
        }
        () = &mut app => write.await,
    }
}
