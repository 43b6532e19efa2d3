//! A gateway for tests and benchmarks: a tokio-tungstenite server on 127.0.0.1 that checks
//! each upgrade with the same proto rules as the Durable Object (`check_upgrade`, then
//! `GatewaySession::admit_socket`) and drives `GatewaySession`, with scripted TCP drops.
//! One gateway serves one session, whose "client" reads every part at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use lambda_relay::proto::{
    self, AbortCode, BodyMode, CloseCode, Exchange, GatewaySession, RelaySecret, ResponsePart, StreamError, Timestamp,
    UpgradeRequest,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Notify};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The secret the test gateway mints its tokens with.
pub const SECRET: &[u8; 32] = b"test secret, 32 bytes long......";

/// What the server does to its connections, one after the other.
pub enum Cut {
    /// Nothing: one connection carries the session.
    Never,
    /// Drops the n-th connection's TCP after the m-th message it received on it (the list's
    /// n-th value).
    AfterMessages(Vec<usize>),
    /// Admits the first `n` upgrades into the session, then answers them 503 instead of 101,
    /// as if the 101 was lost on its way: the function sees no socket, the session saw one.
    LoseUpgrades(usize),
    /// After the first connection received `after` messages, it neither reads nor writes
    /// for `freeze` (then it drops), while later connections are served: a frozen gateway
    /// with an open socket.
    FreezeAfter { after: usize, freeze: Duration },
}

/// What one connection does.
#[derive(Clone, Copy)]
enum Script {
    Normal,
    DropAfter(usize),
    FreezeAfter(usize, Duration),
}

/// A running test gateway; it stops when its session is over.
pub struct TestGateway {
    pub config: proto::Config,
    pub relay_id: String,
    pub token: String,
    addr: SocketAddr,
    state: Arc<State>,
    parts: Mutex<Option<mpsc::UnboundedReceiver<ResponsePart>>>,
}

struct State {
    session: Mutex<GatewaySession>,
    notify: Notify,
    epoch: Instant,
    upgrades: AtomicUsize,
    connections: AtomicUsize,
    resumes: AtomicUsize,
    max_held: AtomicU64,
    closed: watch::Sender<Option<Option<u16>>>,
    first_error: Mutex<Option<proto::Error>>,
}

impl State {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    async fn sleep_until(&self, deadline: Option<Timestamp>) {
        match deadline {
            Some(d) => tokio::time::sleep_until((self.epoch + Duration::from_millis(d.as_millis())).into()).await,
            None => std::future::pending().await,
        }
    }

    /// Keeps the first error a function's message caused (sticky in the session, which
    /// closes the socket with its code), for tests to read.
    fn note(&self, error: Option<proto::Error>) {
        if let Some(e) = error {
            self.first_error.lock().unwrap().get_or_insert(e);
        }
    }
}

/// Closes the socket with `code`, then reads until the peer's close comes back: dropping a
/// socket with unread bytes sends a reset, and the peer would lose the frames before it.
async fn close_and_drain<S>(
    sink: &mut futures_util::stream::SplitSink<tokio_tungstenite::WebSocketStream<S>, Message>,
    stream: &mut futures_util::stream::SplitStream<tokio_tungstenite::WebSocketStream<S>>,
    code: CloseCode,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let frame = CloseFrame {
        code: WsCloseCode::from(code.0),
        reason: "".into(),
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
}

impl TestGateway {
    pub async fn start(mode: BodyMode, request: Bytes, cut: Cut) -> TestGateway {
        Self::start_with(Self::small_config(), mode, request, cut).await
    }

    /// The limits [`TestGateway::start`] uses: small frames and window, so tests exercise
    /// chunking and flow control with little data.
    pub fn small_config() -> proto::Config {
        proto::Config {
            max_payload: 16 * 1024,
            window: 128 * 1024,
            ..proto::Config::default()
        }
    }

    pub async fn start_with(config: proto::Config, mode: BodyMode, request: Bytes, cut: Cut) -> TestGateway {
        // The function's socket side never reads the binding (its adapter checks it before a
        // handler starts): a session opened without an invocation binds any request.
        let binding = proto::RequestBinding {
            method: "POST",
            path_and_query: "/",
            body_mode: mode,
            inline_body: b"",
            client_address: None,
        };
        Self::start_bound(config, mode, request, cut, &binding).await
    }

    /// A gateway whose token is bound to `binding`: the invocation a test hands a function's
    /// adapter must be that request.
    pub async fn start_bound(
        config: proto::Config,
        mode: BodyMode,
        request: Bytes,
        cut: Cut,
        binding: &proto::RequestBinding<'_>,
    ) -> TestGateway {
        let secret = RelaySecret::new(*SECRET).unwrap();
        let relay_id = "relay0123".to_owned();
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let token = secret
            .mint(&relay_id, &proto::TokenClaims::new(unix, 300, binding))
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let epoch = Instant::now();
        let state = Arc::new(State {
            session: Mutex::new(
                GatewaySession::new(
                    config.clone(),
                    Exchange::new(mode),
                    token.clone(),
                    Timestamp::from_millis(0),
                )
                .expect("a valid test config"),
            ),
            notify: Notify::new(),
            epoch,
            upgrades: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            resumes: AtomicUsize::new(0),
            max_held: AtomicU64::new(0),
            closed: watch::channel(None).0,
            first_error: Mutex::new(None),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let server = Server {
            state: state.clone(),
            secret,
            relay_id: relay_id.clone(),
            request,
            cut,
            tx,
        };
        tokio::spawn(server.run(listener));
        TestGateway {
            config,
            relay_id,
            token,
            addr,
            state,
            parts: Mutex::new(Some(rx)),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The response parts as the gateway reads them.
    pub fn parts(&self) -> mpsc::UnboundedReceiver<ResponsePart> {
        self.parts.lock().unwrap().take().expect("parts taken once")
    }

    /// Reads the whole response; panics unless it is head, body and a clean end.
    pub async fn collect_body(&self) -> Vec<u8> {
        let mut parts = self.parts();
        assert!(matches!(parts.recv().await, Some(ResponsePart::Head(_))));
        let mut body = Vec::new();
        loop {
            match parts.recv().await.expect("response ended without an end frame") {
                ResponsePart::Data(d) => body.extend_from_slice(&d),
                ResponsePart::End(_) => return body,
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    pub fn abort(&self, code: AbortCode, reason: &str) {
        self.state.session.lock().unwrap().abort(code, reason);
        self.state.notify.notify_one();
    }

    /// The close code of the session's last socket (None inside: closed without a code).
    pub async fn close_code(&self) -> Option<u16> {
        let mut rx = self.state.closed.subscribe();
        let closed = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|c| c.is_some()))
            .await
            .expect("socket closed within 10 s")
            .unwrap();
        closed.unwrap()
    }

    pub fn upgrade_attempts(&self) -> usize {
        self.state.upgrades.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn resumes(&self) -> usize {
        self.state.resumes.load(Ordering::SeqCst)
    }

    pub fn max_held(&self) -> u64 {
        self.state.max_held.load(Ordering::SeqCst)
    }

    /// The first error a function's message caused in the session, if one did.
    pub fn session_error(&self) -> Option<proto::Error> {
        self.state.first_error.lock().unwrap().clone()
    }
}

struct Server {
    state: Arc<State>,
    secret: RelaySecret,
    relay_id: String,
    request: Bytes,
    cut: Cut,
    tx: mpsc::UnboundedSender<ResponsePart>,
}

impl Server {
    async fn run(mut self, listener: TcpListener) {
        let mut index = 0;
        let mut lost = 0;
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            self.state.upgrades.fetch_add(1, Ordering::SeqCst);
            let mut resume = false;
            #[allow(clippy::result_large_err)] // the shape tungstenite asks for
            let check = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
                let refuse = |refusal: proto::UpgradeRefusal| {
                    let mut r = ErrorResponse::new(Some(refusal.reason.into()));
                    *r.status_mut() = refusal.status.try_into().expect("a valid status");
                    r
                };
                let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
                let upgrade = UpgradeRequest::read(header);
                let Some(relay_id) = req.uri().path().strip_prefix(proto::DEFAULT_SOCKET_PATH) else {
                    return Err(refuse(proto::UpgradeRefusal::UNKNOWN_RELAY));
                };
                let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
                proto::check_upgrade(&upgrade, relay_id, &self.secret, unix).map_err(refuse)?;
                if relay_id != self.relay_id {
                    return Err(refuse(proto::UpgradeRefusal::UNKNOWN_RELAY));
                }
                let mut session = self.state.session.lock().unwrap();
                session.admit_socket(&upgrade).map_err(refuse)?;
                session.socket_accepted(self.state.now(), &upgrade);
                if matches!(self.cut, Cut::LoseUpgrades(n) if lost < n) {
                    lost += 1;
                    session.socket_closed(self.state.now(), None);
                    let mut r = ErrorResponse::new(Some("the 101 was lost".into()));
                    *r.status_mut() = 503.try_into().expect("a valid status");
                    return Err(r);
                }
                resume = upgrade.is_resume();
                resp.headers_mut()
                    .insert("sec-websocket-protocol", proto::SUBPROTOCOL.parse().unwrap());
                Ok(resp)
            };
            let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await else {
                continue;
            };
            self.state.connections.fetch_add(1, Ordering::SeqCst);
            if resume {
                self.state.resumes.fetch_add(1, Ordering::SeqCst);
            }
            let script = match &self.cut {
                Cut::AfterMessages(limits) => limits.get(index).map_or(Script::Normal, |n| Script::DropAfter(*n)),
                Cut::FreezeAfter { after, freeze } if index == 0 => Script::FreezeAfter(*after, *freeze),
                _ => Script::Normal,
            };
            index += 1;
            let over = self.pump(ws, script).await;
            if over {
                return;
            }
        }
    }

    /// Moves messages for one socket; true when the session is over.
    async fn pump<S>(&mut self, ws: tokio_tungstenite::WebSocketStream<S>, script: Script) -> bool
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let state = self.state.clone();
        let (mut sink, mut stream) = ws.split();
        let mut received = 0;
        loop {
            let (out, deadline, close) = self.take_turn();
            for m in out {
                if sink.send(Message::Binary(m)).await.is_err() {
                    break;
                }
            }
            if let Some(code) = close {
                close_and_drain(&mut sink, &mut stream, code).await;
                state.closed.send_replace(Some(Some(code.0)));
                return true;
            }
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(Ok(Message::Binary(data))) => {
                        received += 1;
                        match script {
                            Script::DropAfter(n) if n == received => {
                                // Drop the TCP connection without a close frame, mid-stream.
                                drop((sink, stream));
                                state.session.lock().unwrap().socket_closed(state.now(), None);
                                return false;
                            }
                            Script::FreezeAfter(n, freeze) if n == received => {
                                // Hold the socket open and say nothing on it, while the next
                                // connection (the function's resume) is accepted.
                                tokio::spawn(async move {
                                    tokio::time::sleep(freeze).await;
                                    drop((sink, stream));
                                });
                                return false;
                            }
                            _ => {}
                        }
                        let handled = state.session.lock().unwrap().handle_message(state.now(), &data);
                        state.note(handled.err());
                    }
                    Some(Ok(Message::Text(_))) => {
                        let e = state.session.lock().unwrap().handle_text_message();
                        state.note(Some(e));
                    }
                    Some(Ok(Message::Close(frame))) => return self.on_close(frame.map(|f| u16::from(f.code))),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        state.session.lock().unwrap().socket_closed(state.now(), None);
                        return false;
                    }
                },
                () = state.notify.notified() => {}
                () = state.sleep_until(deadline) => state.session.lock().unwrap().handle_timeout(state.now()),
            }
        }
    }

    /// One turn of the gateway's "client", which takes every response part at once and
    /// sends the request body as the window allows; then what the session wants sent.
    fn take_turn(&mut self) -> (Vec<Bytes>, Option<Timestamp>, Option<CloseCode>) {
        let mut s = self.state.session.lock().unwrap();
        while let Ok(Some(part)) = s.read() {
            // A test that dropped its receiver reads no more parts; the session goes on.
            let _ = self.tx.send(part);
        }
        if !self.request.is_empty() {
            match s.write(self.state.now(), &mut self.request) {
                Ok(_) | Err(StreamError::Blocked) => {}
                // The session ended: its close tells the test why; nothing more to send.
                Err(_) => self.request.clear(),
            }
        }
        if self.request.is_empty() && s.wants_request_body() {
            s.finish_request().expect("a request that wants its body can end");
        }
        let held = s.stats().held;
        self.state.max_held.fetch_max(held, Ordering::SeqCst);
        let mut out = Vec::new();
        while let Some(m) = s.poll_transmit() {
            out.push(m);
        }
        (out, s.poll_timeout(), s.poll_close())
    }

    /// The function closed the socket; true when the session is over.
    fn on_close(&self, code: Option<u16>) -> bool {
        let mut s = self.state.session.lock().unwrap();
        s.socket_closed(self.state.now(), code.map(CloseCode));
        while let Ok(Some(part)) = s.read() {
            let _ = self.tx.send(part);
        }
        self.state.closed.send_replace(Some(code));
        s.is_done() || s.error().is_some()
    }
}
