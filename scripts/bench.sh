#!/usr/bin/env bash
# `npm run bench`: benchmarks, not tests. Prints each table and writes them all to
# docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"
build_node
step "building the relay benchmark (release)"
cargo build --release -p lambda-relay-bench --locked
out=$(mktemp)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`npm run bench\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(uname -m)). Loopback only."
  echo
  echo "## Relay throughput: client → local gateway session"
  echo
  echo '```'
  target/release/lambda-relay-bench bench/node-client.mjs
  echo '```'
  echo
  echo "## Codec: 64 KiB body frames (criterion)"
  echo
  echo '```'
  cargo bench -p lambda-relay --bench codec --locked -- --noplot 2>/dev/null | grep -E "^codec|time:|thrpt:" | grep -v "%"
  echo '```'
} | tee "$out"
mv "$out" docs/benchmarks.md
step "written to docs/benchmarks.md"
