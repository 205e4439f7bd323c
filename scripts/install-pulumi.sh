#!/usr/bin/env bash
# Build the Pulumi engine this project runs on, from the Go module proxy, and cache it outside the repo.
#
#   bash scripts/install-pulumi.sh               # build if needed; stdout: `export PATH=<bin>:$PATH` (eval-able)
#   bash scripts/install-pulumi.sh --print-path  # build if needed; stdout: the bin dir only
#   bash scripts/install-pulumi.sh --force       # rebuild even on a cache hit
#   bash scripts/install-pulumi.sh --self-test   # then run a real `pulumi up`/`destroy` of a TypeScript program
#   bash scripts/install-pulumi.sh --check-providers  # ask the Go proxy whether the provider modules are served
#
# What it installs into ${JHVM_PULUMI_HOME:-$HOME/.cache/jupyterhub-vm/pulumi-<version>}/bin:
#   pulumi                          the upstream CLI/engine, github.com/pulumi/pulumi/pkg/v3/cmd/pulumi @ v$PULUMI_VERSION
#   pulumi-language-nodejs          this project's minimal Node.js language host (scripts/pulumi-build/cmd/...):
#                                   the upstream one is not served by the Go proxy we reach (see below)
#   pulumi-resource-pulumi-nodejs   the dynamic-provider host (a 3-line shell script around @pulumi/pulumi)
# The engine finds the last two next to `pulumi` (they are "bundled" plugins), so nothing is downloaded and
# nothing needs `pulumi plugin install`. The OpenStack provider plugin is built by install-openstack-provider.sh;
# pulumi-command cannot be built here: its Go module is refused by the proxy (--check-providers shows the answer).
#
# Dependencies are pinned by scripts/pulumi-build/go.mod + go.sum (built with -mod=readonly, so every module is
# verified against go.sum). Logs and timings go to stderr.
set -euo pipefail

PULUMI_VERSION=3.248.0   # keep in step with "@pulumi/pulumi" in package.json (the CLI must be >= the SDK)

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tag=install-pulumi
# shellcheck source=lib/go-build.sh
source "$script_dir/lib/go-build.sh"
build_dir=$script_dir/pulumi-build
prefix=${JHVM_PULUMI_HOME:-$tools_cache/pulumi-$PULUMI_VERSION}
bin=$prefix/bin
stamp=$prefix/build.stamp

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }

mode=export force=0 self_test=0 check_providers=0
for arg in "$@"; do
  case $arg in
    --print-path) mode=path ;;
    --force) force=1 ;;
    --self-test) self_test=1 ;;
    --check-providers) check_providers=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage; die "unknown argument: $arg" ;;
  esac
done

# ---------------------------------------------------------------------------------------------------------------
use_go

# ---------------------------------------------------------------------------------------------------------------
check_providers() {
  # The Pulumi providers this project would like (see notes): ask the proxy, report its answer verbatim.
  local tmp m out rc=0
  tmp=$(mktemp -d)
  for m in github.com/pulumi/pulumi-command/provider@v1.2.1 \
           github.com/pulumi/pulumi-openstack/provider/v3@v3.15.2; do
    out=$(cd "$tmp"; GOFLAGS=-mod=mod go mod download -json "$m" 2>&1) || true
    if grep -q '"Error"' <<<"$out"; then
      log "provider module $m: NOT available: $(sed -n 's/.*"Error": "\(.*\)".*/\1/p' <<<"$out" | head -1)"
      rc=1
    else
      log "provider module $m: available from the Go proxy"
    fi
  done
  rm -rf "$tmp"
  return $rc
}
if (( check_providers )); then
  check_providers || true
fi

# ---------------------------------------------------------------------------------------------------------------
read -r -d '' dynamic_provider_script <<'EOF' || true
#!/bin/sh
# Pulumi dynamic-provider host (written by scripts/install-pulumi.sh): runs @pulumi/pulumi's
# cmd/dynamic-provider, resolved from the program directory the engine starts us in.
set -e
script=$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")
exec node "$script" "$@"
EOF

# Cache key: the pinned version, the dynamic-provider script and a hash of every build input in scripts/pulumi-build.
inputs_hash=$(inputs_hash "$build_dir" "$PULUMI_VERSION" "$dynamic_provider_script")
want_stamp="pulumi=v$PULUMI_VERSION language-nodejs=$PULUMI_VERSION inputs=$inputs_hash"

cache_ok() {
  [[ -x $bin/pulumi && -x $bin/pulumi-language-nodejs && -x $bin/pulumi-resource-pulumi-nodejs && -f $stamp ]] || return 1
  [[ $(cat "$stamp") == "$want_stamp" ]] || return 1
  [[ $("$bin/pulumi" version 2>/dev/null) == "v$PULUMI_VERSION" ]] || return 1
  [[ $("$bin/pulumi-language-nodejs" -version 2>/dev/null) == "$PULUMI_VERSION" ]] || return 1
}

mkdir -p "$prefix"
# One build at a time per cache dir (CI and a developer shell may race).
exec 9>"$prefix/.lock"
flock 9

export PULUMI_SKIP_UPDATE_CHECK=true
t_start=$(now_ms)
if (( ! force )) && cache_ok; then
  log "cache hit: $bin ($want_stamp), checked in $(secs $(( $(now_ms) - t_start )))s (warm)"
  built=0
else
  log "cache miss or --force: building Pulumi v$PULUMI_VERSION into $bin ($(go version | cut -d' ' -f3), $(nproc) cores)"
  log "Go caches: GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"
  staging=$prefix/.staging
  rm -rf "$staging"
  mkdir -p "$staging"
  export CGO_ENABLED=0
  export GOFLAGS="-mod=readonly -buildvcs=false"
  common=(-p 2 -trimpath)
  declare -A took

  t=$(now_ms)
  log "downloading modules pinned by scripts/pulumi-build/go.sum (first run: ~1 min, ~1.4 GB in GOMODCACHE)"
  (cd "$build_dir" && go mod download)
  took[download]=$(( $(now_ms) - t ))

  t=$(now_ms)
  log "building pulumi (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi v$PULUMI_VERSION): the long one"
  (cd "$build_dir" && nice -n 10 go build "${common[@]}" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
    -o "$staging/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  took[pulumi]=$(( $(now_ms) - t ))

  t=$(now_ms)
  log "building pulumi-language-nodejs (scripts/pulumi-build/cmd/pulumi-language-nodejs)"
  (cd "$build_dir" && nice -n 10 go build "${common[@]}" -ldflags "-s -w -X main.Version=$PULUMI_VERSION" \
    -o "$staging/pulumi-language-nodejs" ./cmd/pulumi-language-nodejs)
  took[pulumi-language-nodejs]=$(( $(now_ms) - t ))

  printf '%s\n' "$dynamic_provider_script" >"$staging/pulumi-resource-pulumi-nodejs"
  chmod +x "$staging/pulumi-resource-pulumi-nodejs"

  # Check the fresh binaries before they replace anything.
  v=$("$staging/pulumi" version)
  [[ $v == "v$PULUMI_VERSION" ]] || die "built pulumi reports '$v', want v$PULUMI_VERSION"
  v=$("$staging/pulumi-language-nodejs" -version)
  [[ $v == "$PULUMI_VERSION" ]] || die "built pulumi-language-nodejs reports '$v', want $PULUMI_VERSION"

  rm -rf "$bin"
  mv "$staging" "$bin"
  echo "$want_stamp" >"$stamp"
  built=1
fi
total_ms=$(( $(now_ms) - t_start ))

# ---------------------------------------------------------------------------------------------------------------
log "installed in $bin:"
log "  pulumi                         $("$bin/pulumi" version)  ($(du -h "$bin/pulumi" | cut -f1))"
log "  pulumi-language-nodejs         $("$bin/pulumi-language-nodejs" -version)  ($(du -h "$bin/pulumi-language-nodejs" | cut -f1))"
log "  pulumi-resource-pulumi-nodejs  (script)"
if (( built )); then
  log "build times: go mod download $(secs "${took[download]}")s, pulumi $(secs "${took[pulumi]}")s," \
      "pulumi-language-nodejs $(secs "${took[pulumi-language-nodejs]}")s; total $(secs "$total_ms")s (cold: binaries built)"
  log "disk: $(du -sh "$(go env GOMODCACHE)" 2>/dev/null | cut -f1) GOMODCACHE, $(du -sh "$(go env GOCACHE)" 2>/dev/null | cut -f1) GOCACHE"
else
  log "total $(secs "$total_ms")s (warm: cache hit, nothing built)"
fi
log "plugins: language nodejs + resource pulumi-nodejs are bundled next to pulumi (no download, no plugin cache);"
log "         plugin cache (PULUMI_HOME=${PULUMI_HOME:-$HOME/.pulumi}): $("$bin/pulumi" plugin ls 2>&1 | tail -1)"

# ---------------------------------------------------------------------------------------------------------------
self_test() {
  # A real deployment with the engine: TypeScript program, dynamic provider running `echo hi`, local file backend,
  # isolated PULUMI_HOME; checks the output, then destroys. Needs node + the npm registry.
  local dir out rc=0 pass=0 fail=0
  dir=$(mktemp -d /tmp/pulumi-selftest.XXXXXX)
  cat >"$dir/package.json" <<EOF
{ "name": "pulumi-selftest", "private": true, "main": "index.ts",
  "dependencies": { "@pulumi/pulumi": "$PULUMI_VERSION" },
  "devDependencies": { "typescript": "5.9.3", "@types/node": "20.19.25" } }
EOF
  printf 'name: selftest\nruntime: nodejs\n' >"$dir/Pulumi.yaml"
  cat >"$dir/index.ts" <<'EOF'
import * as pulumi from "@pulumi/pulumi";
import { execFileSync } from "child_process";
const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: any) {
        const stdout = execFileSync(inputs.cmd[0], inputs.cmd.slice(1), { encoding: "utf8" }).trim();
        return { id: "selftest", outs: { ...inputs, stdout } };
    },
};
class LocalCommand extends pulumi.dynamic.Resource {
    public readonly stdout!: pulumi.Output<string>;
    constructor(name: string, cmd: string[]) { super(provider, name, { cmd, stdout: undefined }, {}); }
}
const cfg = new pulumi.Config();
export const stdout = new LocalCommand("hi", ["echo", "hi"]).stdout;
export const secretLength = cfg.requireSecret("token").apply(t => t.length);
EOF
  local t
  t=$(now_ms)
  # errexit must apply inside the subshell: run it as a plain command (not in an && / || list).
  set +e
  (
    set -euo pipefail
    cd "$dir"
    export PATH=$bin:$PATH PULUMI_HOME=$dir/.pulumi PULUMI_CONFIG_PASSPHRASE=selftest \
           PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
    npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2
    mkdir -p "$dir/state"
    pulumi login "file://$dir/state" >&2
    pulumi stack init dev >&2
    printf 'abcdef' | pulumi config set --secret token >&2
    pulumi up --yes --non-interactive >&2
    out=$(pulumi stack output --json --show-secrets)
    echo "$out" >&2
    [[ $(node -e 'const o=JSON.parse(process.argv[1]); process.stdout.write(o.stdout+","+o.secretLength)' "$out") == "hi,6" ]]
    pulumi destroy --yes --non-interactive >&2
    [[ $(pulumi stack export | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log((JSON.parse(s).deployment.resources||[]).length))') == 0 ]]
  )
  rc=$?
  set -e
  if (( rc == 0 )); then pass=1; else fail=1; fi
  log "self-test ($(secs $(( $(now_ms) - t )))s): pulumi up/destroy of a TypeScript program in $dir"
  echo "self-test: $pass passed, $fail failed" >&2
  (( rc == 0 )) && rm -rf "$dir"
  return $rc
}
if (( self_test )); then
  self_test
fi

if [[ $mode == path ]]; then
  echo "$bin"
else
  echo "export PATH=$bin:\$PATH"
fi
