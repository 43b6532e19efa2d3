//! The Durable Object: one per client request. It mints the relay id and token, invokes the
//! function, admits the function's socket and turns the session's response parts into the
//! client's response as the client reads them.
//!
//! Its session is driven by [`crate::driver`]: this file holds the object and its two routes,
//! the client's request and the function's socket.
//!
//! Sockets use the standard WebSocket API (`accept()` and event listeners), not the
//! hibernation API: the session lives in this object's memory, and the client's open request
//! keeps the object in memory while the session lives, so nothing would survive a
//! hibernation worth waking for (docs/protocol.md, "Gateway side").

use std::cell::RefCell;

use futures_channel::oneshot;
use futures_util::StreamExt;
use lambda_relay::proto::{self, Abort, AbortCode, BodyMode, Exchange, Failure, GatewaySession};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use worker::{
    durable_object, DurableObject, EncodeBody, Env, Headers, Request, Response, ResponseBody, Result, State,
    WebSocketPair,
};

use crate::body::{pump_request, BodyStream};
use crate::config::GatewayConfig;
use crate::driver::{attach_socket, client_left, drive, Driver, DriverRef, Start};
use crate::invoke;
use crate::log::RequestLog;
use crate::web::{self, HeaderList};

/// One client request and its relay session.
#[durable_object]
pub struct RelaySession {
    state: State,
    env: Env,
    driver: RefCell<Option<DriverRef>>,
}

impl DurableObject for RelaySession {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            driver: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        if req.path().starts_with(crate::config::socket_path(&self.env).as_str()) {
            return self.accept_socket(req);
        }
        // A client's request comes with its route's settings (the Worker's `with_route`).
        let route = req.headers().get(crate::config::ROUTE_HEADER)?;
        match GatewayConfig::for_route(&self.env, route.as_deref()) {
            Ok(config) => self.relay_request(req, config).await,
            Err(reason) => web::failure_response(&Failure::misconfigured(reason)),
        }
    }
}

impl RelaySession {
    /// The function's socket: the edge ran `check_upgrade`; the session decides the rest.
    fn accept_socket(&self, req: Request) -> Result<Response> {
        let Some(driver) = self.driver.borrow().clone() else {
            return web::failure_response(&Failure::socket_refused(proto::UpgradeRefusal::UNKNOWN_RELAY));
        };
        let headers = HeaderList::of(req.headers());
        let upgrade = headers.upgrade();
        {
            let relay = driver.borrow();
            if let Err(refusal) = relay.session.admit_socket(&upgrade) {
                return web::failure_response(&Failure::socket_refused(refusal));
            }
            drop(relay);
            let pair = WebSocketPair::new()?;
            attach_socket(&driver, pair.server, &upgrade)?;
            let out = Headers::new();
            out.set("sec-websocket-protocol", proto::SUBPROTOCOL)?;
            Ok(Response::from_websocket(pair.client)?.with_headers(out))
        }
    }

    /// A client request: invoke the function and answer with what it streams back.
    async fn relay_request(&self, mut req: Request, config: GatewayConfig) -> Result<Response> {
        let relay_id = self.state.id().to_string();
        let headers = HeaderList::of(req.headers());
        let length = headers.get("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let has_body = req.inner().body().is_some() && length != Some(0);
        let websocket = proto::is_websocket_upgrade(&req.inner().method(), headers.pairs());
        let mode = if websocket {
            BodyMode::WebSocket
        } else {
            BodyMode::choose(has_body, length, config.inline_body_limit)
        };
        let exchange = Exchange::for_method(mode, &req.inner().method());
        // The path without its query, which may carry secrets.
        let function = config
            .lambda_origin
            .split_once("://")
            .map_or(config.lambda_origin.as_str(), |(_, host)| host);
        let analytics = crate::log::analytics(&self.env);
        let log = RequestLog::new(
            &relay_id,
            &req.inner().method(),
            req.path().as_str(),
            function,
            analytics,
            web::now(),
        );
        let (invocation, token) = invoke::request(&mut req, &config, &headers, &relay_id, mode, has_body).await?;

        // The window the isolate's buffer budget has free (docs/performance.md).
        let (session_config, share) = crate::budget::admit(&config.session, config.buffer_budget);
        let session = match GatewaySession::new(session_config, exchange, token, web::now()) {
            Ok(s) => s,
            Err(e) => return web::failure_response(&Failure::misconfigured(e.to_string())),
        };
        let (start_tx, start_rx) = oneshot::channel();
        let driver = Driver::new(session, share, start_tx, log);
        *self.driver.borrow_mut() = Some(driver.clone());

        // A client that leaves before the head: where the runtime reports it by aborting the
        // request's signal (`enable_request_signal`; workerd run locally never does, so no
        // test here can show it), the function is told as when the client leaves later.
        let signal = req.inner().signal();
        let on_abort = {
            let driver = driver.clone();
            Closure::<dyn FnMut()>::new(move || client_left(&driver, "the client disconnected before the response"))
        };
        signal.add_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref())?;
        spawn_local(invoke::send(driver.clone(), invocation));
        if mode == BodyMode::Stream {
            let body = js_sys::Reflect::get(req.inner(), &"body".into())?;
            driver.borrow_mut().request_pending = true;
            spawn_local(pump_request(driver.clone(), body));
        }
        drive(&driver);

        let start = start_rx.await;
        // From the head on, the body stream tells a client's leaving.
        let _ = signal.remove_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
        drop(on_abort);
        let start = start.unwrap_or_else(|_| {
            Start::Failed(Failure::from_error(&proto::Error::Aborted(Abort {
                code: AbortCode::GATEWAY,
                reason: "the relay ended before a response".into(),
            })))
        });
        let response = self.respond(start, &driver, exchange);
        // Every answer names its relay id: the key to the gateway's and the function's logs.
        response.map(|mut response| {
            // Every response here was made here, so its headers are mutable; a failure to name
            // it must not cost the client its response.
            let _ = response.headers_mut().set(proto::RELAY_ID_HEADER, &relay_id);
            response
        })
    }

    /// The client's response, as it starts; the request's log line records how.
    fn respond(&self, start: Start, driver: &DriverRef, exchange: Exchange) -> Result<Response> {
        let now = web::now();
        let decided =
            |driver: &DriverRef, status: u16, outcome: &'static str, code: Option<&'static str>, error: String| {
                let mut relay = driver.borrow_mut();
                relay.log.responded(status, now);
                relay.log.decided(outcome, code, error);
                let summary = relay.session.summary();
                relay.log.write(&summary, now);
            };
        match start {
            Start::Head(head) => {
                let status = head.status.as_u16();
                driver.borrow_mut().log.responded(status, now);
                let driver = driver.clone();
                let websocket = exchange.accepts_websocket(status);
                let has_body = exchange.response_has_body(status);
                let headers = web::client_headers(&head, has_body && !websocket, exchange.head_request)?;
                if websocket {
                    crate::websocket::accept(&driver, headers)
                } else if has_body {
                    let body = wasm_streams::ReadableStream::from_stream(BodyStream::new(driver)).into_raw();
                    // The function's bytes are the body as the client gets it: one the function
                    // compressed itself (`content-encoding: gzip`) must not be encoded again.
                    Ok(Response::from_body(ResponseBody::Stream(body))?
                        .with_status(status)
                        .with_headers(headers)
                        .with_encode_body(EncodeBody::Manual))
                } else {
                    // The function still ends its (empty) body; read it so the session completes.
                    spawn_local(BodyStream::new(driver).for_each(|_| async {}));
                    Ok(Response::empty()?.with_status(status).with_headers(headers))
                }
            }
            Start::Failed(failure) => {
                decided(
                    driver,
                    failure.status,
                    "failed",
                    Some(failure.code.name()),
                    failure.message.clone(),
                );
                web::failure_response(&failure)
            }
            Start::PassThrough(response) => {
                let status = response.status_code();
                decided(driver, status, "passthrough", None, String::new());
                // Rebuilt: a fetched response's headers cannot be changed.
                let headers = response.headers().clone();
                let (_, body) = response.into_parts();
                Ok(Response::from_body(body)?.with_status(status).with_headers(headers))
            }
            Start::Inline(response) => {
                let status = response.status_code();
                decided(driver, status, "inline", None, String::new());
                let headers = web::inline_headers(response.headers(), status, exchange.head_request)?;
                let (_, body) = response.into_parts();
                Ok(Response::from_body(body)?.with_status(status).with_headers(headers))
            }
        }
    }
}
