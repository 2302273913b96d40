#!/usr/bin/env bash
# A stand-in for the go command, just enough for build-k8s.sh (used by build-k8s.test.ts).
set -eu
echo "$*" >>"$STUB_CALLS"
case "$1 ${2:-}" in
  "version "*) echo "go version go1.99 stub"; exit 0 ;;
  "env "*) shift; for v in "$@"; do echo "$STUB_DIR/$v"; done; exit 0 ;;
  "mod init") echo "module $3" >go.mod; echo "go: creating new go.mod: module $3" >&2; exit 0 ;;
  "mod edit") exit 0 ;;
  "mod download")
    printf 'module k8s.io/kubernetes\nrequire (\n\tk8s.io/api v0.0.0\n\tgo.etcd.io/etcd/server/v3 v%s // indirect\n)\n' "$STUB_ETCD_PINNED" >"$STUB_DIR/k8s.go.mod"
    printf 'replace k8s.io/api => ./staging/src/k8s.io/api\n' >>"$STUB_DIR/k8s.go.mod"
    printf '{\n\t"Path": "k8s.io/kubernetes",\n\t"GoMod": "%s",\n}\n' "$STUB_DIR/k8s.go.mod"; exit 0 ;;
  "get "*) for i in $(seq 1 300); do echo "go: added example.com/m$i v1.0.$i" >&2; done; exit 0 ;;
  "list -m") echo "v$STUB_ETCD_PINNED"; exit 0 ;;
  "list "*) seq 1 40 | sed 's#^#example.com/pkg#'; exit 0 ;;
esac
if [ "$1" = build ]; then
  out= pkgs=()
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      -o) out=$2; shift 2 ;;
      -tags=*|-gcflags=*|-v|-trimpath) shift ;;
      -tags|-gcflags|-ldflags) shift 2 ;;
      -*) shift ;;
      *) pkgs+=("$1"); shift ;;
    esac
  done
  sleep "${STUB_BUILD_SLEEP:-0}"
  for p in "${pkgs[@]}"; do
    seq 1 30 | sed "s#^#$p/internal/#" >&2
    case "$p" in *"${STUB_FAIL_BUILD:-none}"*) echo "$p: compile error: stub says no" >&2; exit 1 ;; esac
  done
  for p in "${pkgs[@]}"; do
    name=$(basename "$p"); case "$name" in v[0-9]*) name=$(basename "$(dirname "$p")") ;; esac
    target=$out; case "$out" in */) target="$out$name" ;; *) name=$(basename "$out" .tmp) ;; esac
    label=$name; [ "$p" = go.etcd.io/etcd/server/v3 ] && label=etcd # what the real binary calls itself
    printf '#!/usr/bin/env bash\n[ -n "${STUB_VERSION_FAILS:-}" ] && exit 7\necho "%s Version: stub"\nseq 1 200000\n' "$label" >"$target"
    chmod +x "$target"
  done
  exit 0
fi
echo "stub go: unexpected: $*" >&2
exit 2
