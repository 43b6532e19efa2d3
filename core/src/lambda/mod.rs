//! Rust Lambdas behind a Function URL: run an `http` handler relayed through the gateway
//! when the invocation carries relay headers, or as an ordinary buffered Function URL
//! response when it does not. One handler works in both worlds.
//!
//! ```no_run
//! use lambda_relay::lambda::{run, Body};
//!
//! # async fn main_() -> Result<(), lambda_runtime::Error> {
//! run(|_req: http::Request<Body>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("hello")))
//! })
//! .await
//! # }
//! ```
//!
//! Which invocations are relayed, refused or served directly is decided by
//! [`proto::classify_invocation`]; this module only drives it.
//!
//! A handler finds the Lambda [`Context`] and the Function URL request context
//! ([`RequestContext`]) in its request's extensions:
//!
//! ```
//! use lambda_relay::lambda::{Body, Context, RequestContext};
//!
//! fn who(request: &lambda_relay::http::Request<Body>) -> String {
//!     let context = request.extensions().get::<Context>().expect("the Lambda context");
//!     let http = &request.extensions().get::<RequestContext>().expect("the request context").http;
//!     // For a relayed invocation, the client's address (the gateway's is not useful).
//!     format!("{} from {:?}", context.request_id, http.source_ip)
//! }
//! ```

mod body;
mod event;

use std::fmt::{self, Display};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use bytes::{Buf, Bytes};
use futures_util::FutureExt;
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use lambda_runtime::{service_fn, LambdaEvent};

pub use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequestContext as RequestContext;
pub use body::{Body, BodyClosed, BodySender, BoxError};
pub use lambda_runtime::Context;

use crate::client::{self, ClientConfig, Connection, Invocation, ResponseWriter};
use crate::proto::{self, BodyMode, Classification, ErrorCode, InvocationResult, RelaySettings, SettingsError};

pub use crate::proto::{DEFAULT_DEADLINE_MARGIN, GATEWAY_URL_ENV, SECRET_ENV};

/// The wall clock the integration reads: for token expiry and the Lambda deadline. Tests
/// inject a fixed one so deadline behaviour needs no real waiting.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(SystemTime::now))
    }

    /// A clock that reads `now`.
    pub fn new(now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> SystemTime {
        (self.0)()
    }

    fn unix_millis(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock(..)")
    }
}

/// How relayed invocations are handled.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The relay settings: `Ok(None)` serves direct responses only; an error is kept, so
    /// relay invocations are answered 500 `unconfigured` naming it while direct ones are
    /// still served.
    pub settings: Result<Option<RelaySettings>, SettingsError>,
    /// The client's settings for relayed invocations; its gateway URL is the settings'.
    pub client: ClientConfig,
    /// The clock for token expiry and the deadline.
    pub clock: Clock,
}

impl RelayConfig {
    /// Relays through the gateway of `settings`.
    pub fn new(settings: RelaySettings) -> Self {
        Self {
            client: ClientConfig::new(settings.gateway_url()),
            settings: Ok(Some(settings)),
            clock: Clock::system(),
        }
    }

    /// Serves every invocation as a direct, buffered response.
    pub fn direct_only() -> Self {
        Self {
            settings: Ok(None),
            client: ClientConfig::new(""),
            clock: Clock::system(),
        }
    }

    /// Reads `RELAY_GATEWAY_URL` and `RELAY_SECRET` ([`RelaySettings::from_values`]).
    pub fn from_env() -> Self {
        let url = std::env::var(GATEWAY_URL_ENV).ok();
        let secret = std::env::var(SECRET_ENV).ok();
        match RelaySettings::from_values(url.as_deref(), secret.as_deref()) {
            Ok(Some(settings)) => Self::new(settings),
            other => Self {
                settings: other,
                ..Self::direct_only()
            },
        }
    }
}

/// Why an invocation could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is not a valid Function URL event.
    #[error("invalid function url event: {0}")]
    Event(String),
    /// The handler failed (direct mode).
    #[error("handler failed: {0}")]
    Handler(String),
}

/// Runs `handler` on `lambda_runtime` for Function URL events, configured from the
/// environment ([`RelayConfig::from_env`]). Invalid relay settings are reported on stderr
/// at start (CloudWatch shows them) and answered 500 `unconfigured` on relay invocations.
pub async fn run<H, Fut, B, E>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: Display,
    E: Display,
{
    let config = RelayConfig::from_env();
    if let Err(e) = &config.settings {
        eprintln!("lambda-relay: relay invocations will be refused: {e}");
    }
    let handler = &handler;
    let config = &config;
    lambda_runtime::run(service_fn(move |event| handle_event(config, handler, event))).await
}

/// Runs a tower `Service` — an axum `Router`, or what `lambda_http` users bring — on
/// `lambda_runtime`, as [`run`] runs a closure.
///
/// ```no_run
/// # async fn main_(router: axum_like::Router) -> Result<(), lambda_relay::lambda_runtime::Error> {
/// lambda_relay::lambda::run_service(router).await
/// # }
/// # mod axum_like {
/// #     use lambda_relay::lambda::{Body, BoxError};
/// #     use std::task::{Context, Poll};
/// #     #[derive(Clone)]
/// #     pub struct Router;
/// #     impl lambda_relay::lambda_runtime::Service<lambda_relay::http::Request<Body>> for Router {
/// #         type Response = lambda_relay::http::Response<Body>;
/// #         type Error = BoxError;
/// #         type Future = std::future::Ready<Result<Self::Response, BoxError>>;
/// #         fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> { Poll::Ready(Ok(())) }
/// #         fn call(&mut self, _: lambda_relay::http::Request<Body>) -> Self::Future { std::future::ready(Ok(Default::default())) }
/// #     }
/// # }
/// ```
pub async fn run_service<S, B>(service: S) -> Result<(), lambda_runtime::Error>
where
    S: lambda_runtime::Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Display,
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: Display,
{
    run(from_service(service)).await
}

/// A tower `Service` as a handler [`run`], [`handle_event`] and `local::serve` take: each
/// request gets a clone of the service, waits until it is ready, and calls it.
pub fn from_service<S, B>(
    service: S,
) -> impl Fn(Request<Body>) -> futures_util::future::BoxFuture<'static, Result<Response<B>, S::Error>> + Clone + Send + Sync
where
    S: lambda_runtime::Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    move |request| {
        let mut service = service.clone();
        Box::pin(async move {
            futures_util::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(request).await
        })
    }
}

/// Handles one Function URL event: relayed when it carries relay headers, direct when not.
///
/// In relay mode the result is a short status for the gateway ([`InvocationResult`]); the
/// client's response went over the socket.
pub async fn handle_event<H, Fut, B, E>(
    config: &RelayConfig,
    handler: &H,
    event: LambdaEvent<LambdaFunctionUrlRequest>,
) -> Result<LambdaFunctionUrlResponse, lambda_runtime::Error>
where
    H: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let LambdaEvent {
        payload: mut event,
        context,
    } = event;
    let now_unix = config.clock.unix_millis() / 1000;
    let (classification, client) = {
        let get = |name: &str| event.headers.get(name).and_then(|v| v.to_str().ok());
        let classification = proto::classify_invocation(get, config.settings.as_ref().map(Option::as_ref), now_unix);
        (classification, proto::relayed_client_address(get).map(str::to_owned))
    };
    if matches!(classification, Classification::Relay(_)) {
        // The event's source address is the gateway's; the client's came in x-forwarded-for.
        if let Some(client) = client {
            event.request_context.http.source_ip = Some(client);
        }
    }
    let mut parts = event::request_parts(&mut event)?;
    let inline = event::request_body(&mut event)?;
    for name in proto::RELAY_HEADERS {
        parts.headers.remove(name);
    }
    parts.extensions.insert(context.clone());
    parts.extensions.insert(event.request_context.clone());

    let relay = match classification {
        Classification::Direct => {
            let response = handler(Request::from_parts(parts, Body::from(inline)))
                .await
                .map_err(|e| Error::Handler(e.to_string()))?;
            let (head, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Error::Handler(format!("response body failed: {e}")))?
                .to_bytes();
            return Ok(event::buffered_response(Response::from_parts(head, body)));
        }
        Classification::Refused(result) => return Ok(event::invocation_result(&result)),
        Classification::Relay(relay) => relay,
    };

    let mode = relay.body_mode;
    let invocation = Invocation::new(relay, parts.method.as_str()).with_time_left(remaining(&context, &config.clock));
    let connection = match Connection::open(config.client.clone(), invocation) {
        Ok(c) => c,
        Err(e) => return Ok(event::invocation_result(&e.invocation_result())),
    };
    let (request_body, mut writer) = connection.split();
    let body = match mode {
        BodyMode::Inline => Body::from(inline),
        BodyMode::Stream => Body::relay(request_body),
    };
    let request = Request::from_parts(parts, body);
    Ok(match relay_response(handler(request), &mut writer).await {
        Relayed::Result(result) => event::invocation_result(&result),
        Relayed::Inline(response) => {
            let mut out = event::buffered_response(response);
            let (name, value) = InvocationResult::complete_header();
            out.headers.insert(name, http::HeaderValue::from_static(value));
            out
        }
    })
}

/// How a relayed invocation ended.
enum Relayed {
    /// Over the socket, or not at all: the invocation answers with this result.
    Result(InvocationResult),
    /// Small and complete: the invocation answers with the response itself.
    Inline(Response<Bytes>),
}

/// Runs the handler's future and streams its response until the gateway acknowledged its
/// end, or the relay was cancelled (the gateway aborted, the relay failed, the deadline
/// passed: then the handler's work is dropped).
async fn relay_response<Fut, B, E>(response: Fut, writer: &mut ResponseWriter) -> Relayed
where
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let cancelled = writer.cancelled();
    let outcome = tokio::select! {
        r = stream_response(response, writer) => r,
        why = cancelled.reason() => Err(why),
    };
    Relayed::Result(match outcome {
        Ok(Some(inline)) => return Relayed::Inline(inline),
        Ok(None) => InvocationResult::relayed(),
        Err(client::Error::Deadline) => {
            // The session failed the response with `deadline`; return once that reached the
            // gateway, as for any end.
            let _ = writer.closed().await;
            client::Error::Deadline.invocation_result()
        }
        Err(e) => e.invocation_result(),
    })
}

/// Streams the handler's response, or returns it whole when it is small and complete the
/// moment the handler returns it (`FunctionSession::respond_inline`): then it rides in the
/// invocation result and its first byte arrives as soon as a plain function's would.
async fn stream_response<Fut, B, E>(
    response: Fut,
    writer: &mut ResponseWriter,
) -> Result<Option<Response<Bytes>>, client::Error>
where
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let response = match response.await {
        Ok(r) => r,
        Err(e) => return writer.fail(ErrorCode::HANDLER, &e.to_string()).await.map(|()| None),
    };
    let (head, body) = response.into_parts();
    let mut body = pin!(body);
    // What the body has ready now, without waiting: all of it, for a small complete body.
    let mut ready = Vec::new();
    let mut ready_len = 0;
    let mut trailers = HeaderMap::new();
    let complete = loop {
        match body.frame().now_or_never() {
            None => break false,
            Some(None) => break true,
            Some(Some(Err(e))) => return writer.fail(ErrorCode::BODY, &e.to_string()).await.map(|()| None),
            Some(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    let bytes = data.copy_to_bytes(data.remaining());
                    ready_len += bytes.len();
                    ready.push(bytes);
                    if ready_len > proto::INLINE_RESPONSE_LIMIT {
                        break false;
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers.extend(t);
                    }
                }
            },
        }
    };
    if complete {
        if let Ok(has_body) = writer.respond_inline(head.status, ready_len) {
            let body = if has_body { ready.concat().into() } else { Bytes::new() };
            return Ok(Some(Response::from_parts(head, body)));
        }
    }
    if let Err(e) = writer.send_head(head.status, head.headers) {
        return match e {
            // A head the relay cannot carry (a 1xx status, too many headers): the handler's.
            client::Error::Usage(usage) => writer.fail(ErrorCode::HANDLER, &usage.to_string()).await.map(|()| None),
            other => Err(other),
        };
    }
    for bytes in ready {
        writer.write(bytes).await?;
    }
    if complete {
        return writer.finish(trailers).await.map(|()| None);
    }
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return writer.fail(ErrorCode::BODY, &e.to_string()).await.map(|()| None),
        };
        match frame.into_data() {
            Ok(mut data) => {
                let bytes = data.copy_to_bytes(data.remaining());
                writer.write(bytes).await?;
            }
            Err(frame) => {
                if let Ok(t) = frame.into_trailers() {
                    trailers.extend(t);
                }
            }
        }
    }
    writer.finish(trailers).await.map(|()| None)
}

/// Time left until the invocation's deadline, read on `clock`.
fn remaining(context: &Context, clock: &Clock) -> Duration {
    if context.deadline == 0 {
        // No deadline known (a local server): let the relay run as long as Lambda could.
        return Duration::from_secs(15 * 60);
    }
    Duration::from_millis(context.deadline.saturating_sub(clock.unix_millis()))
}
