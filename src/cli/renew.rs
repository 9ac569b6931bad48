//! `certsmith renew`: Certificates marked for re-issue now, by name or by selection, as
//! `cmctl renew` marks them.

use super::Error;
use crate::api::Certificate;
use crate::api::meta::{ConditionStatus, set_condition};
use crate::certificate::policy::MANUALLY_TRIGGERED;
use kube::ResourceExt;
use kube::api::{Api, ListParams};

/// Which Certificates: named ones in a namespace, or all of them / those matching a label
/// selector, in a namespace or in all.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Selection {
    /// The Certificates to renew.
    pub names: Vec<String>,
    /// Every Certificate in the namespace (with -A: in all namespaces).
    #[arg(long)]
    pub all: bool,
    /// Across all namespaces (with --all or -l).
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only Certificates whose labels match, e.g. `-l app=shop,tier!=test`.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
}

impl Selection {
    /// What the selection leaves out or mixes up, as cmctl refuses it.
    pub fn check(&self) -> Result<(), Error> {
        let selecting = self.all || self.selector.is_some();
        match (self.names.is_empty(), selecting) {
            (true, false) => Err(Error::Usage(
                "nothing to renew: name Certificates, or select them with --all or -l".into(),
            )),
            (false, true) => Err(Error::Usage(
                "name Certificates, or select them with --all or -l, not both".into(),
            )),
            (false, false) if self.all_namespaces => Err(Error::Usage(
                "-A selects across namespaces: use it with --all or -l, not with names".into(),
            )),
            _ => Ok(()),
        }
    }
}

/// Marks each selected Certificate for re-issue; returns them as `namespace/name`.
pub async fn renew_selected(
    client: kube::Client,
    namespace: &str,
    selection: &Selection,
) -> Result<Vec<String>, Error> {
    selection.check()?;
    let targets: Vec<(String, String)> = if selection.names.is_empty() {
        let api: Api<Certificate> = match selection.all_namespaces {
            true => Api::all(client.clone()),
            false => Api::namespaced(client.clone(), namespace),
        };
        let mut params = ListParams::default();
        if let Some(selector) = &selection.selector {
            params = params.labels(selector);
        }
        let list = api.list(&params).await?;
        list.items.iter().map(|c| (c.namespace().unwrap_or_default(), c.name_any())).collect()
    } else {
        selection.names.iter().map(|n| (namespace.to_string(), n.clone())).collect()
    };
    let mut renewed = vec![];
    for (namespace, name) in targets {
        renew(client.clone(), &namespace, &name).await?;
        renewed.push(format!("{namespace}/{name}"));
    }
    Ok(renewed)
}

/// Marks the Certificate for re-issue, as `cmctl renew` does: Issuing=True, ManuallyTriggered.
pub async fn renew(client: kube::Client, namespace: &str, name: &str) -> Result<(), kube::Error> {
    let api: Api<Certificate> = Api::namespaced(client.clone(), namespace);
    // The status write is conditional on the version read; retry if the operator wrote between.
    let mut attempts = 0;
    loop {
        let mut cert = api.get(name).await?;
        let mut status = cert.status.clone().unwrap_or_default();
        let message = "Certificate re-issuance manually triggered";
        let now = jiff::Timestamp::now();
        let generation = cert.metadata.generation;
        set_condition(
            &mut status.conditions,
            "Issuing",
            ConditionStatus::True,
            MANUALLY_TRIGGERED,
            message,
            generation,
            now,
        );
        match crate::certificate::write::status(&client, &mut cert, &status).await {
            Err(kube::Error::Api(e)) if e.code == 409 && attempts < 5 => attempts += 1,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Selection;

    #[test]
    fn selections_cmctl_refuses() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = [
            (Selection::default(), Some("nothing to renew")),
            (Selection { names: names(&["a"]), ..Default::default() }, None),
            (Selection { all: true, ..Default::default() }, None),
            (Selection { all: true, all_namespaces: true, ..Default::default() }, None),
            (Selection { selector: Some("app=x".into()), ..Default::default() }, None),
            (Selection { names: names(&["a"]), all: true, ..Default::default() }, Some("not both")),
            (
                Selection { names: names(&["a"]), all_namespaces: true, ..Default::default() },
                Some("-A selects"),
            ),
            (Selection { all_namespaces: true, ..Default::default() }, Some("nothing to renew")),
        ];
        for (selection, refused) in cases {
            let got = selection.check().err().map(|e| e.to_string());
            match refused {
                None => assert_eq!(got, None, "{selection:?}"),
                Some(words) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(words)),
                    "{selection:?}: {got:?}"
                ),
            }
        }
    }
}
