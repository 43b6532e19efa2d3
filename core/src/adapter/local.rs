//! What a local Function URL does around a handler, written once for the three local servers
//! (Rust's `local`, Node's `serve`, Python's `serve`): an HTTP request becomes the event AWS
//! would build, and the handler's result becomes the HTTP response AWS would send.

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::proto::sigv4::{self, AwsCredentials};
use crate::proto::LAMBDA_ERROR_HEADER;

/// An HTTP request as a local server received it.
#[derive(Clone, Debug)]
pub struct LocalRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The request target as sent: `/path?query`.
    pub target: &'a str,
    /// The headers as sent, any case, repeated names allowed.
    pub headers: &'a [(String, String)],
    /// The whole body.
    pub body: &'a [u8],
    /// The peer's address.
    pub source_ip: &'a str,
    /// The invocation's request id.
    pub request_id: &'a str,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub time_epoch_ms: u64,
}

/// The Function URL event (payload 2.0) AWS would build for `request`: lowercase header
/// names with repeated values joined by `,`; `cookie` headers split into `cookies`; the path
/// and query as sent, and `queryStringParameters` decoded (repeated keys joined by `,`); a
/// UTF-8 body as text, any other base64.
pub fn function_url_event(request: &LocalRequest<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in request.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(Value::from),
            );
            continue;
        }
        match headers.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let (path, query) = split_target(request.target);
    let header = |name: &str| headers.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let host = Some(header("host"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let mut event = Map::new();
    event.insert("version".into(), "2.0".into());
    event.insert("routeKey".into(), "$default".into());
    event.insert("rawPath".into(), path.into());
    event.insert("rawQueryString".into(), query.into());
    if !cookies.is_empty() {
        event.insert("cookies".into(), Value::Array(cookies));
    }
    let user_agent = header("user-agent");
    event.insert("headers".into(), Value::Object(headers));
    let parameters = query_parameters(query);
    if !parameters.is_empty() {
        event.insert("queryStringParameters".into(), Value::Object(parameters));
    }
    event.insert(
        "requestContext".into(),
        serde_json::json!({
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": request.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": user_agent,
            },
            "requestId": request.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_time(request.time_epoch_ms),
            "timeEpoch": request.time_epoch_ms,
        }),
    );
    let base64 = std::str::from_utf8(request.body).is_err();
    if !request.body.is_empty() {
        let body = match std::str::from_utf8(request.body) {
            Ok(text) => text.to_owned(),
            Err(_) => base64::engine::general_purpose::STANDARD.encode(request.body),
        };
        event.insert("body".into(), body.into());
    }
    event.insert("isBase64Encoded".into(), base64.into());
    Value::Object(event)
}

/// `AuthType AWS_IAM` for a local Function URL: the refusal Lambda would send a request whose
/// SigV4 signature does not verify for `credentials` at `unix_time` (403, `x-amzn-ErrorType`,
/// a JSON `Message`), or `None` to let it through. A local stand-in for IAM: one key is
/// allowed, and any region.
pub fn iam_refusal(request: &LocalRequest<'_>, credentials: &AwsCredentials, unix_time: u64) -> Option<LocalResponse> {
    let headers: Vec<(&str, &str)> = request.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    // An absolute-form target (`http://host/p?q`) is its path and query.
    let (path, query) = split_target(request.target);
    let path_and_query = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let received = sigv4::Received {
        method: request.method,
        path_and_query: &path_and_query,
        headers: &headers,
        body: request.body,
    };
    let error = sigv4::verify(&received, credentials, sigv4::LAMBDA_SERVICE, unix_time).err()?;
    let body = serde_json::json!({ "Message": error.to_string() }).to_string();
    Some(LocalResponse {
        status: 403,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (LAMBDA_ERROR_HEADER.into(), error.error_type().into()),
        ],
        body: Bytes::from(body),
    })
}

/// What a local Function URL sends for a handler's result, as AWS's front door reads it: a
/// result with a `statusCode` is the response (`cookies` as `set-cookie`, a base64 body
/// decoded); anything else is a 200 with the result as a JSON body.
pub struct LocalResponse {
    /// The status.
    pub status: u16,
    /// The headers, `set-cookie` repeated.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl LocalResponse {
    /// Reads a handler's result; an error names what AWS would refuse in it (answered 502).
    pub fn from_result(result: &Value) -> Result<Self, String> {
        let Some(object) = result.as_object().filter(|o| o.contains_key("statusCode")) else {
            return Ok(Self {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: Bytes::from(result.to_string()),
            });
        };
        let status = object["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| format!("the function returned an invalid status {}", object["statusCode"]))?;
        let mut headers = Vec::new();
        for (name, value) in object.get("headers").and_then(Value::as_object).into_iter().flatten() {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            headers.push((name.clone(), value));
        }
        for cookie in object.get("cookies").and_then(Value::as_array).into_iter().flatten() {
            if let Some(cookie) = cookie.as_str() {
                headers.push(("set-cookie".into(), cookie.to_owned()));
            }
        }
        let body = match object.get("body") {
            None | Some(Value::Null) => Bytes::new(),
            Some(Value::String(text)) if object.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) => {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map(Bytes::from)
                    .map_err(|_| "the function returned a body that is not valid base64".to_owned())?
            }
            Some(Value::String(text)) => Bytes::copy_from_slice(text.as_bytes()),
            Some(other) => Bytes::from(other.to_string()),
        };
        Ok(Self { status, headers, body })
    }
}

/// The path and the query of a request target (an absolute-form target's path too).
fn split_target(target: &str) -> (&str, &str) {
    let target = match target.find("://") {
        Some(i) => target[i + 3..].find('/').map_or("/", |p| &target[i + 3 + p..]),
        None => target,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

/// `queryStringParameters`: each `key=value` percent-decoded, repeated keys joined by `,`.
fn query_parameters(query: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (percent_decode(key), percent_decode(value));
        match out.get_mut(&key) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                out.insert(key, Value::String(value));
            }
        }
    }
    out
}

/// `%XX` escapes decoded (invalid ones kept as written), the result read as UTF-8.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A time as Function URL events carry it: `28/Nov/2026:21:30:00 +0000`.
fn clf_time(epoch_ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = crate::proto::civil_from_days(days);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_time_matches_known_dates() {
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_time(1_795_000_000_000), "18/Nov/2026:11:06:40 +0000");
        assert_eq!(clf_time(951_782_400_000), "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes_and_plus() {
        assert_eq!(percent_decode("a%20b+c"), "a b+c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
    }

    #[test]
    fn an_iam_url_lets_through_only_what_its_key_signed() {
        let creds = AwsCredentials::new("AKIDLOCAL", "local secret", None).unwrap();
        let t = 1_800_000_000;
        let signed = sigv4::sign(
            &creds,
            "us-east-1",
            "lambda",
            t,
            "PUT",
            "127.0.0.1:9000",
            "/a?b=1",
            b"body",
        );
        let mut headers: Vec<(String, String)> = vec![("Host".into(), "127.0.0.1:9000".into())];
        headers.extend(signed.pairs().into_iter().map(|(n, v)| (n.to_owned(), v.to_owned())));
        let request = LocalRequest {
            method: "PUT",
            target: "/a?b=1",
            headers: &headers,
            body: b"body",
            source_ip: "127.0.0.1",
            request_id: "r",
            time_epoch_ms: t * 1000,
        };
        assert!(iam_refusal(&request, &creds, t).is_none());
        let other = AwsCredentials::new("AKIDLOCAL", "wrong secret", None).unwrap();
        let refusal = iam_refusal(&request, &other, t).expect("a wrong key is refused");
        assert_eq!(refusal.status, 403);
        assert!(refusal
            .headers
            .contains(&(LAMBDA_ERROR_HEADER.into(), "InvalidSignatureException".into())));
        let message: Value = serde_json::from_slice(&refusal.body).unwrap();
        assert!(message["Message"]
            .as_str()
            .unwrap()
            .starts_with("The request signature we calculated"));
        let late = iam_refusal(&request, &creds, t + 301).expect("a skewed clock is refused");
        assert!(String::from_utf8_lossy(&late.body).contains("Signature expired"));
        let unsigned = LocalRequest {
            headers: &headers[..1],
            ..request
        };
        let refusal = iam_refusal(&unsigned, &creds, t).unwrap();
        assert_eq!(String::from_utf8_lossy(&refusal.body), r#"{"Message":"Forbidden"}"#);
    }

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/a%2Fb?x=1&x=2"), ("/a%2Fb", "x=1&x=2"));
        assert_eq!(split_target("http://h:1/p?q"), ("/p", "q"));
        assert_eq!(split_target("?q"), ("/", "q"));
        assert_eq!(split_target("*"), ("*", ""));
    }
}
