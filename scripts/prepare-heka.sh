#!/usr/bin/env bash
# Prepares Heka v0.10.0's source for a Go-modules build, in .build/heka
# (git-ignored; the project's go.mod `replace`s heka with that folder).
#
# Heka's module zip lacks message/message_matcher_parser.go, which its CMake
# build generated with yacc. This copies the module out of the read-only
# module cache, gives it a go.mod, generates the parser with goyacc and
# applies the bug fixes in compat/heka-patches (each explains itself).
# Nothing of Heka's source is committed. Safe to run again: it is a no-op when
# the folder is already prepared for the same version and patches.
set -euo pipefail

HEKA_VERSION=v0.10.0
GOYACC_VERSION=v0.52.0
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.build/heka"
patches=("$root"/compat/heka-patches/*.patch)
patch_sum=$(cat "${patches[@]}" | sha256sum | cut -c1-12)
stamp="$dest/.prepared-$HEKA_VERSION-$patch_sum"
ready="$dest/.prepared" # the Makefile's target: touched whenever the folder is ready

if [ -f "$stamp" ]; then
  touch "$ready"
  exit 0
fi

src=$(cd "$root" && GOFLAGS=-mod=mod go mod download -json "github.com/mozilla-services/heka@$HEKA_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$src" ] || [ ! -d "$src" ]; then
  echo "prepare-heka: could not download github.com/mozilla-services/heka@$HEKA_VERSION" >&2
  exit 1
fi

rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -R "$src" "$dest"
chmod -R u+w "$dest"

cat > "$dest/go.mod" <<MOD
module github.com/mozilla-services/heka

go 1.16
MOD

(cd "$root" && go run "golang.org/x/tools/cmd/goyacc@$GOYACC_VERSION" \
  -o "$dest/message/message_matcher_parser.go" -v /dev/null \
  "$dest/message/message_matcher_parser.y")
gofmt -w "$dest/message/message_matcher_parser.go"

for p in "${patches[@]}"; do
  # git apply works outside a repository; --directory roots the patch in
  # .build/heka, and a patch that does not apply cleanly stops the build.
  (cd "$root" && git apply --directory=.build/heka "$p") ||
    { echo "prepare-heka: $p does not apply to Heka $HEKA_VERSION" >&2; exit 1; }
done

touch "$stamp" "$ready"
echo "prepare-heka: Heka $HEKA_VERSION prepared in .build/heka"
