//! The Challenge step's one way to read a Secret an issuer's solver names (a TSIG key, AWS
//! keys, acme-dns accounts): where the Challenge's issuer keeps its Secrets (the Issuer's
//! namespace, or the cluster resource namespace for a ClusterIssuer), never elsewhere.

use crate::api::Challenge;
use crate::api::meta::SecretKeySelector;
use crate::context::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

/// The Secret a selector names, as read.
pub struct IssuerSecret {
    /// Where it was looked for.
    pub namespace: String,
    /// The entry the selector names.
    pub key: String,
    /// `None`: there is no such Secret.
    pub secret: Option<Secret>,
}

/// Why it could not be looked for; each solver words the second in its own field's name.
#[derive(Debug)]
pub enum Unread {
    /// The Challenge's issuer is gone.
    NoIssuer,
    /// The selector names no entry (`key` empty or unset).
    NoKey,
    Kube(kube::Error),
}

impl IssuerSecret {
    /// The entry's bytes, if the Secret and the entry are there.
    pub fn bytes(&self) -> Option<&[u8]> {
        Some(&self.secret.as_ref()?.data.as_ref()?.get(&self.key)?.0)
    }

    /// The entry as text (see `certificate::secret::text`).
    pub fn text(&self) -> Option<String> {
        crate::certificate::secret::text(self.secret.as_ref()?, &self.key)
    }
}

/// The Secret `r` names for the solver of `ch`, read in its issuer's Secrets namespace.
pub async fn read(
    ctx: &Context,
    ch: &Challenge,
    r: &SecretKeySelector,
) -> Result<IssuerSecret, Unread> {
    let namespace = ch.namespace().unwrap_or_default();
    let issuer = ctx.issuer(&ch.spec.issuer_ref, &namespace).ok_or(Unread::NoIssuer)?;
    let key = r.key.clone().filter(|k| !k.is_empty()).ok_or(Unread::NoKey)?;
    let namespace = issuer.secrets_namespace;
    let secrets: kube::Api<Secret> = kube::Api::namespaced(ctx.client.clone(), &namespace);
    let secret = secrets.get_opt(&r.name).await.map_err(Unread::Kube)?;
    Ok(IssuerSecret { namespace, key, secret })
}

/// cert-manager's words for a Challenge whose issuer is gone.
pub const NO_ISSUER: &str = "the Challenge's issuer does not exist";
