#!/usr/bin/env bash
# Fetches cert-manager's CRDs from its official Go module (github.com/cert-manager/cert-manager, the deploy/crds
# directory it ships) into the sandbox cache, keyed by version. Does nothing when they are already there.
# cert-manager itself does not run in the sandbox: the CRDs let the API server check the Certificates the operator
# writes against cert-manager's real schema, and the tests write the Secret cert-manager would issue.
#
#   sandbox/build/fetch-cert-manager-crds.sh   # fetch if missing, print the CRD directory on the last line
#   EMQX_SANDBOX_CACHE=/path ...               # override the cache root (default ~/.cache/emqx-operator)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${EMQX_SANDBOX_CACHE:-$HOME/.cache/emqx-operator}
out="$cache_root/cert-manager-$CERT_MANAGER_VERSION/crds"
work="$cache_root/work/cert-manager-$CERT_MANAGER_VERSION"
module=github.com/cert-manager/cert-manager

log() { printf '[fetch-cert-manager-crds %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -f "$out/cert-manager.io_certificates.yaml" ]; then
  echo "$out"; exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "error: Go is not installed or not on PATH; the sandbox fetches cert-manager's CRDs with 'go mod download'" >&2
  exit 3
}
export GOTOOLCHAIN=local GOFLAGS=-modcacherw GOMODCACHE="$work/mod"
mkdir -p "$work"
t0=$SECONDS
log "downloading $module@v$CERT_MANAGER_VERSION (its CRDs only are kept)"
dir=$(cd "$work" && go mod download -json "$module@v$CERT_MANAGER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir/deploy/crds" ] || { echo "error: $module@v$CERT_MANAGER_VERSION has no deploy/crds" >&2; exit 4; }
mkdir -p "$out.tmp"
cp "$dir"/deploy/crds/cert-manager.io_*.yaml "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
rm -rf "$work"
log "$(ls "$out" | wc -l) CRDs in $out ($((SECONDS - t0))s)"
echo "$out"
