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

mod body;
mod event;

use std::fmt::Display;
use std::future::Future;
use std::pin::pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use bytes::Buf;
use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use lambda_runtime::{service_fn, LambdaEvent};

pub use body::{Body, BoxError};
pub use lambda_runtime::Context;

use crate::client::{self, ClientConfig, Connection, Invocation, ResponseWriter};
use crate::proto::{self, BodyMode, ErrorCode, RelaySecret};

/// Environment variable with the gateway's base URL.
pub const GATEWAY_URL_ENV: &str = "RELAY_GATEWAY_URL";
/// Environment variable with the shared secret.
pub const SECRET_ENV: &str = "RELAY_SECRET";
/// Default time before the Lambda deadline at which a relayed response is failed, so the
/// client learns at once that it was cut short.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// How relayed invocations are handled.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The gateway and the client's settings; `None` serves direct responses only.
    pub client: Option<ClientConfig>,
    /// The shared secret that verifies relay tokens.
    pub secret: Option<RelaySecret>,
    /// How long before the Lambda deadline a relayed response is failed.
    pub deadline_margin: Duration,
}

impl RelayConfig {
    /// Relays through the gateway at `gateway_url`, verifying tokens with `secret`.
    pub fn new(gateway_url: impl Into<String>, secret: RelaySecret) -> Self {
        Self {
            client: Some(ClientConfig::new(gateway_url)),
            secret: Some(secret),
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
        }
    }

    /// Serves every invocation as a direct, buffered response.
    pub fn direct_only() -> Self {
        Self {
            client: None,
            secret: None,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
        }
    }

    /// Reads `RELAY_GATEWAY_URL` and `RELAY_SECRET`. With neither set, invocations are
    /// served directly; with one but not the other, or with invalid values, it fails.
    pub fn from_env() -> Result<Self, Error> {
        let url = std::env::var(GATEWAY_URL_ENV).ok().filter(|v| !v.is_empty());
        let secret = std::env::var(SECRET_ENV).ok().filter(|v| !v.is_empty());
        match (url, secret) {
            (None, None) => Ok(Self::direct_only()),
            (Some(url), Some(secret)) => {
                // Check the URL now rather than on the first invocation.
                proto::socket_url(&url, "check").map_err(|e| Error::Config(e.to_string()))?;
                let secret = RelaySecret::new(secret).map_err(|e| Error::Config(e.to_string()))?;
                Ok(Self::new(url, secret))
            }
            (Some(_), None) => Err(Error::Config(format!(
                "{GATEWAY_URL_ENV} is set but {SECRET_ENV} is not"
            ))),
            (None, Some(_)) => Err(Error::Config(format!(
                "{SECRET_ENV} is set but {GATEWAY_URL_ENV} is not"
            ))),
        }
    }
}

/// Why an invocation could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is not a valid Function URL event.
    #[error("invalid function url event: {0}")]
    Event(String),
    /// The relay configuration is not valid.
    #[error("invalid relay configuration: {0}")]
    Config(String),
    /// The handler failed (direct mode).
    #[error("handler failed: {0}")]
    Handler(String),
}

/// Runs `handler` on `lambda_runtime` for Function URL events, configured from the
/// environment ([`RelayConfig::from_env`]).
pub async fn run<H, Fut, B, E>(handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(Request<Body>) -> Fut,
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: Display,
    E: Display,
{
    let config = RelayConfig::from_env()?;
    let handler = &handler;
    let config = &config;
    lambda_runtime::run(service_fn(move |event| handle_event(config, handler, event))).await
}

/// Handles one Function URL event: relayed when it carries relay headers, direct when not.
///
/// In relay mode the result is a short status for the gateway (200 once the end was
/// acknowledged; 403 for a token that does not verify; 502 when the relay failed); the
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
    let mut parts = event::request_parts(&mut event)?;
    let inline = event::request_body(&mut event)?;
    let relay = take_relay_headers(&mut parts.headers);
    parts.extensions.insert(context.clone());

    let Some(relay) = relay else {
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
    };

    let (Some(client_config), Some(secret)) = (&config.client, &config.secret) else {
        return Ok(event::outcome_response(
            500,
            "unconfigured",
            "relay invocation, but RELAY_GATEWAY_URL and RELAY_SECRET are not set",
        ));
    };
    let relay = match relay {
        Ok(r) => r,
        Err(e) => return Ok(event::outcome_response(400, "refused", &e.to_string())),
    };
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if let Err(e) = secret.verify(&relay.token, &relay.relay_id, unix) {
        return Ok(event::outcome_response(
            403,
            "refused",
            &format!("relay token refused: {e}"),
        ));
    }
    let mode = relay.body_mode;
    let invocation = Invocation {
        relay_id: relay.relay_id,
        token: relay.token,
        body_mode: mode,
    };
    let connection = match Connection::open(client_config.clone(), invocation) {
        Ok(c) => c,
        Err(e) => return Ok(event::outcome_response(502, "failed", &e.to_string())),
    };
    let (request_body, mut writer) = connection.split();
    let body = match mode {
        BodyMode::Inline => Body::from(inline),
        BodyMode::Stream => Body::relay(request_body),
    };
    let request = Request::from_parts(parts, body);
    let until_deadline = remaining(&context).saturating_sub(config.deadline_margin);

    let outcome = relay_response(handler(request), &mut writer, until_deadline).await;
    Ok(match outcome {
        Ok(()) => event::outcome_response(200, "relayed", "relayed"),
        Err(e) if e.is_aborted() => {
            event::outcome_response(200, "aborted", "aborted by the gateway: the client went away")
        }
        Err(e) => event::outcome_response(502, "failed", &format!("relay failed: {e}")),
    })
}

/// Runs the handler's future and streams its response, racing the Lambda deadline and the
/// gateway's abort.
async fn relay_response<Fut, B, E>(
    response: Fut,
    writer: &mut ResponseWriter,
    until_deadline: Duration,
) -> Result<(), client::Error>
where
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let cancelled = writer.cancelled();
    let finished = {
        let work = stream_response(response, writer);
        tokio::select! {
            r = work => Some(r),
            () = cancelled.wait() => Some(Err(client::Error::Closed)),
            () = tokio::time::sleep(until_deadline) => None,
        }
    };
    match finished {
        // Cancelled: the session knows why (an abort, usually).
        Some(Err(client::Error::Closed)) => Err(writer.failure().unwrap_or(client::Error::Closed)),
        Some(r) => r,
        None => {
            writer
                .fail(ErrorCode::DEADLINE, "the function reached its deadline")
                .await
        }
    }
}

async fn stream_response<Fut, B, E>(response: Fut, writer: &mut ResponseWriter) -> Result<(), client::Error>
where
    Fut: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    B::Error: Display,
    E: Display,
{
    let response = match response.await {
        Ok(r) => r,
        Err(e) => return writer.fail(ErrorCode::HANDLER, &e.to_string()).await,
    };
    let (head, body) = response.into_parts();
    writer.send_head(head.status, head.headers)?;
    let mut body = pin!(body);
    let mut trailers = HeaderMap::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return writer.fail(ErrorCode::BODY, &e.to_string()).await,
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
    writer.finish(trailers).await
}

/// Removes the relay headers; returns what they said if the invocation is relayed.
fn take_relay_headers(headers: &mut HeaderMap) -> Option<Result<proto::RelayHeaders, proto::InvocationError>> {
    let relay = proto::read_relay_headers(|name| headers.get(name).and_then(|v| v.to_str().ok()));
    for name in proto::RELAY_HEADERS {
        headers.remove(name);
    }
    relay
}

fn remaining(context: &Context) -> Duration {
    if context.deadline == 0 {
        // No deadline known (a local server): let the relay run as long as it needs.
        return Duration::from_secs(15 * 60);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    Duration::from_millis(context.deadline.saturating_sub(now))
}
