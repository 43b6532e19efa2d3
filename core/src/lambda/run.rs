//! The entry points on `lambda_runtime`: a closure, or a tower `Service`.

use std::fmt::Display;
use std::future::Future;

use http::{Request, Response};
use lambda_runtime::{service_fn, LambdaEvent};

use super::{handle_event, Body, RelayConfig};

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
