//! Every Rust example in direct mode, through the Function URL event path.

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_relay::lambda::{handle_event, Context, RelayConfig};
use lambda_runtime::LambdaEvent;
use sha2::{Digest, Sha256};

fn event(method: &str, query: &str, body: Option<&str>) -> LambdaEvent<LambdaFunctionUrlRequest> {
    let payload = serde_json::json!({
        "version": "2.0",
        "rawPath": "/",
        "rawQueryString": query,
        "headers": {"host": "example.lambda-url.local"},
        "requestContext": {"http": {"method": method, "path": "/"}, "timeEpoch": 0},
        "body": body,
        "isBase64Encoded": false,
    });
    LambdaEvent::new(serde_json::from_value(payload).unwrap(), Context::default())
}

#[tokio::test]
async fn classic_sends_five_chunks() {
    let result = handle_event(
        &RelayConfig::direct_only(),
        &lambda_relay_examples::classic,
        event("GET", "", None),
    )
    .await
    .unwrap();
    assert_eq!(result.status_code, 200);
    let expected: String = (1..=5).map(|n| format!("chunk {n} of 5\n")).collect();
    assert_eq!(result.body.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn upload_returns_count_and_sha256() {
    let body = "x".repeat(100_000);
    let result = handle_event(
        &RelayConfig::direct_only(),
        &lambda_relay_examples::upload,
        event("POST", "", Some(&body)),
    )
    .await
    .unwrap();
    let expected = format!(
        "{{\"bytes\":100000,\"sha256\":\"{:x}\"}}",
        Sha256::digest(body.as_bytes())
    );
    assert_eq!(result.body.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn sse_sends_one_event_per_token_then_done() {
    let result = handle_event(
        &RelayConfig::direct_only(),
        &lambda_relay_examples::sse,
        event("GET", "prompt=hi", None),
    )
    .await
    .unwrap();
    let body = result.body.unwrap();
    let events: Vec<&str> = body.trim_end().split("\n\n").collect();
    let tokens: Vec<String> = events[..events.len() - 1]
        .iter()
        .map(|e| e.split("data: ").nth(1).unwrap().trim_matches('"').to_owned())
        .collect();
    assert_eq!(
        tokens.concat(),
        "You asked: hi. Here is an answer, one token at a time."
    );
    assert_eq!(events[0], "id: 0\nevent: token\ndata: \"You \"");
    assert_eq!(*events.last().unwrap(), "event: done\ndata: {}");
    assert_eq!(result.headers.get("content-type").unwrap(), "text/event-stream");
}

#[tokio::test]
async fn the_axum_app_runs_as_a_service() {
    let app = lambda_relay::lambda::from_service(lambda_relay_examples::axum_app());
    let mut ev = event("GET", "", None);
    ev.payload.raw_path = Some("/hello/relay".into());
    let result = handle_event(&RelayConfig::direct_only(), &app, ev).await.unwrap();
    assert_eq!(result.status_code, 200);
    assert_eq!(result.body.as_deref(), Some(r#"{"hello":"relay"}"#));
    let mut ev = event("POST", "", Some("12345"));
    ev.payload.raw_path = Some("/length".into());
    let result = handle_event(&RelayConfig::direct_only(), &app, ev).await.unwrap();
    assert_eq!(result.body.as_deref(), Some("5"));
}
