//! The rules around an exchange, each pinned in the deterministic harness: which statuses
//! the relay carries and which have a body, the deadline, which sockets the gateway admits,
//! the gateway's verdict on the invocation's result, and what the client gets before a head.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::pair::Pair;
use super::{small, TOKEN};
use crate::proto::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const OTHER_KEY: &str = "fedcba9876543210fedcba9876543210";

fn head(status: u16) -> ResponseHead {
    ResponseHead {
        status: StatusCode::from_u16(status).unwrap(),
        headers: HeaderMap::new(),
    }
}

fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| i as u8).collect::<Vec<_>>().into()
}

// ---- statuses ----

#[test]
fn send_head_refuses_interim_and_out_of_range_statuses_for_every_driver() {
    let mut f = FunctionSession::new(small(), Exchange::new(BodyMode::Inline), Timestamp::from_millis(0)).unwrap();
    for status in [100, 101, 103, 199, 600, 999] {
        assert_eq!(f.send_head(head(status)), Err(StreamError::InvalidStatus(status)));
        assert!(!f.head_sent(), "a refused head leaves the stream as it was");
    }
    assert_eq!(f.send_head(head(200)), Ok(()));
}

fn bodiless(status: u16, exchange: Exchange) -> Pair {
    let mut p = Pair::with_exchange(small(), exchange);
    p.app.auto_head = false;
    p.connect();
    p.f.send_head(head(status)).unwrap();
    p.app.response_head_sent = true;
    // The handler writes a body anyway, as frameworks do for HEAD.
    assert_eq!(p.f.write(&mut pattern(50_000)), Ok(50_000));
    assert_eq!(p.f.write_capacity(), usize::MAX);
    p.drive(Duration::from_secs(5));
    p
}

#[test]
fn bodiless_statuses_and_head_requests_send_no_body_frames() {
    for status in [204, 205, 304] {
        let p = bodiless(status, Exchange::new(BodyMode::Inline));
        assert!(
            !p.wire_to_g.iter().any(|m| m[0] == FrameType::RESPONSE_BODY.0),
            "{status}: no body frame on the wire"
        );
        assert!(
            matches!(&p.app.response_parts[..], [ResponsePart::Head(h), ResponsePart::End(_)] if h.status == status)
        );
        assert!(p.f.is_done() && p.g.is_done(), "{status}");
    }
    let p = bodiless(200, Exchange::for_method(BodyMode::Inline, "HEAD"));
    assert!(!p.wire_to_g.iter().any(|m| m[0] == FrameType::RESPONSE_BODY.0));
    assert!(p.app.response_body_read.is_empty());
    assert!(p.g.is_done());
}

#[test]
fn a_head_request_with_a_body_status_still_streams_nothing_while_get_streams() {
    let mut p = Pair::with_exchange(small(), Exchange::for_method(BodyMode::Inline, "GET"));
    p.app.response = pattern(10_000);
    p.connect();
    p.drive(Duration::from_secs(5));
    assert_eq!(p.app.response_body_read.len(), 10_000);
}

// ---- the deadline ----

#[test]
fn the_deadline_fails_an_unfinished_response_and_later_writes_say_so() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response = pattern(1_000_000);
    p.app.gateway_reads = false; // a slow client: the response cannot finish in time
    let deadline = p.now + Duration::from_millis(300);
    p.f.set_deadline(deadline);
    p.connect();
    p.drive(Duration::from_millis(299));
    assert!(!p.f.deadline_reached());
    assert_eq!(p.f.poll_timeout(), Some(deadline));
    p.app.gateway_reads = true;
    p.app.response_finished = true; // the app is stuck elsewhere; only the deadline ends it
    p.advance(deadline.saturating_since(p.now));
    p.f.handle_timeout(p.now);
    assert!(p.f.deadline_reached());
    assert_eq!(p.f.write(&mut pattern(1)), Err(StreamError::DeadlineReached));
    assert_eq!(p.f.finish(HeaderMap::new()), Err(StreamError::DeadlineReached));
    p.drive(Duration::from_secs(5));
    let Some(ResponsePart::Failed(e)) = p.app.response_parts.last() else {
        panic!("the gateway got {:?}", p.app.response_parts)
    };
    assert_eq!((e.code, e.message.as_str()), (ErrorCode::DEADLINE, DEADLINE_MESSAGE));
    assert!(p.f.is_done(), "the error frame was acknowledged");
}

#[test]
fn a_response_that_ends_before_the_deadline_is_left_alone() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response = pattern(1000);
    p.f.set_deadline(p.now + Duration::from_secs(1));
    p.connect();
    p.drive(Duration::from_secs(5));
    assert!(!p.f.deadline_reached());
    assert!(matches!(p.app.response_parts.last(), Some(ResponsePart::End(_))));
}

// ---- admitting sockets ----

fn upgrade<'a>(token: &'a str, key: &'a str, resume: bool) -> UpgradeRequest<'a> {
    UpgradeRequest {
        upgrade: Some("websocket"),
        protocols: Some(SUBPROTOCOL),
        token: Some(token),
        key: Some(key),
        resume: resume.then_some("1"),
    }
}

fn gateway() -> GatewaySession {
    GatewaySession::new(
        small(),
        Exchange::new(BodyMode::Inline),
        TOKEN,
        Timestamp::from_millis(0),
    )
    .unwrap()
}

fn peer_hello() -> Bytes {
    let mut out = bytes::BytesMut::new();
    Frame::Hello(Hello {
        received: 0,
        acked: 0,
        window: 16 * 1024,
        max_payload: 4096,
        max_header_bytes: 4096,
        keepalive_ms: 10_000,
    })
    .encode(&mut out);
    out.freeze()
}

#[test]
fn only_this_sessions_token_gets_in() {
    let g = gateway();
    assert_eq!(
        g.admit_socket(&upgrade("v1.1.other-token", KEY, false)),
        Err(UpgradeRefusal::TOKEN_REFUSED)
    );
    let no_token = UpgradeRequest {
        token: None,
        ..upgrade(TOKEN, KEY, false)
    };
    assert_eq!(g.admit_socket(&no_token), Err(UpgradeRefusal::TOKEN_REFUSED));
    assert_eq!(g.admit_socket(&upgrade(TOKEN, KEY, false)), Ok(()));
}

#[test]
fn a_first_socket_is_admitted_again_until_the_functions_hello_arrived() {
    let now = Timestamp::from_millis(0);
    let mut g = gateway();
    assert_eq!(
        g.admit_socket(&upgrade(TOKEN, KEY, true)).unwrap_err().status,
        409,
        "nothing to resume yet"
    );
    g.socket_accepted(now, &upgrade(TOKEN, KEY, false));
    // The 101 was lost: the function never saw the socket and tries again as a first socket.
    assert_eq!(g.admit_socket(&upgrade(TOKEN, KEY, false)), Ok(()));
    g.socket_accepted(now, &upgrade(TOKEN, KEY, false));
    g.handle_message(now, &peer_hello()).unwrap();
    assert_eq!(
        g.admit_socket(&upgrade(TOKEN, KEY, false)).unwrap_err().status,
        409,
        "after a hello, a second first socket is a replay"
    );
}

#[test]
fn before_the_hello_a_first_socket_must_present_the_first_sockets_key() {
    let now = Timestamp::from_millis(0);
    let mut g = gateway();
    g.socket_accepted(now, &upgrade(TOKEN, KEY, false));
    // Someone who saw the token, but not the key, cannot replace the function's first socket
    // before its hello arrives (the function would get a final close and its client a 502).
    assert_eq!(
        g.admit_socket(&upgrade(TOKEN, OTHER_KEY, false)),
        Err(UpgradeRefusal::TOKEN_REFUSED)
    );
    assert_eq!(
        g.admit_socket(&upgrade(TOKEN, KEY, false)),
        Ok(()),
        "the function's own retry, its 101 lost"
    );
}

#[test]
fn resumes_must_present_the_first_sockets_session_key() {
    let now = Timestamp::from_millis(0);
    let mut g = gateway();
    g.socket_accepted(now, &upgrade(TOKEN, KEY, false));
    g.handle_message(now, &peer_hello()).unwrap();
    // Someone who saw the token, but not the key, cannot take the session over.
    assert_eq!(
        g.admit_socket(&upgrade(TOKEN, OTHER_KEY, true)),
        Err(UpgradeRefusal::TOKEN_REFUSED)
    );
    let keyless = UpgradeRequest {
        key: None,
        ..upgrade(TOKEN, KEY, true)
    };
    assert_eq!(g.admit_socket(&keyless), Err(UpgradeRefusal::TOKEN_REFUSED));
    assert_eq!(
        g.admit_socket(&upgrade(TOKEN, KEY, true)),
        Ok(()),
        "the function resumes"
    );
    g.socket_accepted(now, &upgrade(TOKEN, KEY, true));
    assert!(g.is_connected());
    assert_eq!((g.summary().resumes, g.summary().outcome), (1, "open"));
    g.abort(AbortCode::CLIENT_GONE, "gone");
    assert_eq!(g.admit_socket(&upgrade(TOKEN, KEY, true)).unwrap_err().status, 410);
    let summary = g.summary();
    assert_eq!((summary.outcome, summary.error.as_deref()), ("aborted", Some("gone")));
}

// ---- the invocation's result ----

fn reply(status: u16, outcome: Option<&str>) -> ReceivedResult<'_> {
    ReceivedResult::Response { status, outcome }
}

#[test]
fn before_any_socket_a_plain_result_passes_through_and_nothing_connects_afterwards() {
    for status in [200, 302, 404] {
        let mut g = gateway();
        let now = Timestamp::from_millis(5);
        assert_eq!(
            g.handle_invocation_result(now, reply(status, None)),
            ResultVerdict::PassThrough
        );
        assert_eq!(g.admit_socket(&upgrade(TOKEN, KEY, false)).unwrap_err().status, 410);
    }
}

#[test]
fn before_any_socket_a_relay_outcome_a_5xx_or_a_failed_invocation_is_a_502() {
    let cases = [
        reply(403, Some("refused")),
        reply(200, Some("relayed")),
        reply(500, Some("unconfigured")),
        reply(503, None),
        ReceivedResult::Failed,
    ];
    for case in cases {
        let mut g = gateway();
        let ResultVerdict::Fail(failure) = g.handle_invocation_result(Timestamp::from_millis(5), case) else {
            panic!("{case:?}")
        };
        assert_eq!(failure.status, 502, "{case:?}");
        assert_eq!(failure.code, FailureCode::Gateway(GatewayError::INVOCATION_FAILED));
        assert_eq!(failure.headers()[1], (ERROR_CODE_HEADER, "invocation_failed"));
    }
}

#[test]
fn lambdas_own_refusal_is_a_502_that_says_what_to_grant_not_a_passed_through_403() {
    // A Function URL without `lambda:InvokeFunction` answers 403 itself; passed through, it
    // would look like the function's own answer.
    let refused = ReceivedResult::new(403, None, Some("AccessDeniedException"));
    assert_eq!(
        refused,
        ReceivedResult::Refused {
            status: 403,
            error_type: "AccessDeniedException"
        }
    );
    let mut g = gateway();
    let ResultVerdict::Fail(failure) = g.handle_invocation_result(Timestamp::from_millis(5), refused) else {
        panic!("a refusal fails the request")
    };
    assert_eq!(failure.status, 502);
    assert_eq!(failure.code, FailureCode::Gateway(GatewayError::INVOCATION_FAILED));
    assert!(
        failure.message.contains("403 AccessDeniedException"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("--invoked-via-function-url"),
        "{}",
        failure.message
    );
    // A signature Lambda refuses names the gateway's key and clock, not a permission.
    let mut g = gateway();
    let bad_signature = ReceivedResult::new(403, None, Some("InvalidSignatureException"));
    let ResultVerdict::Fail(failure) = g.handle_invocation_result(Timestamp::from_millis(5), bad_signature) else {
        panic!("a refusal fails the request")
    };
    assert!(
        failure.message.contains("AWS_SECRET_ACCESS_KEY") && failure.message.contains("clock"),
        "{}",
        failure.message
    );

    let throttled = ReceivedResult::new(429, None, Some("TooManyRequestsException"));
    let ResultVerdict::Fail(failure) = gateway().handle_invocation_result(Timestamp::from_millis(5), throttled) else {
        panic!("a refusal fails the request")
    };
    assert_eq!(
        failure.message,
        "Lambda refused the invocation (429 TooManyRequestsException)"
    );

    // The function's own answers are told apart by the outcome header, or by no error header.
    assert_eq!(
        ReceivedResult::new(403, Some("refused"), Some("x")),
        reply(403, Some("refused"))
    );
    assert_eq!(ReceivedResult::new(403, None, None), reply(403, None));
}

#[test]
fn after_a_socket_a_failed_result_aborts_and_the_function_is_told() {
    let refused = ReceivedResult::Refused {
        status: 429,
        error_type: "TooManyRequestsException",
    };
    for case in [
        reply(502, Some("failed")),
        reply(404, None),
        refused,
        ReceivedResult::Failed,
    ] {
        let mut p = Pair::new(small(), BodyMode::Inline);
        p.app.auto_head = false;
        p.connect();
        p.drive(Duration::from_millis(50));
        assert_eq!(
            p.g.handle_invocation_result(p.now, case),
            ResultVerdict::Aborted,
            "{case:?}"
        );
        assert!(matches!(p.g.error(), Some(Error::Aborted(a)) if a.code == AbortCode::GATEWAY));
        let abort = p.g.poll_transmit().expect("the abort goes out");
        assert_eq!(abort[0], FrameType::ABORT.0);
    }
}

#[test]
fn a_2xx_result_is_only_a_signal_the_frames_after_it_still_arrive() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response = pattern(100_000);
    p.app.gateway_reads = false;
    p.connect();
    p.drive(Duration::from_millis(50));
    // The result overtakes the last frames.
    assert_eq!(
        p.g.handle_invocation_result(p.now, reply(200, Some("relayed"))),
        ResultVerdict::Continue
    );
    p.app.gateway_reads = true;
    p.drive(Duration::from_secs(5));
    assert_eq!(p.app.response_body_read, pattern(100_000));
    assert!(matches!(p.app.response_parts.last(), Some(ResponsePart::End(_))));
    assert_eq!(p.g.error(), None);
}

#[test]
fn a_2xx_result_on_a_response_that_never_ends_fails_it_after_the_grace() {
    let config = Config {
        resume_grace: Duration::from_secs(3),
        ..small()
    };
    let mut p = Pair::new(config, BodyMode::Inline);
    p.app.response = pattern(100);
    p.app.response_finished = true; // a frozen function: head and body, never the end
    p.connect();
    p.drive(Duration::from_millis(50));
    assert_eq!(
        p.g.handle_invocation_result(p.now, reply(200, Some("relayed"))),
        ResultVerdict::Continue
    );
    assert_eq!(p.g.poll_timeout(), Some(p.now + Duration::from_secs(3)));
    p.advance(Duration::from_secs(3));
    p.g.handle_timeout(p.now);
    assert_eq!(p.g.error(), Some(&Error::Unfinished(Duration::from_secs(3))));
    assert_eq!(p.g.poll_close(), Some(CloseCode::TIMEOUT));
}

#[test]
fn a_result_after_the_response_was_read_changes_nothing() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.connect();
    p.drive(Duration::from_secs(1));
    assert!(p.g.is_done());
    assert_eq!(
        p.g.handle_invocation_result(p.now, ReceivedResult::Failed),
        ResultVerdict::Continue
    );
    assert_eq!(p.g.error(), None);
}

// ---- the request body after the response ----

#[test]
fn once_the_response_ended_the_request_body_is_no_longer_wanted() {
    let mut p = Pair::new(small(), BodyMode::Stream);
    p.app.request = pattern(1_000_000);
    p.app.function_reads = false; // a handler that answers at once without reading
    p.app.finish_after_request = false;
    p.connect();
    p.drive(Duration::from_secs(5));
    assert!(matches!(p.app.response_parts.last(), Some(ResponsePart::End(_))));
    assert!(!p.g.wants_request_body());
    // Before the fix this said Blocked for ever, and the request pump kept waiting.
    assert_eq!(p.g.write(p.now, &mut pattern(10)), Err(StreamError::Finished));
    assert_eq!(p.g.finish_request(), Err(StreamError::Finished));
    assert!(p.app.request.len() > 900_000, "the rest of the upload was never taken");
}

// ---- failures before the head ----

#[test]
fn failures_before_the_head_map_to_statuses_and_codes() {
    let cases = [
        (Error::ConnectTimeout(Duration::from_secs(15)), 504, "connect_timeout"),
        (Error::ResumeTimeout(Duration::from_secs(10)), 502, "resume_timeout"),
        (Error::Protocol(ProtocolError::TextMessage), 502, "protocol_error"),
        (Error::PeerClosed(CloseCode::WINDOW_EXCEEDED), 502, "connection_closed"),
        (Error::Unfinished(Duration::from_secs(10)), 502, "invocation_failed"),
        (
            Error::Aborted(Abort {
                code: AbortCode::GATEWAY,
                reason: "x".into(),
            }),
            502,
            "aborted",
        ),
    ];
    for (error, status, code) in cases {
        let failure = Failure::from_error(&error);
        assert_eq!((failure.status, failure.code.name()), (status, code), "{error}");
    }
    let f = Failure::from_function(&FunctionError {
        code: ErrorCode::HANDLER,
        message: "boom".into(),
    });
    assert_eq!(
        (f.status, f.code.name(), f.body()),
        (502, "handler_error", "the function failed: boom\n".into())
    );
    let unknown = Failure::from_function(&FunctionError {
        code: ErrorCode(77),
        message: String::new(),
    });
    assert_eq!(unknown.code.name(), "function_error");
    let refused = Failure::socket_refused(UpgradeRefusal::UNKNOWN_RELAY);
    assert_eq!((refused.status, refused.code.name()), (404, "socket_refused"));
    assert_eq!(Failure::misconfigured("LAMBDA_URL is not set").status, 500);
}

// ---- small responses skip the socket ----

#[test]
fn a_small_complete_response_may_skip_the_socket_and_the_session_then_sends_nothing() {
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.auto_head = false;
    p.app.response_finished = true;
    assert_eq!(p.f.respond_inline(200, INLINE_RESPONSE_LIMIT), Ok(true));
    assert_eq!(p.f.write(&mut pattern(1)), Err(StreamError::AnsweredInline));
    assert_eq!(p.f.finish(HeaderMap::new()), Err(StreamError::AnsweredInline));
    p.connect();
    p.drive(Duration::from_millis(100));
    assert!(
        p.wire_to_g
            .iter()
            .all(|m| m[0] == FrameType::HELLO.0 || m[0] == FrameType::ACK.0),
        "only hellos and keepalives cross"
    );
    // The gateway gets the response in the invocation result: it answers with it and
    // aborts the session, which ends the function's too.
    let reply = ReceivedResult::Response {
        status: 200,
        outcome: Some(InvocationResult::complete_header().1),
    };
    assert_eq!(p.g.handle_invocation_result(p.now, reply), ResultVerdict::Inline);
    let abort = p.g.poll_transmit().unwrap();
    assert!(matches!(p.f.handle_message(p.now, &abort), Err(Error::Aborted(_))));
    assert!(p.f.poll_close().is_some());
}

#[test]
fn only_complete_small_responses_to_unstreamed_requests_skip_the_socket() {
    let now = Timestamp::from_millis(0);
    let mut f = FunctionSession::new(small(), Exchange::new(BodyMode::Stream), now).unwrap();
    assert_eq!(
        f.respond_inline(200, 10),
        Err(StreamError::NotInline),
        "a streamed request body needs the socket"
    );
    let mut f = FunctionSession::new(small(), Exchange::new(BodyMode::Inline), now).unwrap();
    assert_eq!(
        f.respond_inline(200, INLINE_RESPONSE_LIMIT + 1),
        Err(StreamError::NotInline)
    );
    assert_eq!(f.respond_inline(103, 1), Err(StreamError::NotInline));
    let mut head_request = FunctionSession::new(small(), Exchange::for_method(BodyMode::Inline, "HEAD"), now).unwrap();
    assert_eq!(
        head_request.respond_inline(200, 10),
        Ok(false),
        "a HEAD response drops its body"
    );
    f.send_head(head(200)).unwrap();
    assert_eq!(f.respond_inline(200, 1), Err(StreamError::HeadAlreadySent));
}

#[test]
fn a_complete_result_after_a_head_came_over_the_socket_is_refused() {
    let complete = ReceivedResult::Response {
        status: 200,
        outcome: Some(InvocationResult::complete_header().1),
    };
    // Before any socket: the result is the response.
    let mut g = gateway();
    assert_eq!(
        g.handle_invocation_result(Timestamp::from_millis(1), complete),
        ResultVerdict::Inline
    );
    // After a head arrived on the socket, the function would be answering twice.
    let mut p = Pair::new(small(), BodyMode::Inline);
    p.app.response = pattern(10);
    p.app.response_finished = true;
    p.app.gateway_reads = false;
    p.connect();
    p.drive(Duration::from_millis(50));
    assert_eq!(p.g.handle_invocation_result(p.now, complete), ResultVerdict::Aborted);
}
