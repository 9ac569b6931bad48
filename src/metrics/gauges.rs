//! The gauges cert-manager builds from its informer caches at each scrape (Certificates,
//! Challenges, Issuers, ClusterIssuers), built here the same way from the controllers' caches:
//! a deleted object's series are gone at the next scrape, with no bookkeeping, and nothing is
//! kept between scrapes (a gauge vector would hold each object's label strings for the life of
//! the process).

use crate::api::meta::{Condition, ConditionStatus};
use crate::api::{Certificate, Challenge, ClusterIssuer, Issuer};
use kube::runtime::reflector::Store;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// One gauge family: cert-manager's name, help and label names, in its order.
pub(super) struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

impl Family {
    /// Writes the family in the exposition text format, one sample per row (each row's values
    /// in `labels` order), its labels sorted by name as the prometheus crate writes them;
    /// nothing at all without a row (as the registry leaves out an empty family). Written
    /// straight from the cached objects: at 10,000 Certificates, building the crate's
    /// `MetricFamily` first held ~8 KB per Certificate for the length of each scrape.
    pub fn write<'a>(&self, out: &mut String, rows: impl IntoIterator<Item = (Vec<&'a str>, f64)>) {
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.sort_unstable_by_key(|&i| self.labels[i]);
        let mut rows = rows.into_iter().peekable();
        if rows.peek().is_none() {
            return;
        }
        let help = self.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = write!(out, "# HELP {} {help}\n# TYPE {} gauge\n", self.name, self.name);
        for (values, value) in rows {
            out.push_str(self.name);
            for (n, &i) in order.iter().enumerate() {
                let name = self.labels[i];
                let value = values.get(i).copied().unwrap_or_default();
                out.push(if n == 0 { '{' } else { ',' });
                let _ = write!(out, "{name}=\"{}\"", escape(value));
            }
            if !order.is_empty() {
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
}

/// A label value as the text format writes it: `\\`, `\"` and `\n` escaped.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
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

/// Every family read from the caches, written together at each scrape.
#[derive(Clone, Default)]
pub struct CacheMetrics {
    watched: Arc<Mutex<Option<Watched>>>,
}

impl CacheMetrics {
    pub fn watch(&self, watched: Option<Watched>) {
        *self.watched.lock().unwrap_or_else(|e| e.into_inner()) = watched;
    }

    /// Appends every family to `out`; nothing while no caches are watched.
    pub fn write(&self, out: &mut String) {
        let Some(w) = self.watched.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        super::certificates::write(out, &w.certificates.state());
        super::challenges::write(out, &w.challenges.state());
        super::issuers::write(out, &w.issuers.state(), &w.cluster_issuers.state());
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
        let scrape = || {
            let mut out = String::new();
            metrics.write(&mut out);
            out
        };
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
    fn a_family_is_written_as_the_prometheus_crate_writes_it() {
        let family = Family { name: "f", help: "A \\ help\nline", labels: &["zone", "name"] };
        let mut out = String::new();
        family.write(&mut out, Vec::<(Vec<&str>, f64)>::new());
        assert_eq!(out, "", "an empty family is left out");
        family.write(&mut out, [(vec!["a\"b\\c\nd", "web"], 1.0), (vec!["", "api"], 1.5e9)]);
        let want = "# HELP f A \\\\ help\\nline\n# TYPE f gauge\n\
                    f{name=\"web\",zone=\"a\\\"b\\\\c\\nd\"} 1\n\
                    f{name=\"api\",zone=\"\"} 1500000000\n";
        assert_eq!(out, want);
        // The crate's own encoder, for the same family: the same text.
        let pairs = |zone: &str, name: &str| {
            let mut metric = prometheus::proto::Metric::default();
            let label = |n: &str, v: &str| {
                let mut pair = prometheus::proto::LabelPair::default();
                pair.set_name(n.into());
                pair.set_value(v.into());
                pair
            };
            metric.set_label(vec![label("name", name), label("zone", zone)]);
            metric
        };
        let mut one = pairs("a\"b\\c\nd", "web");
        let mut gauge = prometheus::proto::Gauge::default();
        gauge.set_value(1.0);
        one.set_gauge(gauge.clone());
        let mut two = pairs("", "api");
        gauge.set_value(1.5e9);
        two.set_gauge(gauge);
        let mut mf = prometheus::proto::MetricFamily::default();
        mf.set_name("f".into());
        mf.set_help("A \\ help\nline".into());
        mf.set_field_type(prometheus::proto::MetricType::GAUGE);
        mf.set_metric(vec![one, two]);
        let encoded = prometheus::TextEncoder::new().encode_to_string(&[mf]).unwrap();
        assert_eq!(out, encoded);
    }

    #[test]
    fn every_family_is_described_once() {
        let certificates = crate::metrics::certificates::FAMILIES.iter();
        let challenges = std::iter::once(&crate::metrics::challenges::CHALLENGE_STATUS);
        let issuers = crate::metrics::issuers::FAMILIES.iter();
        let all = certificates.chain(challenges).chain(issuers);
        let names: Vec<_> = all.map(|f| f.name).collect();
        assert_eq!(names, FAMILY_NAMES);
    }
}
