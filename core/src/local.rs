//! A local Function URL: HTTP on a local address turned into Function URL events (payload
//! v2), and the handler's result turned back into HTTP, the way AWS does it. For local
//! development and the end-to-end tests; `cargo lambda watch` is the fuller emulator.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::lambda_function_urls::{LambdaFunctionUrlRequest, LambdaFunctionUrlResponse};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lambda_runtime::LambdaEvent;
use tokio::net::TcpListener;

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

/// Serves a Lambda-level handler (Function URL event in, Function URL result out) on
/// `listener`. An `Err` from the handler answers 502, as AWS does for a failed invocation.
pub async fn serve_events<F, Fut>(listener: TcpListener, handler: F) -> std::io::Result<()>
where
    F: Fn(LambdaEvent<LambdaFunctionUrlRequest>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<LambdaFunctionUrlResponse, lambda_runtime::Error>> + Send,
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

async fn invoke<F, Fut>(handler: &F, req: Request<Incoming>, peer: SocketAddr, id: u64) -> Response<Full<Bytes>>
where
    F: Fn(LambdaEvent<LambdaFunctionUrlRequest>) -> Fut,
    Fut: Future<Output = Result<LambdaFunctionUrlResponse, lambda_runtime::Error>>,
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
    let event = match to_event(&parts, &body, peer, id) {
        Ok(e) => e,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e),
    };
    let mut context = Context::default();
    context.request_id = format!("local-{id}");
    context.deadline = unix_millis() + DEFAULT_TIMEOUT.as_millis() as u64;
    match handler(LambdaEvent::new(event, context)).await {
        Ok(result) => from_result(result),
        Err(e) => plain(StatusCode::BAD_GATEWAY, &format!("the function failed: {e}")),
    }
}

/// The Function URL event (payload v2) AWS would build for this request.
fn to_event(
    parts: &http::request::Parts,
    body: &Bytes,
    peer: SocketAddr,
    id: u64,
) -> Result<LambdaFunctionUrlRequest, String> {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values: Vec<String> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if name == http::header::COOKIE {
            cookies.extend(values.iter().flat_map(|v| v.split(';')).map(|c| c.trim().to_owned()));
            continue;
        }
        headers.insert(name.as_str().to_owned(), values.join(",").into());
    }
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (serde_json::Value::Null, false),
        Ok(text) => (text.into(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body).into(), true),
    };
    let path = parts.uri.path();
    let now = unix_millis();
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "cookies": if cookies.is_empty() { serde_json::Value::Null } else { cookies.into() },
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get(http::header::USER_AGENT).and_then(|h| h.to_str().ok()).unwrap_or(""),
            },
            "requestId": format!("local-{id}"),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": now,
        },
        "body": body,
        "isBase64Encoded": base64,
    });
    serde_json::from_value(event).map_err(|e| format!("building the event failed: {e}"))
}

fn from_result(result: LambdaFunctionUrlResponse) -> Response<Full<Bytes>> {
    let body = match (result.body, result.is_base64_encoded) {
        (None, _) => Bytes::new(),
        (Some(text), false) => Bytes::from(text),
        (Some(text), true) => match base64::engine::general_purpose::STANDARD.decode(text) {
            Ok(b) => b.into(),
            Err(_) => return plain(StatusCode::BAD_GATEWAY, "the function returned invalid base64"),
        },
    };
    let status = u16::try_from(result.status_code)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok());
    let Some(status) = status else {
        return plain(StatusCode::BAD_GATEWAY, "the function returned an invalid status");
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = result.headers;
    for cookie in result.cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(http::header::SET_COOKIE, v);
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
