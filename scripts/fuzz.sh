#!/usr/bin/env bash
# `npm run fuzz [-- SECONDS [TARGET…]]`: runs each cargo-fuzz target (fuzz/) on the nightly
# toolchain for SECONDS (default 600) from the committed corpus, then minimizes the corpus
# back into fuzz/corpus/<target>. Crashes land in fuzz/artifacts/<target>/ and make the
# script fail; copy one into the corpus with the fix, so `npm test` replays it for ever.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(root_dir)"

seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode_frame function_session gateway_session websocket_messages credentials adapter_event sigv4)

if ! rustup toolchain list | grep -q '^nightly'; then
  step "installing the nightly toolchain (once)"
  rustup toolchain install nightly --profile minimal
fi
ensure_cargo_tool cargo-fuzz cargo-fuzz 0.13.2 --locked

for target in "${targets[@]}"; do
  step "fuzzing $target for ${seconds}s"
  (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
    grep -E "^(#[0-9]+\s+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Done)" || true)
  if compgen -G "fuzz/artifacts/$target/*" >/dev/null; then
    echo "crash or leak found: fuzz/artifacts/$target/" >&2
    exit 1
  fi
  step "minimizing the $target corpus"
  (cd fuzz && cargo +nightly fuzz cmin "$target" "corpus/$target" >/dev/null 2>&1)
  echo "corpus/$target: $(ls "fuzz/corpus/$target" | wc -l) inputs"
done
