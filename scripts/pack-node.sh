#!/usr/bin/env bash
# Builds the arm64 addon and packs the npm tarballs (node-binding/pack/*.tgz).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
pack_node
