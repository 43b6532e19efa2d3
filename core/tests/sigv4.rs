//! AWS's SigV4 signing test suite (`tests/sigv4/`, see its README), replayed against
//! `proto::sigv4`: every case's canonical request, string to sign and signature.

use std::fs;
use std::path::{Path, PathBuf};

use lambda_relay::proto::sigv4::{self, PathEncoding, Signable};
use serde_json::Value;
use sha2::{Digest, Sha256};

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// `request.txt`: a request line (the target may hold spaces), `Name:value` lines whose
/// continuations start with whitespace, a blank line, the body.
fn parse_request(text: &str) -> Request {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let line = lines.next().expect("a request line");
    let (method, rest) = line.split_once(' ').unwrap();
    let target = rest.rsplit_once(' ').unwrap().0;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("a continuation follows a header");
            last.1.push('\n');
            last.1.push_str(line);
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

struct Context {
    secret: String,
    token: Option<String>,
    omit_token: bool,
    normalize: bool,
    region: String,
    service: String,
    amz_date: String,
    sign_body: bool,
}

fn context(dir: &Path) -> Context {
    let Ok(text) = fs::read_to_string(dir.join("context.json")) else {
        // The two double-encoding cases come without one; their signed requests say this.
        return Context {
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            token: None,
            omit_token: false,
            normalize: true,
            region: "us-east-2".into(),
            service: "lambda".into(),
            amz_date: "20210511T154045Z".into(),
            sign_body: false,
        };
    };
    let v: Value = serde_json::from_str(&text).unwrap();
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    Context {
        secret: s(&v["credentials"]["secret_access_key"]),
        token: v["credentials"]["token"].as_str().map(str::to_owned),
        omit_token: v["omit_session_token"].as_bool().unwrap_or(false),
        normalize: v["normalize"].as_bool().unwrap(),
        region: s(&v["region"]),
        service: s(&v["service"]),
        amz_date: s(&v["timestamp"]).replace(['-', ':'], ""),
        sign_body: v["sign_body"].as_bool().unwrap(),
    }
}

/// A file of the case, without the newline some end with.
fn read(dir: &Path, name: &str) -> Option<String> {
    let text = fs::read_to_string(dir.join(name)).ok()?;
    Some(text.strip_suffix('\n').map(str::to_owned).unwrap_or(text))
}

struct Outcome {
    canonical: bool,
    string_to_sign: bool,
    signature: bool,
}

fn replay(dir: &Path) -> Outcome {
    let name = dir.file_name().unwrap().to_str().unwrap();
    let req = parse_request(&read(dir, "request.txt").unwrap());
    let ctx = context(dir);
    let payload = format!("{:x}", Sha256::digest(&req.body));
    let mut headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    headers.push(("x-amz-date", &ctx.amz_date));
    if let (Some(token), false) = (&ctx.token, ctx.omit_token) {
        headers.push(("x-amz-security-token", token));
    }
    if ctx.sign_body {
        headers.push(("x-amz-content-sha256", &payload));
    }
    let encoding = if name.starts_with("double-") {
        PathEncoding::Double
    } else {
        PathEncoding::Single
    };
    let signable = Signable {
        method: &req.method,
        path: &req.path,
        query: &req.query,
        headers: &headers,
        payload_sha256: &payload,
    };
    let canonical = sigv4::canonical_request(&signable, encoding, ctx.normalize);
    let expected = read(dir, "header-canonical-request.txt").unwrap();
    if name == "double-encode-path" {
        // Its canonical request was made at another time than its request's date: only the path
        // line is this case's point.
        assert_eq!(
            canonical.lines().nth(1),
            expected.lines().nth(1),
            "{name}: canonical path"
        );
        return Outcome {
            canonical: true,
            string_to_sign: false,
            signature: false,
        };
    }
    assert_eq!(canonical, expected, "{name}: canonical request");
    let scope = format!("{}/{}/{}/aws4_request", &ctx.amz_date[..8], ctx.region, ctx.service);
    let to_sign = sigv4::string_to_sign(&ctx.amz_date, &scope, &canonical);
    let mut outcome = Outcome {
        canonical: true,
        string_to_sign: false,
        signature: false,
    };
    if let Some(expected) = read(dir, "header-string-to-sign.txt") {
        assert_eq!(to_sign, expected, "{name}: string to sign");
        outcome.string_to_sign = true;
    }
    let signature = sigv4::signature(&ctx.secret, &ctx.amz_date[..8], &ctx.region, &ctx.service, &to_sign);
    let expected = read(dir, "header-signature.txt").or_else(|| {
        // No signature file: the signed request's Authorization header carries it.
        let signed = read(dir, "header-signed-request.txt")?;
        Some(signed.split("Signature=").nth(1)?.trim().to_owned())
    });
    if let Some(expected) = expected {
        assert_eq!(signature, expected.trim(), "{name}: signature");
        outcome.signature = true;
    }
    outcome
}

#[test]
fn every_case_of_the_suite_signs_as_aws_does() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigv4");
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut cases, mut strings, mut signatures) = (0, 0, 0);
    for dir in &dirs {
        let outcome = replay(dir);
        cases += usize::from(outcome.canonical);
        strings += usize::from(outcome.string_to_sign);
        signatures += usize::from(outcome.signature);
    }
    // 40 cases; double-encode-path has no string to sign of its own, and its canonical request
    // is checked by path only.
    assert_eq!((cases, strings, signatures), (40, 39, 39));
}

#[test]
fn a_lambda_request_signed_whole_matches_the_suites_lambda_case() {
    // `double-url-encode` is a Lambda API request; `sign` makes its Authorization header.
    let creds = sigv4::AwsCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None).unwrap();
    let t = 1_620_747_645; // 2021-05-11T15:40:45Z
    assert_eq!(sigv4::amz_date(t), "20210511T154045Z");
    let path =
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun/invocations";
    let signed = sigv4::sign(
        &creds,
        "us-east-2",
        "lambda",
        t,
        "POST",
        "lambda.us-east-2.amazonaws.com",
        path,
        b"",
    );
    // `sign` also signs x-amz-content-sha256, so its signature differs from the suite's; its
    // canonical path and scope are the suite's.
    assert!(signed
        .authorization
        .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20210511/us-east-2/lambda/aws4_request, "));
    assert!(signed
        .authorization
        .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="));
    let headers = [
        ("host", "lambda.us-east-2.amazonaws.com"),
        ("x-amz-date", "20210511T154045Z"),
        ("x-amz-content-sha256", signed.content_sha256.as_str()),
        ("authorization", signed.authorization.as_str()),
    ];
    let received = sigv4::Received {
        method: "POST",
        path_and_query: path,
        headers: &headers,
        body: b"",
    };
    assert_eq!(sigv4::verify(&received, &creds, "lambda", t), Ok(()));
}
