#!/usr/bin/env bash
# `npm run bench [-- --quick]`: benchmarks, not tests. Builds what they need (release), runs
# the function side alone and the codec, then the gateway against the bare pipe on the same
# workerd, and writes every table to docs/benchmarks.md (the summary line last).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"
build_gateway
build_node
build_python
step "building the benchmarks (release)"
cargo build --release -p lambda-relay-bench --locked
extra=$(mktemp)
{
  echo "## The function side alone: client → a local gateway session (no workerd)"
  echo
  echo '```'
  target/release/lambda-relay-bench clients bench/node-client.mjs
  echo '```'
  echo
  echo "## Codec: 64 KiB body frames (criterion)"
  echo
  echo '```'
  cargo bench -p lambda-relay --bench codec --locked -- --noplot 2>/dev/null | grep -E "^codec|time:|thrpt:" | grep -v "%"
  echo '```'
} | tee "$extra"
step "the gateway against the bare pipe, on the same workerd"
FUNCTION_NODE=$(system_node) "$(node22)" bench/bench.mjs --out docs/benchmarks.md --extra "$extra" "$@"
rm -f "$extra"
step "written to docs/benchmarks.md"
