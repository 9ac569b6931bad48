//! Rules for an Issuer's or ClusterIssuer's spec.

use super::FieldError;
use super::names::{email_problem, parse_duration};
use crate::api::IssuerSpec;
use crate::api::acme::{AcmeChallengeSolver, AcmeIssuer};

/// Every problem with `spec`; empty when it is valid.
pub fn validate_issuer(spec: &IssuerSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let types = spec.configured_types();
    match types.as_slice() {
        [] => errs.push(FieldError::required("spec", "at least one issuer must be configured")),
        [_] => {}
        [_, more @ ..] => {
            for t in more {
                errs.push(FieldError::forbidden(
                    format!("spec.{t}"),
                    "may not specify more than one issuer type",
                ));
            }
        }
    }
    if let Some(acme) = &spec.acme {
        validate_acme(acme, &mut errs);
    }
    if let Some(ca) = &spec.ca
        && ca.secret_name.is_empty()
    {
        errs.push(FieldError::required("spec.ca.secretName", "must be specified"));
    }
    errs
}

fn validate_acme(acme: &AcmeIssuer, errs: &mut Vec<FieldError>) {
    let server = acme.server.as_str();
    match server.parse::<http::Uri>() {
        _ if server.is_empty() => {
            errs.push(FieldError::required(
                "spec.acme.server",
                "acme server URL is a required field",
            ));
        }
        Ok(u) if matches!(u.scheme_str(), Some("https" | "http")) && u.host().is_some() => {}
        _ => errs.push(FieldError::invalid(
            "spec.acme.server",
            server,
            "must be the ACME directory URL, as in https://acme-v02.api.letsencrypt.org/directory",
        )),
    }
    if let Some(email) = acme.email.as_deref().filter(|e| !e.is_empty())
        && let Some(p) = email_problem(email)
    {
        errs.push(FieldError::invalid("spec.acme.email", email, p));
    }
    if acme.private_key_secret_ref.name.is_empty() {
        errs.push(FieldError::required(
            "spec.acme.privateKeySecretRef.name",
            "private key secret name is a required field",
        ));
    }
    if acme.ca_bundle.as_ref().is_some_and(|b| !b.0.is_empty())
        && acme.skip_tls_verify == Some(true)
    {
        let detail = "caBundle and skipTLSVerify are mutually exclusive and cannot both be set";
        errs.push(FieldError::invalid("spec.acme.caBundle", "", detail));
        errs.push(FieldError::invalid_raw("spec.acme.skipTLSVerify", true, detail));
    }
    if let Some(bundle) = acme.ca_bundle.as_ref().filter(|b| !b.0.is_empty())
        && !String::from_utf8_lossy(&bundle.0).contains("-----BEGIN CERTIFICATE-----")
    {
        let detail = "must be base64 of one or more PEM certificates (-----BEGIN CERTIFICATE-----)";
        errs.push(FieldError::invalid("spec.acme.caBundle", "<snip>", detail));
    }
    if let Some(eab) = &acme.external_account_binding {
        if eab.key_id.is_empty() {
            errs.push(FieldError::required(
                "spec.acme.externalAccountBinding.keyID",
                "the keyID field is required when using externalAccountBinding",
            ));
        }
        if eab.key_secret_ref.name.is_empty() {
            let path = "spec.acme.externalAccountBinding.keySecretRef.name";
            errs.push(FieldError::required(path, "must be specified"));
        }
    }
    for (i, solver) in acme.solvers.iter().flatten().enumerate() {
        validate_solver(&format!("spec.acme.solvers[{i}]"), solver, errs);
    }
}

fn validate_solver(path: &str, solver: &AcmeChallengeSolver, errs: &mut Vec<FieldError>) {
    match (&solver.http01, &solver.dns01) {
        (None, None) => errs.push(FieldError::required(path, "no solver type configured")),
        (Some(_), Some(_)) => errs.push(FieldError::forbidden(
            path,
            "may not specify more than one solver type in a single solver",
        )),
        _ => {}
    }
    if let Some(wait) = &solver.wait_instead_of_self_check {
        let field = format!("{path}.waitInsteadOfSelfCheck");
        if wait.trim_start().starts_with('-') {
            errs.push(FieldError::invalid(field, wait, "must be greater than or equal to 0"));
        } else if let Err(p) = parse_duration(wait) {
            errs.push(FieldError::invalid(field, wait, p));
        }
    }
    let Some(http01) = &solver.http01 else { return };
    let path = format!("{path}.http01");
    if let Some(route) = &http01.gateway_http_route {
        service_type(errs, &format!("{path}.gatewayHTTPRoute"), &route.service_type);
    }
    let Some(ingress) = &http01.ingress else {
        if http01.gateway_http_route.is_none() {
            errs.push(FieldError::required(path, "no HTTP01 solver type configured"));
        }
        return;
    };
    let path = format!("{path}.ingress");
    let set = [&ingress.ingress_class_name, &ingress.class, &ingress.name];
    if set.iter().filter(|v| v.is_some()).count() > 1 {
        errs.push(FieldError::forbidden(
            &path,
            "only one of 'ingressClassName', 'name' or 'class' should be specified",
        ));
    }
    service_type(errs, &path, &ingress.service_type);
}

/// cert-manager's webhook rule for a solver's `serviceType`.
fn service_type(errs: &mut Vec<FieldError>, path: &str, service_type: &Option<String>) {
    if let Some(st) = service_type.as_deref()
        && !["", "ClusterIP", "NodePort"].contains(&st)
    {
        errs.push(FieldError::invalid(
            format!("{path}.serviceType"),
            st,
            r#"must be empty, "ClusterIP" or "NodePort""#,
        ));
    }
}
