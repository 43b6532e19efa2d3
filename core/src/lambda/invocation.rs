//! One invocation, driven through the adapter: begin it, build the handler's request, and
//! answer directly or through the relay.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use http::{HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::BodyExt;
use lambda_runtime::LambdaEvent;

use super::respond::relay_response;
use super::{Body, Clock, Context, Error, RelayConfig, RequestContext};
use crate::adapter::{self, Begun, EventError, FunctionUrlResult, RequestView};
use crate::proto;

/// An invocation's payload [`handle_event`] takes: a JSON value (what [`run`](super::run) receives, so
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
        Begun::Answer(result) => {
            adapter::log_answer(&event, &result);
            return Ok(result);
        }
        Begun::Direct { request } => (request, None),
        Begun::Relayed {
            request,
            connection,
            streams_body,
            websocket,
        } => (request, Some((connection, streams_body, websocket))),
    };
    let head_request = view.is_head();
    let mut parts = request_parts(&view)?;
    parts.extensions.insert(context);
    parts.extensions.insert(request_context(&event, &view));
    let Some((connection, streams_body, websocket)) = relay else {
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
    let body = if websocket {
        // The client's messages: the handler takes them with `WebSocketUpgrade`.
        parts.extensions.insert(super::websocket::Upgradable::new(request_body));
        Body::empty()
    } else if streams_body {
        Body::relay(request_body)
    } else {
        Body::from(view.body)
    };
    let request = Request::from_parts(parts, body);
    // The relay id joins this invocation's events to the gateway's log line for its request.
    let span = tracing::info_span!("lambda_relay.invocation", relay_id = %writer.status().relay_id());
    Ok(tracing::Instrument::instrument(relay_response(handler(request), &mut writer, head_request), span).await)
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

/// Time left until the invocation's deadline, read on `clock`; `None` when the context has
/// none (the adapter's default applies).
fn remaining(context: &Context, clock: &Clock) -> Option<Duration> {
    (context.deadline != 0).then(|| Duration::from_millis(context.deadline.saturating_sub(clock.unix_millis())))
}
