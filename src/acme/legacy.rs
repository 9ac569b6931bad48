//! The account requests signed with a key instant-acme cannot sign with (an adopted RSA or
//! P-384 account key): look the account up, register one (the test bed's stand-in for
//! cert-manager), and roll its key over to P-256 (RFC 8555 §7.3.5). The rest of certsmith
//! speaks to the CA through instant-acme once the key is P-256.

use super::AcmeError;
use super::jws::SigningKey;
use crate::metrics::acme_action;
use bytes::Bytes;
use http::{Method, Request, header};
use instant_acme::{BodyWrapper, HttpClient, Problem};
use serde_json::{Value, json};

/// A response: status, `Location`, body as JSON (`Null` when empty or not JSON) and as text
/// (a certificate chain is PEM).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    /// The URLs of `Link: <…>;rel="alternate"` headers (a certificate's other chains).
    pub alternates: Vec<String>,
    pub body: Value,
    pub text: String,
}

/// One CA, its directory and a nonce, for signed requests with any [`SigningKey`].
pub struct LegacyClient {
    http: Box<dyn HttpClient>,
    server: String,
    pub directory: Value,
    nonce: Option<String>,
}

impl LegacyClient {
    pub async fn new(http: Box<dyn HttpClient>, server: &str) -> Result<LegacyClient, AcmeError> {
        let mut client =
            LegacyClient { http, server: server.to_string(), directory: Value::Null, nonce: None };
        let directory = acme_action("discover", client.send(Method::GET, server, None)).await?;
        if directory.status >= 400 {
            return Err(AcmeError::Unreachable {
                server: server.to_string(),
                detail: format!(
                    "the directory answered HTTP {}: {}",
                    directory.status, directory.text
                ),
            });
        }
        client.directory = directory.body;
        Ok(client)
    }

    /// A URL from the directory (`newAccount`, `keyChange`, …).
    pub fn url(&self, name: &str) -> Result<String, AcmeError> {
        self.directory[name].as_str().map(str::to_string).ok_or_else(|| {
            AcmeError::Account(format!("the ACME server's directory has no {name:?}"))
        })
    }

    async fn send(
        &mut self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Response, AcmeError> {
        let unreachable =
            |detail: String| AcmeError::Unreachable { server: self.server.clone(), detail };
        // RFC 8555 §6.1: clients MUST send one, and current CAs (Pebble 2.10) refuse requests
        // without it.
        let mut request = Request::builder()
            .method(method)
            .uri(url)
            .header(header::USER_AGENT, concat!("certsmith/", env!("CARGO_PKG_VERSION")));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/jose+json");
        }
        let payload = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let request = request
            .body(BodyWrapper::<Bytes>::from(payload))
            .map_err(|e| unreachable(e.to_string()))?;
        let mut response =
            self.http.request(request).await.map_err(|e| unreachable(e.to_string()))?;
        let headers = &response.parts.headers;
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        if let Some(nonce) = text("replay-nonce") {
            self.nonce = Some(nonce);
        }
        let location = text("location");
        let alternates = headers
            .get_all(header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter(|link| link.contains("rel=\"alternate\"") || link.contains("rel=alternate"))
            .filter_map(|link| Some(link.split_once('<')?.1.split_once('>')?.0.to_string()))
            .collect();
        let status = response.parts.status.as_u16();
        let bytes = response.body.into_bytes().await.map_err(|e| unreachable(e.to_string()))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Response { status, location, alternates, body, text })
    }

    async fn nonce(&mut self) -> Result<String, AcmeError> {
        if let Some(nonce) = self.nonce.take() {
            return Ok(nonce);
        }
        let url = self.url("newNonce")?;
        self.send(Method::HEAD, &url, None).await?;
        self.nonce.take().ok_or_else(|| AcmeError::Unreachable {
            server: self.server.clone(),
            detail: "newNonce gave no Replay-Nonce".into(),
        })
    }

    /// POSTs `payload` (`None`: POST-as-GET) to `url` signed by `key`, with `kid` (the account
    /// URL) or, without one, the key's JWK. A `badNonce` is retried with the fresh nonce the
    /// error carries (RFC 8555 §6.5); any other problem document is the CA refusing.
    pub async fn post(
        &mut self,
        key: &SigningKey,
        kid: Option<&str>,
        url: &str,
        payload: Option<&Value>,
    ) -> Result<Response, AcmeError> {
        for _ in 0..5 {
            let mut header = json!({"nonce": self.nonce().await?, "url": url});
            match kid {
                Some(kid) => header["kid"] = json!(kid),
                None => header["jwk"] = key.jwk(),
            }
            let body = key.jws(header, payload).map_err(AcmeError::Account)?;
            let response = self.send(Method::POST, url, Some(&body)).await?;
            if response.status < 400 {
                return Ok(response);
            }
            let problem: Problem = serde_json::from_value(response.body.clone()).map_err(|_| {
                AcmeError::Unreachable {
                    server: self.server.clone(),
                    detail: format!("HTTP {} without a problem document", response.status),
                }
            })?;
            if problem.r#type.as_deref() != Some("urn:ietf:params:acme:error:badNonce") {
                return Err(AcmeError::Refused(instant_acme::Error::Api(problem)));
            }
        }
        Err(AcmeError::Account(format!("{url} refused five nonces in a row")))
    }

    /// The URL of the account registered with `key`, or `None` when the CA knows no such
    /// account (`onlyReturnExisting`: nothing is created).
    pub async fn lookup(&mut self, key: &SigningKey) -> Result<Option<String>, AcmeError> {
        let url = self.url("newAccount")?;
        let payload = json!({"onlyReturnExisting": true});
        match acme_action("get_registration", self.post(key, None, &url, Some(&payload))).await {
            Ok(r) => Ok(Some(r.location.ok_or_else(|| {
                AcmeError::Account("the ACME server named no account URL".into())
            })?)),
            Err(AcmeError::Refused(instant_acme::Error::Api(p)))
                if p.r#type.as_deref()
                    == Some("urn:ietf:params:acme:error:accountDoesNotExist") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Registers an account for `key` (with an External Account Binding `(kid, hmac key)`),
    /// returning its URL.
    pub async fn register(
        &mut self,
        key: &SigningKey,
        contact: &[String],
        eab: Option<(&str, &[u8])>,
    ) -> Result<String, AcmeError> {
        let url = self.url("newAccount")?;
        let mut payload = json!({"termsOfServiceAgreed": true, "contact": contact});
        if let Some((kid, hmac)) = eab {
            payload["externalAccountBinding"] = super::jws::eab(kid, hmac, &url, &key.jwk());
        }
        let registered =
            acme_action("register_account", self.post(key, None, &url, Some(&payload)));
        let response = registered.await?;
        response.location.ok_or_else(|| AcmeError::Account("no account URL".into()))
    }

    /// Rolls the key of `account` over from `old` to `new` (RFC 8555 §7.3.5): the inner JWS,
    /// signed by the new key, names the account and the old key; the outer is signed by the
    /// old key. The account URL stays the same.
    pub async fn roll_over(
        &mut self,
        old: &SigningKey,
        account: &str,
        new: &SigningKey,
    ) -> Result<(), AcmeError> {
        let url = self.url("keyChange")?;
        let inner = new
            .jws(
                json!({"jwk": new.jwk(), "url": url}),
                Some(&json!({"account": account, "oldKey": old.jwk()})),
            )
            .map_err(AcmeError::Account)?;
        // Not a cert-manager action (it never rolls keys over): certsmith's own name.
        let rolled =
            acme_action("account_key_rollover", self.post(old, Some(account), &url, Some(&inner)));
        rolled.await.map(|_| ())
    }
}
