#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the official Go modules into a cache directory
# outside the repo, keyed by version. Does nothing when the binaries are already there.
#
#   sandbox/build/build-k8s.sh          # build if missing, print the bin directory on the last line
#   EMQX_SANDBOX_CACHE=/path ...        # override the cache root (default ~/.cache/emqx-operator)
#
# Progress goes to stderr as a few phase lines plus a status line every 15 s (packages compiled, time left); the
# go commands' own output (`go: downloading …`, `go: added …`, compiler errors) goes to the build log, whose path
# is printed first. All three binaries come from one wrapper module and one `go build`: k8s.io/kubernetes itself
# requires go.etcd.io/etcd/server/v3 (ETCD_VERSION is that version, checked below), so etcd's main package is built
# unmodified at the version Kubernetes pins, and the ~460 packages it shares with Kubernetes compile once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache_root=${EMQX_SANDBOX_CACHE:-$HOME/.cache/emqx-operator}
out="$cache_root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
bin="$out/bin"
work="$cache_root/work"
build_log="$out/build.log"
state="$work/progress"
# Measured on 2 idle cores with empty caches (sandbox/README.md, "Cost": 330 s when etcd was a separate build, scaled
# by the CPU the single build saves, 449 s instead of 481 s); only used to say how long is left before the compile
# has started.
EXPECT_MODULES_S=60
EXPECT_COMPILE_S=310
EXPECT_PACKAGES=2500

if [ -x "$bin/etcd" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; then
  echo "$bin"; exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "error: Go is not installed or not on PATH; the sandbox builds Kubernetes from source and needs Go >= 1.26" >&2
  exit 3
}

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$bin" "$work"
rm -rf "$state"; mkdir -p "$state"
: >"$build_log"
t_start=$SECONDS

log() { # to stderr and the build log; never fails (no pipeline, no error if stderr is gone)
  local line; line=$(printf '[build-k8s %s] %s' "$(date +%H:%M:%S)" "$*")
  printf '%s\n' "$line" >>"$build_log" 2>/dev/null || true
  printf '%s\n' "$line" >&2 2>/dev/null || true
}
fmt_s() { local s=$1; if [ "$s" -ge 90 ]; then echo "$(((s + 30) / 60)) min"; else echo "${s} s"; fi; }
phase() { echo "$2" >"$state/$1.phase"; } # phase JOB TEXT: what the job is doing now (read by the monitor)
lines() { local n=0; [ -f "$1" ] && n=$(wc -l <"$1"); echo $((n + 0)); }

ETCD_PKG=go.etcd.io/etcd/server/v3 # etcd's main package, as `go install` of the release builds it

# Staging modules are required at v0.0.0 and replaced by ./staging paths upstream; point them at their releases.
# etcd comes in through k8s.io/kubernetes's own requirement on its server module: ETCD_VERSION must be that version,
# so that neither is built against dependency versions its release does not pin.
modules() {
  local w="$work/k8s-$K8S_VERSION" stg="v0.${K8S_VERSION#1.}" gomod m pinned got
  mkdir -p "$w"; cd "$w"
  [ -f go.mod ] || go mod init kbuild
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
  pinned=$(sed -n 's#^\s*go\.etcd\.io/etcd/server/v3 v\([^ ]*\).*#\1#p' "$gomod")
  if [ "$pinned" != "$ETCD_VERSION" ]; then
    echo "error: k8s.io/kubernetes v$K8S_VERSION requires $ETCD_PKG v${pinned:-(none)}, but versions.env says" \
         "ETCD_VERSION=$ETCD_VERSION; set ETCD_VERSION=${pinned:-?} there (etcd is built at the version Kubernetes pins)" >&2
    return 4
  fi
  for m in $(sed -n -e 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' \
                    -e 's#^\s*\(k8s\.io/[a-z0-9-]*\) v0\.0\.0\( // indirect\)\?$#\1#p' "$gomod" | sort -u); do
    go mod edit "-replace=$m=$m@$stg"
  done
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" \
               "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" "$ETCD_PKG@v$ETCD_VERSION"
  got=$(go list -m -f '{{.Version}}' "$ETCD_PKG")
  [ "$got" = "v$ETCD_VERSION" ] || { echo "error: the module graph resolved $ETCD_PKG to $got, not v$ETCD_VERSION" >&2; return 4; }
}

# The tags upstream builds with (hack/lib/golang.sh) plus grpcnotrace (no golang.org/x/net/trace in the binaries).
K8S_TAGS=selinux,notest,grpcnotrace
# No DWARF at all: -w drops it at link time, -dwarf=false stops every package compile from generating it.
GCFLAGS=all=-dwarf=false

# One job: modules, then one `go build` of the three main packages (one action graph: every package compiled once,
# the three binaries linked in parallel at the end).
build_job() {
  phase job "downloading modules"
  modules
  local minor; minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  local v="-X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
  v="$v -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  v="$v -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  local cmds=("k8s.io/kubernetes/cmd/kube-apiserver" "k8s.io/kubernetes/cmd/kube-controller-manager" "$ETCD_PKG")
  go list -deps -tags="$K8S_TAGS" "${cmds[@]}" | wc -l >"$state/total"
  echo $((SECONDS - t_start)) >"$state/compile.t0"
  phase job "compiling"
  rm -rf "$work/k8s-out"; mkdir -p "$work/k8s-out"
  go build -v -trimpath -tags="$K8S_TAGS" -gcflags="$GCFLAGS" -ldflags "-s -w $v" -o "$work/k8s-out/" "${cmds[@]}" \
    2> >(tee -a "$state/pkgs" >&2)
  # `go build -o DIR/` names a binary after its package path's last element, before a /vN suffix: etcd's is "server".
  mv "$work/k8s-out/server" "$bin/etcd"
  mv "$work/k8s-out/kube-apiserver" "$work/k8s-out/kube-controller-manager" "$bin/"
  phase job "done"
}

# One status line: the phase and, while compiling, packages compiled so far, plus an estimate of the time left
# (from the compile rate once there is one, else from the measured figures above).
status() {
  local now=$((SECONDS - t_start)) p n t left
  p=$(cat "$state/job.phase" 2>/dev/null || echo "starting")
  n=$(lines "$state/pkgs"); t=$(cat "$state/total" 2>/dev/null || echo 0)
  if [ ! -f "$state/total" ]; then
    left=$((EXPECT_MODULES_S + EXPECT_COMPILE_S - now)); [ "$left" -lt 30 ] && left=30
    left="about $(fmt_s "$left") left (typical on 2 cores)"
  elif [ "$n" -lt 50 ]; then
    left="about $(fmt_s "$EXPECT_COMPILE_S") left (typical on 2 cores)"
  elif [ "$n" -ge "$t" ]; then
    p="linking"; left="less than a minute left on idle cores"
  else
    local since=$((now - $(cat "$state/compile.t0"))); [ "$since" -lt 1 ] && since=1
    # The last packages (cmd/*/app and the links) take longer per package than the average: add a minute.
    left="about $(fmt_s $(((t - n) * since / n + 60))) left"
  fi
  [ "$p" = compiling ] && p="compiling $n/$t packages"
  log "$(fmt_s "$now") so far; $p; $left"
}

monitor() {
  while sleep "${BUILD_K8S_STATUS_EVERY:-15}"; do status || true; done
}

log "building Kubernetes v$K8S_VERSION and etcd v$ETCD_VERSION (the version Kubernetes pins) into $bin"
log "full log: $build_log"
log "phases: 1. download Go modules (~$(fmt_s $EXPECT_MODULES_S)); 2. compile ~$EXPECT_PACKAGES packages and link 3 binaries" \
    "(~$(fmt_s $EXPECT_COMPILE_S) on 2 idle cores, longer on a busy machine); a status line every ${BUILD_K8S_STATUS_EVERY:-15} s"

job_pid= monitor_pid=
kill_tree() { # kill_tree PID: the process and everything it started (go build runs compilers as children)
  local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done
  kill "$1" 2>/dev/null || true
}
cleanup() { local p; for p in $job_pid $monitor_pid; do kill_tree "$p"; done; }
trap cleanup EXIT
trap "exit 130" INT TERM
(build_job) >>"$build_log" 2>&1 & job_pid=$!
monitor & monitor_pid=$!
rc=0; wait "$job_pid" || rc=$?
job_pid=
kill_tree "$monitor_pid"; monitor_pid=
if [ "$rc" -ne 0 ]; then
  log "FAILED ($(cat "$state/job.phase" 2>/dev/null || echo starting)); the last lines of $build_log:"
  tail -n 25 "$build_log" >&2 || true
  exit 1
fi
# CPU time of everything the script ran (the second line of `times`: children's user and system time), a figure
# that depends far less on how busy the machine is than the wall time.
cpu_seconds() { # sets CPU_S; no subshell, or `times` would count the subshell's children only
  local t m sec total=0
  times >"$state/times" 2>/dev/null || return 0
  for t in $(tail -n 1 "$state/times"); do
    m=${t%%m*}; sec=${t#*m}; sec=${sec%s}; sec=${sec%.*}
    total=$((total + m * 60 + 10#$sec))
  done
  CPU_S=$total
}
cpu_seconds || true
log "all built in $((SECONDS - t_start)) s (${CPU_S:-?} s of CPU)"

# Diagnostics only: none of these may fail the build (and no pipeline here, so no early-closing reader can kill
# a writer with SIGPIPE under pipefail).
diagnostics() {
  local v
  v=$("$bin/kube-apiserver" --version 2>&1); log "${v%%$'\n'*}"
  v=$("$bin/etcd" --version 2>&1); log "${v%%$'\n'*}"
  log "disk: $(du -sh "$bin" 2>/dev/null | cut -f1) binaries, $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1) module cache, $(du -sh "$(go env GOCACHE)" 2>/dev/null | cut -f1) build cache"
}
diagnostics || true
echo "$bin"
