//! The partition client against a local HTTP server that answers like the Kubernetes API
//! server: the exact request (method, path, headers, body) and the mapping of its answers.
#![cfg(feature = "k8s-client")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use upgrade_coordinator::k8s::{InClusterClient, PartitionClient, PATCH_FAILED};

struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request with `status` and `body`; returns the base URL and the captured request.
fn serve_once(status: u16, body: &'static str) -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut received = vec![0; len];
        reader.read_exact(&mut received).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        tx.send(Request {
            line: line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(received).unwrap(),
        })
        .unwrap();
    });
    (url, rx)
}

fn client(url: &str) -> (tempfile::TempDir, InClusterClient) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "s3cr3t-token\n").unwrap();
    let c = InClusterClient::with_credentials(url, dir.path(), "middle-earth", "gandalf").unwrap();
    (dir, c)
}

#[test]
fn patches_the_statefulset_partition_with_the_service_account_token() {
    let (url, rx) = serve_once(200, r#"{"kind":"StatefulSet"}"#);
    let (_dir, c) = client(&url);
    c.set_partition(2).unwrap();
    let req = rx.recv().unwrap();
    assert_eq!(
        req.line,
        "PATCH /apis/apps/v1/namespaces/middle-earth/statefulsets/gandalf HTTP/1.1"
    );
    assert_eq!(req.header("authorization"), Some("Bearer s3cr3t-token"));
    assert_eq!(
        req.header("content-type"),
        Some("application/strategic-merge-patch+json")
    );
    assert_eq!(
        req.body,
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}"#
    );
}

#[test]
fn forbidden_means_juju_trust_is_needed() {
    let (url, _rx) = serve_once(
        403,
        r#"{"kind":"Status","status":"Failure","message":"statefulsets.apps \"gandalf\" is forbidden","code":403}"#,
    );
    let (_dir, c) = client(&url);
    let e = c.set_partition(0).unwrap_err();
    assert_eq!(e.message(), PATCH_FAILED);
    assert_eq!(e.cause(), "`juju trust` needed");
    assert_eq!(e.0.resolution, "juju trust gandalf --scope=cluster");
}

#[test]
fn other_errors_carry_the_api_servers_message() {
    let (url, _rx) = serve_once(
        404,
        r#"{"kind":"Status","status":"Failure","message":"statefulsets.apps \"gandalf\" not found","code":404}"#,
    );
    let (_dir, c) = client(&url);
    let e = c.set_partition(1).unwrap_err();
    assert_eq!(e.cause(), "statefulsets.apps \"gandalf\" not found");

    let (url, _rx) = serve_once(500, "not json");
    let (_dir, c) = client(&url);
    assert_eq!(c.set_partition(1).unwrap_err().cause(), "HTTP 500");
}

#[test]
fn unreachable_server_and_missing_credentials_are_errors_not_panics() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let (_dir, c) = client(&url);
    let e = c.set_partition(1).unwrap_err();
    assert!(e.cause().starts_with("PATCH http://"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let c = InClusterClient::with_credentials("http://127.0.0.1:1", dir.path(), "m", "a").unwrap();
    assert!(c
        .set_partition(1)
        .unwrap_err()
        .cause()
        .contains("service-account token"));
    let e =
        InClusterClient::with_credentials("https://127.0.0.1:1", dir.path(), "m", "a").unwrap_err();
    assert!(e.cause().contains("cluster CA"), "{e}");
    std::fs::write(dir.path().join("ca.crt"), "garbage").unwrap();
    std::fs::write(dir.path().join("token"), "t").unwrap();
    let c = InClusterClient::with_credentials("https://127.0.0.1:1", dir.path(), "m", "a").unwrap();
    assert!(c
        .set_partition(1)
        .unwrap_err()
        .cause()
        .contains("no PEM certificate"));
}

#[test]
fn the_access_review_asks_to_patch_exactly_this_statefulset() {
    let (url, rx) = serve_once(
        201,
        r#"{"kind":"SelfSubjectAccessReview","status":{"allowed":false,"reason":"no RBAC"}}"#,
    );
    let (_dir, c) = client(&url);
    assert!(!c.can_patch().unwrap());
    let req = rx.recv().unwrap();
    assert_eq!(
        req.line,
        "POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews HTTP/1.1"
    );
    assert_eq!(req.header("authorization"), Some("Bearer s3cr3t-token"));
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["kind"], "SelfSubjectAccessReview");
    assert_eq!(
        body["spec"]["resourceAttributes"],
        serde_json::json!({"namespace": "middle-earth", "verb": "patch", "group": "apps",
            "resource": "statefulsets", "name": "gandalf"})
    );

    let (url, _rx) = serve_once(201, r#"{"status":{"allowed":true}}"#);
    let (_dir, c) = client(&url);
    assert!(c.can_patch().unwrap());
}

#[test]
fn an_access_review_that_cannot_answer_is_an_error() {
    for (status, body) in [
        (500, r#"{"kind":"Status","message":"etcd is down"}"#),
        (201, r#"{"status":{}}"#),
        (201, "not json"),
    ] {
        let (url, _rx) = serve_once(status, body);
        let (_dir, c) = client(&url);
        let e = c.can_patch().unwrap_err();
        assert!(!e.to_string().is_empty(), "{status} {body}");
        if status == 500 {
            assert!(e.to_string().contains("etcd is down"), "{e}");
        }
    }
}
