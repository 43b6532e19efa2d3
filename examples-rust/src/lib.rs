//! Example Rust Lambdas on `lambda-relay`: each handler is an ordinary `http` handler whose
//! response body streams. The binaries in `src/bin` run them on `lambda_runtime`.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http::{Request, Response};
use lambda_relay::lambda::{Body, BoxError};
use sha2::{Digest, Sha256};

/// The classic: five chunks, one per second.
pub async fn classic(_request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let chunks = stream::unfold(1u32, |n| async move {
        if n > 5 {
            return None;
        }
        if n > 1 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Some((Ok::<_, Infallible>(Bytes::from(format!("chunk {n} of 5\n"))), n + 1))
    });
    let response = Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from_stream(chunks))
        .expect("a valid response");
    Ok(response)
}

/// A streamed upload: the body is hashed as it arrives; count and sha256 come back.
pub async fn upload(request: Request<Body>) -> Result<Response<Body>, BoxError> {
    let mut body = request.into_body();
    let mut sha = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        sha.update(&chunk);
    }
    let json = format!("{{\"bytes\":{bytes},\"sha256\":\"{:x}\"}}", sha.finalize());
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(json))?)
}

/// Server-sent events, token by token.
pub async fn sse(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let prompt = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("prompt=")))
        .unwrap_or("stream me a sentence")
        .to_owned();
    let answer = format!("You asked: {prompt}. Here is an answer, one token at a time.");
    let tokens: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let events = stream::iter(tokens.into_iter().enumerate())
        .then(|(i, token)| async move {
            tokio::time::sleep(Duration::from_millis(80)).await;
            Ok::<_, Infallible>(Bytes::from(format!("id: {i}\nevent: token\ndata: {token:?}\n\n")))
        })
        .chain(stream::once(async {
            Ok(Bytes::from_static(b"event: done\ndata: {}\n\n"))
        }));
    let response = Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(events))
        .expect("a valid response");
    Ok(response)
}
