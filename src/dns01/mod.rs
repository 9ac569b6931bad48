//! The DNS-01 solver (RFC 8555 §8.4), the Challenge step for names HTTP-01 cannot prove
//! (wildcards among them): the TXT record `_acme-challenge.<name>` written to its zone's primary
//! by an RFC 2136 update signed with TSIG (its answer believed only when signed back), checked
//! on every authoritative server (or on `--dns01-recursive-nameservers` only) before the CA is
//! told, removed afterwards.

pub mod dns;
#[cfg(test)]
mod testing;
pub mod tsig;
pub mod verify;
pub mod wire;

use crate::api::Challenge;
use crate::api::acme::{AcmeIssuerDnsRfc2136, CnameStrategy};
use crate::context::Context;
use hickory_proto::rr::{Name, RecordType};
use kube::ResourceExt;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the DNS-01 solver names no rfc2136 provider")]
    NoProvider,
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Secret(String),
    #[error("the DNS server {server} refused {what}: {rcode}")]
    Refused { server: SocketAddr, what: String, rcode: String },
    #[error("the DNS server {server} did not answer: {why}")]
    Unreachable { server: SocketAddr, why: String },
    /// The answer to a signed request does not prove it came from the key's holder (a forger
    /// on the path, or a server that does not sign): not believed, and not transient: the
    /// Challenge shows it (a presented record's removal is still tried again).
    #[error("the DNS server {server} answered {what} without a valid TSIG signature: {why}")]
    Unverified { server: SocketAddr, what: String, why: verify::Rejection },
    #[error("a DNS message certsmith cannot write: {0}")]
    Unwritable(String),
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
}

impl Error {
    /// Whether asking again may help (the server or the API server may come back); the others
    /// wait for the user to change the issuer or its Secret.
    pub fn transient(&self) -> bool {
        matches!(self, Error::Unreachable { .. } | Error::Kube(_))
    }

    /// The server turned the request down, or its answer was not believed: what was asked for
    /// may not have been done.
    fn unanswered(&self) -> bool {
        matches!(self, Error::Refused { .. } | Error::Unverified { .. })
    }
}

/// The TXT value for a key authorization: base64url(SHA-256(keyAuthorization)), no padding.
pub fn txt_value(key_authorization: &str) -> String {
    use base64::Engine as _;
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key_authorization.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// `_acme-challenge.<name>.` for a challenge's DNS name (a wildcard's base name).
pub fn record_name(dns_name: &str) -> Result<Name, Error> {
    let bare = dns_name.strip_prefix("*.").unwrap_or(dns_name).trim_end_matches('.');
    Name::from_ascii(format!("_acme-challenge.{bare}."))
        .map_err(|e| Error::Config(format!("{dns_name:?} is no DNS name: {e}")))
}

/// Where and how a challenge's record is written.
struct Target {
    server: SocketAddr,
    zone: Name,
    fqdn: Name,
    key: Option<tsig::Key>,
    /// Updates over TCP (`protocol: TCP`), else UDP.
    tcp: bool,
}

fn provider(ch: &Challenge) -> Result<&AcmeIssuerDnsRfc2136, Error> {
    let dns01 = ch.spec.solver.dns01.as_ref();
    dns01.and_then(|d| d.rfc2136.as_ref()).ok_or(Error::NoProvider)
}

async fn target(ctx: &Context, ch: &Challenge) -> Result<Target, Error> {
    let rfc = provider(ch)?;
    let server = dns::server(&rfc.nameserver).await?;
    let fqdn = followed(ctx, ch).await?;
    let key = key(ctx, ch, rfc).await?;
    let zone = dns::zone_of(server, &fqdn).await?;
    let tcp = rfc.protocol == Some(crate::api::acme::Rfc2136Protocol::TCP);
    Ok(Target { server, zone, fqdn, key, tcp })
}

/// The TSIG key the issuer's `rfc2136` names, its secret read from the issuer's namespace.
async fn key(
    ctx: &Context,
    ch: &Challenge,
    rfc: &AcmeIssuerDnsRfc2136,
) -> Result<Option<tsig::Key>, Error> {
    let Some(key_name) = rfc.tsig_key_name.as_deref().filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    let Some(r) = &rfc.tsig_secret_secret_ref else {
        return Err(Error::Config(format!(
            "tsigKeyName {key_name:?} is set but tsigSecretSecretRef is not"
        )));
    };
    use crate::solver::issuer_secret::{self, NO_ISSUER, Unread};
    let found = issuer_secret::read(ctx, ch, r).await.map_err(|e| match e {
        Unread::NoIssuer => Error::Config(NO_ISSUER.into()),
        Unread::NoKey => {
            Error::Config("tsigSecretSecretRef.key must name the Secret's entry".into())
        }
        Unread::Kube(e) => Error::Kube(e),
    })?;
    let value = found.text().ok_or_else(|| {
        Error::Secret(format!("Secret {}/{} has no entry {:?}", found.namespace, r.name, found.key))
    })?;
    tsig::Key::new(rfc.tsig_algorithm.as_deref(), key_name, &value).map(Some)
}

/// The recursive nameservers: `--dns01-recursive-nameservers`, else /etc/resolv.conf's.
pub(crate) async fn recursive(ctx: &Context) -> Result<Vec<SocketAddr>, Error> {
    let mut written = ctx.config.dns01_recursive_nameservers.clone();
    if written.is_empty() {
        let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        written = conf
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .map(|s| s.trim().to_string())
            .collect();
    }
    let mut out = Vec::new();
    for w in written.iter().filter(|w| !w.is_empty()) {
        out.push(dns::server(w).await?);
    }
    if out.is_empty() {
        return Err(Error::Config(
            "no recursive nameserver: set --dns01-recursive-nameservers".into(),
        ));
    }
    Ok(out)
}

/// Where the record is written: its name, after CNAMEs when the solver says
/// `cnameStrategy: Follow`.
pub(crate) async fn followed(ctx: &Context, ch: &Challenge) -> Result<Name, Error> {
    let follow = ch.spec.solver.dns01.as_ref().and_then(|d| d.cname_strategy);
    if follow != Some(CnameStrategy::Follow) {
        return record_name(&ch.spec.dns_name);
    }
    after_cnames(ctx, ch).await
}

/// The record name after its CNAMEs (at most 10): where the CA reads it, whatever the
/// strategy (a provider such as acme-dns writes only where a CNAME points).
async fn after_cnames(ctx: &Context, ch: &Challenge) -> Result<Name, Error> {
    let mut name = record_name(&ch.spec.dns_name)?;
    let server = recursive(ctx).await?[0];
    // Asked as TXT, the record's own type: the resolver answers the whole chain, its CNAMEs
    // first. A CNAME question about the chain's last name is never asked: acme-dns answers it
    // NXDOMAIN, which a resolver then caches for every type of that name, the TXT included.
    // The name the chain in an answer ends at is asked again, in case the server did not
    // recurse (it then gives one hop per answer).
    let mut hops = 0;
    loop {
        let answer = dns::query(server, &name, RecordType::TXT).await?;
        let before = hops;
        while let Some(next) = answer.answers().iter().find_map(|r| match r.data() {
            hickory_proto::rr::RData::CNAME(c) if *r.name() == name => Some(c.0.clone()),
            _ => None,
        }) {
            hops += 1;
            if hops > 10 {
                let first = record_name(&ch.spec.dns_name)?;
                return Err(Error::Config(format!("more than 10 CNAMEs from {first}")));
            }
            name = next;
        }
        if hops == before {
            return Ok(name);
        }
    }
}

/// Writes the challenge's TXT value.
pub async fn present(ctx: &Context, ch: &Challenge) -> Result<(), Error> {
    let t = target(ctx, ch).await?;
    dns::update(t.server, &t.zone, &t.fqdn, &ch.spec.key, true, t.key.as_ref(), t.tcp).await
}

/// Removes the challenge's TXT value (the other values at that name stay). A solver that can
/// no longer say where (the issuer or its Secret gone) leaves the record, with a warning; so
/// does a refusal (or an answer without a valid TSIG) for a challenge that was never presented
/// (its record was never written), so that a wrong TSIG key never holds up a deletion; for a
/// presented one it is an error, tried again: the record may still be there.
pub async fn clean_up(ctx: &Context, ch: &Challenge) -> Result<(), Error> {
    let removed = async {
        let t = target(ctx, ch).await?;
        dns::update(t.server, &t.zone, &t.fqdn, &ch.spec.key, false, t.key.as_ref(), t.tcp).await
    };
    let presented = ch.status.as_ref().and_then(|s| s.presented) == Some(true);
    match removed.await {
        Err(e) if !e.transient() && (!presented || !e.unanswered()) => {
            tracing::warn!(challenge = %ch.name_any(), error = %e, "the DNS-01 record cannot be removed");
            Ok(())
        }
        other => other,
    }
}

/// `None` once every server that must answer the record does; else what is missing. CNAMEs
/// are followed as the CA follows them, as cert-manager's check does.
pub async fn check(ctx: &Context, ch: &Challenge) -> Option<String> {
    let checked = async {
        let fqdn = after_cnames(ctx, ch).await?;
        for server in servers(ctx, &fqdn).await? {
            if !dns::txt(server, &fqdn).await?.contains(&ch.spec.key) {
                return Ok(Some(format!("{server} does not answer the TXT record {fqdn} yet")));
            }
        }
        Ok::<_, Error>(None)
    };
    checked.await.unwrap_or_else(|e| Some(e.to_string()))
}

/// The servers that must answer `fqdn` before the CA is told: the zone's authoritative
/// servers, or `--dns01-recursive-nameservers` alone with `--dns01-recursive-nameservers-only`.
pub(crate) async fn servers(ctx: &Context, fqdn: &Name) -> Result<Vec<SocketAddr>, Error> {
    let recursive = recursive(ctx).await?;
    let mut servers = if ctx.config.dns01_recursive_nameservers_only {
        recursive
    } else {
        authoritative(recursive[0], fqdn).await?
    };
    // In one order, so that a wait names the same server each time (resolvers rotate NS
    // answers; a reason that changed with them would be a status write per look).
    servers.sort();
    servers.dedup();
    Ok(servers)
}

/// The addresses of the zone's name servers (port 53), found through `resolver`.
async fn authoritative(resolver: SocketAddr, fqdn: &Name) -> Result<Vec<SocketAddr>, Error> {
    let zone = dns::zone_of(resolver, fqdn).await?;
    let ns = dns::query(resolver, &zone, RecordType::NS).await?;
    let mut out = Vec::new();
    for name in ns.answers().iter().filter_map(|r| r.data().as_ns().map(|n| n.0.clone())) {
        for rtype in [RecordType::A, RecordType::AAAA] {
            let answer = dns::query(resolver, &name, rtype).await?;
            for r in answer.answers() {
                if let Some(ip) = r.data().ip_addr() {
                    out.push(SocketAddr::new(ip, 53));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Config(format!("zone {zone} has no name server with an address")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_value_and_record_name_follow_rfc_8555() {
        // RFC 8555 §8.4: base64url(SHA-256(keyAuthorization)); checked against `openssl dgst`.
        assert_eq!(txt_value("token.thumbprint"), "61rBZ_4knHblO0MNoxFsXZ_eTFUHum0B6IVRbhvUn5I");
        assert_eq!(
            record_name("*.example.test").unwrap().to_string(),
            "_acme-challenge.example.test."
        );
        assert_eq!(
            record_name("example.test.").unwrap().to_string(),
            "_acme-challenge.example.test."
        );
    }
}
