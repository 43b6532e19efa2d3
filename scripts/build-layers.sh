#!/usr/bin/env bash
# `npm run build:layers`: Lambda layer zips of the Node package, one per architecture
# (node-binding/pack/layers/), for functions whose build cannot install the addon of Lambda's
# platform (a macOS build host, an esbuild bundle with lambda-relay external).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_node
pack_node
build_layers
