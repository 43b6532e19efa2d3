#!/usr/bin/env bash
# `npm run bench`: benchmarks (not tests). Today: the codec.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"
step "codec: encode + decode of 64 KiB body frames"
cargo bench -p lambda-relay --bench codec --locked -- --noplot
