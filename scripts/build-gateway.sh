#!/usr/bin/env bash
# Builds the gateway worker (installing the wasm target and tools on first use).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_gateway
