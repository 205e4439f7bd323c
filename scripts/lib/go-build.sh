# Shared by the scripts that build tools from Go modules (install-pulumi.sh, install-openstack-provider.sh):
# logging, the Go toolchain and a proxy-only GOPROXY. Source it after setting `tag` (the log prefix).
# shellcheck shell=bash

log() { printf '[%s] %s\n' "${tag:-build}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f", ms / 1000 }'; }

# The cache every build shares (the CLI, the provider): ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}.
tools_cache=${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}

# Go toolchain: the one on PATH, else the usual install location. The go.mod files ask for Go >= 1.25.11.
use_go() {
  if ! command -v go >/dev/null 2>&1; then
    [[ -x /usr/local/go/bin/go ]] && export PATH=/usr/local/go/bin:$PATH
  fi
  command -v go >/dev/null 2>&1 || die "go is not installed (need Go >= 1.25.11; e.g. apt/golang.org tarball)"
  # Modules come from the proxy only: drop a "direct" fallback, which would try to reach GitHub on a 404.
  local proxy
  proxy=$(go env GOPROXY)
  proxy=${proxy//,direct/}
  proxy=${proxy//|direct/}
  [[ -z $proxy || $proxy == direct || $proxy == off ]] && proxy=https://proxy.golang.org
  export GOPROXY=$proxy
}

# Hash of the build inputs of a Go module directory ($1) plus any extra strings (the rest): the cache key.
inputs_hash() {
  local dir=$1
  shift
  (cd "$dir" && {
    printf '%s\n' "$@"
    find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name '*.json' \) | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-16)
}
