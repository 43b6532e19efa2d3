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
use crate::proto::sigv4::AwsCredentials;

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
    serve_with(listener, config, LocalAuth::None, handler).await
}

/// [`serve`], admitting requests as `auth` says (`AuthType AWS_IAM`: [`LocalAuth::AwsIam`]).
pub async fn serve_with<H, Fut, B, E>(
    listener: TcpListener,
    config: RelayConfig,
    auth: LocalAuth,
    handler: H,
) -> std::io::Result<()>
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
    serve_events_with(listener, auth, move |event| {
        let (config, handler) = (config.clone(), handler.clone());
        async move { handle_event(&config, &*handler, event).await }
    })
    .await
}

/// How a local Function URL admits requests, as its `AuthType` does.
#[derive(Clone, Debug, Default)]
pub enum LocalAuth {
    /// `AuthType NONE`: every request is invoked.
    #[default]
    None,
    /// `AuthType AWS_IAM`: a request whose SigV4 signature does not verify for this key gets
    /// Lambda's 403 and no invocation ([`adapter::iam_refusal`]), as the Node and Python local
    /// servers' `--auth aws_iam`.
    AwsIam(AwsCredentials),
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
    serve_events_with(listener, LocalAuth::None, handler).await
}

/// [`serve_events`], admitting requests as `auth` says.
pub async fn serve_events_with<F, Fut, R>(listener: TcpListener, auth: LocalAuth, handler: F) -> std::io::Result<()>
where
    F: Fn(LambdaEvent<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, lambda_runtime::Error>> + Send,
    R: serde::Serialize,
{
    let handler = Arc::new(handler);
    let auth = Arc::new(auth);
    let ids = Arc::new(AtomicU64::new(0));
    loop {
        let (tcp, peer) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let (handler, ids, auth) = (handler.clone(), ids.clone(), auth.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (handler, auth) = (handler.clone(), auth.clone());
                let id = ids.fetch_add(1, Ordering::Relaxed);
                async move { Ok::<_, Infallible>(invoke(&*handler, &auth, req, peer, id).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

async fn invoke<F, Fut, R>(
    handler: &F,
    auth: &LocalAuth,
    req: Request<Incoming>,
    peer: SocketAddr,
    id: u64,
) -> Response<Full<Bytes>>
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
    let source_ip = peer.ip().to_string();
    let request = LocalRequest {
        method: parts.method.as_str(),
        target,
        headers: &headers,
        body: &body,
        source_ip: &source_ip,
        request_id: &request_id,
        time_epoch_ms: unix_millis(),
    };
    if let LocalAuth::AwsIam(credentials) = auth {
        // Refused before the handler runs, as Lambda refuses before it invokes.
        if let Some(refusal) = adapter::iam_refusal(&request, credentials, request.time_epoch_ms / 1000) {
            return from_local(refusal);
        }
    }
    let event = adapter::function_url_event(&request);
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;
    use crate::proto::sigv4;

    /// One HTTP/1.1 request on a new connection; the response as text.
    async fn request(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> String {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut text = format!("GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        tcp.write_all(text.as_bytes()).await.unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn aws_iam_refuses_what_does_not_verify_before_the_handler_runs() {
        let credentials = AwsCredentials::new("AKIDLOCAL", "local secret", None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let invoked = Arc::new(AtomicU64::new(0));
        let seen = invoked.clone();
        tokio::spawn(serve_events_with(
            listener,
            LocalAuth::AwsIam(credentials.clone()),
            move |event| {
                seen.fetch_add(1, Ordering::Relaxed);
                let path = event.payload["rawPath"].as_str().unwrap_or("").to_owned();
                async move {
                    Ok::<_, lambda_runtime::Error>(
                        serde_json::json!({ "statusCode": 200, "body": format!("invoked {path}") }),
                    )
                }
            },
        ));

        let unsigned = request(addr, "/x?y=1", &[]).await;
        assert!(unsigned.starts_with("HTTP/1.1 403"), "{unsigned}");
        assert!(unsigned.to_ascii_lowercase().contains("x-amzn-errortype"), "{unsigned}");
        let wrong = AwsCredentials::new("AKIDLOCAL", "another secret", None).unwrap();
        let now = unix_millis() / 1000;
        let forged = sigv4::sign(
            &wrong,
            "us-east-1",
            "lambda",
            now,
            "GET",
            &addr.to_string(),
            "/x?y=1",
            b"",
        );
        let forged = request(addr, "/x?y=1", &forged.pairs()).await;
        assert!(forged.starts_with("HTTP/1.1 403"), "{forged}");
        assert_eq!(
            invoked.load(Ordering::Relaxed),
            0,
            "nothing refused reached the handler"
        );

        let signed = sigv4::sign(
            &credentials,
            "us-east-1",
            "lambda",
            now,
            "GET",
            &addr.to_string(),
            "/x?y=1",
            b"",
        );
        let ok = request(addr, "/x?y=1", &signed.pairs()).await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("invoked /x"), "{ok}");
        assert_eq!(invoked.load(Ordering::Relaxed), 1);
    }
}
