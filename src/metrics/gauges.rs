//! The gauges cert-manager builds from its informer caches at each scrape (Certificates,
//! Challenges, Issuers, ClusterIssuers), built here the same way from the controllers' caches:
//! a deleted object's series are gone at the next scrape, with no bookkeeping, and nothing is
//! kept between scrapes (a gauge vector would hold each object's label strings for the life of
//! the process).

use crate::api::meta::{Condition, ConditionStatus};
use crate::api::{Certificate, Challenge, ClusterIssuer, Issuer};
use kube::runtime::reflector::Store;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};
use std::sync::{Arc, Mutex};

/// One gauge family: cert-manager's name, help and label names, in its order.
pub(super) struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

impl Family {
    fn desc(&self) -> Desc {
        let labels = self.labels.iter().map(|l| l.to_string()).collect();
        Desc::new(self.name.into(), self.help.into(), labels, Default::default())
            .expect("valid metric")
    }

    /// The family with one sample per row, each row's values in `labels` order.
    pub fn build(&self, rows: Vec<(Vec<String>, f64)>) -> MetricFamily {
        let metrics = rows.into_iter().map(|(values, value)| self.sample(values, value)).collect();
        let mut family = MetricFamily::default();
        family.set_name(self.name.into());
        family.set_help(self.help.into());
        family.set_field_type(MetricType::GAUGE);
        family.set_metric(metrics);
        family
    }

    /// One sample, its labels sorted by name as the registry's own vectors write them.
    fn sample(&self, values: Vec<String>, value: f64) -> Metric {
        let mut pairs: Vec<LabelPair> = self
            .labels
            .iter()
            .zip(values)
            .map(|(name, value)| {
                let mut pair = LabelPair::default();
                pair.set_name(name.to_string());
                pair.set_value(value);
                pair
            })
            .collect();
        pairs.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        let mut gauge = Gauge::default();
        gauge.set_value(value);
        let mut metric = Metric::from_label(pairs);
        metric.set_gauge(gauge);
        metric
    }
}

/// cert-manager's `*_ready_status` values: for each of `True`, `False`, `Unknown`, 1 when it is
/// the Ready condition's status (`Unknown` when there is none), else 0.
pub(super) fn ready_status(conditions: Option<&[Condition]>) -> [(&'static str, f64); 3] {
    let current = conditions
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map_or(ConditionStatus::Unknown, |c| c.status);
    let one = |s: ConditionStatus| if s == current { 1.0 } else { 0.0 };
    [
        ("True", one(ConditionStatus::True)),
        ("False", one(ConditionStatus::False)),
        ("Unknown", one(ConditionStatus::Unknown)),
    ]
}

/// The caches the running controllers hold; none while this replica stands by (as
/// cert-manager's non-leaders, it then exports none of these series).
#[derive(Clone)]
pub struct Watched {
    pub certificates: Store<Certificate>,
    pub challenges: Store<Challenge>,
    pub issuers: Store<Issuer>,
    pub cluster_issuers: Store<ClusterIssuer>,
}

/// Every family read from the caches, collected together.
#[derive(Clone)]
pub struct CacheMetrics {
    watched: Arc<Mutex<Option<Watched>>>,
    descs: Arc<Vec<Desc>>,
}

/// Each family, in the order [`CacheMetrics::collect`] builds them.
fn families() -> impl Iterator<Item = &'static Family> {
    let certificates = super::certificates::FAMILIES.iter();
    let challenges = std::iter::once(&super::challenges::CHALLENGE_STATUS);
    let issuers = super::issuers::FAMILIES.iter();
    certificates.chain(challenges).chain(issuers)
}

impl Default for CacheMetrics {
    fn default() -> Self {
        let descs = families().map(Family::desc).collect();
        CacheMetrics { watched: Arc::default(), descs: Arc::new(descs) }
    }
}

impl CacheMetrics {
    pub fn watch(&self, watched: Option<Watched>) {
        *self.watched.lock().unwrap_or_else(|e| e.into_inner()) = watched;
    }
}

impl Collector for CacheMetrics {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(w) = self.watched.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return families().map(|f| f.build(vec![])).collect();
        };
        let mut all = super::certificates::collect(&w.certificates.state());
        all.push(super::challenges::collect(&w.challenges.state()));
        all.extend(super::issuers::collect(&w.issuers.state(), &w.cluster_issuers.state()));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    fn object<K: serde::de::DeserializeOwned>(yaml: &str) -> K {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn store<K>(objects: &[&K]) -> (Store<K>, Writer<K>)
    where
        K: kube::Resource<DynamicType = ()> + Clone + 'static,
    {
        let (store, mut writer) = kube::runtime::reflector::store::<K>();
        for o in objects {
            writer.apply_watcher_event(&Event::Apply((*o).clone()));
        }
        (store, writer)
    }

    #[test]
    fn a_scrape_writes_cert_managers_series_for_each_cached_object() {
        let metrics = CacheMetrics::default();
        let registry = prometheus::Registry::new();
        registry.register(Box::new(metrics.clone())).unwrap();
        let scrape =
            || prometheus::TextEncoder::new().encode_to_string(&registry.gather()).unwrap();
        assert_eq!(scrape(), "", "no caches while standing by: no series");

        let cert = |name: &str, status: &str| -> Certificate {
            object(&format!(
                "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{name: {name}, namespace: shop}}\n\
                 spec: {{secretName: s, issuerRef: {{name: le, kind: ClusterIssuer}}}}\n{status}"
            ))
        };
        let web = cert(
            "web",
            "status: {notBefore: '2026-09-02T00:00:00Z', notAfter: '2026-12-01T00:00:00Z', conditions: [{type: Ready, status: 'True'}]}",
        );
        let challenge: Challenge = object(
            "apiVersion: acme.cert-manager.io/v1\nkind: Challenge\nmetadata: {name: web-1-2-3, namespace: shop}\n\
             spec: {url: u, authorizationURL: a, dnsName: a.example, type: DNS-01, token: t, key: k, solver: {}, issuerRef: {name: le}}\n\
             status: {state: pending, processing: true, reason: 'Waiting for DNS-01 challenge propagation'}",
        );
        let fresh: Challenge = object(
            "apiVersion: acme.cert-manager.io/v1\nkind: Challenge\nmetadata: {name: new, namespace: shop}\n\
             spec: {url: u, authorizationURL: a, dnsName: b.example, type: HTTP-01, token: t, key: k, solver: {}, issuerRef: {name: le}}",
        );
        let issuer: Issuer = object(
            "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: ca, namespace: shop}\n\
             spec: {selfSigned: {}}\nstatus: {conditions: [{type: Ready, status: 'False'}]}",
        );
        let cluster: ClusterIssuer = object(
            "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: le}\nspec: {selfSigned: {}}",
        );
        let (certificates, mut cert_writer) = store(&[&web, &cert("api", "")]);
        let (challenges, _c) = store(&[&challenge, &fresh]);
        let (issuers, _i) = store(&[&issuer]);
        let (cluster_issuers, _ci) = store(&[&cluster]);
        metrics.watch(Some(Watched { certificates, challenges, issuers, cluster_issuers }));

        let text = scrape();
        let web_labels = r#"issuer_group="",issuer_kind="ClusterIssuer",issuer_name="le",name="web",namespace="shop""#;
        let dns = r#"domain="a.example",name="web-1-2-3",namespace="shop",processing="true",reason="Waiting for DNS-01 challenge propagation""#;
        let http = r#"domain="b.example",name="new",namespace="shop",processing="false",reason="""#;
        let table = [
            format!("certmanager_certificate_not_after_timestamp_seconds{{{web_labels}}} 1796083200"),
            format!("certmanager_certificate_not_before_timestamp_seconds{{{web_labels}}} 1788307200"),
            format!("certmanager_certificate_expiration_timestamp_seconds{{{web_labels}}} 1796083200"),
            format!("certmanager_certificate_renewal_timestamp_seconds{{{web_labels}}} 0"),
            r#"certmanager_certificate_ready_status{condition="True",issuer_group="",issuer_kind="ClusterIssuer",issuer_name="le",name="web",namespace="shop"} 1"#.into(),
            r#"certmanager_certificate_ready_status{condition="Unknown",issuer_group="",issuer_kind="ClusterIssuer",issuer_name="le",name="api",namespace="shop"} 1"#.into(),
            format!(r#"certmanager_certificate_challenge_status{{{dns},status="pending",type="DNS-01"}} 1"#),
            format!(r#"certmanager_certificate_challenge_status{{{dns},status="valid",type="DNS-01"}} 0"#),
            format!(r#"certmanager_certificate_challenge_status{{{http},status="",type="HTTP-01"}} 1"#),
            format!(r#"certmanager_certificate_challenge_status{{{http},status="pending",type="HTTP-01"}} 0"#),
            r#"certmanager_issuer_ready_status{condition="False",name="ca",namespace="shop"} 1"#.into(),
            r#"certmanager_issuer_ready_status{condition="True",name="ca",namespace="shop"} 0"#.into(),
            r#"certmanager_clusterissuer_ready_status{condition="Unknown",name="le"} 1"#.into(),
            r#"certmanager_clusterissuer_ready_status{condition="True",name="le"} 0"#.into(),
        ];
        for line in table {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        for family in FAMILY_NAMES {
            assert!(text.contains(&format!("# TYPE {family} gauge\n")), "{family}: {text}");
        }
        // 2 Certificates × (3 ready + 4 dates), 2 Challenges × 8 states, 3 + 3 issuer series.
        let samples = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples(&text), 14 + 16 + 6, "{text}");

        cert_writer.apply_watcher_event(&Event::Delete(web));
        let text = scrape();
        assert!(!text.contains(r#"name="web""#), "a deleted Certificate's series go: {text}");
        assert_eq!(samples(&text), 7 + 16 + 6, "{text}");
        metrics.watch(None);
        assert_eq!(scrape(), "", "a replica that stops leading exports none");
    }

    const FAMILY_NAMES: [&str; 8] = [
        "certmanager_certificate_ready_status",
        "certmanager_certificate_not_after_timestamp_seconds",
        "certmanager_certificate_not_before_timestamp_seconds",
        "certmanager_certificate_expiration_timestamp_seconds",
        "certmanager_certificate_renewal_timestamp_seconds",
        "certmanager_certificate_challenge_status",
        "certmanager_issuer_ready_status",
        "certmanager_clusterissuer_ready_status",
    ];

    #[test]
    fn every_family_is_described_once() {
        let names: Vec<_> = families().map(|f| f.name).collect();
        assert_eq!(names, FAMILY_NAMES);
    }
}
