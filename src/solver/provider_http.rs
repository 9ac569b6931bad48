//! The Challenge step's HTTP client for DNS providers' own APIs (Route 53, acme-dns): one for
//! the process, on the system's trust store and the operator's proxy, the same TLS stack as the
//! ACME client (rustls on aws-lc-rs). It follows no redirect, so a request (and the key in its
//! headers) goes to the host it names only.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use std::sync::OnceLock;

type Https = hyper_rustls::HttpsConnector<crate::acme::proxy::ProxyConnector>;

/// The client, made on first use (reading the system's roots once, not per request).
pub fn client() -> &'static Client<Https, Full<Bytes>> {
    static CLIENT: OnceLock<Client<Https, Full<Bytes>>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(crate::acme::proxy::ProxyConnector::from_env());
        Client::builder(hyper_util::rt::TokioExecutor::new()).build(https)
    })
}

/// An error with its causes, as one line (hyper's own words are only "client error (Connect)").
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out = format!("{out}: {cause}");
        next = cause.source();
    }
    out
}
