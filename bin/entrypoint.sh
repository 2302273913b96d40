#!/bin/sh
# The image's entry point (Dockerfile ENTRYPOINT; the sandbox and `npm run bench` start the operator through it
# too): runs bin/emqx-operator.js with the Node flags the operator's memory was measured with (BENCHMARKS.md,
# "Issue 14, memory") and a V8 heap cap derived from the container's memory limit.
#
#   EMQX_OPERATOR_MEMORY_LIMIT_MIB  the container's memory limit in MiB. The chart sets it from the Downward API
#                                   (resources.limits.memory, divisor 1Mi; without a limit that is the node's
#                                   allocatable memory). Unset or empty: no cap from here.
#   EMQX_OPERATOR_HEAP_PERCENT      the share of that limit V8's old generation may use (default 50). The rest is
#                                   for what is not V8 heap: the node binary's pages (~50 MiB), code, malloc, the
#                                   young generation.
#   EMQX_OPERATOR_LITE_MODE         "true" (default): run V8 with --lite-mode (below); "false": without. Only for
#                                   the build (src/cli/main.js next to bin/, as in the image); ignored in a source
#                                   tree.
#
# Why a cap at all: Node sizes its heap from the cgroup limit itself, but never below V8's minimum (259 MiB of
# heap limit for any container limit up to 512 MiB, measured), i.e. above a 256 MiB limit: the kernel's OOM
# killer would stop the process before V8 collected hard. A smaller maximum also makes V8 grow the heap by smaller
# steps. The cap follows the limit, so a large fleet needs a larger limit, never a code change.
# A --max-old-space-size in NODE_OPTIONS is left to decide: this script adds none then (a flag on the command
# line would win over NODE_OPTIONS).
set -eu

here=$(dirname "$0")
# --max-semi-space-size=2: semi-spaces of 2 MiB instead of up to 64 MiB each (Node 24's heap limit without it
# is the old generation plus 192 MiB of young generation); the operator allocates little per pass.
# --v8-pool-size=1 and MALLOC_ARENA_MAX=2: one V8 worker thread instead of one per core, and two glibc malloc
# arenas instead of up to 8 per core: every thread that allocates gets an arena of its own, and they held ~20 MiB.
# --lite-mode (EMQX_OPERATOR_LITE_MODE, default true): V8 without its optimizing compilers and with feedback
# vectors allocated lazily. Measured (BENCHMARKS.md, "Issue 14: HTTP without undici" and "lite mode by default"):
# RSS 85 -> 70 MiB with no resource, 88 -> 73 with one cluster, 109 -> 81 with 50, the figures issue 14 asks for.
# Its price is CPU in JavaScript-heavy work: the HOCON parser is ~3-4x slower (a 1.45 MiB config 117 -> 491 ms), an
# idle reconcile pass 12-16 -> 17-23 ms, a burst of 50 new clusters +10-20 % operator CPU (the burst's time is the
# API server's, not the operator's CPU). EMQX_OPERATOR_LITE_MODE=false trades the memory back for the CPU.
# It turns WebAssembly off: the operator needs none (its HTTP client is node:http; undici parsed HTTP with
# WebAssembly), but Node's TypeScript type stripping does, so a source tree (bin/emqx-operator.js importing
# src/cli/main.ts) never gets it.
# See BENCHMARKS.md for these and the flags tried and not kept (--optimize-for-size, --single-threaded-gc,
# --jitless, --max-opt).
lite=''
case "${EMQX_OPERATOR_LITE_MODE:-true}" in
  true) [ -f "$here/../src/cli/main.js" ] && lite='--lite-mode' ;;
  false) ;;
  *)
    echo "emqx-operator: EMQX_OPERATOR_LITE_MODE must be true or false, not '$EMQX_OPERATOR_LITE_MODE'" >&2
    exit 2
    ;;
esac
set -- --max-semi-space-size=2 --v8-pool-size=1 ${lite:+"$lite"} "$here/emqx-operator.js" "$@"
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"

limit=${EMQX_OPERATOR_MEMORY_LIMIT_MIB:-}
percent=${EMQX_OPERATOR_HEAP_PERCENT:-50}
case "${NODE_OPTIONS:-}" in
  *--max-old-space-size*) limit='' ;;
esac
if [ -n "$limit" ]; then
  case "$limit" in
    *[!0-9]*)
      echo "emqx-operator: EMQX_OPERATOR_MEMORY_LIMIT_MIB must be a whole number of MiB, not '$limit'" >&2
      exit 2
      ;;
  esac
  case "$percent" in
    '' | *[!0-9]*)
      echo "emqx-operator: EMQX_OPERATOR_HEAP_PERCENT must be a whole number from 10 to 90, not '$percent'" >&2
      exit 2
      ;;
  esac
  if [ "$percent" -lt 10 ] || [ "$percent" -gt 90 ]; then
    echo "emqx-operator: EMQX_OPERATOR_HEAP_PERCENT must be a whole number from 10 to 90, not '$percent'" >&2
    exit 2
  fi
  heap=$((limit * percent / 100))
  if [ "$heap" -gt 0 ]; then
    set -- "--max-old-space-size=$heap" "$@"
  fi
fi
exec node "$@"
