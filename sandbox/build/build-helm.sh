#!/usr/bin/env bash
# Builds Helm from its official Go module (helm.sh/helm/v3) into the sandbox cache, beside the Kubernetes
# binaries and keyed by version. Does nothing when the binary is already there.
#
#   sandbox/build/build-helm.sh         # build if missing, print the bin directory on the last line
#   EMQX_SANDBOX_CACHE=/path ...        # override the cache root (default ~/.cache/emqx-operator)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${EMQX_SANDBOX_CACHE:-$HOME/.cache/emqx-operator}
bin="$cache_root/helm-$HELM_VERSION/bin"
work="$cache_root/work/helm-$HELM_VERSION"

log() { printf '[build-helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [ -x "$bin/helm" ]; then
  echo "$bin"; exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "error: Go is not installed or not on PATH; the sandbox builds Helm from source and needs Go >= 1.26" >&2
  exit 3
}

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin" "$work"
t0=$SECONDS
log "building Helm v$HELM_VERSION into $bin (measured: see sandbox/README.md)"
cd "$work"
[ -f go.mod ] || go mod init helmbuild >/dev/null 2>&1
go get -tool "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
log "module download done in $((SECONDS - t0))s"
# The same version stamps Helm's Makefile sets: its own version, and the Kubernetes version that `helm template`
# assumes (Capabilities.KubeVersion) derived from the client-go it is built with.
kv=$(go list -f '{{.Version}}' -m k8s.io/client-go) # v0.MINOR.PATCH
kmajor=1 kminor=$(echo "$kv" | cut -d. -f2)
ld="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
ld="$ld -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$kmajor -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$kminor"
ld="$ld -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$kmajor -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$kminor"
t1=$SECONDS
# No DWARF, and the same compiler flags as build-k8s.sh: the Go cache keys a compiled package by its flags, so
# the standard library and the ~60 other packages Helm shares with Kubernetes at the same version (protobuf, klog,
# gnostic, json-iterator, …) come from the cache when the control plane was built first (as `npm start` does).
go build -trimpath -gcflags=all=-dwarf=false -ldflags "$ld" -o "$bin/helm.tmp" helm.sh/helm/v3/cmd/helm
mv "$bin/helm.tmp" "$bin/helm"
# CPU time of everything this script ran (user + system of the go commands, from `times`), as build-k8s.sh prints.
# `times` runs in this shell, writing to a file: in a $(…) subshell it would count that subshell's children only.
cpu=0; times >"$work/times"
for t in $(tail -n 1 "$work/times"); do m=${t%%m*} sec=${t#*m}; sec=${sec%s}; cpu=$((cpu + m * 60 + 10#${sec%.*})); done
log "go build helm done in $((SECONDS - t1))s; $("$bin/helm" version --short) built in $((SECONDS - t0))s ($cpu s of CPU), $(du -sh "$bin/helm" | cut -f1)"
echo "$bin"
