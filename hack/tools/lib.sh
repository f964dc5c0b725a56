# Sourced by the scripts of hack/tools: builds a Go tool from the Go module proxy into the tools cache.
#
# The sourcing script sets `dest` (the tool's cache directory, keyed by version) and defines `cached_ok`,
# which succeeds when "$dest/<binary>" is there and reports the pinned version (capture the binary's output
# first: a `| grep -q` under pipefail fails at random through SIGPIPE). It may define `stamp_build DIR`,
# called on the freshly built directory before it replaces the cached one.

# install_tool BINARY PACKAGE@VERSION LDFLAGS [NOTE] prints the path of the cached binary, building it first
# when cached_ok fails; progress, and NOTE (how long a build takes), go to stderr.
install_tool() {
  local binary=$1 package=$2 ldflags=$3 note=${4:-}
  if cached_ok; then
    echo "$dest/$binary"
    return 0
  fi
  echo "hack/tools: building $package into $dest${note:+ ($note)}" >&2
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS='' go install -trimpath -ldflags "$ldflags" "$package"
  if declare -F stamp_build >/dev/null; then stamp_build "$tmp"; fi

  # Swap the new build in with renames, so a concurrent reader never finds the directory half-written.
  if [ -d "$dest" ]; then mv "$dest" "$dest.old.$$"; fi
  mv "$tmp" "$dest"
  rm -rf "$dest.old.$$"
  trap - EXIT
  if ! cached_ok; then
    echo "hack/tools: the built $binary does not report the pinned version:" >&2
    "$dest/$binary" --version >&2 || "$dest/$binary" version >&2 || true
    return 1
  fi
  echo "$dest/$binary"
}
