#!/usr/bin/env bash
# Build HashiCorp Packer and the plugins this project uses (qemu, virtualbox, vagrant, ansible) from the
# Go module proxy, into a cache outside the repository, and install the plugins where Packer finds them
# without network access, so that `packer init` has nothing to fetch and `packer validate` works offline.
#
#   scripts/install-packer.sh               build (skipped when the cache is complete) and print the path
#   scripts/install-packer.sh --print-path  print the wrapper's path if installed, else exit 1 (no build)
#   scripts/install-packer.sh --print-env   print `export` lines (PATH, PACKER_PLUGIN_PATH, CHECKPOINT_DISABLE)
#
# Layout (PREFIX = ${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}/packer-<version>):
#   PREFIX/bin/packer       wrapper: sets PACKER_PLUGIN_PATH=PREFIX/plugins and CHECKPOINT_DISABLE=1, then
#                           runs PREFIX/libexec/packer (so nothing phones home and only our plugins load)
#   PREFIX/libexec/packer   the real binary
#   PREFIX/plugins/github.com/hashicorp/<name>/packer-plugin-<name>_v<ver>_x5.0_linux_amd64 (+ _SHA256SUM),
#                           written by `packer plugins install --path <binary> github.com/hashicorp/<name>`
#   PREFIX/build/*.log      build logs
#
# Versions: the module proxy reachable here serves packer v1.15.4 but, for the plugins, only the versions
# that packer 1.9.x itself depended on (newer plugin zips answer 403). The plugin pins below are therefore
# those; packer/required-plugins.pkr.hcl pins the same versions so that users' `packer init` fetches
# exactly what was tested here.
set -euo pipefail

PACKER_VERSION="1.15.4"
# name:version (must match packer/plugins.pkr.hcl)
PLUGINS=("qemu:1.0.9" "virtualbox:1.0.4" "vagrant:1.0.3" "ansible:1.0.3")

TOOLS_HOME="${JHVM_TOOLS_HOME:-$HOME/.cache/jupyterhub-vm}"
PREFIX="$TOOLS_HOME/packer-$PACKER_VERSION"
PLUGIN_DIR="$PREFIX/plugins"
GOOS_GOARCH="$(go env GOOS 2>/dev/null || echo linux)_$(go env GOARCH 2>/dev/null || echo amd64)"

log() { printf '[install-packer %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

plugin_file() { # name version -> installed plugin path
  printf '%s/github.com/hashicorp/%s/packer-plugin-%s_v%s_x5.0_%s' "$PLUGIN_DIR" "$1" "$1" "$2" "$GOOS_GOARCH"
}

plugin_ok() { # name version: installed and its _SHA256SUM matches
  local f
  f="$(plugin_file "$1" "$2")"
  [[ -x "$f" && -f "${f}_SHA256SUM" ]] || return 1
  [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$(tr -d ' \n' <"${f}_SHA256SUM")" ]]
}

installed() {
  [[ -x "$PREFIX/libexec/packer" && -x "$PREFIX/bin/packer" ]] || return 1
  local p
  for p in "${PLUGINS[@]}"; do plugin_ok "${p%%:*}" "${p#*:}" || return 1; done
}

case "${1:-}" in
  --print-path)
    if installed; then echo "$PREFIX/bin/packer"; exit 0; fi
    echo "packer $PACKER_VERSION is not installed under $PREFIX: run scripts/install-packer.sh" >&2
    exit 1
    ;;
  --print-env)
    installed || { echo "packer not installed: run scripts/install-packer.sh" >&2; exit 1; }
    # shellcheck disable=SC2016 # "$PATH" is for the shell that evals this output
    printf 'export PATH=%q:"$PATH"\nexport PACKER_PLUGIN_PATH=%q\nexport CHECKPOINT_DISABLE=1\n' \
      "$PREFIX/bin" "$PLUGIN_DIR"
    exit 0
    ;;
  "") ;;
  *) echo "usage: $0 [--print-path|--print-env]" >&2; exit 2 ;;
esac

if installed; then
  log "packer $PACKER_VERSION and plugins already installed under $PREFIX (cached, nothing to build)"
  echo "$PREFIX/bin/packer"
  exit 0
fi

command -v go >/dev/null || { echo "go is required (Go >= 1.25)" >&2; exit 1; }
mkdir -p "$PREFIX/build" "$PREFIX/libexec" "$PREFIX/bin" "$PLUGIN_DIR"
WORK="$(mktemp -d "$PREFIX/build/src.XXXXXX")"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT

export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -mod=mod"
# Old plugin modules pin old toolchains; never let `go` try to download another one.
export GOTOOLCHAIN=local
export CHECKPOINT_DISABLE=1

# fetch <module> <version> -> prints a writable copy of the module source (the module's own replace
# directives only apply when it is the main module, so `go install module@version` cannot build these).
fetch() {
  local mod="$1" ver="$2" dir dest
  dir="$(go mod download -json "$mod@v$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -d "$dir" ]] || { echo "could not download $mod@v$ver from the Go module proxy" >&2; return 1; }
  dest="$WORK/$(basename "$mod")@$ver"
  cp -r "$dir" "$dest"
  chmod -R u+w "$dest"
  echo "$dest"
}

# build <label> <srcdir> <output> <ldflags>: runs `go build` niced in the background, polls it (a progress
# line every 30 s, so a CI log never sits silent) and prints the build time.
TIMES=()
build() {
  local label="$1" src="$2" out="$3" ldflags="$4" logf="$PREFIX/build/$1.log" pid start rc
  start=$(date +%s)
  log "building $label (log: $logf)"
  (cd "$src" && exec nice -n 15 go build -p 2 -trimpath -ldflags "$ldflags" -o "$out" .) >"$logf" 2>&1 &
  pid=$!
  local last=$start now
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    now=$(date +%s)
    if ((now - last >= 30)) && kill -0 "$pid" 2>/dev/null; then
      log "  $label: still building, $((now - start)) s"
      last=$now
    fi
  done
  rc=0; wait "$pid" || rc=$?
  if [[ $rc -ne 0 ]]; then
    log "FAILED to build $label (exit $rc); last lines of $logf:"
    tail -n 30 "$logf" >&2
    exit 1
  fi
  TIMES+=("$label: $(($(date +%s) - start)) s")
  log "built $label in $(($(date +%s) - start)) s"
}

T0=$(date +%s)
if [[ ! -x "$PREFIX/libexec/packer" ]]; then
  src="$(fetch github.com/hashicorp/packer "$PACKER_VERSION")"
  build "packer-$PACKER_VERSION" "$src" "$PREFIX/libexec/packer.tmp" \
    "-s -w -X github.com/hashicorp/packer/version.GitCommit=v$PACKER_VERSION"
  mv "$PREFIX/libexec/packer.tmp" "$PREFIX/libexec/packer"
else
  log "packer $PACKER_VERSION binary cached"
fi

cat >"$PREFIX/bin/packer.tmp" <<EOF
#!/bin/sh
# Generated by scripts/install-packer.sh: run packer $PACKER_VERSION with the plugins built next to it,
# offline (no checkpoint/upgrade check; plugins only from this directory).
PACKER_PLUGIN_PATH='$PLUGIN_DIR'
CHECKPOINT_DISABLE=1
export PACKER_PLUGIN_PATH CHECKPOINT_DISABLE
exec '$PREFIX/libexec/packer' "\$@"
EOF
chmod 0755 "$PREFIX/bin/packer.tmp"
mv "$PREFIX/bin/packer.tmp" "$PREFIX/bin/packer"
"$PREFIX/bin/packer" version >&2

for p in "${PLUGINS[@]}"; do
  name="${p%%:*}" ver="${p#*:}"
  if plugin_ok "$name" "$ver"; then log "plugin $name $ver cached"; continue; fi
  mod="github.com/hashicorp/packer-plugin-$name"
  src="$(fetch "$mod" "$ver")"
  bin="$PREFIX/build/packer-plugin-${name}_v$ver"
  # Release builds clear the "dev" pre-release marker that the tagged sources carry.
  build "packer-plugin-$name-$ver" "$src" "$bin" "-s -w -X $mod/version.VersionPrerelease="
  # Registers the binary under PLUGIN_DIR with its _SHA256SUM (Packer >= 1.10).
  PACKER_PLUGIN_PATH="$PLUGIN_DIR" "$PREFIX/bin/packer" plugins install --path "$bin" "github.com/hashicorp/$name" >&2
  rm -f "$bin"
  plugin_ok "$name" "$ver" || { log "plugin $name $ver not found at $(plugin_file "$name" "$ver") after install"; exit 1; }
done

"$PREFIX/bin/packer" plugins installed >&2
log "build times:"
for t in "${TIMES[@]}"; do log "  $t"; done
log "total $(($(date +%s) - T0)) s; packer: $PREFIX/bin/packer"
echo "$PREFIX/bin/packer"
