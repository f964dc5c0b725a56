#!/usr/bin/env bash
# Fetches libchdb.so (ClickHouse as a shared library) from the npm package @chdb/lib-linux-x64-gnu, because
# no ClickHouse server package recent enough for our SQL can be installed on machines without general
# internet access. internal/testkit/chtest runs it as a real ClickHouse server on loopback for tests.
#
# The library is cached outside the clone, keyed by version:
#   ${CHDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/chdb/<version>}/libchdb.so
# A cached copy is reused when its stamp (size and sha256 written after a complete extraction) matches its
# size. Concurrent runs wait for each other. Prints the absolute path of libchdb.so on stdout; progress
# goes to stderr. An interrupted run stops its download and leaves only the lock file behind.
set -euo pipefail

pkg=@chdb/lib-linux-x64-gnu
version=26.7.3-stable.1
# sha256 of package/libchdb.so in that tarball, checked once after extraction.
lib_sha256=36ad4e999882821ef13cf2d0f52c93f48e6ee1b4498b35a201c23ce4b8d15bf5

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *)
    echo "hack/clickhouse: $pkg only exists for Linux x86_64 (glibc), not $(uname -s)/$(uname -m)" >&2
    exit 1
    ;;
esac

dest=${CHDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/auditpipeline-operator/chdb/$version}
case $dest in /*) ;; *) dest="$PWD/$dest" ;; esac
lib="$dest/libchdb.so"
stamp="$dest/libchdb.so.stamp"

# cached_ok succeeds when the stamp names this version and the library has the size the stamp recorded.
cached_ok() {
  [ -f "$lib" ] && [ -f "$stamp" ] || return 1
  local want_version want_size
  want_version=$(awk '$1 == "version" {print $2}' "$stamp")
  want_size=$(awk '$1 == "size" {print $2}' "$stamp")
  [ "$want_version" = "$version" ] && [ -n "$want_size" ] || return 1
  [ "$(stat -c %s "$lib")" = "$want_size" ]
}

if cached_ok; then
  echo "$lib"
  exit 0
fi

mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
# Another run may have finished the job while this one waited for the lock.
if cached_ok; then
  echo "$lib"
  exit 0
fi

command -v npm >/dev/null || { echo "hack/clickhouse: npm is required (Debian: apt-get install npm)" >&2; exit 1; }

# Holding the lock, any temporary directory left here is from an interrupted run.
rm -rf "$dest"/.tmp.*
tmp=$(mktemp -d "$dest/.tmp.XXXXXX")
child=
# On an interrupt, stop the running step too, then remove the temporary directory.
cleanup() {
  if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# step runs a command in the background and waits for it, so that a signal interrupts the wait at once;
# the command does not inherit the lock.
step() {
  "$@" 9>&- &
  child=$!
  wait "$child"
  child=
}
rm -f "$stamp"
cd "$tmp"

echo "hack/clickhouse: fetching $pkg@$version (about 180 MB) into $dest" >&2
start=$(date +%s)
# A private npm cache keeps a second copy of the tarball out of ~/.npm.
step npm pack "$pkg@$version" --pack-destination "$tmp" --cache "$tmp/npm-cache" \
  --no-fund --no-audit --loglevel=error >"$tmp/pack.out"
tarball=$(tail -n1 "$tmp/pack.out")
[ -n "$tarball" ] && [ -f "$tmp/$tarball" ] || { echo "hack/clickhouse: npm pack produced no tarball" >&2; exit 1; }
echo "hack/clickhouse: fetched in $(($(date +%s) - start)) s, extracting libchdb.so" >&2

step tar -xzf "$tmp/$tarball" -C "$tmp" package/libchdb.so
size=$(stat -c %s "$tmp/package/libchdb.so")
sum=$(sha256sum "$tmp/package/libchdb.so" | awk '{print $1}')
if [ "$sum" != "$lib_sha256" ]; then
  echo "hack/clickhouse: libchdb.so has sha256 $sum, want $lib_sha256" >&2
  exit 1
fi
chmod 0755 "$tmp/package/libchdb.so"
# rename(2) within one file system: the library is either absent or whole, never half-written.
mv -f "$tmp/package/libchdb.so" "$lib"
printf 'version %s\nsize %s\nsha256 %s\n' "$version" "$size" "$sum" >"$stamp.tmp"
mv -f "$stamp.tmp" "$stamp"

cached_ok || { echo "hack/clickhouse: $lib does not match its stamp after extraction" >&2; exit 1; }
echo "hack/clickhouse: ready in $(($(date +%s) - start)) s" >&2
echo "$lib"
