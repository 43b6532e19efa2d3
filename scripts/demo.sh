#!/usr/bin/env bash
# `npm run demo [-- --keep]`: builds what it needs (the first run installs tools and takes
# several minutes), then runs the demo.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"
build_gateway
build_node
step "demo"
FUNCTION_NODE=$(system_node) exec "$(node22)" scripts/demo.mjs "$@"
