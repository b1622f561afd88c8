#!/usr/bin/env bash
# The deployment files parse: every YAML document in deploy/ loads, and the Kubernetes
# manifests render with kustomize. (That they only set variables the binary reads is a test:
# tests/api/cli.rs.)
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import glob, sys
try:
    import yaml
except ImportError:
    print("deploy check: PyYAML missing; installing it for this check")
    import subprocess
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "pyyaml"])
    import yaml
files = sorted(glob.glob("deploy/**/*.yaml", recursive=True))
for path in files:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        sys.exit(f"{path}: no YAML document")
compose = yaml.safe_load(open("deploy/compose.yaml"))
for name in ("clientstatus", "postgres", "otel-collector"):
    if name not in compose.get("services", {}):
        sys.exit(f"deploy/compose.yaml: no service {name!r}")
print(f"deploy check: {len(files)} YAML files load")
PY

if command -v kubectl >/dev/null 2>&1; then
  kinds=$(kubectl kustomize deploy/k8s | grep -c '^kind:')
  echo "deploy check: kustomize renders $kinds Kubernetes objects"
else
  echo "deploy check: kubectl not installed; manifests only parsed as YAML"
fi
