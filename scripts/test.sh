#!/usr/bin/env bash
# `npm test`: builds what it needs and runs every check and test: formatting and lints, the
# Rust crates, the wasm32 build of the protocol, the Node package on Node 20, 22 and 24, the
# end-to-end suite through the gateway in workerd (a browser among its clients), and the
# Python package: its wheels, and ASGI apps through the gateway.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"

ensure_rust_target wasm32-unknown-unknown

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (every crate; the gateway for wasm32)"
cargo clippy --workspace --exclude lambda-relay-gateway --all-targets --all-features --locked -- -D warnings
cargo clippy -p lambda-relay-gateway --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test (lambda-relay with all features, the Rust examples)"
cargo test -p lambda-relay -p lambda-relay-examples --all-features --locked

step "release: the crate's package (cargo package) and the licence copies"
for dir in core python-binding; do
  for licence in LICENSE-MIT LICENSE-APACHE; do
    cmp -s "$licence" "$dir/$licence" || { echo "$dir/$licence is not the repository's $licence" >&2; exit 1; }
  done
done
crate_files=$(cargo package -p lambda-relay --no-verify --allow-dirty --locked --list)
for file in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE src/lib.rs; do
  grep -qx "$file" <<<"$crate_files" || { echo "the lambda-relay crate would ship without $file" >&2; exit 1; }
done
# The .crate itself (its manifest rewritten as crates.io gets it); not compiled again.
if ! packaged=$(cargo package -p lambda-relay --no-verify --allow-dirty --locked 2>&1); then
  echo "$packaged" >&2
  exit 1
fi
echo "lambda-relay crate: $(wc -l <<<"$crate_files") files"

step "proto builds for wasm32-unknown-unknown without default features"
cargo build -p lambda-relay --no-default-features --target wasm32-unknown-unknown --locked

build_gateway
build_node

step "tsc --noEmit (strict): the Node package and its public types as users write them"
(cd node-binding && "$(root_dir)/node_modules/.bin/tsc" -p tsconfig.check.json)

pack_node
build_layers
ARM64_NODE=$(ensure_arm64_node)
export ARM64_NODE

NODE_SYSTEM=$(system_node)
export FUNCTION_NODE=$NODE_SYSTEM   # the e2e Node functions run on the machine's Node
NODE24=$(node24)
export NODE24   # e2e/bundles.test.mjs runs its functions on Lambda's current Node
step "Node package tests on Node $("$NODE_SYSTEM" --version) (the machine's), $("$(node22)" --version) and $("$NODE24" --version)"
(cd node-binding && "$NODE_SYSTEM" --test --test-reporter=spec test/*.test.mjs)
(cd node-binding && "$(node22)" --test --test-reporter=spec test/*.test.mjs)
(cd node-binding && "$NODE24" --test --test-reporter=spec test/*.test.mjs)

step "Node examples, direct mode, and the SAM template"
(cd examples-node && "$NODE_SYSTEM" --test --test-reporter=spec test/*.test.mjs)

step "building the end-to-end function"
cargo build -p lambda-relay-e2e-function --locked

ensure_debian chromium chromium   # e2e/browser.test.mjs drives Debian's Chromium
ensure_node_ric                    # e2e/runtimes.test.mjs runs functions under AWS's runtime clients
build_python                       # … and the Python one under awslambdaric, from the tools venv
PYTHON_TOOLS=$(python_env)
export PYTHON_TOOLS

step "end-to-end tests (gateway in workerd, function on 127.0.0.1)"
"$(node22)" --test --test-reporter=spec --test-timeout=300000 e2e/*.test.mjs   # a hang fails in minutes, not at CI's limit

ARM64_PYTHON=$(ensure_arm64_python)
export ARM64_PYTHON
step "Python tests (pytest): the handlers, the wheels, and apps through the gateway in workerd"
(cd python-binding && "$(python_env)" -m pytest -q tests)
