//! Builders for the cert-manager manifests tests apply where the YAML is not the point: a
//! Certificate for a name, from an issuer. Manifests a test is about (the seed tutorial's,
//! the documentation's bootstrap CA, what the API server must refuse) stay verbatim in it.

use serde_json::json;

/// A Certificate manifest for `kubectl apply`: by default `<name>` in `default`, its Secret
/// `<name>-tls`, for `<name>.example.com`, from the ClusterIssuer `letsencrypt-prod`.
#[derive(Clone)]
pub struct Cert {
    name: String,
    namespace: Option<String>,
    secret: String,
    dns_names: Vec<String>,
    issuer: serde_json::Value,
    labels: serde_json::Map<String, serde_json::Value>,
}

pub fn certificate(name: &str) -> Cert {
    Cert {
        name: name.into(),
        namespace: Some("default".into()),
        secret: format!("{name}-tls"),
        dns_names: vec![format!("{name}.example.com")],
        issuer: json!({"name": "letsencrypt-prod", "kind": "ClusterIssuer"}),
        labels: Default::default(),
    }
}

impl Cert {
    pub fn namespace(mut self, namespace: &str) -> Cert {
        self.namespace = Some(namespace.into());
        self
    }

    /// No namespace: the one `kubectl` or the client is pointed at.
    pub fn unnamespaced(mut self) -> Cert {
        self.namespace = None;
        self
    }

    pub fn secret(mut self, secret: &str) -> Cert {
        self.secret = secret.into();
        self
    }

    pub fn dns_names(mut self, names: &[&str]) -> Cert {
        self.dns_names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    pub fn cluster_issuer(mut self, name: &str) -> Cert {
        self.issuer = json!({"name": name, "kind": "ClusterIssuer"});
        self
    }

    /// An issuer of another group (an external issuer).
    pub fn external_issuer(mut self, name: &str, kind: &str, group: &str) -> Cert {
        self.issuer = json!({"name": name, "kind": kind, "group": group});
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Cert {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// One YAML document, ending with `---` so that documents can be joined.
    pub fn yaml(&self) -> String {
        let mut metadata = json!({"name": self.name});
        if let Some(ns) = &self.namespace {
            metadata["namespace"] = ns.as_str().into();
        }
        if !self.labels.is_empty() {
            metadata["labels"] = self.labels.clone().into();
        }
        let manifest = json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": metadata,
            "spec": {"secretName": self.secret, "dnsNames": self.dns_names, "issuerRef": self.issuer},
        });
        format!("{}---\n", serde_yaml::to_string(&manifest).expect("YAML"))
    }
}

/// Certificates `<prefix>-0` … `<prefix>-<n-1>`, each as `shape` makes it, in one manifest.
pub fn certificates(prefix: &str, n: usize, shape: impl Fn(Cert) -> Cert) -> String {
    (0..n).map(|i| shape(certificate(&format!("{prefix}-{i}"))).yaml()).collect()
}

#[test]
fn a_certificate_manifest_says_what_the_builder_was_told() {
    let yaml = certificate("web").cluster_issuer("ari").label("team", "shop").yaml();
    let cert: certsmith::api::Certificate =
        serde_yaml::from_str(yaml.trim_end_matches("---\n")).unwrap();
    assert_eq!(cert.metadata.name.as_deref(), Some("web"));
    assert_eq!(cert.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(cert.metadata.labels.unwrap()["team"], "shop");
    assert_eq!(cert.spec.secret_name, "web-tls");
    assert_eq!(cert.spec.dns_names.as_deref(), Some(&["web.example.com".to_string()][..]));
    assert_eq!(
        (cert.spec.issuer_ref.name.as_str(), cert.spec.issuer_ref.kind.as_deref()),
        ("ari", Some("ClusterIssuer"))
    );
    let two = certificates("mass", 2, |c| c.unnamespaced());
    assert_eq!(two.matches("---\n").count(), 2);
    assert!(!two.contains("namespace"), "{two}");
}
