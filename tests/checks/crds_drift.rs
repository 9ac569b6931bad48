//! `crds/` holds exactly what `certsmith crds` generates from the Rust types.

use std::path::Path;

#[test]
fn checked_in_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let mut expected_files = Vec::new();
    for crd in certsmith::api::crds::all() {
        let name = certsmith::api::crds::file_name(&crd);
        let generated = certsmith::api::crds::to_yaml(&crd).unwrap();
        let on_disk = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        assert!(
            on_disk == generated,
            "crds/{name} is out of date: run `cargo run -- crds --write crds` and commit it"
        );
        expected_files.push(name);
    }
    let mut present: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    expected_files.sort();
    assert_eq!(present, expected_files, "crds/ holds a file no Rust type generates");
}
