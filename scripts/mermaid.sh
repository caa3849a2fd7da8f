#!/usr/bin/env bash
# make mermaid: fetch mermaid's browser bundle at the pinned version for the
# README diagram's check (docs/mermaid_test.go). Only the package's own
# tarball is fetched (npm pack, no dependencies: the bundle is whole), its
# integrity checked against the pinned one, and dist/mermaid.min.js kept.
#   scripts/mermaid.sh VERSION INTEGRITY OUT
set -euo pipefail
version=$1 integrity=$2 out=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "mermaid@$version" --silent --no-fund >/dev/null)
tarball="$tmp/mermaid-$version.tgz"
got=$(node -e 'const c=require("crypto"),f=require("fs");console.log("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$tarball")
if [ "$got" != "$integrity" ]; then
  echo "mermaid.sh: mermaid $version has integrity $got, want $integrity" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$tmp" package/dist/mermaid.min.js
mkdir -p "$(dirname "$out")"
mv "$tmp/package/dist/mermaid.min.js" "$out"
echo "mermaid $version: $out"
