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

use std::fmt::{self, Display};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use bytes::Buf;
use futures_util::FutureExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::BodyExt;
use lambda_runtime::{service_fn, LambdaEvent};

pub use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequestContext as RequestContext;
pub use body::{Body, BodyClosed, BodySender, BoxError};
pub use lambda_runtime::Context;

use crate::adapter::{self, Begun, EventError, FunctionUrlResult, RequestView};
use crate::client::{self, ClientConfig, ResponseWriter};
use crate::proto::{self, ErrorCode, RelaySettings, SettingsError};

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
    /// The event is not one the adapter reads.
    #[error(transparent)]
    Event(#[from] EventError),
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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        handle_event(config, handler, event)
    }))
    .await
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

/// An invocation's payload [`handle_event`] takes: a JSON value (what [`run`] receives, so
/// an event of another front door is told apart and named) or AWS's typed Function URL event.
pub trait FunctionEvent {
    /// The event as JSON.
    fn into_json(self) -> serde_json::Value;
}

impl FunctionEvent for serde_json::Value {
    fn into_json(self) -> serde_json::Value {
        self
    }
}

impl FunctionEvent for LambdaFunctionUrlRequest {
    fn into_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Handles one invocation ([`adapter::begin`]): relayed when it carries relay headers,
/// direct when not.
///
/// In relay mode the result is a short status for the gateway; the client's response went
/// over the socket, unless it was small and complete and rides in the result itself.
pub async fn handle_event<H, Fut, B, E, Ev>(
    config: &RelayConfig,
    handler: &H,
    event: LambdaEvent<Ev>,
) -> Result<FunctionUrlResult, lambda_runtime::Error>
where
    H: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
    Ev: FunctionEvent,
{
    let LambdaEvent { payload, context } = event;
    let event = payload.into_json();
    let begun = adapter::begin(
        &event,
        config.settings.as_ref().map(Option::as_ref),
        |_| config.client.clone(),
        remaining(&context, &config.clock),
        config.clock.now(),
    )
    .map_err(Error::Event)?;
    let (view, relay) = match begun {
        Begun::Answer(result) => return Ok(result),
        Begun::Direct { request } => (request, None),
        Begun::Relay {
            request,
            connection,
            streams_body,
        } => (request, Some((connection, streams_body))),
    };
    let head_request = view.is_head();
    let mut parts = request_parts(&view)?;
    parts.extensions.insert(context);
    parts.extensions.insert(request_context(&event, &view));
    let Some((connection, streams_body)) = relay else {
        let response = handler(Request::from_parts(parts, Body::from(view.body)))
            .await
            .map_err(|e| Error::Handler(e.to_string()))?;
        let (head, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Error::Handler(format!("response body failed: {e}")))?
            .to_bytes();
        if !proto::valid_response_status(head.status.as_u16()) {
            return Err(Error::Handler(format!(
                "invalid status {} (a response's status is 200 to 599)",
                head.status
            ))
            .into());
        }
        return Ok(FunctionUrlResult::buffered(
            head.status,
            head.headers,
            &body,
            head_request,
        ));
    };
    let (request_body, mut writer) = connection.split();
    let body = if streams_body {
        Body::relay(request_body)
    } else {
        Body::from(view.body)
    };
    let request = Request::from_parts(parts, body);
    Ok(relay_response(handler(request), &mut writer, head_request).await)
}

/// The `http` request of a view, minus its body: its absolute URL, method and headers.
fn request_parts(view: &RequestView) -> Result<http::request::Parts, Error> {
    let invalid = |what: String| Error::Event(EventError::Invalid(what));
    let method =
        Method::from_bytes(view.method.as_bytes()).map_err(|_| invalid(format!("invalid method {:?}", view.method)))?;
    let uri = Uri::try_from(view.url()).map_err(|e| invalid(format!("invalid url: {e}")))?;
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.headers.reserve(view.headers.len());
    for (name, value) in &view.headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| invalid(format!("invalid value for header {name}")))?;
        parts.headers.append(name, value);
    }
    Ok(parts)
}

/// The Function URL request context a handler finds in its request's extensions; for a
/// relayed invocation `http.source_ip` is the client's (the event's is the gateway's).
fn request_context(event: &serde_json::Value, view: &RequestView) -> RequestContext {
    let mut context: RequestContext = event
        .get("requestContext")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    if let Some(address) = &view.client_address {
        context.http.source_ip = Some(address.clone());
    }
    context
}

/// Runs the handler's future and streams its response until the gateway acknowledged its
/// end, or the relay was cancelled (the gateway aborted, the relay failed, the deadline
/// passed: then the handler's work is dropped).
async fn relay_response<Fut, B, E>(response: Fut, writer: &mut ResponseWriter, head_request: bool) -> FunctionUrlResult
where
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let cancelled = writer.cancelled();
    let outcome = tokio::select! {
        r = stream_response(response, writer, head_request) => r,
        why = cancelled.reason() => Err(why),
    };
    match outcome {
        Ok(Some(inline)) => inline,
        Ok(None) => adapter::invocation_result(None, None),
        Err(client::Error::Deadline) => {
            // The session failed the response with `deadline`; return once that reached the
            // gateway, as for any end.
            let _ = writer.closed().await;
            adapter::invocation_result(Some(client::Error::Deadline), None)
        }
        Err(e) => adapter::invocation_result(Some(e), None),
    }
}

/// Streams the handler's response, or returns it whole when it is small and complete the
/// moment the handler returns it (`FunctionSession::respond_inline`): then it rides in the
/// invocation result and its first byte arrives as soon as a plain function's would.
async fn stream_response<Fut, B, E>(
    response: Fut,
    writer: &mut ResponseWriter,
    head_request: bool,
) -> Result<Option<FunctionUrlResult>, client::Error>
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
        if let Some(result) = adapter::respond_inline(writer, head.status, head.headers.clone(), &ready, head_request) {
            return Ok(Some(result));
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

/// Time left until the invocation's deadline, read on `clock`; `None` when the context has
/// none (the adapter's default applies).
fn remaining(context: &Context, clock: &Clock) -> Option<Duration> {
    (context.deadline != 0).then(|| Duration::from_millis(context.deadline.saturating_sub(clock.unix_millis())))
}
