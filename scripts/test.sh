#!/usr/bin/env bash
# `npm test`: builds what it needs and runs every test that exists.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"

ensure_rust_target wasm32-unknown-unknown

step "cargo test (workspace, all features)"
cargo test -p lambda-relay --all-features --locked

step "proto builds for wasm32-unknown-unknown without default features"
cargo build -p lambda-relay --no-default-features --target wasm32-unknown-unknown --locked
