//! A client's WebSocket on the function side, once the handler accepted the upgrade
//! (docs/protocol.md, "WebSockets"): the request body read as the client's messages, the
//! response body written as the function's. The record layout and every limit are
//! `proto::websocket`'s.

use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};

use super::{Error, RequestBody, ResponseWriter};
use crate::proto::websocket::{close, Message, MessageDecoder, MAX_MESSAGE_BYTES};
use crate::proto::{self, ProtocolError, StreamError};

/// The client's messages, in order, read from the request body of an accepted upgrade.
#[derive(Debug)]
pub struct MessageReader {
    decoder: MessageDecoder,
    /// The client's close came (or the body ended): every later read says `None`.
    done: bool,
}

impl MessageReader {
    /// A reader of no messages yet.
    pub fn new() -> Self {
        Self {
            decoder: MessageDecoder::new(MAX_MESSAGE_BYTES),
            done: false,
        }
    }

    /// The next message; the client's close is the last one, `None` after it. An error when
    /// the relay failed or was aborted (the client left without a close:
    /// [`Error::is_aborted`]); `None` after that too.
    pub async fn recv(&mut self, body: &mut RequestBody) -> Result<Option<Message>, Error> {
        std::future::poll_fn(|cx| self.poll_recv(cx, body)).await
    }

    /// [`recv`](Self::recv), polled: for a `Stream` of messages.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>, body: &mut RequestBody) -> Poll<Result<Option<Message>, Error>> {
        loop {
            if self.done {
                return Poll::Ready(Ok(None));
            }
            match self.decoder.next_message() {
                Ok(Some(message)) => {
                    self.done = matches!(message, Message::Close { .. });
                    return Poll::Ready(Ok(Some(message)));
                }
                Ok(None) => {}
                Err(e) => {
                    // An error is the stream's last word: later reads say `None`.
                    self.done = true;
                    return Poll::Ready(Err(peer_error(e)));
                }
            }
            match ready!(body.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => self.decoder.push(&chunk),
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Err(e));
                }
                None => {
                    // The gateway ends the client's messages with a close; a body that ends
                    // without one ended inside a record or broke the rule.
                    self.done = true;
                    if let Err(e) = self.decoder.finish() {
                        return Poll::Ready(Err(peer_error(e)));
                    }
                    return Poll::Ready(Ok(Some(Message::Close {
                        code: close::NO_STATUS,
                        reason: String::new(),
                    })));
                }
            }
        }
    }
}

impl Default for MessageReader {
    fn default() -> Self {
        Self::new()
    }
}

fn peer_error(e: proto::websocket::MessageError) -> Error {
    Error::Session(proto::Error::Protocol(ProtocolError::Message(e)))
}

/// The function's messages to the client, written into the response of an accepted upgrade.
#[derive(Debug)]
pub struct MessageWriter {
    closed: bool,
}

impl MessageWriter {
    /// Accepts the upgrade with `headers` (a `sec-websocket-protocol` the client offered, any
    /// `set-cookie`): the gateway answers the client 101 and opens its socket.
    pub fn accept(writer: &mut ResponseWriter, headers: HeaderMap) -> Result<Self, Error> {
        writer.send_head(StatusCode::SWITCHING_PROTOCOLS, headers)?;
        Ok(Self { closed: false })
    }

    /// Sends a message, waiting for window. A close is the last message: it ends the
    /// response, and resolves once the gateway acknowledged it.
    pub async fn send(&mut self, writer: &mut ResponseWriter, message: Message) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Usage(StreamError::Finished));
        }
        let header = message
            .record_header(MAX_MESSAGE_BYTES)
            .map_err(|e| Error::Usage(StreamError::Message(e)))?;
        let is_close = matches!(message, Message::Close { .. });
        if is_close {
            self.closed = true;
        }
        writer.write(Bytes::copy_from_slice(&header)).await?;
        let payload = message.payload();
        if !payload.is_empty() {
            writer.write(payload).await?;
        }
        if is_close {
            writer.finish(HeaderMap::new()).await?;
        }
        Ok(())
    }

    /// Closes with `code` and `reason` ([`close::NO_STATUS`] and `""` for a close without a
    /// code), checked as a peer's close is.
    pub async fn close(&mut self, writer: &mut ResponseWriter, code: u16, reason: &str) -> Result<(), Error> {
        let message = Message::close(code, reason).map_err(|e| Error::Usage(StreamError::Message(e)))?;
        self.send(writer, message).await
    }

    /// Whether the close was sent.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}
