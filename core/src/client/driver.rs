//! The task that owns the socket: connect, pump messages between the socket and the
//! session, keep alive, reconnect and resume.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use super::{ClientConfig, Error, Inner, Invocation};
use crate::proto::{self, CloseCode, Timestamp};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type SocketSink = futures_util::stream::SplitSink<Socket, Message>;
type SocketStream = futures_util::stream::SplitStream<Socket>;

/// Why one socket's life ended.
enum SocketEnd {
    /// We closed it because the session is over (done or failed).
    SessionOver,
    /// The peer closed it, with this code if it sent one, or it broke.
    Lost(Option<CloseCode>),
}

pub(crate) async fn run(inner: Arc<Inner>, config: ClientConfig, invocation: Invocation, key: String) {
    let started = Instant::now();
    let mut backoff = config.backoff_initial;
    loop {
        // Every socket after the first 101 is a resume. A first attempt whose 101 was lost
        // is retried as a first socket, which the gateway admits until our hello arrived.
        let resume = inner.lock().session.has_connected();
        match connect(&config, &invocation, &key, resume).await {
            Ok(socket) => {
                backoff = config.backoff_initial;
                let now = inner.now();
                inner.lock().session.socket_opened(now);
                let end = pump(&inner, socket).await;
                let mut state = inner.lock();
                let code = match end {
                    SocketEnd::SessionOver => break,
                    SocketEnd::Lost(code) => code,
                };
                let now = inner.now();
                state.session.socket_closed(now, code);
                if state.session.error().is_some() || state.session.is_done() {
                    break;
                }
            }
            Err(ConnectError::Refused(failure)) => {
                inner.lock().fatal = Some(match failure {
                    // The exchange ended before this socket: for the handler, its client left.
                    proto::UpgradeFailure::Gone => Error::Session(proto::Error::Aborted(proto::Abort {
                        code: proto::AbortCode::CLIENT_GONE,
                        reason: failure.to_string(),
                    })),
                    proto::UpgradeFailure::Refused(status) => Error::Refused { status },
                    other => Error::Config(other.to_string()),
                });
                break;
            }
            Err(ConnectError::Invalid(e)) => {
                inner.lock().fatal = Some(Error::Config(e));
                break;
            }
            Err(ConnectError::Transient(e)) => {
                let state = inner.lock();
                if !state.session.has_connected() && started.elapsed() >= config.first_connect_timeout {
                    drop(state);
                    inner.lock().fatal = Some(Error::Connect(e));
                    break;
                }
            }
        }
        // Wait before the next attempt, but no longer than the session's own deadline.
        let wait = jitter(backoff);
        backoff = (backoff * 2).min(config.backoff_max);
        let deadline = inner.lock().session.poll_timeout();
        let wake = Instant::now() + wait;
        let wake = deadline.map_or(wake, |d| wake.min(instant_of(&inner, d)));
        sleep_until(wake).await;
        let mut state = inner.lock();
        let now = inner.now();
        state.session.handle_timeout(now);
        if state.session.error().is_some() {
            break;
        }
    }
    let mut state = inner.lock();
    state.driver_done = true;
    state.wake_ready();
    let failure = state.failure();
    drop(state);
    inner.finish(failure);
}

/// Moves messages until the socket ends or the session is over. Liveness is the session's:
/// it sends keepalives and counts the socket as dead when the gateway falls silent.
async fn pump(inner: &Inner, socket: Socket) -> SocketEnd {
    let (mut sink, mut stream) = socket.split();
    loop {
        // The application's work was cancelled as the session failed or its deadline passed,
        // under the lock that saw it (`Inner::lock`), not only when the socket closes.
        let turn = take_output(inner);
        if send_all(&mut sink, turn.out).await.is_err() {
            return SocketEnd::Lost(None);
        }
        if let Some(code) = turn.close {
            close_and_drain(&mut sink, &mut stream, code).await;
            return SocketEnd::SessionOver;
        }
        if !turn.connected {
            // The session gave up on this socket (the gateway fell silent): replace it.
            let going_away = sink.send(Message::Close(Some(close_frame(CloseCode::GOING_AWAY))));
            let _ = timeout(Duration::from_secs(1), going_away).await;
            return SocketEnd::Lost(None);
        }
        tokio::select! {
            msg = stream.next() => {
                if let Some(end) = receive(inner, msg) {
                    return end;
                }
            }
            () = inner.notify.notified() => {}
            () = sleep_until_deadline(inner, turn.deadline) => {
                let now = inner.now();
                inner.lock().session.handle_timeout(now);
            }
        }
    }
}

/// What one turn of the pump takes from the session.
struct Turn {
    /// Messages to send.
    out: Vec<bytes::Bytes>,
    /// The session's timer.
    deadline: Option<Timestamp>,
    /// The code to close the socket with, once the session is over.
    close: Option<CloseCode>,
    /// Whether the session still counts this socket as up.
    connected: bool,
}

fn take_output(inner: &Inner) -> Turn {
    let mut state = inner.lock();
    let mut out = Vec::new();
    while let Some(m) = state.session.poll_transmit() {
        out.push(m);
    }
    state.wake_ready();
    let session = &state.session;
    Turn {
        out,
        deadline: session.poll_timeout(),
        close: session.poll_close(),
        connected: session.is_connected(),
    }
}

async fn send_all(sink: &mut SocketSink, out: Vec<bytes::Bytes>) -> Result<(), tungstenite::Error> {
    for m in out {
        sink.feed(Message::Binary(m)).await?;
    }
    sink.flush().await
}

/// Closes the socket with `code`, then gives the peer a moment to answer the close.
async fn close_and_drain(sink: &mut SocketSink, stream: &mut SocketStream, code: CloseCode) {
    let _ = sink.send(Message::Close(Some(close_frame(code)))).await;
    let _ = timeout(Duration::from_secs(1), async { while stream.next().await.is_some() {} }).await;
}

async fn sleep_until_deadline(inner: &Inner, deadline: Option<Timestamp>) {
    match deadline {
        Some(d) => sleep_until(instant_of(inner, d)).await,
        None => std::future::pending().await,
    }
}

/// Hands one message from the socket to the session; `Some` when the socket ended.
fn receive(inner: &Inner, msg: Option<Result<Message, tungstenite::Error>>) -> Option<SocketEnd> {
    let now = inner.now();
    let failed = match msg {
        Some(Ok(Message::Binary(data))) => inner.lock().session.handle_message(now, &data).err(),
        Some(Ok(Message::Text(_))) => Some(inner.lock().session.handle_text_message()),
        Some(Ok(Message::Close(frame))) => return Some(SocketEnd::Lost(frame.map(|f| CloseCode(u16::from(f.code))))),
        Some(Ok(_)) => None, // ping (tungstenite queues the pong), pong, raw frame
        Some(Err(tungstenite::Error::Capacity(e))) => {
            // Larger than any frame the session accepts: 1009, final, as the session would
            // have said had it seen the message.
            let len = match e {
                tungstenite::error::CapacityError::MessageTooLong { size, .. } => size,
                _ => usize::MAX,
            };
            Some(inner.lock().session.handle_oversized_message(len))
        }
        Some(Err(_)) | None => return Some(SocketEnd::Lost(None)),
    };
    if let Some(e) = failed {
        // Sticky in the session: the next turn closes the socket with its code.
        tracing::debug!(error = %e, "the gateway's message failed the session");
    }
    None
}

fn close_frame(code: CloseCode) -> CloseFrame {
    CloseFrame {
        code: WsCloseCode::from(code.0),
        reason: code.name().unwrap_or("").into(),
    }
}

enum ConnectError {
    /// The gateway's answer is final (a 4xx, a wrong protocol version): retrying cannot help.
    Refused(proto::UpgradeFailure),
    /// The URL or request could not be built.
    Invalid(String),
    /// Anything else (unreachable, reset, 5xx, timeout): worth another try.
    Transient(String),
}

async fn connect(
    config: &ClientConfig,
    invocation: &Invocation,
    key: &str,
    resume: bool,
) -> Result<Socket, ConnectError> {
    let url = proto::socket_url(&config.gateway_url, &invocation.relay_id)
        .map_err(|e| ConnectError::Invalid(e.to_string()))?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Invalid(e.to_string()))?;
    for (name, value) in proto::upgrade_request_headers(&invocation.token, key, resume) {
        let value = HeaderValue::from_str(value)
            .map_err(|_| ConnectError::Invalid(format!("{name} is not a valid header value")))?;
        request.headers_mut().insert(name, value);
    }
    let max = config.session.max_message_len();
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let connector = url.starts_with("wss://").then(|| Connector::Rustls(tls_config()));
    let attempt = tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config), true, connector);
    let answer = |status: u16, protocol: Option<&str>| match proto::check_upgrade_response(status, protocol) {
        Ok(()) => Ok(()),
        Err(failure) if failure.is_final() => Err(ConnectError::Refused(failure)),
        Err(failure) => Err(ConnectError::Transient(failure.to_string())),
    };
    match timeout(config.connect_attempt_timeout, attempt).await {
        Err(_) => Err(ConnectError::Transient("connection attempt timed out".into())),
        Ok(Err(tungstenite::Error::Http(response))) => {
            answer(response.status().as_u16(), None)?;
            Err(ConnectError::Transient("the upgrade failed".into()))
        }
        Ok(Err(e)) => Err(ConnectError::Transient(e.to_string())),
        Ok(Ok((socket, response))) => {
            let protocol = response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok());
            answer(response.status().as_u16(), protocol)?;
            Ok(socket)
        }
    }
}

/// rustls with the ring provider and the webpki roots, built once per process.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

fn instant_of(inner: &Inner, t: Timestamp) -> Instant {
    Instant::from_std(inner.epoch) + Duration::from_millis(t.as_millis())
}

/// Spreads reconnects by ±25% so many functions cut at once do not return in lockstep.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    let r = RandomState::new().hash_one(Instant::now()) % 1000;
    d.mul_f64(0.75 + r as f64 / 2000.0)
}
