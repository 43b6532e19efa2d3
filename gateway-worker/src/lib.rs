//! The lambda-relay gateway: a Worker that routes each client request to a Durable Object of
//! its own, and each relay socket to the Durable Object of its relay id.
//!
//! Every decision is `lambda_relay::proto`'s; this crate is the wiring to workerd, by job:
//! [`relay`] is the Durable Object and its two routes, [`driver`] drives its session (sockets,
//! the timer, waking the streams), [`invoke`] builds and sends the invocation and hands its
//! result to the session, [`body`] moves the request body in and the response body out,
//! [`web`] converts between workerd's types and the relay's, [`websocket`] bridges a client's
//! WebSocket once the function accepted it.

mod body;
mod budget;
mod config;
mod driver;
mod invoke;
mod log;
mod relay;
mod web;
mod websocket;

use lambda_relay::proto::{self, Failure, UpgradeRefusal};
use worker::{event, Context, Env, Request, Response, Result};

pub use relay::RelaySession;

/// The Durable Object namespace binding in `wrangler.toml`.
pub const BINDING: &str = "RELAY_SESSION";

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let namespace = env.durable_object(BINDING)?;
    let path = req.path();
    if let Some(relay_id) = path.strip_prefix(config::socket_path(&env).as_str()) {
        // A function's socket, whichever route its request took. Checked at the edge, so a
        // bad socket never wakes a Durable Object.
        let secret = match config::secret(&env) {
            Ok(s) => s,
            Err(reason) => return web::failure_response(&Failure::misconfigured(reason)),
        };
        let headers = web::HeaderList::of(req.headers());
        let check = proto::check_upgrade(&headers.upgrade(), relay_id, &secret, web::unix_now());
        if let Err(refusal) = check {
            return web::failure_response(&Failure::socket_refused(refusal));
        }
        let Ok(id) = namespace.id_from_string(relay_id) else {
            // A valid relay id that is not a Durable Object id: no session has it.
            return web::failure_response(&Failure::socket_refused(UpgradeRefusal::UNKNOWN_RELAY));
        };
        return id.get_stub()?.fetch_with_request(req).await;
    }
    let config = match config::GatewayConfig::from_env(&env) {
        Ok(c) => c,
        Err(reason) => return web::failure_response(&Failure::misconfigured(reason)),
    };
    // A new object per request, placed near the function unless DO_LOCATION says otherwise.
    let id = namespace.unique_id()?;
    let stub = match config.location_hint {
        Some(hint) => id.get_stub_with_location_hint(hint)?,
        None => id.get_stub()?,
    };
    stub.fetch_with_request(with_route(&req, &env)?).await
}

/// The client's request as the Durable Object gets it: with the route's own settings (those
/// `relay()` gave it, if any), never a client's claim to them.
fn with_route(req: &Request, env: &Env) -> Result<Request> {
    let headers = web_sys::Headers::new_with_headers(&req.headers().0)?;
    headers.set(config::ROUTE_HEADER, &config::route_overrides(env))?;
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers);
    Ok(Request::from(web_sys::Request::new_with_request_and_init(
        req.inner(),
        &init,
    )?))
}
