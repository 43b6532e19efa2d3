//! The invocation: the request the gateway sends the function's URL, and what it does with
//! the result (the session judges it: `GatewaySession::handle_invocation_result`).

use lambda_relay::proto::{self, BodyMode, ClientInfo, ReceivedResult, RequestBinding, ResultVerdict, TokenClaims};
use worker::{Fetch, Headers, Request, Result};

use crate::config::GatewayConfig;
use crate::driver::{drive, DriverRef, Start};
use crate::web::{self, HeaderList};

/// The invocation request: the client's method, path and query, the headers proto forwards
/// (`x-forwarded-*` set from what the gateway saw, never from the client), the relay headers
/// with a token bound to this request (minted now, for `relay_id`), the body if it rides
/// inline, and with `LAMBDA_AUTH = "aws_iam"` a SigV4 signature. Redirects are the client's
/// to follow, never the gateway's. Returns the request and its token.
pub(crate) async fn request(
    req: &mut Request,
    config: &GatewayConfig,
    client: &HeaderList,
    relay_id: &str,
    mode: BodyMode,
    has_body: bool,
) -> Result<(Request, String)> {
    let url = req.url()?;
    // The Function URL's own path (if any) prefixes the client's: the function's event shows
    // this whole path, and the token binds it.
    let mut path_and_query = format!("{}{}", config.lambda_path, url.path());
    if let Some(query) = url.query().filter(|q| !q.is_empty()) {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let host = url
        .host_str()
        .map(|host| url.port().map_or_else(|| host.to_owned(), |p| format!("{host}:{p}")));
    let info = ClientInfo {
        // Set by Cloudflare's edge (and by workerd locally) from the connection itself.
        address: client.get("cf-connecting-ip"),
        scheme: url.scheme(),
        host: host.as_deref(),
    };
    let body = if mode == BodyMode::Inline && has_body {
        req.bytes().await?
    } else {
        Vec::new()
    };
    // The method as the client sent it: worker's `Method` reads any it does not know (WebDAV's
    // PROPFIND, QUERY, PURGE) as GET, which would invoke, sign and bind another request.
    let method = req.inner().method();
    let now = web::unix_now();
    let binding = RequestBinding {
        method: &method,
        path_and_query: &path_and_query,
        body_mode: mode,
        inline_body: &body,
        client_address: info.address,
    };
    let token = config
        .secret
        .mint(relay_id, &TokenClaims::new(now, config.token_ttl.as_secs(), &binding))
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let headers = Headers::new();
    for (name, value) in proto::invocation_headers(client.pairs(), &info) {
        headers.append(&name, &value)?;
    }
    headers.set(proto::RELAY_ID_HEADER, relay_id)?;
    headers.set(proto::RELAY_TOKEN_HEADER, &token)?;
    headers.set(proto::RELAY_BODY_HEADER, mode.as_str())?;
    if let Some(signer) = &config.signer {
        for (name, value) in signer
            .sign(now, &method, &config.lambda_origin, &path_and_query, &body)
            .pairs()
        {
            headers.set(name, value)?;
        }
    }
    let init = web_sys::RequestInit::new();
    init.set_method(&method);
    init.set_headers(&headers.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if !body.is_empty() {
        init.set_body(&js_sys::Uint8Array::from(body.as_slice()));
    }
    let target = format!("{}{path_and_query}", config.lambda_origin);
    let invocation = web_sys::Request::new_with_str_and_init(&target, &init)?;
    Ok((Request::from(invocation), token))
}

/// Sends the invocation and hands its result to the session. The result is a signal, never
/// the end of the response.
pub(crate) async fn send(driver: DriverRef, invocation: Request) {
    let result = Fetch::Request(invocation).send().await;
    let verdict = {
        let mut relay = driver.borrow_mut();
        let now = web::now();
        match &result {
            Err(_) => relay.session.handle_invocation_result(now, ReceivedResult::Failed),
            Ok(response) => {
                let header = |name| response.headers().get(name).ok().flatten();
                let (outcome, lambda_error) = (header(proto::RELAY_OUTCOME_HEADER), header(proto::LAMBDA_ERROR_HEADER));
                let received = ReceivedResult::new(response.status_code(), outcome.as_deref(), lambda_error.as_deref());
                relay.session.handle_invocation_result(now, received)
            }
        }
    };
    match (verdict, result) {
        (ResultVerdict::PassThrough, Ok(response)) => driver.borrow_mut().start(Start::PassThrough(response)),
        (ResultVerdict::Inline, Ok(response)) => driver.borrow_mut().start(Start::Inline(response)),
        (ResultVerdict::Fail(failure), Ok(mut response)) => {
            let text = response.text().await.unwrap_or_default();
            driver.borrow_mut().start(Start::Failed(failure.with_detail(&text)));
        }
        (ResultVerdict::Fail(failure), Err(e)) => {
            driver
                .borrow_mut()
                .start(Start::Failed(failure.with_detail(&e.to_string())));
        }
        _ => {}
    }
    drive(&driver);
}
