//! A local Function URL: HTTP on a local address turned into Function URL events (payload
//! v2), and the handler's result turned back into HTTP, the way AWS does it. For local
//! development and the end-to-end tests; `cargo lambda watch` is the fuller emulator.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::adapter::{self, LocalRequest, LocalResponse};
use crate::lambda::{handle_event, Body, Context, RelayConfig};

/// Default time an invocation may run, as Lambda's maximum.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Serves an `http` handler as a local Function URL: relayed when requests carry relay
/// headers (the gateway's invocations), direct otherwise.
pub async fn serve<H, Fut, B, E>(listener: TcpListener, config: RelayConfig, handler: H) -> std::io::Result<()>
where
    H: Fn(Request<Body>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<B>, E>> + Send,
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: std::fmt::Display + Send,
    E: std::fmt::Display + Send,
{
    let config = Arc::new(config);
    let handler = Arc::new(handler);
    serve_events(listener, move |event| {
        let (config, handler) = (config.clone(), handler.clone());
        async move { handle_event(&config, &*handler, event).await }
    })
    .await
}

/// Serves a Lambda-level handler (an event in, a result out) on `listener`. An `Err` from
/// the handler answers 502, as AWS does for a failed invocation. The event is the one
/// [`adapter::function_url_event`] builds, as Node's and Python's local servers do too.
pub async fn serve_events<F, Fut, R>(listener: TcpListener, handler: F) -> std::io::Result<()>
where
    F: Fn(LambdaEvent<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, lambda_runtime::Error>> + Send,
    R: serde::Serialize,
{
    let handler = Arc::new(handler);
    let ids = Arc::new(AtomicU64::new(0));
    loop {
        let (tcp, peer) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let (handler, ids) = (handler.clone(), ids.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                let id = ids.fetch_add(1, Ordering::Relaxed);
                async move { Ok::<_, Infallible>(invoke(&*handler, req, peer, id).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

async fn invoke<F, Fut, R>(handler: &F, req: Request<Incoming>, peer: SocketAddr, id: u64) -> Response<Full<Bytes>>
where
    F: Fn(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<R, lambda_runtime::Error>>,
    R: serde::Serialize,
{
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                &format!("reading the request body failed: {e}"),
            )
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let request_id = format!("local-{id}");
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let event = adapter::function_url_event(&LocalRequest {
        method: parts.method.as_str(),
        target,
        headers: &headers,
        body: &body,
        source_ip: &peer.ip().to_string(),
        request_id: &request_id,
        time_epoch_ms: unix_millis(),
    });
    let mut context = Context::default();
    context.request_id = request_id;
    context.deadline = unix_millis() + DEFAULT_TIMEOUT.as_millis() as u64;
    let result = match handler(LambdaEvent::new(event, context)).await {
        Ok(result) => serde_json::to_value(result),
        Err(e) => return plain(StatusCode::BAD_GATEWAY, &format!("the function failed: {e}")),
    };
    let response = result
        .map_err(|e| format!("the function's result is not JSON: {e}"))
        .and_then(|r| LocalResponse::from_result(&r));
    match response {
        Ok(r) => from_local(r),
        Err(e) => plain(StatusCode::BAD_GATEWAY, &e),
    }
}

fn from_local(result: LocalResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(result.body));
    *response.status_mut() = StatusCode::from_u16(result.status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in result.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
