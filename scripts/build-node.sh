#!/usr/bin/env bash
# Builds the lambda-relay npm package in node-binding/ (addon + TypeScript wrapper).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_node
