//! The Kubernetes side of an upgrade: setting the application's StatefulSet
//! `spec.updateStrategy.rollingUpdate.partition`, which decides which pods are recreated with
//! the new charm (ordinals >= partition).
//!
//! [`InClusterClient`] talks to the API server the way a pod does: the service-account token
//! and CA under `/var/run/secrets/kubernetes.io/serviceaccount`, the server at
//! `KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT`. Juju's charm pods may only patch their
//! own StatefulSet after `juju trust <app> --scope=cluster`; a 403 says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::errors::KubernetesClientError;

/// Sets the rolling-update partition of one StatefulSet.
pub trait PartitionClient {
    /// Patches `spec.updateStrategy.rollingUpdate.partition` to `partition`.
    fn set_partition(&self, partition: u32) -> Result<(), KubernetesClientError>;

    /// May this client patch the StatefulSet (Juju: was the application given `juju trust
    /// <app> --scope=cluster`)? The default assumes it may.
    fn can_patch(&self) -> Result<bool, KubernetesClientError> {
        Ok(true)
    }
}

/// Where a pod finds its service-account credentials.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The message of every [`KubernetesClientError`] this client returns (the reference's).
pub const PATCH_FAILED: &str = "Kubernetes StatefulSet patch failed";

/// A client for the API server, authenticated as the pod's service account.
#[derive(Debug, Clone)]
pub struct InClusterClient {
    base_url: String,
    namespace: String,
    statefulset: String,
    token_file: PathBuf,
    ca_pem: Option<Vec<u8>>,
    timeout: Duration,
}

impl InClusterClient {
    /// The client a charm pod uses: API server from `KUBERNETES_SERVICE_HOST`/`_PORT`,
    /// credentials from [`SERVICE_ACCOUNT_DIR`]. `namespace` is the Juju model's name,
    /// `statefulset` the application's name.
    pub fn from_env(namespace: &str, statefulset: &str) -> Result<Self, KubernetesClientError> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                KubernetesClientError::new(
                    PATCH_FAILED,
                    format!("{name} is not set: not running in a Kubernetes pod"),
                )
            })
        };
        let host = var("KUBERNETES_SERVICE_HOST")?;
        let port = var("KUBERNETES_SERVICE_PORT")?;
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host
        };
        Self::with_credentials(
            &format!("https://{host}:{port}"),
            Path::new(SERVICE_ACCOUNT_DIR),
            namespace,
            statefulset,
        )
    }

    /// A client for `base_url` (e.g. `https://10.152.183.1:443`) with the service-account
    /// files in `account_dir` (`token`, and `ca.crt` which is required for `https`).
    pub fn with_credentials(
        base_url: &str,
        account_dir: &Path,
        namespace: &str,
        statefulset: &str,
    ) -> Result<Self, KubernetesClientError> {
        let ca_pem = if base_url.starts_with("https://") {
            let ca = account_dir.join("ca.crt");
            Some(std::fs::read(&ca).map_err(|e| {
                KubernetesClientError::new(
                    PATCH_FAILED,
                    format!("cannot read the cluster CA {}: {e}", ca.display()),
                )
            })?)
        } else {
            None
        };
        Ok(InClusterClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            namespace: namespace.to_owned(),
            statefulset: statefulset.to_owned(),
            token_file: account_dir.join("token"),
            ca_pem,
            timeout: Duration::from_secs(30),
        })
    }

    /// The request path.
    pub fn path(&self) -> String {
        format!(
            "/apis/apps/v1/namespaces/{}/statefulsets/{}",
            self.namespace, self.statefulset
        )
    }

    fn agent(&self) -> Result<ureq::Agent, KubernetesClientError> {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout));
        if let Some(pem) = &self.ca_pem {
            let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(KubernetesClientError::new(
                    PATCH_FAILED,
                    "the cluster CA file holds no PEM certificate",
                ));
            }
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                    .build(),
            );
        }
        Ok(config.build().into())
    }
}

/// The path of `SelfSubjectAccessReview`s (any authenticated service account may create
/// one: it asks the API server what this account may do).
pub const ACCESS_REVIEW_PATH: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

impl InClusterClient {
    /// Sends `body` with the service account's token; the status code and the body read
    /// (at most 64 KiB). `failed` is the message of every error.
    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
        failed: &str,
    ) -> Result<(u16, String), KubernetesClientError> {
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| {
            KubernetesClientError::new(
                failed,
                format!(
                    "cannot read the service-account token {}: {e}",
                    self.token_file.display()
                ),
            )
        })?;
        let url = format!("{}{path}", self.base_url);
        let agent = self.agent()?;
        let request = match method {
            "POST" => agent.post(&url),
            _ => agent.patch(&url),
        };
        let response = request
            .header("Authorization", &format!("Bearer {}", token.trim()))
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .send(body.as_bytes())
            .map_err(|e| KubernetesClientError::new(failed, format!("{method} {url}: {e}")))?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Ok((status, text))
    }

    /// May this service account patch the StatefulSet (`juju trust <app> --scope=cluster`)?
    /// Asked with a `SelfSubjectAccessReview` (verb `patch`, group `apps`, resource
    /// `statefulsets`, this StatefulSet's name and namespace), which changes nothing.
    pub fn can_patch(&self) -> Result<bool, KubernetesClientError> {
        const FAILED: &str = "Kubernetes access review failed";
        let body = serde_json::json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {
                "namespace": self.namespace,
                "verb": "patch",
                "group": "apps",
                "resource": "statefulsets",
                "name": self.statefulset,
            }},
        })
        .to_string();
        let (status, text) = self.send(
            "POST",
            ACCESS_REVIEW_PATH,
            "application/json",
            &body,
            FAILED,
        )?;
        if !(200..300).contains(&status) {
            return Err(KubernetesClientError::new(
                FAILED,
                error_message(status, &text),
            ));
        }
        serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                v.pointer("/status/allowed")
                    .and_then(serde_json::Value::as_bool)
            })
            .ok_or_else(|| {
                KubernetesClientError::new(FAILED, "the access review has no status.allowed")
            })
    }
}

/// Kubernetes answers errors with a Status object; its `message` is what lightkube (and so
/// the reference) reports.
fn error_message(status: u16, text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {status}"))
}

impl PartitionClient for InClusterClient {
    fn can_patch(&self) -> Result<bool, KubernetesClientError> {
        InClusterClient::can_patch(self)
    }

    fn set_partition(&self, partition: u32) -> Result<(), KubernetesClientError> {
        let body = format!(
            r#"{{"spec":{{"updateStrategy":{{"rollingUpdate":{{"partition":{partition}}}}}}}}}"#
        );
        let (status, text) = self.send(
            "PATCH",
            &self.path(),
            "application/strategic-merge-patch+json",
            &body,
            PATCH_FAILED,
        )?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        if status == 403 {
            return Err(
                KubernetesClientError::new(PATCH_FAILED, "`juju trust` needed")
                    .with_resolution(format!("juju trust {} --scope=cluster", self.statefulset)),
            );
        }
        Err(KubernetesClientError::new(
            PATCH_FAILED,
            error_message(status, &text),
        ))
    }
}
