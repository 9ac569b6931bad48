#!/usr/bin/env python3
"""helm.py — Helm, through Helm's own Go SDK (PyPI helm-python-sdk), for the tests and users
without a helm binary. Run with the test bed's venv: ~/.cache/certsmith/venv/bin/python.

  helm.py lint CHART [VALUES_JSON]           prints the lint report as JSON; exit 1 on errors
  helm.py render CHART [VALUES_JSON]         prints the rendered manifests as one YAML stream
  helm.py notes CHART [VALUES_JSON]          prints the rendered NOTES.txt
  helm.py install CHART KUBECONFIG NS [VALUES_JSON]   installs release "certsmith" (CRDs too)
  helm.py uninstall KUBECONFIG NS            uninstalls release "certsmith"
"""
import json
import sys

import helm_python as helm


def values(args, i):
    return json.loads(args[i]) if len(args) > i and args[i] else None


def main(args):
    cmd = args[0]
    if cmd == "lint":
        report = helm.lint(args[1], values(args, 2), strict=True, namespace="certsmith")
        print(json.dumps(report, indent=1))
        return 1 if report.get("errors") or any(m["severity"] >= 2 for m in report.get("messages", [])) else 0
    if cmd == "render":
        chart = helm.Chart.load(args[1])
        rendered = chart.render(values(args, 2), name="certsmith", namespace="certsmith", is_install=True)
        for path in sorted(rendered):
            # NOTES.txt is the message Helm prints after an install, not a manifest.
            if rendered[path].strip() and not path.endswith("NOTES.txt"):
                print(f"---\n# Source: {path}\n{rendered[path]}")
        return 0
    if cmd == "notes":
        chart = helm.Chart.load(args[1])
        rendered = chart.render(values(args, 2), name="certsmith", namespace="certsmith", is_install=True)
        print("".join(v for k, v in rendered.items() if k.endswith("NOTES.txt")))
        return 0
    if cmd == "install":
        config = helm.Config(kubeconfig_path=args[2], namespace=args[3])
        release = config.install(args[1], "certsmith", values(args, 4), namespace=args[3], create_namespace=True)
        print(json.dumps({"name": release.get("name"), "status": release.get("info", {}).get("status")}))
        return 0
    if cmd == "uninstall":
        config = helm.Config(kubeconfig_path=args[1], namespace=args[2])
        config.uninstall("certsmith")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
