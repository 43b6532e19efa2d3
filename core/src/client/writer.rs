//! The response side of a relayed invocation.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::poll_fn;
use futures_util::Sink;
use http::{HeaderMap, StatusCode};
use tokio::io::AsyncWrite;

use super::{poll_state, Error, Inner, RelayStatus, SessionState, Wait};
use crate::proto::{ErrorCode, ResponseHead, StreamError};

/// Writes the response: [`send_head`](Self::send_head), then body bytes, then
/// [`finish`](Self::finish) or [`fail`](Self::fail).
///
/// Writes complete when the window takes the bytes. Dropping the writer before the response
/// ended fails it, so a cut-short body can never pass for a complete one.
pub struct ResponseWriter {
    inner: Arc<Inner>,
    /// An item accepted by `Sink::start_send` and not yet taken by the window.
    pending: Bytes,
}

impl ResponseWriter {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self {
            inner,
            pending: Bytes::new(),
        }
    }

    /// Queues the status and headers. Does not wait.
    pub fn send_head(&mut self, status: StatusCode, headers: HeaderMap) -> Result<(), Error> {
        let mut state = self.inner.lock();
        check_driver(&state)?;
        state.session.send_head(ResponseHead { status, headers })?;
        drop(state);
        self.inner.notify.notify_one();
        Ok(())
    }

    /// Answers in the invocation result instead (a small, complete response:
    /// `FunctionSession::respond_inline`); the caller returns it with outcome `complete`.
    /// Returns whether the response has a body (drop it if not).
    pub fn respond_inline(&mut self, status: StatusCode, body_len: usize) -> Result<bool, Error> {
        let mut state = self.inner.lock();
        check_driver(&state)?;
        Ok(state.session.respond_inline(status.as_u16(), body_len)?)
    }

    /// Whether the head was sent.
    pub fn head_sent(&self) -> bool {
        self.inner.lock().session.head_sent()
    }

    /// Writes all of `data`, waiting for window as needed.
    pub async fn write(&mut self, mut data: Bytes) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_bytes(cx, &mut data)).await
    }

    /// Moves `data` into the stream as the window allows; ready when all of it was taken.
    pub fn poll_write_bytes(&mut self, cx: &mut Context<'_>, data: &mut Bytes) -> Poll<Result<(), Error>> {
        poll_state(&self.inner, cx, Wait::Capacity, |state| {
            check_driver(state)?;
            match state.session.write(data) {
                Ok(_) if data.is_empty() => Poll::Ready(Ok(())),
                Ok(_) | Err(StreamError::Blocked) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e.into())),
            }
        })
    }

    /// Ends the response with `trailers` (usually empty) and waits until the gateway
    /// acknowledged the end.
    pub async fn finish(&mut self, trailers: HeaderMap) -> Result<(), Error> {
        let mut trailers = Some(trailers);
        poll_fn(|cx| self.poll_end(cx, &mut || End::Finish(trailers.take().unwrap_or_default()))).await
    }

    /// Fails the response and waits until the gateway acknowledged it: before the head the
    /// client gets a 502, after it an aborted transfer.
    pub async fn fail(&mut self, code: ErrorCode, message: &str) -> Result<(), Error> {
        poll_fn(|cx| self.poll_end(cx, &mut || End::Fail(code, message.to_owned()))).await
    }

    fn poll_end(&mut self, cx: &mut Context<'_>, end: &mut dyn FnMut() -> End) -> Poll<Result<(), Error>> {
        poll_state(&self.inner, cx, Wait::Done, |state| {
            if !state.session.response_closed() {
                check_driver(state)?;
                match end() {
                    End::Finish(trailers) => state.session.finish(trailers)?,
                    End::Fail(code, message) => state.session.fail(code, &message)?,
                }
            }
            if state.session.is_done() {
                return Poll::Ready(Ok(()));
            }
            check_driver(state)?;
            Poll::Pending
        })
    }

    /// Waits until the response's last frame (its end or its error) was acknowledged, or
    /// the relay failed.
    pub async fn closed(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            poll_state(&self.inner, cx, Wait::Done, |state| {
                if state.session.is_done() {
                    return Poll::Ready(Ok(()));
                }
                check_driver(state)?;
                Poll::Pending
            })
        })
        .await
    }

    /// The error that ended the relay, if one did.
    pub fn failure(&self) -> Option<Error> {
        self.inner.lock().failure()
    }

    /// The relay's status: cancelled (the client went away, the relay failed, the deadline
    /// passed), over.
    pub fn status(&self) -> RelayStatus {
        RelayStatus::of(&self.inner)
    }

    fn poll_flush_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.pending.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let mut pending = std::mem::take(&mut self.pending);
        let poll = self.poll_write_bytes(cx, &mut pending);
        self.pending = pending;
        poll
    }
}

enum End {
    Finish(HeaderMap),
    Fail(ErrorCode, String),
}

fn check_driver(state: &SessionState) -> Result<(), Error> {
    match state.failure() {
        Some(e) => Err(e),
        None if state.driver_done => Err(Error::Closed),
        None => Ok(()),
    }
}

impl Drop for ResponseWriter {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        if !state.session.response_closed() && state.failure().is_none() {
            let _ = state
                .session
                .fail(ErrorCode::INTERNAL, "response writer dropped before the end");
            drop(state);
            self.inner.notify.notify_one();
        }
    }
}

impl AsyncWrite for ResponseWriter {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        poll_state(&self.inner, cx, Wait::Capacity, |state| {
            check_driver(state)?;
            state.session.writable().map_err(Error::from)?;
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let n = state.session.write_capacity().min(buf.len());
            if n == 0 {
                return Poll::Pending;
            }
            let mut chunk = Bytes::copy_from_slice(&buf[..n]);
            match state.session.write(&mut chunk) {
                // What the session took; the caller writes the rest again.
                Ok(taken) if taken > 0 => Poll::Ready(Ok(taken)),
                Ok(_) | Err(StreamError::Blocked) => Poll::Pending,
                Err(e) => Poll::Ready(Err(Error::from(e).into())),
            }
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // Written bytes are already the driver's to send; the window is the only buffer.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut()
            .poll_end(cx, &mut || End::Finish(HeaderMap::new()))
            .map_err(Into::into)
    }
}

impl Sink<Bytes> for ResponseWriter {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_pending(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Bytes) -> Result<(), Error> {
        let this = self.get_mut();
        debug_assert!(this.pending.is_empty(), "start_send without poll_ready");
        this.pending = item;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_pending(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.poll_flush_pending(cx)?.is_pending() {
            return Poll::Pending;
        }
        this.poll_end(cx, &mut || End::Finish(HeaderMap::new()))
    }
}
