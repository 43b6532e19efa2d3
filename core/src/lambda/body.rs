//! The body type handlers see and may return.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body::{Frame, SizeHint};

use crate::client::RequestBody;

/// A boxed error, as bodies report them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request or response body: empty, whole, a stream of `Bytes`, or (for requests) the
/// body streaming from the gateway. Implements both [`http_body::Body`] and [`Stream`].
pub struct Body {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Stream(Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>),
    Channel {
        rx: tokio::sync::mpsc::Receiver<Piece>,
        /// The body ended (finished, failed, or abandoned): nothing more is read.
        done: bool,
    },
    Socket(RequestBody),
}

/// What a [`BodySender`] hands the body.
#[derive(Debug)]
enum Piece {
    Data(Bytes),
    End,
    Fail(String),
}

/// The sending half of [`Body::channel`]: each chunk sent is a piece of the body, in order.
/// The body is complete only once [`finish`](Self::finish) is called: if every sender is
/// dropped before that (a producer that failed, a task that panicked), the body fails and
/// the client's transfer is aborted, so a cut-short body never passes for a whole one.
#[derive(Clone, Debug)]
pub struct BodySender(tokio::sync::mpsc::Sender<Piece>);

/// The body's reader is gone (the response was cancelled or failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the response body is no longer read")]
pub struct BodyClosed;

impl BodySender {
    /// Sends a chunk; waits while earlier chunks are still unread (backpressure).
    pub async fn send(&self, chunk: impl Into<Bytes>) -> Result<(), BodyClosed> {
        self.0.send(Piece::Data(chunk.into())).await.map_err(|_| BodyClosed)
    }

    /// Ends the body: the response is complete.
    pub async fn finish(self) -> Result<(), BodyClosed> {
        self.0.send(Piece::End).await.map_err(|_| BodyClosed)
    }

    /// Fails the body with `reason`: the client's transfer is aborted (before the head, the
    /// client gets a 502 naming it).
    pub async fn fail(self, reason: impl fmt::Display) -> Result<(), BodyClosed> {
        self.0
            .send(Piece::Fail(reason.to_string()))
            .await
            .map_err(|_| BodyClosed)
    }
}

/// Why a channel body failed without a reason of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the body's senders were dropped before it was finished")]
pub struct BodyAbandoned;

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Self { kind: Kind::Full(None) }
    }

    /// A body that streams whatever `stream` yields, in order.
    pub fn from_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Self {
            kind: Kind::Stream(Box::pin(stream.map(|r| r.map_err(Into::into)))),
        }
    }

    /// A body that code elsewhere writes into, chunk by chunk: send on the sender, then
    /// [`finish`](BodySender::finish) it (dropping it unfinished fails the body). Eight chunks
    /// may wait unread before `send` waits.
    pub fn channel() -> (BodySender, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        (
            BodySender(tx),
            Self {
                kind: Kind::Channel { rx, done: false },
            },
        )
    }

    pub(crate) fn relay(body: RequestBody) -> Self {
        Self {
            kind: Kind::Socket(body),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Full(b) => {
                return f
                    .debug_tuple("Body::Full")
                    .field(&b.as_ref().map_or(0, Bytes::len))
                    .finish()
            }
            Kind::Stream(_) => "Stream",
            Kind::Channel { .. } => "Channel",
            Kind::Socket(_) => "Socket",
        };
        f.debug_tuple("Body").field(&kind).finish()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self {
            kind: Kind::Full((!b.is_empty()).then_some(b)),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Self::empty()
    }
}

impl Stream for Body {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.get_mut().kind {
            Kind::Full(b) => Poll::Ready(b.take().map(Ok)),
            Kind::Stream(s) => s.as_mut().poll_next(cx),
            Kind::Channel { done: true, .. } => Poll::Ready(None),
            Kind::Channel { rx, done } => rx.poll_recv(cx).map(|piece| match piece {
                Some(Piece::Data(b)) => Some(Ok(b)),
                Some(Piece::End) => {
                    *done = true;
                    None
                }
                Some(Piece::Fail(reason)) => {
                    *done = true;
                    Some(Err(reason.into()))
                }
                None => {
                    *done = true;
                    Some(Err(BodyAbandoned.into()))
                }
            }),
            Kind::Socket(r) => Pin::new(r).poll_next(cx).map(|o| o.map(|r| r.map_err(Into::into))),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.poll_next(cx).map(|o| o.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.kind, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            _ => SizeHint::default(),
        }
    }
}
