//! The order requests instant-acme does not make, signed with the account's own key: a new
//! order with `notAfter` (cert-manager's `enableDurationFeature`) or `replaces` (ARI, taken as
//! a hint: a CA that ignores it is not an error), and a certificate's alternate chains
//! (RFC 8555 §7.4.2, `Link: rel="alternate"`) for `preferredChain`.

use super::jws::SigningKey;
use super::legacy::LegacyClient;
use super::{AcmeError, account};
use crate::issuer::IssuerView;
use crate::metrics::acme_action;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use serde_json::json;

/// The issuer's account, able to sign any request.
pub struct Signed {
    ca: LegacyClient,
    key: SigningKey,
    kid: String,
}

impl Signed {
    /// The account at `account_url`, with the key its issuer's Secret holds (the account has
    /// just been loaded through that same Secret).
    pub async fn open(
        client: &kube::Client,
        issuer: &IssuerView,
        account_url: &str,
    ) -> Result<Signed, AcmeError> {
        let acme =
            issuer.spec.acme.as_ref().ok_or_else(|| {
                AcmeError::Account(format!("{} has no acme block", issuer.display()))
            })?;
        let name = &acme.private_key_secret_ref.name;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &issuer.secrets_namespace);
        let secret = secrets.get(name).await?;
        let where_ = format!("Secret {}/{name}", issuer.secrets_namespace);
        let key = account::signing_key(&secret, &account::key_field(acme), &where_)
            .map_err(AcmeError::Account)?;
        let ca = LegacyClient::new(super::client::for_issuer(acme)?, &acme.server).await?;
        Ok(Signed { ca, key, kid: account_url.to_string() })
    }

    /// Opens an order for `identifiers`, asking for a certificate valid until `not_after` and
    /// naming the certificate it `replaces` (RFC 9773 §5, only to a CA that serves ARI); returns
    /// its URL. A CA that does not support `notAfter` refuses the order, in its words; one that
    /// refuses `replaces` (already replaced, say) is asked again without it.
    pub async fn new_order(
        &mut self,
        identifiers: &[String],
        profile: Option<&str>,
        not_after: Option<Timestamp>,
        replaces: Option<&str>,
    ) -> Result<String, AcmeError> {
        let mut payload = json!({"identifiers": super::order::ids(identifiers)});
        if let Some(t) = not_after {
            payload["notAfter"] = json!(t.to_string());
        }
        if let Some(p) = profile {
            payload["profile"] = json!(p);
        }
        let url = self.ca.url("newOrder")?;
        let replaces = replaces.filter(|_| self.ca.url("renewalInfo").is_ok());
        let response = match replaces {
            Some(id) => {
                let mut with = payload.clone();
                with["replaces"] = json!(id);
                let post = self.ca.post(&self.key, Some(&self.kid), &url, Some(&with));
                match acme_action("authorize_order", post).await {
                    Err(AcmeError::Refused(e)) => {
                        tracing::info!(replaces = id, error = %e, "the CA refused replaces; ordering without it");
                        let post = self.ca.post(&self.key, Some(&self.kid), &url, Some(&payload));
                        acme_action("authorize_order", post).await?
                    }
                    other => other?,
                }
            }
            None => {
                let post = self.ca.post(&self.key, Some(&self.kid), &url, Some(&payload));
                acme_action("authorize_order", post).await?
            }
        };
        response.location.ok_or_else(|| AcmeError::Account("the new order has no Location".into()))
    }

    /// The chains the CA offers for the certificate at `url`: its default first, then each
    /// alternate it links to.
    pub async fn chains(&mut self, url: &str) -> Result<Vec<String>, AcmeError> {
        let default =
            acme_action("fetch_cert", self.ca.post(&self.key, Some(&self.kid), url, None));
        let default = default.await?;
        let mut chains = vec![default.text];
        for alternate in default.alternates {
            let post = self.ca.post(&self.key, Some(&self.kid), &alternate, None);
            chains.push(acme_action("fetch_cert", post).await?.text);
        }
        Ok(chains)
    }
}

/// Which of `chains` (PEM, leaf first) to keep for `preferredChain` `name`: the first whose
/// root-most certificate was issued by a CA of that Common Name, as cert-manager picks; `None`
/// when none is (the default chain is kept). Pure.
pub fn preferred(chains: &[String], name: &str) -> Option<usize> {
    chains.iter().position(|chain| {
        let Ok(blocks) = pem::parse_many(chain) else { return false };
        let Some(top) = blocks.last() else { return false };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(top.contents()) else {
            return false;
        };
        let cn = cert.issuer().iter_common_name().next().and_then(|c| c.as_str().ok());
        cn == Some(name)
    })
}
