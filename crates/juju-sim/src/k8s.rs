//! The Kubernetes side of the simulated model: the application's StatefulSet (its
//! rolling-update partition) behind a fake API server on loopback that answers the charm's
//! real client (`PATCH /apis/apps/v1/namespaces/{model}/statefulsets/{app}`), and the access
//! review a charm makes to learn whether it was trusted
//! (`POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the API server knows and has been asked.
#[derive(Debug, Default)]
pub struct StatefulSet {
    /// `spec.updateStrategy.rollingUpdate.partition` (0 = every pod follows the template).
    pub partition: u32,
    /// Every partition patched, in order.
    pub patches: Vec<u32>,
    /// Access reviews asked, and what they were told (allowed or not), in order.
    pub reviews: Vec<bool>,
    /// Answer 403 (the application was not `juju trust`ed).
    pub forbid: bool,
}

/// The fake API server.
pub struct ApiServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The bearer token it accepts.
    pub token: String,
    /// Shared state.
    pub sts: Arc<Mutex<StatefulSet>>,
}

impl ApiServer {
    /// Starts serving `namespace`/`app` on a free loopback port.
    pub fn start(namespace: &str, app: &str) -> std::io::Result<ApiServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let token = "sim-service-account-token".to_owned();
        let sts = Arc::new(Mutex::new(StatefulSet::default()));
        let path = format!("/apis/apps/v1/namespaces/{namespace}/statefulsets/{app}");
        let (state, want) = (sts.clone(), format!("Bearer {token}"));
        let (ns, name) = (namespace.to_owned(), app.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &path, (&ns, &name), &want, &state);
            }
        });
        Ok(ApiServer { url, token, sts })
    }
}

fn respond(mut stream: TcpStream, code: u16, body: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn status(code: u16, reason: &str, message: &str) -> String {
    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": reason, "code": code})
    .to_string()
}

fn serve(
    stream: TcpStream,
    path: &str,
    (namespace, app): (&str, &str),
    auth: &str,
    sts: &Mutex<StatefulSet>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_owned();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let len: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if header("authorization") != Some(auth) {
        return respond(stream, 401, &status(401, "Unauthorized", "Unauthorized"));
    }
    if target == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" && method == "POST" {
        // Allowed: patching exactly this StatefulSet, when trusted. Anything else this
        // service account may not do.
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let Some(attrs) = v.pointer("/spec/resourceAttributes") else {
            return respond(
                stream,
                422,
                &status(422, "Invalid", "spec.resourceAttributes is required"),
            );
        };
        let field = |k: &str| attrs.get(k).and_then(|x| x.as_str()).unwrap_or("");
        let mut s = sts.lock().unwrap_or_else(|e| e.into_inner());
        let allowed = !s.forbid
            && field("verb") == "patch"
            && field("group") == "apps"
            && field("resource") == "statefulsets"
            && field("namespace") == namespace
            && field("name") == app;
        s.reviews.push(allowed);
        let mut out = v.clone();
        out["status"] = serde_json::json!({"allowed": allowed});
        return respond(stream, 201, &out.to_string());
    }
    if target != path {
        return respond(
            stream,
            404,
            &status(404, "NotFound", &format!("{target} not found")),
        );
    }
    if method != "PATCH" {
        return respond(
            stream,
            405,
            &status(405, "MethodNotAllowed", "only PATCH is simulated"),
        );
    }
    let mut s = sts.lock().unwrap_or_else(|e| e.into_inner());
    if s.forbid {
        return respond(
            stream,
            403,
            &status(
                403,
                "Forbidden",
                "statefulsets.apps is forbidden: the application is not trusted",
            ),
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let Some(p) = v
        .pointer("/spec/updateStrategy/rollingUpdate/partition")
        .and_then(|p| p.as_u64())
        .and_then(|p| u32::try_from(p).ok())
    else {
        return respond(
            stream,
            422,
            &status(422, "Invalid", "no partition in the patch"),
        );
    };
    s.partition = p;
    s.patches.push(p);
    respond(stream, 200, &serde_json::json!({"kind": "StatefulSet", "spec": {"updateStrategy": {"rollingUpdate": {"partition": p}}}}).to_string())
}
