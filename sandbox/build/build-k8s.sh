#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the official Go modules into a cache directory
# outside the repo, keyed by version. Does nothing when the binaries are already there.
#
#   sandbox/build/build-k8s.sh          # build if missing, print the bin directory on the last line
#   EMQX_SANDBOX_CACHE=/path ...        # override the cache root (default ~/.cache/emqx-operator)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${EMQX_SANDBOX_CACHE:-$HOME/.cache/emqx-operator}
bin="$cache_root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION/bin"
work="$cache_root/work"

log() { printf '[build-k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
step() { # step NAME CMD... : runs a step and reports its duration
  local name=$1; shift; local t0=$SECONDS
  log "$name ..."
  "$@"
  log "$name done in $((SECONDS - t0))s"
}

if [ -x "$bin/etcd" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; then
  echo "$bin"; exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "error: Go is not installed or not on PATH; the sandbox builds Kubernetes from source and needs Go >= 1.26" >&2
  exit 3
}

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin" "$work"
total0=$SECONDS

build_etcd() {
  local w="$work/etcd-$ETCD_VERSION"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init etcdbuild >/dev/null 2>&1
  go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$bin/etcd.tmp" "$bin/etcd"
}

k8s_wrapper() {
  local w="$work/k8s-$K8S_VERSION"; mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init kbuild >/dev/null 2>&1
  local stg="v0.${K8S_VERSION#1.}" gomod m
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  # Staging modules are required at v0.0.0 and replaced by ./staging paths upstream; point them at their releases.
  for m in $(sed -n -e 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' \
                    -e 's#^\s*\(k8s\.io/[a-z0-9-]*\) v0\.0\.0\( // indirect\)\?$#\1#p' "$gomod" | sort -u); do
    go mod edit "-replace=$m=$m@$stg"
  done
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
               "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION"
}

build_k8s() {
  cd "$work/k8s-$K8S_VERSION"
  local minor; minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  local v="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  v="$v -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  v="$v -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  local c
  for c in kube-apiserver kube-controller-manager; do
    [ -x "$bin/$c" ] && continue
    step "go build $c" go build -trimpath -tags=selinux,notest,grpcnotrace -ldflags "-s -w $v" -o "$bin/$c.tmp" "k8s.io/kubernetes/cmd/$c"
    mv "$bin/$c.tmp" "$bin/$c"
  done
}

log "building Kubernetes v$K8S_VERSION and etcd v$ETCD_VERSION into $bin (measured: about 6 minutes on 2 cores with an empty Go build cache; downloading every module first adds a few minutes)"
[ -x "$bin/etcd" ] || step "etcd v$ETCD_VERSION (module download + build)" build_etcd
step "Kubernetes v$K8S_VERSION module download" k8s_wrapper
build_k8s
"$bin/kube-apiserver" --version >&2
"$bin/etcd" --version | head -1 >&2
log "all built in $((SECONDS - total0))s; disk: $(du -sh "$bin" | cut -f1) binaries, $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1) module cache, $(du -sh "$(go env GOCACHE)" 2>/dev/null | cut -f1) build cache"
echo "$bin"
