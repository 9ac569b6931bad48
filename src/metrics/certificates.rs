//! cert-manager v1.21's Certificate gauges (its `internal/collectors/certificate_collector.go`):
//! the same names, help, label names and values.

use super::gauges::{Family, ready_status};
use crate::api::Certificate;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::sync::Arc;

const LABELS: &[&str] = &["name", "namespace", "issuer_name", "issuer_kind", "issuer_group"];

/// In the order [`write`] writes them.
pub(super) const FAMILIES: [Family; 5] = [
    Family {
        name: "certmanager_certificate_ready_status",
        help: "The ready status of the certificate.",
        labels: &["name", "namespace", "condition", "issuer_name", "issuer_kind", "issuer_group"],
    },
    Family {
        name: "certmanager_certificate_not_after_timestamp_seconds",
        help: "The timestamp after which the certificate is invalid, expressed as a Unix Epoch Time.",
        labels: LABELS,
    },
    Family {
        name: "certmanager_certificate_not_before_timestamp_seconds",
        help: "The timestamp before which the certificate is invalid, expressed as a Unix Epoch Time.",
        labels: LABELS,
    },
    Family {
        name: "certmanager_certificate_expiration_timestamp_seconds",
        help: "The timestamp after which the certificate expires, expressed in Unix Epoch Time.",
        labels: LABELS,
    },
    Family {
        name: "certmanager_certificate_renewal_timestamp_seconds",
        help: "The timestamp after which the certificate should be renewed, expressed in Unix Epoch Time.",
        labels: LABELS,
    },
];

/// One Certificate's values, as cert-manager exports them: 0 for a date not yet known
/// (`expiration` repeats `not_after`: v1.18 added the latter and kept the former).
#[derive(Debug, PartialEq)]
struct Row<'a> {
    labels: [&'a str; 5],
    ready: [(&'static str, f64); 3],
    not_after: f64,
    not_before: f64,
    renewal: f64,
}

impl<'a> Row<'a> {
    fn of(cert: &'a Certificate) -> Row<'a> {
        let issuer = &cert.spec.issuer_ref;
        let status = cert.status.as_ref();
        let seconds = |t: Option<&Time>| t.map_or(0.0, |t| t.0.as_second() as f64);
        Row {
            labels: [
                cert.metadata.name.as_deref().unwrap_or_default(),
                cert.metadata.namespace.as_deref().unwrap_or_default(),
                &issuer.name,
                issuer.kind.as_deref().unwrap_or_default(),
                issuer.group.as_deref().unwrap_or_default(),
            ],
            ready: ready_status(status.and_then(|s| s.conditions.as_deref())),
            not_after: seconds(status.and_then(|s| s.not_after.as_ref())),
            not_before: seconds(status.and_then(|s| s.not_before.as_ref())),
            renewal: seconds(status.and_then(|s| s.renewal_time.as_ref())),
        }
    }
}

/// The five families for `certs`, onto `out`.
pub(super) fn write(out: &mut String, certs: &[Arc<Certificate>]) {
    let [ready, not_after, not_before, expiration, renewal] = &FAMILIES;
    ready.write(
        out,
        certs.iter().flat_map(|cert| {
            let row = Row::of(cert);
            let [name, namespace, issuer @ ..] = row.labels;
            row.ready.map(|(condition, value)| {
                ([[name, namespace, condition].as_slice(), &issuer].concat(), value)
            })
        }),
    );
    type Date = fn(&Row) -> f64;
    let dates: [(&Family, Date); 4] = [
        (not_after, |r| r.not_after),
        (not_before, |r| r.not_before),
        (expiration, |r| r.not_after),
        (renewal, |r| r.renewal),
    ];
    for (family, value) in dates {
        family.write(
            out,
            certs.iter().map(|cert| {
                let row = Row::of(cert);
                (row.labels.to_vec(), value(&row))
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(yaml: &str) -> Certificate {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn rows_follow_cert_managers_values() {
        let base = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: shop}\n\
                    spec: {secretName: web-tls, dnsNames: [a.example], issuerRef: {name: le, kind: ClusterIssuer, group: cert-manager.io}}\n";
        let cases = [
            ("", [0.0; 3], [0.0, 0.0, 1.0]),
            ("status: {conditions: [{type: Issuing, status: 'True'}]}", [0.0; 3], [0.0, 0.0, 1.0]),
            (
                "status: {notBefore: '2026-09-02T00:00:00Z', notAfter: '2026-12-01T00:00:00Z', renewalTime: '2026-11-01T00:00:00Z', conditions: [{type: Ready, status: 'True'}]}",
                [1_796_083_200.0, 1_788_307_200.0, 1_793_491_200.0],
                [1.0, 0.0, 0.0],
            ),
            ("status: {conditions: [{type: Ready, status: 'False'}]}", [0.0; 3], [0.0, 1.0, 0.0]),
        ];
        for (status, dates, ready) in cases {
            let cert = cert(&format!("{base}{status}"));
            let row = Row::of(&cert);
            assert_eq!(row.labels, ["web", "shop", "le", "ClusterIssuer", "cert-manager.io"]);
            assert_eq!([row.not_after, row.not_before, row.renewal], dates, "{status}");
            assert_eq!(row.ready.map(|r| r.1), ready, "{status}");
        }
    }
}
