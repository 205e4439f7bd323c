# Sourced by the test image builders: bounds their cache under ${JHVM_TOOLS_HOME:-~/.cache/jupyterhub-vm}/images
# so that a machine running CI for commit after commit does not fill its disk with images of old keys (a stale
# cache once filled a CI machine's disk: a build then failed and the next one hung).
#
#   cache_keep_newest DIR GLOB N    # of the files in DIR matching GLOB, keep the N most recently used (mtime)
#
# Builders touch an entry on each cache hit, so entries a test run uses are the newest; a removed entry is rebuilt
# by the next run that needs it.
cache_keep_newest() {
  local dir="$1" glob="$2" keep="$3" f
  # shellcheck disable=SC2012  # names are ours: [a-z0-9.+-] only
  ls -1t -- "$dir"/$glob 2>/dev/null | tail -n +"$((keep + 1))" | while read -r f; do
    rm -f -- "$f" && echo "[cache] removed $f (more than $keep entries of $glob)" >&2
  done
}
