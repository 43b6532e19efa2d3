//! AWS Signature Version 4, header form (docs/protocol.md, "IAM-signed invocations"): the
//! gateway signs every invocation of a Function URL whose `AuthType` is `AWS_IAM`, and the
//! local Function URL servers verify such signatures as Lambda does.
//!
//! Written against AWS's signing test suite (`core/tests/sigv4/`, replayed by
//! `core/tests/sigv4.rs`) and checked end to end against an independent signer (npm `aws4`).
//! Only what a Function URL needs: header signatures (no presigned URLs), HMAC-SHA256, the
//! path normalised and percent-encoded twice as for every service but S3.

use core::fmt;
use core::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::codec::lower_hex;
use super::token::same_credential;

type HmacSha256 = Hmac<Sha256>;

/// The algorithm's name, as it starts an `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service a Function URL is signed for.
pub const LAMBDA_SERVICE: &str = "lambda";
/// How far a signature's time may be from the verifier's clock, in seconds (AWS's rule).
pub const MAX_CLOCK_SKEW_S: u64 = 5 * 60;

/// An AWS access key. `Debug` never shows the secret or the session token, and there is no
/// `PartialEq` (it would compare the secret in variable time).
#[derive(Clone)]
pub struct AwsCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl AwsCredentials {
    /// A key; an empty session token counts as none. Refuses an empty id or secret, and
    /// values no header can carry.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Result<Self, SigV4Error> {
        let (access_key_id, secret_access_key) = (access_key_id.into(), secret_access_key.into());
        let session_token = session_token.filter(|t| !t.is_empty());
        let header_safe = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic());
        if !header_safe(&access_key_id) || access_key_id.contains(['/', ',', '=']) {
            return Err(SigV4Error::Credentials("AWS_ACCESS_KEY_ID is empty or not a key id"));
        }
        if secret_access_key.is_empty() {
            return Err(SigV4Error::Credentials("AWS_SECRET_ACCESS_KEY is empty"));
        }
        if secret_access_key.trim() != secret_access_key {
            // A pasted secret's trailing newline would make every signature wrong, silently.
            return Err(SigV4Error::Credentials(
                "AWS_SECRET_ACCESS_KEY has leading or trailing whitespace",
            ));
        }
        if session_token.as_deref().is_some_and(|t| !header_safe(t)) {
            return Err(SigV4Error::Credentials(
                "AWS_SESSION_TOKEN has characters no header carries",
            ));
        }
        Ok(Self {
            access_key_id,
            secret_access_key,
            session_token,
        })
    }

    /// The key's id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The session token of temporary credentials.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// How the canonical request encodes the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathEncoding {
    /// Every service but S3: the path as sent (already percent-encoded) is encoded again,
    /// so `%3A` signs as `%253A`.
    Double,
    /// Characters outside the unreserved set are encoded and `%` is kept: the path is taken
    /// as not yet encoded.
    Single,
}

/// What a request is signed over (no `Debug`: its headers may hold credentials).
#[derive(Clone, Copy)]
pub struct Signable<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// The path as sent (percent-encoded), from `/`.
    pub path: &'a str,
    /// The query as sent, without `?`.
    pub query: &'a str,
    /// The headers to sign, `host` among them; names in any case, repeats allowed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The lowercase hex SHA-256 of the body.
    pub payload_sha256: &'a str,
}

/// The canonical request (step 1 of the algorithm). `normalize` removes `.` and `..`
/// segments and empty segments, as every service but S3 does.
pub fn canonical_request(req: &Signable<'_>, encoding: PathEncoding, normalize: bool) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    let path = if normalize {
        normalize_path(req.path)
    } else {
        req.path.to_owned()
    };
    let keep_percent = encoding == PathEncoding::Single;
    for b in path.bytes() {
        if b == b'/' || (keep_percent && b == b'%') {
            out.push(char::from(b));
        } else {
            encode_byte(&mut out, b);
        }
    }
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    let headers = canonical_headers(req.headers);
    for (name, value) in &headers {
        let _ = writeln!(out, "{name}:{value}");
    }
    out.push('\n');
    out.push_str(&signed_header_names(&headers));
    out.push('\n');
    out.push_str(req.payload_sha256);
    out
}

/// The string to sign (step 2): `amz_date` is `YYYYMMDDTHHMMSSZ`, the scope
/// `<date>/<region>/<service>/aws4_request`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        lower_hex(&Sha256::digest(canonical_request))
    )
}

/// The signature (steps 3 and 4), lowercase hex.
pub fn signature(secret_access_key: &str, date: &str, region: &str, service: &str, string_to_sign: &str) -> String {
    let key = [date, region, service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret_access_key}").into_bytes(), |key, part| {
            hmac(&key, part.as_bytes()).to_vec()
        });
    lower_hex(&hmac(&key, string_to_sign.as_bytes()))
}

/// The headers that sign an invocation: `x-amz-date`, `x-amz-content-sha256`, with temporary
/// credentials `x-amz-security-token`, and `authorization`. The signature covers `host`
/// (`host` is the authority the request is sent to), those headers, and nothing a client
/// sent, so no hop can break it by adding or reordering headers. `Debug` shows the date and
/// the body's hash only.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `x-amz-date`.
    pub amz_date: String,
    /// `x-amz-content-sha256`.
    pub content_sha256: String,
    /// `x-amz-security-token`, with temporary credentials.
    pub security_token: Option<String>,
    /// `authorization`.
    pub authorization: String,
}

impl fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("amz_date", &self.amz_date)
            .field("content_sha256", &self.content_sha256)
            .finish_non_exhaustive()
    }
}

impl SignedHeaders {
    /// The headers as name–value pairs, to set on the request.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            ("x-amz-date", self.amz_date.as_str()),
            ("x-amz-content-sha256", self.content_sha256.as_str()),
        ];
        if let Some(token) = &self.security_token {
            pairs.push(("x-amz-security-token", token));
        }
        pairs.push(("authorization", &self.authorization));
        pairs
    }
}

/// The names of the headers [`SignedHeaders`] sets: a request to be signed drops any it had.
pub const SIGNING_HEADERS: [&str; 4] = [
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "authorization",
];

/// Signs a request to `host` for `service` in `region` at `unix_time` (seconds).
#[allow(clippy::too_many_arguments)]
pub fn sign(
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    unix_time: u64,
    method: &str,
    host: &str,
    path_and_query: &str,
    body: &[u8],
) -> SignedHeaders {
    let amz_date = amz_date(unix_time);
    let content_sha256 = lower_hex(&Sha256::digest(body));
    let mut headers = vec![
        ("host", host),
        ("x-amz-date", amz_date.as_str()),
        ("x-amz-content-sha256", content_sha256.as_str()),
    ];
    if let Some(token) = credentials.session_token() {
        headers.push(("x-amz-security-token", token));
    }
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let canonical = canonical_request(
        &Signable {
            method,
            path,
            query,
            headers: &headers,
            payload_sha256: &content_sha256,
        },
        PathEncoding::Double,
        true,
    );
    let scope = format!("{}/{region}/{service}/aws4_request", &amz_date[..8]);
    let to_sign = string_to_sign(&amz_date, &scope, &canonical);
    let signature = signature(
        &credentials.secret_access_key,
        &amz_date[..8],
        region,
        service,
        &to_sign,
    );
    let signed = signed_header_names(&canonical_headers(&headers));
    SignedHeaders {
        authorization: format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            credentials.access_key_id
        ),
        amz_date,
        content_sha256,
        security_token: credentials.session_token.clone(),
    }
}

/// A request as a Function URL receives it, to verify (no `Debug`: its headers hold
/// credentials).
#[derive(Clone, Copy)]
pub struct Received<'a> {
    /// The method.
    pub method: &'a str,
    /// The path and query as sent.
    pub path_and_query: &'a str,
    /// Every header (names in any case).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
}

/// Verifies a request's signature as a Function URL with `AuthType AWS_IAM` does, for the one
/// key `credentials` (a local stand-in for IAM), at `unix_time`: the `Authorization` header's
/// scope, the signed headers it names, the body's hash and the time within
/// [`MAX_CLOCK_SKEW_S`]. The error's text is what Lambda would answer.
pub fn verify(
    req: &Received<'_>,
    credentials: &AwsCredentials,
    service: &str,
    unix_time: u64,
) -> Result<(), SigV4Error> {
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let auth = header("authorization").ok_or(SigV4Error::Missing)?;
    let parsed = parse_authorization(auth).ok_or(SigV4Error::Malformed("the Authorization header is not SigV4"))?;
    let mut scope = parsed.credential.split('/');
    let (Some(key_id), Some(date), Some(region), Some(scope_service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(SigV4Error::Malformed(
            "the credential scope is not <key>/<date>/<region>/<service>/aws4_request",
        ));
    };
    if !same_credential(key_id, &credentials.access_key_id) {
        return Err(SigV4Error::UnknownKey);
    }
    if scope_service != service {
        return Err(SigV4Error::Malformed("the credential scope names another service"));
    }
    let amz_date = header("x-amz-date").ok_or(SigV4Error::Malformed("no x-amz-date header"))?;
    let signed_at = parse_amz_date(amz_date).ok_or(SigV4Error::Malformed("x-amz-date is not YYYYMMDDTHHMMSSZ"))?;
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(SigV4Error::Malformed("the credential scope's date is not x-amz-date's"));
    }
    if signed_at.abs_diff(unix_time) > MAX_CLOCK_SKEW_S {
        return Err(SigV4Error::Expired {
            signed: amz_date.to_owned(),
            now: self::amz_date(unix_time),
        });
    }
    if !parsed.signed_headers.split(';').any(|h| h == "host") {
        return Err(SigV4Error::Malformed("the signed headers do not include host"));
    }
    // The token is checked in constant time, and its failure told only after the signature's.
    let token_ok = match (&credentials.session_token, header("x-amz-security-token")) {
        (Some(expected), Some(presented)) => same_credential(expected, presented),
        (None, None) => true,
        _ => false,
    };
    // A Function URL signs every payload: no `UNSIGNED-PAYLOAD`.
    let body_hash = lower_hex(&Sha256::digest(req.body));
    if header("x-amz-content-sha256").is_some_and(|h| h != body_hash) {
        return Err(SigV4Error::BodyHash);
    }
    let payload = header("x-amz-content-sha256").unwrap_or(&body_hash);
    let mut signed = Vec::new();
    for name in parsed.signed_headers.split(';') {
        let values: Vec<_> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .copied()
            .collect();
        if values.is_empty() {
            return Err(SigV4Error::Malformed("a signed header is missing"));
        }
        signed.extend(values);
    }
    let (path, query) = req.path_and_query.split_once('?').unwrap_or((req.path_and_query, ""));
    let canonical = canonical_request(
        &Signable {
            method: req.method,
            path,
            query,
            headers: &signed,
            payload_sha256: payload,
        },
        PathEncoding::Double,
        true,
    );
    let to_sign = string_to_sign(amz_date, &parsed.credential[key_id.len() + 1..], &canonical);
    let expected = signature(&credentials.secret_access_key, date, region, service, &to_sign);
    match (same_credential(&expected, parsed.signature), token_ok) {
        (true, true) => Ok(()),
        (true, false) => Err(SigV4Error::UnknownKey),
        (false, _) => Err(SigV4Error::Mismatch),
    }
}

/// The region of a Function URL (`https://<id>.lambda-url.<region>.on.aws/`), if its host
/// says.
pub fn function_url_region(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let host = rest.split(['/', ':']).next()?;
    let (_, after) = host.split_once(".lambda-url.")?;
    let region = after.strip_suffix(".on.aws")?;
    (!region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    .then_some(region)
}

/// The gateway's signer for its invocations (`LAMBDA_AUTH = "aws_iam"`): a key and the
/// function's region.
#[derive(Clone, Debug)]
pub struct InvocationSigner {
    credentials: AwsCredentials,
    region: String,
}

/// The values of `LAMBDA_AUTH` accepted, in the order the docs list them.
pub const LAMBDA_AUTH_MODES: [&str; 2] = ["none", "aws_iam"];

impl InvocationSigner {
    /// The signer the gateway's settings ask for: `None` for `LAMBDA_AUTH` unset or `none`;
    /// for `aws_iam`, the key (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional
    /// `AWS_SESSION_TOKEN`) and the region (`AWS_REGION`, else the Function URL's host). The
    /// error names the setting that is wrong.
    pub fn from_settings(
        auth: Option<&str>,
        access_key_id: Option<&str>,
        secret_access_key: Option<&str>,
        session_token: Option<&str>,
        region: Option<&str>,
        function_url: &str,
    ) -> Result<Option<Self>, String> {
        match auth.map(str::trim) {
            None | Some("none") => return Ok(None),
            Some("aws_iam") => {}
            Some(other) => {
                return Err(format!(
                    "LAMBDA_AUTH must be one of {LAMBDA_AUTH_MODES:?}, got {:?}",
                    super::validate::clip(other)
                ))
            }
        }
        let (Some(key), Some(secret)) = (access_key_id, secret_access_key) else {
            return Err("LAMBDA_AUTH is aws_iam: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as secrets".into());
        };
        let credentials =
            AwsCredentials::new(key, secret, session_token.map(str::to_owned)).map_err(|e| e.to_string())?;
        let region = match region.or_else(|| function_url_region(function_url)) {
            Some(r)
                if !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                r
            }
            Some(r) => return Err(format!("AWS_REGION is not a region: {:?}", super::validate::clip(r))),
            None => return Err("LAMBDA_AUTH is aws_iam but LAMBDA_URL's host names no region: set AWS_REGION".into()),
        };
        Ok(Some(Self {
            credentials,
            region: region.to_owned(),
        }))
    }

    /// The region signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Signs an invocation of `function_url` (its origin; `path_and_query` is what follows)
    /// with `body` at `unix_time`.
    pub fn sign(
        &self,
        unix_time: u64,
        method: &str,
        function_url: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> SignedHeaders {
        let authority = function_url
            .split_once("://")
            .map_or(function_url, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or("");
        sign(
            &self.credentials,
            &self.region,
            LAMBDA_SERVICE,
            unix_time,
            method,
            authority,
            path_and_query,
            body,
        )
    }
}

/// Why a signature was not made or did not verify. The texts are Lambda's where it has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// The credentials cannot sign.
    #[error("{0}")]
    Credentials(&'static str),
    /// No `Authorization` header.
    #[error("Forbidden")]
    Missing,
    /// The signature's parts are not well formed.
    #[error("malformed SigV4 signature: {0}")]
    Malformed(&'static str),
    /// Signed with another key.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// Signed too far from now.
    #[error("Signature expired: {signed} is now earlier than {now} - 5 min.")]
    Expired {
        /// The signature's `x-amz-date`.
        signed: String,
        /// The verifier's time, in the same form.
        now: String,
    },
    /// `x-amz-content-sha256` is not the body's hash.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    BodyHash,
    /// The signature is not the request's.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
         Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
}

impl SigV4Error {
    /// The `x-amzn-ErrorType` Lambda answers with.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Missing => "AccessDeniedException",
            Self::UnknownKey => "UnrecognizedClientException",
            _ => "InvalidSignatureException",
        }
    }
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time in seconds (UTC).
pub fn amz_date(unix_time: u64) -> String {
    let days = unix_time / 86_400;
    let secs = unix_time % 86_400;
    let (y, m, d) = super::time::civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: core::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 || y < 1970 {
        return None;
    }
    Some(super::time::days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

struct Authorization<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix(ALGORITHM)?.strip_prefix(' ')?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    Some(Authorization {
        credential: credential?,
        signed_headers: signed_headers.filter(|s| !s.is_empty())?,
        signature: signature.filter(|s| s.len() == 64)?,
    })
}

/// RFC 3986's remove-dot-segments, dropping empty segments too; a trailing slash stays.
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if out.is_empty() || (trailing && !segments.is_empty()) {
        out.push('/');
    }
    out
}

/// The query's parameters, each name and value decoded (`+` is a space) then encoded, sorted
/// by name then value.
fn canonical_query(query: &str) -> String {
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (encode_all(&decode(name)), encode_all(&decode(value)))
        })
        .collect();
    params.sort();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Lowercase names, values trimmed with inner runs of whitespace (line folds included) made one
/// space, repeats joined with `,` in order, sorted by name.
fn canonical_headers(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let value = value.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value);
            }
            None => out.push((name, value)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn signed_header_names(headers: &[(String, String)]) -> String {
    headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";")
}

fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (unhex(b[i + 1]), unhex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn encode_all(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        encode_byte(&mut out, b);
    }
    out
}

fn encode_byte(out: &mut String, b: u8) {
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
        out.push(char::from(b));
    } else {
        let _ = write!(out, "%{b:02X}");
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_the_calendar() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        for t in [0, 1_440_938_160, 951_782_400, 4_102_444_799, 1_709_164_800] {
            assert_eq!(parse_amz_date(&amz_date(t)), Some(t));
        }
        for bad in [
            "",
            "20150830T123600",
            "20151330T123600Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn regions_come_from_function_url_hosts() {
        let url = "https://abcdefghij.lambda-url.eu-west-1.on.aws/";
        assert_eq!(function_url_region(url), Some("eu-west-1"));
        assert_eq!(
            function_url_region("https://abc.lambda-url.us-east-2.on.aws"),
            Some("us-east-2")
        );
        assert_eq!(function_url_region("http://127.0.0.1:9000"), None);
        assert_eq!(function_url_region("https://example.com/x.lambda-url.a.on.aws"), None);
    }

    #[test]
    fn the_query_is_decoded_then_encoded_and_sorted() {
        assert_eq!(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(canonical_query("q=a+b%2Fc&x"), "q=a%20b%2Fc&x=");
        assert_eq!(canonical_query("bad=%zz&end=%4"), "bad=%25zz&end=%254");
        assert_eq!(canonical_query(""), "");
    }

    #[test]
    fn paths_normalise_as_aws_does() {
        for (path, normal) in [
            ("/", "/"),
            ("", "/"),
            ("//a//b//", "/a/b/"),
            ("/a/./b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/..", "/"),
            ("/a/.", "/a/"),
        ] {
            assert_eq!(normalize_path(path), normal, "{path}");
        }
    }

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let creds = AwsCredentials::new("AKIDEXAMPLE", "secret/key+example", Some("session".into())).unwrap();
        let t = 1_700_000_000;
        let body = b"{\"a\":1}";
        let signed = sign(
            &creds,
            "us-east-1",
            LAMBDA_SERVICE,
            t,
            "POST",
            "fn.example",
            "/a%2Fb?x=1&y=a+b",
            body,
        );
        let mut headers: Vec<(&str, &str)> = vec![("Host", "fn.example"), ("content-type", "text/plain")];
        headers.extend(signed.pairs());
        let req = Received {
            method: "POST",
            path_and_query: "/a%2Fb?x=1&y=a+b",
            headers: &headers,
            body,
        };
        assert_eq!(verify(&req, &creds, LAMBDA_SERVICE, t + 60), Ok(()));
        let other = AwsCredentials::new("AKIDEXAMPLE", "another", Some("session".into())).unwrap();
        assert_eq!(verify(&req, &other, LAMBDA_SERVICE, t), Err(SigV4Error::Mismatch));
        assert!(matches!(
            verify(&req, &creds, LAMBDA_SERVICE, t + MAX_CLOCK_SKEW_S + 1),
            Err(SigV4Error::Expired { .. })
        ));
        let moved = Received {
            path_and_query: "/a/b?x=1&y=a+b",
            ..req
        };
        assert_eq!(verify(&moved, &creds, LAMBDA_SERVICE, t), Err(SigV4Error::Mismatch));
        let tampered = Received {
            body: b"{\"a\":2}",
            ..req
        };
        assert_eq!(verify(&tampered, &creds, LAMBDA_SERVICE, t), Err(SigV4Error::BodyHash));
        let unsigned_payload: Vec<_> = headers
            .iter()
            .map(|&(n, v)| {
                if n == "x-amz-content-sha256" {
                    (n, "UNSIGNED-PAYLOAD")
                } else {
                    (n, v)
                }
            })
            .collect();
        let unsigned_payload = Received {
            headers: &unsigned_payload,
            ..req
        };
        assert_eq!(
            verify(&unsigned_payload, &creds, LAMBDA_SERVICE, t),
            Err(SigV4Error::BodyHash),
            "a Function URL signs every payload"
        );
        let tokenless = AwsCredentials::new("AKIDEXAMPLE", "secret/key+example", None).unwrap();
        assert_eq!(verify(&req, &tokenless, LAMBDA_SERVICE, t), Err(SigV4Error::UnknownKey));
        assert!(!format!("{signed:?}").contains("session"), "{signed:?}");
        let stranger = AwsCredentials::new("AKIDOTHER", "secret/key+example", None).unwrap();
        assert_eq!(verify(&req, &stranger, LAMBDA_SERVICE, t), Err(SigV4Error::UnknownKey));
        let unsigned: Vec<_> = headers.iter().filter(|(n, _)| *n != "authorization").copied().collect();
        let bare = Received {
            headers: &unsigned,
            ..req
        };
        assert_eq!(verify(&bare, &creds, LAMBDA_SERVICE, t), Err(SigV4Error::Missing));
        assert!(!format!("{creds:?}").contains("secret"));
    }

    #[test]
    fn the_gateways_settings_choose_the_signer() {
        let url = "https://abc.lambda-url.eu-west-1.on.aws";
        let from =
            |auth, key, secret, region, url| InvocationSigner::from_settings(auth, key, secret, None, region, url);
        assert!(from(None, None, None, None, url).unwrap().is_none());
        assert!(from(Some("none"), Some("AKID"), Some("s"), None, url)
            .unwrap()
            .is_none());
        let signer = from(Some("aws_iam"), Some("AKID"), Some("s"), None, url)
            .unwrap()
            .unwrap();
        assert_eq!(signer.region(), "eu-west-1");
        let signer = from(Some("aws_iam"), Some("AKID"), Some("s"), Some("us-west-2"), url)
            .unwrap()
            .unwrap();
        assert_eq!(signer.region(), "us-west-2");
        let err = |r: Result<Option<InvocationSigner>, String>| r.unwrap_err();
        assert!(err(from(Some("iam"), None, None, None, url)).starts_with("LAMBDA_AUTH must be one of"));
        assert!(err(from(Some("aws_iam"), None, Some("s"), None, url)).contains("AWS_ACCESS_KEY_ID"));
        assert!(err(from(
            Some("aws_iam"),
            Some("AKID"),
            Some("s"),
            None,
            "http://127.0.0.1:9000"
        ))
        .contains("AWS_REGION"));
        assert!(err(from(Some("aws_iam"), Some("AKID"), Some("s"), Some("EU West"), url)).contains("not a region"));
        let signed = signer.sign(1_700_000_000, "GET", "http://127.0.0.1:9000/prefix", "/x", b"");
        assert!(signed.authorization.contains("/us-west-2/lambda/aws4_request"));
        let headers = [
            ("host", "127.0.0.1:9000"),
            ("x-amz-date", signed.amz_date.as_str()),
            ("x-amz-content-sha256", signed.content_sha256.as_str()),
            ("authorization", signed.authorization.as_str()),
        ];
        let creds = AwsCredentials::new("AKID", "s", None).unwrap();
        let received = Received {
            method: "GET",
            path_and_query: "/x",
            headers: &headers,
            body: b"",
        };
        assert_eq!(verify(&received, &creds, LAMBDA_SERVICE, 1_700_000_000), Ok(()));
    }

    #[test]
    fn credentials_are_checked() {
        assert!(AwsCredentials::new("", "s", None).is_err());
        assert!(AwsCredentials::new("AKID", "", None).is_err());
        assert!(AwsCredentials::new("AK/ID", "s", None).is_err());
        assert!(AwsCredentials::new("AKID", "s", Some("bad\ntoken".into())).is_err());
        assert!(AwsCredentials::new("AKID", "pasted\n", None).is_err());
        assert_eq!(
            AwsCredentials::new("AKID", "s", Some(String::new()))
                .unwrap()
                .session_token(),
            None
        );
    }
}
