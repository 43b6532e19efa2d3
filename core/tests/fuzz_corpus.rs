//! The fuzz bodies (`lambda_relay::internal::fuzzing`) over the committed corpus in
//! `fuzz/corpus/<target>/`: what the fuzzer found interesting, and every input that ever
//! crashed a body, replayed in every `npm test`.

use std::fs;
use std::path::PathBuf;

use lambda_relay::internal::fuzzing;

fn run(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{target} has a corpus");
    for path in &inputs {
        let data = fs::read(path).expect("a corpus file");
        body(&data);
    }
}

#[test]
fn decode_frame_corpus() {
    run("decode_frame", fuzzing::decode_frame);
}

#[test]
fn function_session_corpus() {
    run("function_session", fuzzing::function_session);
}

#[test]
fn gateway_session_corpus() {
    run("gateway_session", fuzzing::gateway_session);
}

#[test]
fn websocket_messages_corpus() {
    run("websocket_messages", fuzzing::websocket_messages);
}

#[test]
fn credentials_corpus() {
    run("credentials", fuzzing::credentials);
}

#[test]
fn sigv4_corpus() {
    run("sigv4", fuzzing::sigv4);
}

#[cfg(feature = "adapter")]
#[test]
fn adapter_event_corpus() {
    run("adapter_event", fuzzing::adapter_event);
}
