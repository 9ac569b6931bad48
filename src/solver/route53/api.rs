//! The Challenge step's Route 53 provider: the few AWS calls it makes (Route 53's
//! ListHostedZonesByName, ChangeResourceRecordSets; STS's AssumeRole for `role`),
//! signed with SigV4, each answer bounded and timed; AWS's error answers kept as AWS words them.

use super::Route53Error;
pub use super::aws_xml::{aws_error, change_body};
use super::sigv4::{self, Credentials};
use crate::solver::provider_http::{causes, client};
use http_body_util::BodyExt;
use serde::Deserialize;
use std::time::Duration;

/// The most of an answer read: Route 53's answers are a few KiB.
const MAX_ANSWER: usize = 1 << 20;

/// How long one request may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of AWS's message kept (an Event's note takes 1 KiB).
pub(super) const MAX_MESSAGE: usize = 512;

/// The bodies' types.
const XML: &str = "application/xml";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Route 53's API version, in every path.
const VERSION: &str = "/2013-04-01";

/// The AWS services asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Route53,
    /// STS, for `role` (cert-manager asks its global endpoint).
    Sts,
}

impl Service {
    /// The name in conditions.
    pub fn name(self) -> &'static str {
        match self {
            Service::Route53 => "Route 53",
            Service::Sts => "STS",
        }
    }
}

/// Where a service is, and the region its requests are signed for.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub service: Service,
    pub url: http::Uri,
    pub signing_region: &'static str,
}

/// The endpoint of `service` for an issuer's `region`, as the AWS SDKs pick it: the operator's
/// own `AWS_ENDPOINT_URL_ROUTE_53` (`AWS_ENDPOINT_URL_STS`), else `AWS_ENDPOINT_URL` (unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the service of the region's partition.
/// Only the operator's environment names one: a tenant's issuer picks a partition, never a host.
pub fn endpoint(
    service: Service,
    region: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Endpoint, String> {
    let (default, signing_region) = match (service, region) {
        (Service::Route53, r) if r.starts_with("cn-") => {
            ("https://route53.amazonaws.com.cn", "cn-northwest-1")
        }
        (Service::Route53, r) if r.starts_with("us-gov-") => {
            ("https://route53.us-gov.amazonaws.com", "us-gov-west-1")
        }
        (Service::Route53, _) => ("https://route53.amazonaws.com", "us-east-1"),
        (Service::Sts, r) if r.starts_with("cn-") => {
            ("https://sts.cn-north-1.amazonaws.com.cn", "cn-north-1")
        }
        (Service::Sts, r) if r.starts_with("us-gov-") => {
            ("https://sts.us-gov-west-1.amazonaws.com", "us-gov-west-1")
        }
        (Service::Sts, _) => ("https://sts.amazonaws.com", "us-east-1"),
    };
    let own = match service {
        Service::Route53 => "AWS_ENDPOINT_URL_ROUTE_53",
        Service::Sts => "AWS_ENDPOINT_URL_STS",
    };
    let ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v == "true");
    let configured = [own, "AWS_ENDPOINT_URL"]
        .into_iter()
        .filter(|_| !ignore)
        .find_map(|k| env(k).filter(|v| !v.is_empty()).map(|v| (k, v)));
    let (name, url) = configured.unwrap_or(("the default", default.into()));
    let url: http::Uri = url.trim_end_matches('/').parse().map_err(|e| format!("{name}: {e}"))?;
    if url.host().is_none() || !matches!(url.scheme_str(), Some("http" | "https")) {
        return Err(format!("{name} {url} is not an http(s) URL"));
    }
    // Credentials in the URL would be signed, sent and shown in conditions.
    if url.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(format!("{name} holds credentials (user@host): name the host alone"));
    }
    Ok(Endpoint { service, url, signing_region })
}

/// A hosted zone or change ID as it may go into a path: Route 53's are letters and digits.
pub fn plain_id(id: &str) -> Option<&str> {
    let id = id.trim();
    let id = id.strip_prefix("/hostedzone/").or_else(|| id.strip_prefix("/change/")).unwrap_or(id);
    (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(id)
}

/// One client: a service's endpoint and the key it signs with.
pub struct Client<'a> {
    pub endpoint: Endpoint,
    pub creds: &'a Credentials,
}

/// `ListHostedZonesByName`'s answer (the part read).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct HostedZones {
    #[serde(default)]
    pub hosted_zones: HostedZoneList,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct HostedZoneList {
    #[serde(default)]
    pub hosted_zone: Vec<HostedZone>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct HostedZone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub config: Option<ZoneConfig>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ZoneConfig {
    #[serde(default)]
    pub private_zone: bool,
}

/// A change's `ChangeInfo` (ChangeResourceRecordSets' answer).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeAnswer {
    pub change_info: ChangeInfo,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ChangeInfo {
    pub id: String,
    pub status: String,
}

/// `AssumeRole`'s answer (the part read).
#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleAnswer {
    pub assume_role_result: AssumeRoleResult,
}

#[derive(Deserialize, Debug, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleResult {
    pub credentials: RoleCredentials,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials").field("access_key_id", &self.access_key_id).finish()
    }
}

impl Client<'_> {
    /// `ListHostedZonesByName` from `dns_name` (no final dot).
    pub async fn zones_by_name(&self, dns_name: &str) -> Result<HostedZones, Route53Error> {
        let path = format!("{VERSION}/hostedzonesbyname");
        self.call("ListHostedZonesByName", "GET", &path, &[("dnsname", dns_name)], "", XML).await
    }

    /// `ChangeResourceRecordSets` with `body` in hosted zone `zone` (a plain ID).
    pub async fn change(&self, zone: &str, body: String) -> Result<ChangeInfo, Route53Error> {
        let path = format!("{VERSION}/hostedzone/{zone}/rrset");
        let answer: ChangeAnswer =
            self.call("ChangeResourceRecordSets", "POST", &path, &[], &body, XML).await?;
        Ok(answer.change_info)
    }

    /// STS `AssumeRole` of `role`, session `cert-manager` (cert-manager's name for it).
    pub async fn assume_role(&self, role: &str) -> Result<Credentials, Route53Error> {
        let form = [
            ("Action", "AssumeRole"),
            ("RoleArn", role),
            ("RoleSessionName", "cert-manager"),
            ("Version", "2011-06-15"),
        ];
        let body = sigv4::canonical_query(&form);
        let answer: AssumeRoleAnswer =
            self.call("AssumeRole", "POST", "/", &[], &body, FORM).await?;
        let c = answer.assume_role_result.credentials;
        Ok(Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: Some(c.session_token),
        })
    }

    /// One signed request; the answer read as `T`, or AWS's refusal in its words.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        action: &'static str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
        content_type: &str,
    ) -> Result<T, Route53Error> {
        let service = self.endpoint.service.name();
        let url = &self.endpoint.url;
        let authority = url.authority().map(|a| a.as_str()).unwrap_or_default().to_string();
        // What is signed is the Host sent, written here: the scheme's own port left out, as an
        // HTTP client writes it (`https://x:443` signed with its port is refused).
        let default_port = if url.scheme_str() == Some("http") { 80 } else { 443 };
        let host = match url.port_u16().filter(|p| *p != default_port) {
            Some(port) => format!("{}:{port}", url.host().unwrap_or_default()),
            None => url.host().unwrap_or_default().to_string(),
        };
        let base = url.path().trim_end_matches('/');
        let path = format!("{base}{path}");
        let path = if path.is_empty() { "/".to_string() } else { path };
        let date = sigv4::amz_date(jiff::Timestamp::now());
        let mut headers = vec![("host", host.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", content_type));
        }
        let token = self.creds.session_token.as_deref();
        if let Some(token) = token {
            headers.push(("x-amz-security-token", token));
        }
        let req =
            sigv4::Request { method, path: &path, query, headers: &headers, body: body.as_bytes() };
        let signing_name = match self.endpoint.service {
            Service::Route53 => "route53",
            Service::Sts => "sts",
        };
        let region = self.endpoint.signing_region;
        let auth = sigv4::authorization(self.creds, region, signing_name, &req, &date);
        let query = sigv4::canonical_query(query);
        let target = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let scheme = url.scheme_str().unwrap_or("https");
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{scheme}://{authority}{target}"))
            .header(http::header::HOST, &host)
            .header("x-amz-date", &date)
            .header(http::header::AUTHORIZATION, auth)
            .header(http::header::USER_AGENT, concat!("certsmith/", env!("CARGO_PKG_VERSION")));
        if !body.is_empty() {
            request = request.header(http::header::CONTENT_TYPE, content_type);
        }
        if let Some(token) = token {
            request = request.header("x-amz-security-token", token);
        }
        let unreadable = |why: String| Route53Error::Unreadable { service, action, why };
        let request = request
            .body(http_body_util::Full::new(bytes::Bytes::from(body.to_string())))
            .map_err(|e| unreadable(e.to_string()))?;
        let endpoint = authority.clone();
        let unreachable = |why: String| Route53Error::Unreachable {
            service,
            endpoint: endpoint.clone(),
            action,
            why,
        };
        let exchange = async {
            let answer = client().request(request).await.map_err(|e| unreachable(causes(&e)))?;
            let code = answer.status();
            let read = http_body_util::Limited::new(answer.into_body(), MAX_ANSWER).collect().await;
            let body = read.map_err(|e| {
                unreachable(format!("{e} (answers are read up to {MAX_ANSWER} bytes)"))
            })?;
            Ok::<_, Route53Error>((code, body.to_bytes()))
        };
        let (code, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {REQUEST_TIMEOUT:?}")))??;
        if !code.is_success() {
            return Err(match aws_error(&body) {
                Some((code, message)) => Route53Error::Refused { service, action, code, message },
                None => Route53Error::Refused {
                    service,
                    action,
                    code: format!("HTTP {}", code.as_u16()),
                    message: String::from_utf8_lossy(&body).chars().take(200).collect(),
                },
            });
        }
        quick_xml::de::from_reader(body.as_ref()).map_err(|e| unreadable(e.to_string()))
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
