//! The HTTPS client for one ACME server: the system's roots plus `caBundle`, or no
//! verification at all when `skipTLSVerify` asks for it (test CAs only); through the proxy the
//! environment names, if any.

use super::AcmeError;
use bytes::Bytes;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The client for an issuer's ACME server, as its `caBundle` and `skipTLSVerify` say.
pub fn for_issuer(acme: &crate::api::acme::AcmeIssuer) -> Result<Box<dyn HttpClient>, AcmeError> {
    let bundle = acme.ca_bundle.as_ref().map(|b| b.0.as_slice()).filter(|b| !b.is_empty());
    http_client(bundle, acme.skip_tls_verify == Some(true))
}

pub fn http_client(
    ca_bundle: Option<&[u8]>,
    skip_tls_verify: bool,
) -> Result<Box<dyn HttpClient>, AcmeError> {
    let tls = |e: rustls::Error| AcmeError::Tls(e.to_string());
    let config = if skip_tls_verify {
        unverified_tls().map_err(tls)?
    } else {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_root_certificates(roots(ca_bundle)?)
            .with_no_client_auth()
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(super::proxy::ProxyConnector::from_env());
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, BodyWrapper<bytes::Bytes>>(https);
    // Every response's Retry-After is remembered for the controllers' requeues.
    let capped = Capped(client);
    let recording = super::retry_after::Recording(Box::new(Metered(Box::new(capped))));
    Ok(Box::new(Bounded(Box::new(recording), REQUEST_TIMEOUT)))
}

/// The most of one ACME response's body certsmith reads: an order, a directory or a chain is a
/// few KiB. The server is whatever an Issuer's `server` names, and a tenant writes Issuers: a
/// 300 MB answer must cost one failed request, not the operator's memory.
pub const MAX_BODY: usize = 1024 * 1024;

/// The HTTP client, its response bodies capped at [`MAX_BODY`].
struct Capped<C>(hyper_util::client::legacy::Client<C, BodyWrapper<Bytes>>);

impl<C> HttpClient for Capped<C>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let response = self.0.request(req);
        Box::pin(async move {
            let response = response.await.map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(response.map(|b| http_body_util::Limited::new(b, MAX_BODY))))
        })
    }
}

/// How long one ACME request may take, response body included. A CA that stops answering then
/// fails the step as unreachable (and frees the account lock) instead of hanging it for good.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client whose requests end within a time limit, body read included.
pub struct Bounded(pub Box<dyn HttpClient>, pub Duration);

impl HttpClient for Bounded {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let (response, limit) = (self.0.request(req), self.1);
        Box::pin(async move {
            let read = async {
                let mut response = response.await?;
                let body = response.body.into_bytes().await.map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        let limit = MAX_BODY / 1024;
                        instant_acme::Error::Other(format!("answer larger than {limit} KiB").into())
                    } else {
                        instant_acme::Error::Other(e)
                    }
                })?;
                let full = http_body_util::Full::new(body);
                Ok(BytesResponse::from(http::Response::from_parts(response.parts, full)))
            };
            tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
                Err(instant_acme::Error::Other(format!("no answer within {limit:?}").into()))
            })
        })
    }
}

/// Counts and times every request sent (retries included) under cert-manager's metric names.
struct Metered(Box<dyn HttpClient>);

impl HttpClient for Metered {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let (uri, method) = (req.uri().clone(), req.method().clone());
        let response = self.0.request(req);
        Box::pin(async move {
            let start = std::time::Instant::now();
            let response = response.await;
            let status = response.as_ref().ok().map(|r| r.parts.status.as_u16());
            crate::metrics::acme_client().observe(&uri, &method, status, start.elapsed());
            response
        })
    }
}

/// The system's trust store, plus the PEM certificates of `ca_bundle`.
fn roots(ca_bundle: Option<&[u8]>) -> Result<RootCertStore, AcmeError> {
    let mut roots = RootCertStore::empty();
    // A missing or partly unreadable system store is not fatal: a caBundle may be all we need.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(bundle) = ca_bundle {
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(bundle).filter_map(Result::ok).collect();
        if certs.is_empty() {
            return Err(AcmeError::BadCaBundle);
        }
        roots.add_parsable_certificates(certs);
    }
    Ok(roots)
}

/// A TLS client that accepts any server certificate: for `skipTLSVerify`, and for the
/// self-check following a redirect to HTTPS (the CA's validator does not check certificates
/// there either: the certificate is what is being issued).
pub fn unverified_tls() -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        .with_no_client_auth())
}

/// `skipTLSVerify: true`: accept any server certificate, but still check signatures so the
/// handshake itself stays sound.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA that accepts the connection and never answers.
    struct Silent;

    impl HttpClient for Silent {
        fn request(
            &self,
            _: http::Request<BodyWrapper<Bytes>>,
        ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>>
        {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test]
    async fn a_ca_answer_past_the_cap_fails_the_request_unread() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A server that announces 300 MB and sends until the client hangs up.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 314572800\r\n\r\n";
            s.write_all(head.as_bytes()).await.unwrap();
            let chunk = vec![b'x'; 64 * 1024];
            while s.write_all(&chunk).await.is_ok() {}
        });
        let client = http_client(None, false).unwrap();
        let uri = format!("http://127.0.0.1:{port}/directory");
        let request = http::Request::get(uri).body(BodyWrapper::default()).unwrap();
        let error = client.request(request).await.err().expect("refused past the cap");
        assert_eq!(error.to_string(), "answer larger than 1024 KiB");
    }

    #[tokio::test(start_paused = true)]
    async fn a_ca_that_never_answers_fails_the_request_in_time() {
        let client = Bounded(Box::new(Silent), REQUEST_TIMEOUT);
        let request = http::Request::get("https://ca/dir").body(BodyWrapper::default()).unwrap();
        let error = client.request(request).await.err().expect("a timeout");
        assert_eq!(error.to_string(), "no answer within 30s");
    }
}
