//! The function side of the relay on tokio: a quinn-style driver around
//! [`FunctionSession`].
//!
//! [`Connection::open`] spawns a task that connects to the gateway (`ws://` or `wss://` with
//! rustls and the webpki roots), reconnects with capped exponential backoff and resumes the
//! session; keepalives and the idle timeout are the session's own (`proto::Config`). The
//! application holds a [`RequestBody`] (a `Stream` of the request body) and a
//! [`ResponseWriter`] (head, body, end; also `AsyncWrite` and `Sink<Bytes>`). The writer's futures complete when the window takes the
//! bytes, so a slow client slows the function; [`ResponseWriter::finish`] completes only
//! when the gateway acknowledged the end.

pub mod binding;
mod driver;
mod error;
pub mod websocket;
mod writer;

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::{watch, Notify};

use crate::proto::{self, Exchange, FunctionSession, RequestChunk, Timestamp};

pub use error::Error;
pub use writer::ResponseWriter;

/// Default limit on one connection attempt, handshake included.
pub const DEFAULT_CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time to keep trying the first connection.
pub const DEFAULT_FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// First reconnect delay; it doubles up to [`DEFAULT_BACKOFF_MAX`].
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(50);
/// Longest reconnect delay.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// How the function side connects.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The gateway's base URL (`RELAY_GATEWAY_URL`): `wss://…`, `https://…`, or `ws://…`
    /// for local development. Never taken from the request.
    pub gateway_url: String,
    /// Limits and timings of the session.
    pub session: proto::Config,
    /// Limit on one connection attempt.
    pub connect_attempt_timeout: Duration,
    /// How long to keep trying before the first connection succeeds.
    pub first_connect_timeout: Duration,
    /// First reconnect delay.
    pub backoff_initial: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// How long before the invocation's deadline the response is failed with `deadline`.
    pub deadline_margin: Duration,
}

impl ClientConfig {
    /// Defaults for everything but the gateway URL.
    pub fn new(gateway_url: impl Into<String>) -> Self {
        Self {
            gateway_url: gateway_url.into(),
            // The function accepts frames up to the hard limit, so the gateway's MAX_PAYLOAD
            // (announced in its hello) alone decides the frame size, both ways.
            session: proto::Config {
                max_payload: proto::MAX_PAYLOAD_LIMIT,
                ..proto::Config::default()
            },
            connect_attempt_timeout: DEFAULT_CONNECT_ATTEMPT_TIMEOUT,
            first_connect_timeout: DEFAULT_FIRST_CONNECT_TIMEOUT,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            deadline_margin: proto::DEFAULT_DEADLINE_MARGIN,
        }
    }
}

/// One relayed invocation, as [`proto::classify_invocation`] accepted it (docs/protocol.md,
/// "Invocation").
#[derive(Clone)]
pub struct Invocation {
    /// The relay id.
    pub relay_id: String,
    /// The token, already verified; presented in every upgrade.
    pub token: String,
    /// Where the request body travels, and whether the request is HEAD.
    pub exchange: Exchange,
    /// Time left until the invocation's deadline, as the Lambda context said when it began;
    /// the response is failed with `deadline` this long minus the margin from now.
    pub time_left: Option<Duration>,
}

impl Invocation {
    /// An invocation from its verified relay headers, for a request with `method`.
    pub fn new(relay: proto::RelayHeaders, method: &str) -> Self {
        Self {
            exchange: Exchange::for_method(relay.body_mode, method),
            relay_id: relay.relay_id,
            token: relay.token,
            time_left: None,
        }
    }

    /// Sets the time left until the invocation's deadline.
    pub fn with_time_left(mut self, time_left: Duration) -> Self {
        self.time_left = Some(time_left);
        self
    }
}

impl std::fmt::Debug for Invocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Invocation")
            .field("relay_id", &self.relay_id)
            .field("exchange", &self.exchange)
            .field("time_left", &self.time_left)
            .finish()
    }
}

/// State shared by the driver task and the application's handles.
pub(crate) struct SessionState {
    pub(crate) session: FunctionSession,
    /// Set when the driver gave up for a reason the session does not know (refused
    /// upgrade, unreachable gateway) or stopped.
    pub(crate) fatal: Option<Error>,
    pub(crate) driver_done: bool,
    pub(crate) read_waker: Option<Waker>,
    /// The writer's waker and what it waits for.
    pub(crate) write_waker: Option<(Waker, Wait)>,
}

/// What a parked writer waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Window to write into.
    Capacity,
    /// The gateway's acknowledgement of the end.
    Done,
}

impl SessionState {
    /// The error every handle reports from now on, if any.
    pub(crate) fn failure(&self) -> Option<Error> {
        if let Some(e) = self.session.error() {
            return Some(Error::Session(e.clone()));
        }
        self.fatal.clone()
    }

    /// Why the application's work is cancelled, if it is: the session failed (the gateway
    /// aborted, the relay failed for good) or the invocation's deadline passed.
    pub(crate) fn cancellation(&self) -> Option<Error> {
        match self.failure() {
            Some(e) => Some(e),
            None if self.session.deadline_reached() => Some(Error::Deadline),
            None => None,
        }
    }

    /// Wakes the handles that can make progress now: a reader with something to read, a
    /// writer with window (or a finished or failed session). Waking them without progress
    /// would spin: each poll notifies the driver, which would wake them again.
    pub(crate) fn wake_ready(&mut self) {
        let over = self.driver_done || self.failure().is_some();
        if over || self.session.has_readable() {
            if let Some(w) = self.read_waker.take() {
                w.wake();
            }
        }
        let ready = match self.write_waker {
            // A response the deadline closed takes no more bytes: wake the writer to hear it.
            Some((_, Wait::Capacity)) => self.session.write_capacity() > 0 || self.session.response_closed(),
            Some((_, Wait::Done)) => self.session.is_done(),
            None => false,
        };
        if over || ready {
            if let Some((w, _)) = self.write_waker.take() {
                w.wake();
            }
        }
    }
}

pub(crate) struct Inner {
    pub(crate) state: Mutex<SessionState>,
    /// The invocation's relay id, for its log line.
    pub(crate) relay_id: Arc<str>,
    /// Wakes the driver after the application queued something.
    pub(crate) notify: Notify,
    pub(crate) epoch: Instant,
    /// Where the relay stands: running, cancelled, or over without a cancellation.
    pub(crate) status: watch::Sender<Status>,
}

impl Inner {
    /// Locks the shared state. Whatever failed or cancelled the session while it was held
    /// is recorded in the relay's status before it is let go, so a handle that saw the
    /// failure also sees the cancellation (an application asks `is_cancelled` to tell a
    /// client that left from a write that failed for its own reasons).
    pub(crate) fn lock(&self) -> Locked<'_> {
        // A panic while holding the lock (a bug, in the driver or a handle) leaves the session
        // mid-update: trust nothing in it, but never panic again in every handle, which in a
        // binding would take the function's process down. The relay is over: each handle
        // reports it closed, and whoever waits is woken to hear it.
        let guard = self.state.lock().unwrap_or_else(|poisoned| {
            let mut state = poisoned.into_inner();
            if state.fatal.is_none() {
                state.fatal = Some(Error::Closed);
                state.driver_done = true;
                state.wake_ready();
                self.notify.notify_one();
            }
            state
        });
        Locked { inner: self, guard }
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.epoch.elapsed().as_millis() as u64)
    }
}

/// The shared state, locked; see [`Inner::lock`].
pub(crate) struct Locked<'a> {
    inner: &'a Inner,
    guard: MutexGuard<'a, SessionState>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = SessionState;

    fn deref(&self) -> &SessionState {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut SessionState {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if let Some(why) = self.guard.cancellation() {
            self.inner.cancel(why);
        }
    }
}

/// One relayed invocation, as it opens: [`split`](Self::split) it into its request body
/// and its response writer (each gives the relay's [`RelayStatus`]).
pub struct Connection {
    inner: Arc<Inner>,
}

impl Connection {
    /// Starts connecting to the gateway in a background task and returns at once, so the
    /// handler's own work overlaps the connect. Needs a tokio runtime.
    pub fn open(config: ClientConfig, invocation: Invocation) -> Result<Connection, Error> {
        proto::socket_url(&config.gateway_url, &invocation.relay_id).map_err(|e| Error::Config(e.to_string()))?;
        let epoch = Instant::now();
        let mut session = FunctionSession::new(config.session.clone(), invocation.exchange, Timestamp::from_millis(0))
            .map_err(|e| Error::Config(e.to_string()))?;
        if let Some(left) = invocation.time_left {
            session.set_deadline(Timestamp::from_millis(0) + left.saturating_sub(config.deadline_margin));
        }
        let key = session_key()?;
        let relay_id: Arc<str> = Arc::from(invocation.relay_id.as_str());
        let inner = Arc::new(Inner {
            relay_id,
            state: Mutex::new(SessionState {
                session,
                fatal: None,
                driver_done: false,
                read_waker: None,
                write_waker: None,
            }),
            notify: Notify::new(),
            epoch,
            status: watch::channel(Status::default()).0,
        });
        tokio::spawn(driver::run(inner.clone(), config, invocation, key));
        Ok(Connection { inner })
    }

    /// Splits into the request body and the response writer.
    pub fn split(self) -> (RequestBody, ResponseWriter) {
        (
            RequestBody {
                inner: self.inner.clone(),
            },
            ResponseWriter::new(self.inner),
        )
    }
}

/// A fresh session key: 128 random bits as lowercase hex (docs/protocol.md, "Upgrade").
fn session_key() -> Result<String, Error> {
    let mut bytes = [0u8; proto::SESSION_KEY_LEN / 2];
    getrandom::fill(&mut bytes).map_err(|e| Error::Config(format!("no randomness for the session key: {e}")))?;
    Ok(proto::lower_hex(&bytes))
}

/// Where a relay stands: whether it was cancelled (and why), and whether it is over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Status {
    /// The gateway aborted, the relay failed for good, or the deadline passed.
    cancelled: Option<Error>,
    /// The driver stopped: the response's last frame was acknowledged and the socket
    /// closed, or the relay failed.
    over: bool,
}

impl Inner {
    /// Records a cancellation; the first reason wins.
    pub(crate) fn cancel(&self, why: Error) {
        self.status.send_if_modified(|status| {
            if status.cancelled.is_some() || status.over {
                return false;
            }
            status.cancelled = Some(why);
            true
        });
    }

    /// Records that the driver stopped, cancelling first if it stopped for `failure`.
    pub(crate) fn finish(&self, failure: Option<Error>) {
        if let Some(why) = failure {
            self.cancel(why);
        }
        self.status.send_modify(|status| status.over = true);
    }
}

/// The relay's status as the application waits on it: cancelled (the gateway aborted the
/// exchange because the client went away, the relay failed for good, or the invocation's
/// deadline passed: stop working, nobody will read the result) and over (the driver
/// stopped: the response's end was acknowledged, or the relay failed).
#[derive(Clone)]
pub struct RelayStatus {
    rx: watch::Receiver<Status>,
    relay_id: Arc<str>,
    epoch: Instant,
}

impl RelayStatus {
    pub(crate) fn of(inner: &Inner) -> Self {
        Self {
            rx: inner.status.subscribe(),
            relay_id: inner.relay_id.clone(),
            epoch: inner.epoch,
        }
    }

    /// The invocation's relay id (what the gateway's log line and the client's
    /// `x-lambda-relay-id` header carry).
    pub fn relay_id(&self) -> &str {
        &self.relay_id
    }

    /// The time since the connection opened.
    pub fn elapsed(&self) -> std::time::Duration {
        self.epoch.elapsed()
    }

    /// Waits for a cancellation and returns why; pending for ever if the relay finishes
    /// without one (race it against the work it cancels).
    pub async fn cancellation(self) -> Error {
        match self.cancelled_or_over().await {
            Some(e) => e,
            None => std::future::pending().await,
        }
    }

    /// Waits until the relay was cancelled or is over: why, if it was cancelled, `None` if
    /// it finished. Always completes, so a waiter never outlives the relay.
    pub async fn cancelled_or_over(mut self) -> Option<Error> {
        match self.rx.wait_for(|s| s.cancelled.is_some() || s.over).await {
            Ok(status) => status.cancelled.clone(),
            // Every handle is gone: nothing is left to cancel.
            Err(_) => None,
        }
    }

    /// Waits until the relay is over: the response's last frame was acknowledged and the
    /// socket closed, or it failed. Returns the cancellation, if there was one.
    pub async fn over(mut self) -> Option<Error> {
        match self.rx.wait_for(|s| s.over).await {
            Ok(status) => status.cancelled.clone(),
            Err(_) => None,
        }
    }

    /// Whether the relay was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.rx.borrow().cancelled.is_some()
    }
}

/// The request body as it streams from the gateway (or the end at once, for inline bodies).
pub struct RequestBody {
    inner: Arc<Inner>,
}

impl RequestBody {
    /// The relay's status: cancelled, over.
    pub fn status(&self) -> RelayStatus {
        RelayStatus::of(&self.inner)
    }
}

impl Stream for RequestBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.inner.lock();
        match state.session.read() {
            Ok(Some(RequestChunk::Data(data))) => {
                drop(state);
                // Reading freed window: the driver may owe the gateway an ack.
                self.inner.notify.notify_one();
                Poll::Ready(Some(Ok(data)))
            }
            Ok(Some(RequestChunk::End)) => Poll::Ready(None),
            Ok(Some(RequestChunk::External(_))) => unreachable!("this driver hands the session whole messages"),
            Ok(None) if state.driver_done => Poll::Ready(Some(Err(state.failure().unwrap_or(Error::Closed)))),
            Ok(None) => {
                if let Some(e) = state.fatal.clone() {
                    return Poll::Ready(Some(Err(e)));
                }
                state.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Some(Err(Error::Session(e)))),
        }
    }
}

/// Polls `f` against the shared state, parking the write waker to wait for `wait` when it is
/// pending, and lets the driver send whatever `f` queued.
pub(crate) fn poll_state<T>(
    inner: &Inner,
    cx: &mut Context<'_>,
    wait: Wait,
    mut f: impl FnMut(&mut SessionState) -> Poll<T>,
) -> Poll<T> {
    let mut state = inner.lock();
    let poll = f(&mut state);
    if poll.is_pending() {
        state.write_waker = Some((cx.waker().clone(), wait));
    }
    drop(state);
    inner.notify.notify_one();
    poll
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::{HeaderMap, StatusCode};

    use super::*;

    #[tokio::test]
    async fn a_poisoned_session_lock_fails_every_handle_without_a_second_panic() {
        let invocation = Invocation {
            relay_id: "poisoned".into(),
            token: "t".into(),
            exchange: proto::Exchange::new(proto::BodyMode::Inline),
            time_left: None,
        };
        // Nothing listens there: the driver keeps retrying, the session stays open.
        let conn = Connection::open(ClientConfig::new("ws://127.0.0.1:1"), invocation).unwrap();
        let inner = Arc::clone(&conn.inner);
        let poisoner = std::thread::spawn(move || {
            let _held = inner.state.lock().unwrap();
            panic!("a bug while the session is mid-update");
        });
        assert!(poisoner.join().is_err());
        assert!(conn.inner.state.is_poisoned());
        let (_body, mut writer) = conn.split();
        assert_eq!(writer.send_head(StatusCode::OK, HeaderMap::new()), Err(Error::Closed));
        assert_eq!(writer.finish(HeaderMap::new()).await, Err(Error::Closed));
    }

    #[tokio::test]
    async fn a_handle_that_sees_the_session_fail_sees_the_relay_cancelled() {
        // An application tells a client that left from a write that failed for its own
        // reasons by asking `is_cancelled` once the write failed: the two must agree at once,
        // not after the driver's next turn (Python's send raised the wrong error under load).
        let invocation = Invocation {
            relay_id: "agree".into(),
            token: "t".into(),
            exchange: proto::Exchange::new(proto::BodyMode::Inline),
            time_left: Some(Duration::from_secs(60)),
        };
        // Nothing listens there: the driver sits in its backoff, taking no turn.
        let conn = Connection::open(ClientConfig::new("ws://127.0.0.1:1"), invocation).unwrap();
        let status = RelayStatus::of(&conn.inner);
        assert!(!status.is_cancelled());
        conn.inner
            .lock()
            .session
            .handle_timeout(Timestamp::from_millis(3_600_000));
        assert!(
            status.is_cancelled(),
            "the deadline passed under the lock, and the lock was let go"
        );
        assert!(matches!(
            status.clone().cancelled_or_over().await,
            Some(Error::Deadline)
        ));

        let invocation = Invocation {
            relay_id: "agree-fatal".into(),
            token: "t".into(),
            exchange: proto::Exchange::new(proto::BodyMode::Inline),
            time_left: None,
        };
        let conn = Connection::open(ClientConfig::new("ws://127.0.0.1:1"), invocation).unwrap();
        let status = RelayStatus::of(&conn.inner);
        conn.inner.lock().fatal = Some(Error::Closed);
        assert!(status.is_cancelled());
        let (_body, mut writer) = conn.split();
        assert_eq!(writer.write(Bytes::from_static(b"x")).await, Err(Error::Closed));
    }
}
