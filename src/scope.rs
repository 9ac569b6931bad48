//! Where the operator acts: every namespace, or the one cert-manager's `--namespace` names.
//!
//! Every watch, list and cache of a namespaced kind asks this type for its `Api`, so that the
//! single-namespace mode is decided here once rather than at each of the call sites: a site
//! that opened `Api::all` on its own would need cluster-wide RBAC the chart does not grant in
//! that mode, and would fail (or, with broader RBAC, act beyond the namespace it was given).

use crate::api::meta::IssuerReference;
use kube::api::Api;
use kube::core::NamespaceResourceScope;
use kube::{Client, Resource};

/// The namespaces the operator watches and acts in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace, and ClusterIssuers: cert-manager's default.
    Cluster,
    /// One namespace and no ClusterIssuers: cert-manager's `--namespace=<ns>`.
    Namespace(String),
}

impl Scope {
    /// From `--namespace`: absent or empty means every namespace, as cert-manager reads it.
    pub fn from_flag(flag: Option<&str>) -> Scope {
        match flag.filter(|n| !n.is_empty()) {
            Some(namespace) => Scope::Namespace(namespace.to_string()),
            None => Scope::Cluster,
        }
    }

    /// The `Api` through which a namespaced kind is watched and listed: the one namespace in
    /// single-namespace mode, every namespace otherwise.
    pub fn api<K>(&self, client: Client) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self {
            Scope::Cluster => Api::all(client),
            Scope::Namespace(namespace) => Api::namespaced(client, namespace),
        }
    }

    /// The one namespace, in single-namespace mode.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Scope::Cluster => None,
            Scope::Namespace(namespace) => Some(namespace),
        }
    }

    /// Whether objects in `namespace` are the operator's to act on.
    pub fn covers(&self, namespace: &str) -> bool {
        self.namespace().is_none_or(|n| n == namespace)
    }

    /// Whether ClusterIssuers are watched, reconciled and may be referenced. cert-manager
    /// disables them with `--namespace`: they are cluster-scoped, and reading them would take
    /// a cluster-wide grant the mode exists to avoid.
    pub fn cluster_issuers(&self) -> bool {
        *self == Scope::Cluster
    }

    /// Why `r` cannot be used here (a ClusterIssuer in single-namespace mode), in the words of
    /// cert-manager's error for it with the flag's value added (cert-manager's names no
    /// namespace), so that the Certificate says what cert-manager's log says rather than
    /// waiting for an issuer that will never be read.
    pub fn refuses(&self, r: &IssuerReference) -> Option<String> {
        let namespace = self.namespace()?;
        (crate::issuer::referenced_kind(r) == Some("ClusterIssuer")).then(|| {
            format!(
                "cannot get ClusterIssuer named {:?} as cert-manager is scoped to a single \
                 namespace (--namespace={namespace})",
                r.name
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Certificate;

    fn reference(kind: Option<&str>, group: Option<&str>) -> IssuerReference {
        IssuerReference {
            name: "le".into(),
            kind: kind.map(String::from),
            group: group.map(String::from),
        }
    }

    #[test]
    fn the_flag_decides_the_scope() {
        assert_eq!(Scope::from_flag(None), Scope::Cluster);
        // cert-manager's default value is "": every namespace.
        assert_eq!(Scope::from_flag(Some("")), Scope::Cluster);
        assert_eq!(Scope::from_flag(Some("a")), Scope::Namespace("a".into()));
    }

    #[test]
    fn one_namespace_is_covered_and_no_cluster_issuers() {
        let all = Scope::Cluster;
        assert!(all.covers("a") && all.covers("b") && all.cluster_issuers());
        assert_eq!(all.namespace(), None);
        let one = Scope::Namespace("a".into());
        assert!(one.covers("a") && !one.covers("b") && !one.cluster_issuers());
        assert_eq!(one.namespace(), Some("a"));
    }

    #[test]
    fn only_a_cluster_issuer_is_refused_and_only_in_one_namespace() {
        let one = Scope::Namespace("a".into());
        let cluster = reference(Some("ClusterIssuer"), None);
        assert_eq!(
            one.refuses(&cluster).as_deref(),
            Some(
                "cannot get ClusterIssuer named \"le\" as cert-manager is scoped to a single \
                 namespace (--namespace=a)"
            )
        );
        let grouped = reference(Some("ClusterIssuer"), Some("cert-manager.io"));
        assert!(one.refuses(&grouped).is_some());
        for allowed in [
            reference(None, None),
            reference(Some("Issuer"), None),
            // Another group's ClusterIssuer is its own signer's business.
            reference(Some("ClusterIssuer"), Some("example.com")),
        ] {
            assert_eq!(one.refuses(&allowed), None, "{allowed:?}");
        }
        assert_eq!(Scope::Cluster.refuses(&cluster), None);
    }

    #[tokio::test]
    async fn the_api_lists_in_the_namespace_or_everywhere() {
        let (service, _handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let client = Client::new(service, "default");
        let api: Api<Certificate> = Scope::Namespace("a".into()).api(client.clone());
        assert_eq!(api.resource_url(), "/apis/cert-manager.io/v1/namespaces/a/certificates");
        let api: Api<Certificate> = Scope::Cluster.api(client);
        assert_eq!(api.resource_url(), "/apis/cert-manager.io/v1/certificates");
    }
}
