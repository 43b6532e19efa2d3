#!/usr/bin/env bash
# `npm run test:chaos`: builds what the campaign needs, then runs it (scripts/chaos.mjs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"
build_gateway
step "building the end-to-end function"
cargo build -p lambda-relay-e2e-function --locked
step "chaos: 200 streams of 1-20 MB, each cut 1 to 5 times"
exec "$(node22)" scripts/chaos.mjs "$@"
