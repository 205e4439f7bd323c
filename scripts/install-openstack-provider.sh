#!/usr/bin/env bash
# Build the OpenStack provider plugin (pulumi-resource-openstack 3.15.2) from Go modules and cache it beside the
# Pulumi CLI. Users never need this: their `pulumi` downloads the published plugin the first time a stack uses
# @pulumi/openstack. It is for machines that cannot download plugins (air-gapped sites, this project's CI).
#
#   bash scripts/install-openstack-provider.sh                 # build if needed; stdout: `export PATH=<bin>:$PATH`
#   bash scripts/install-openstack-provider.sh --print-path    # build if needed; stdout: the bin dir only
#   bash scripts/install-openstack-provider.sh --plugin-install  # ... and `pulumi plugin install resource openstack
#                                                              #     3.15.2 --file <binary>` into $PULUMI_HOME
#   bash scripts/install-openstack-provider.sh --force         # rebuild even on a cache hit
#
# What it builds (scripts/openstack-provider-build/, README.md there): this project's ProviderInfo over
# terraform-provider-openstack v3.4.0 with pulumi-terraform-bridge v3.120.0 — the same two halves the published
# pulumi-openstack plugin is made of. The schema is generated at build time by the bridge's tfgen (from the
# provider's own docs); the binary embeds it. Into
# ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/pulumi-resource-openstack-3.15.2/:
#   bin/pulumi-resource-openstack   the plugin (static, stripped)
#   schema.json                     the schema it serves (also embedded)
#   build.stamp                     version, inputs hash and the binary's sha256 (the cache check)
# Dependencies are pinned by go.mod + go.sum and built with -mod=readonly. Logs and timings go to stderr.
set -euo pipefail

PROVIDER_VERSION=3.15.2 # = "@pulumi/openstack" in package.json: the version the engine asks for
# pulumi-openstack 3.15.2's bridge-metadata.json, the seed tfgen starts from (upstream data, kept byte for byte)
SEED_SHA256=2c06c4b024a8108c8db2138ccb067212e0da0125bfe1eba4b78bf58deac66e8f

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tag=install-openstack-provider
# shellcheck source=lib/go-build.sh
source "$script_dir/lib/go-build.sh"
src=$script_dir/openstack-provider-build
prefix=${JHVM_OPENSTACK_PROVIDER_HOME:-$tools_cache/pulumi-resource-openstack-$PROVIDER_VERSION}
bin=$prefix/bin
plugin=$bin/pulumi-resource-openstack
stamp=$prefix/build.stamp

usage() { sed -n '6,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }
mode=export force=0 plugin_install=0
for arg in "$@"; do
  case $arg in
    --print-path) mode=path ;;
    --force) force=1 ;;
    --plugin-install) plugin_install=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage; die "unknown argument: $arg" ;;
  esac
done

# The build recipe is part of the key: a change to the steps below rebuilds.
recipe=$(sed -n '/^build() {/,/^}/p' "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
want="openstack=$PROVIDER_VERSION inputs=$(inputs_hash "$src" "$PROVIDER_VERSION") recipe=$recipe"

cache_ok() {
  [[ -x $plugin && -f $stamp && -f $prefix/schema.json ]] || return 1
  local line
  line=$(head -1 "$stamp")
  [[ $line == "$want" ]] || return 1
  # the binary is the one this build made (not truncated or swapped)
  [[ $(sed -n 2p "$stamp") == "sha256=$(sha256sum "$plugin" | cut -d' ' -f1)" ]]
}

build() {
  local staging=$prefix/.staging t
  rm -rf "$staging"
  # tfgen finds the provider's docs through `go mod download` in a directory named "provider": build there.
  mkdir -p "$staging/bin"
  cp -r "$src" "$staging/provider"
  cd "$staging/provider"
  export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
  local common=(-p 2 -trimpath -ldflags "-s -w")

  t=$(now_ms)
  log "downloading modules pinned by go.sum (first run: ~3 min, ~1.5 GB in GOMODCACHE, shared with the CLI)"
  go mod download
  took_download=$(($(now_ms) - t))

  t=$(now_ms)
  log "building pulumi-tfgen-openstack (the schema generator): the long one"
  nice -n 10 go build "${common[@]}" -o "$staging/bin/pulumi-tfgen-openstack" ./cmd/pulumi-tfgen-openstack
  took_tfgen=$(($(now_ms) - t))

  t=$(now_ms)
  log "generating the schema (tfgen schema --skip-examples)"
  local out=cmd/pulumi-resource-openstack
  rm -f "$out/schema.json"
  "$staging/bin/pulumi-tfgen-openstack" schema --skip-examples --out "$out" >"$staging/tfgen.log" 2>&1 ||
    { tail -30 "$staging/tfgen.log" >&2; die "tfgen failed (log: $staging/tfgen.log)"; }
  # tfgen leaves "version" out of the schema by design; the engine and SDK expect it
  python3 - "$out/schema.json" "$PROVIDER_VERSION" <<'PY'
import json, sys
path, version = sys.argv[1], sys.argv[2]
with open(path) as f:
    schema = json.load(f)
described = sum(1 for r in schema["resources"].values() if r.get("description"))
# Without the provider's docs tfgen silently drops every description: refuse to ship that.
if described < len(schema["resources"]) // 2:
    sys.exit(f"tfgen found no docs: only {described} of {len(schema['resources'])} resources have a description")
schema["version"] = version
with open(path, "w") as f:
    json.dump(schema, f, indent=4, sort_keys=False)
    f.write("\n")
print(f"schema: {len(schema['resources'])} resources, {len(schema['functions'])} functions, "
      f"{described} described", file=sys.stderr)
PY
  if cmp -s "$out/bridge-metadata.json" "$src/cmd/pulumi-resource-openstack/bridge-metadata.json"; then
    log "bridge-metadata.json: tfgen regenerated it unchanged (the 3.15.2 shapes hold for every resource)"
  else
    log "bridge-metadata.json: tfgen updated it (the plugin embeds the updated one)"
  fi
  took_schema=$(($(now_ms) - t))

  t=$(now_ms)
  log "building pulumi-resource-openstack (schema embedded)"
  nice -n 10 go build "${common[@]}" -o "$staging/bin/pulumi-resource-openstack" ./cmd/pulumi-resource-openstack
  took_plugin=$(($(now_ms) - t))

  cd "$prefix"
  rm -rf "$bin" "$prefix/schema.json"
  mv "$staging/provider/$out/schema.json" "$prefix/schema.json"
  mkdir -p "$bin"
  mv "$staging/bin/pulumi-resource-openstack" "$plugin"
  rm -rf "$staging"
  printf '%s\nsha256=%s\n' "$want" "$(sha256sum "$plugin" | cut -d' ' -f1)" >"$stamp"
  log "build times: go mod download $(secs "$took_download")s, tfgen binary $(secs "$took_tfgen")s," \
    "schema $(secs "$took_schema")s, plugin $(secs "$took_plugin")s"
}

use_go
seed=$src/cmd/pulumi-resource-openstack/bridge-metadata.json
[[ $(sha256sum "$seed" | cut -d' ' -f1) == "$SEED_SHA256" ]] ||
  die "$seed is not pulumi-openstack 3.15.2's bridge metadata (sha256 differs): restore it, do not reformat it"
mkdir -p "$prefix"
exec 9>"$prefix/.lock" # one build at a time per cache dir (CI and a developer shell may race)
flock 9

t_start=$(now_ms)
if ((!force)) && cache_ok; then
  log "cache hit: $plugin, checked in $(secs $(($(now_ms) - t_start)))s (warm)"
else
  log "cache miss or --force: building pulumi-resource-openstack $PROVIDER_VERSION ($(go version | cut -d' ' -f3), $(nproc) cores)"
  log "Go caches: GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"
  (build)
  cache_ok || die "the fresh build does not pass the cache check ($stamp)"
  log "built in $(secs $(($(now_ms) - t_start)))s; $(du -h "$plugin" | cut -f1) binary, sha256 $(sha256sum "$plugin" | cut -c1-16)…"
fi

if ((plugin_install)); then
  command -v pulumi >/dev/null || die "--plugin-install needs pulumi on PATH"
  pulumi plugin install resource openstack "$PROVIDER_VERSION" --file "$plugin" >&2
  log "installed into the plugin cache (${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-openstack-v$PROVIDER_VERSION)"
fi

if [[ $mode == path ]]; then
  echo "$bin"
else
  echo "export PATH=$bin:\$PATH"
fi
