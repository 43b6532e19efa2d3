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
