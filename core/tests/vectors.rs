//! The golden vectors of `core/tests/vectors`: every case replayed through the adapter. The
//! Node and Python suites replay the same folder through their bindings.

use base64::Engine;
use lambda_relay::adapter::{self, LocalRequest, RequestView};
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text.as_str().expect("base64 text"))
        .expect("valid base64")
}

fn pairs(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .expect("pairs")
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_str().unwrap().to_owned()))
        .collect()
}

fn view_json(view: &RequestView) -> Value {
    let mut headers: Vec<_> = view.headers.iter().map(|(n, v)| json!([n, v])).collect();
    headers.sort_by_key(|p| p.to_string());
    json!({
        "method": view.method,
        "url": view.url(),
        "rawPath": view.raw_path,
        "rawQuery": view.raw_query,
        "headers": headers,
        "clientAddress": view.client_address,
        "bodyBase64": b64(&view.body),
    })
}

/// What the adapter makes of a case: `Ok(output)` or `Err(error message)`.
fn replay(case: &Value) -> Result<Value, String> {
    match case["kind"].as_str().unwrap() {
        "request" => RequestView::from_event(&case["event"], case["relayed"].as_bool().unwrap())
            .map(|v| view_json(&v))
            .map_err(|e| e.to_string()),
        "response" => {
            let r = &case["response"];
            let headers = pairs(&r["headers"]);
            adapter::direct_result(
                r["status"].as_u64().unwrap() as u32,
                headers.into_iter(),
                &unb64(&r["bodyBase64"]),
                r["headRequest"].as_bool().unwrap(),
            )
            .map(|r| r.to_json())
        }
        "local" => {
            let r = &case["request"];
            let headers = pairs(&r["headers"]);
            Ok(adapter::function_url_event(&LocalRequest {
                method: r["method"].as_str().unwrap(),
                target: r["target"].as_str().unwrap(),
                headers: &headers,
                body: &unb64(&r["bodyBase64"]),
                source_ip: r["sourceIp"].as_str().unwrap(),
                request_id: r["requestId"].as_str().unwrap(),
                time_epoch_ms: r["timeEpochMs"].as_u64().unwrap(),
            }))
        }
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn every_golden_vector_replays_through_the_adapter() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "the folder holds {} cases", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy();
        match (replay(&case), case.get("expect"), case.get("error")) {
            (Ok(got), Some(want), _) if &got == want => {}
            (Err(e), _, Some(want)) if e.contains(want.as_str().unwrap()) => {}
            (got, want, error) => failures.push(format!("{name}: got {got:?}, want {want:?} / error {error:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

#[test]
fn a_relayed_event_for_its_handler_has_no_token_no_gateway_signature_and_the_clients_address() {
    let event = json!({
        "version": "2.0",
        "rawPath": "/",
        "headers": {
            "X-Lambda-Relay-Token": "t",
            "x-lambda-relay-id": "r",
            "x-forwarded-for": "203.0.113.7",
            "accept": "*/*",
            "authorization": "AWS4-HMAC-SHA256 Credential=...",
            "X-Amz-Security-Token": "the gateway's session token",
            "x-amz-date": "20261203T120000Z",
            "x-lambda-relay-authorization": "Bearer client"
        },
        "requestContext": {"http": {"method": "GET", "sourceIp": "10.0.0.1"}},
    });
    let view = RequestView::from_event(&event, true).unwrap();
    let seen = adapter::handler_event(event, &view);
    assert_eq!(
        seen["headers"],
        json!({"x-forwarded-for": "203.0.113.7", "accept": "*/*", "authorization": "Bearer client"})
    );
    assert_eq!(seen["requestContext"]["http"]["sourceIp"], "203.0.113.7");
}

#[test]
fn a_local_servers_result_is_read_as_awss_front_door_reads_it() {
    let plain = adapter::LocalResponse::from_result(&json!({"ok": true})).unwrap();
    assert_eq!((plain.status, &plain.body[..]), (200, &br#"{"ok":true}"#[..]));
    let result =
        json!({"statusCode": 201, "headers": {"x": "1"}, "cookies": ["a=1"], "body": "/w==", "isBase64Encoded": true});
    let response = adapter::LocalResponse::from_result(&result).unwrap();
    assert_eq!(response.status, 201);
    assert_eq!(
        response.headers,
        vec![("x".into(), "1".into()), ("set-cookie".into(), "a=1".into())]
    );
    assert_eq!(&response.body[..], &[0xff]);
    assert!(adapter::LocalResponse::from_result(&json!({"statusCode": 99})).is_err());
    assert!(
        adapter::LocalResponse::from_result(&json!({"statusCode": 200, "body": "!", "isBase64Encoded": true})).is_err()
    );
}
