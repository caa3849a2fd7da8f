#!/usr/bin/env bash
# Builds the real-photo corpus that TestRealCorpus (imaging/) checks:
# test images shipped in Debian packages and in the Go toolchain and Go
# module test data, at pinned versions, plus variants made from the real
# photos among them (formats, bit depths, layouts, ICC profiles), and for
# each file the references: Pillow's gray (colour-managed when the file has
# a profile) and, for JPEG, libjpeg-turbo's Y plane (djpeg -grayscale).
#
# Usage: scripts/corpus.sh [DIR]      (default .corpus; or IMAGEPIPE_CORPUS)
#        CORPUS_FULL=1 scripts/corpus.sh   all 16 GNOME wallpapers (CI takes 4)
# Needs (Debian): python3-pil libjpeg-turbo-progs libtiff-tools imagemagick
#                 icc-profiles-free colord-data; apt-get download reaches the
#                 Debian archive.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${IMAGEPIPE_CORPUS:-.corpus}}
mkdir -p "$dir/debs"
dir=$(cd "$dir" && pwd)

# Debian packages whose files are the corpus, pinned (bookworm). A pinned
# version that the archive no longer serves falls back to the current one,
# said loudly: the image files of these packages do not change in point
# releases, and the manifest records what was used.
pkgs=(
  "python3-skimage=0.19.3-8"                       # scikit-image's sample photos
  "gdk-pixbuf-tests=2.42.10+dfsg-1+deb12u4"        # GdkPixbuf's test images: every format, broken ones too
  "desktop-base=12.0.6+nmu1~deb12u1"               # Debian wallpapers and logos
  "gnome-backgrounds=43.1-1"                       # GNOME wallpapers (WebP)
)
for p in "${pkgs[@]}"; do
  name=${p%%=*}
  if ! ls "$dir/debs/${name}_"*.deb >/dev/null 2>&1; then
    (cd "$dir/debs" && { apt-get download -qq "$p" 2>/dev/null || {
      echo "corpus.sh: $p is not served any more; taking the current $name" >&2
      apt-get download -qq "$name"; }; })
  fi
  mkdir -p "$dir/pkg/$name"
  [ -e "$dir/pkg/$name/.done" ] || { dpkg-deb -x "$dir/debs/${name}_"*.deb "$dir/pkg/$name" && touch "$dir/pkg/$name/.done"; }
done

# Go: the toolchain's image test data and golang.org/x/image's, at the
# versions go.mod pins.
goroot=$(go env GOROOT)
ximage=$(go mod download -json golang.org/x/image | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
mkdir -p "$dir/pkg/go" "$dir/pkg/x-image"
cp -f "$goroot"/src/image/testdata/* "$goroot"/src/image/png/testdata/pngsuite/*.png "$dir/pkg/go/" 2>/dev/null || true
cp -f "$ximage"/testdata/*.{png,jpeg,bmp,tiff,webp,gif} "$dir/pkg/x-image/" 2>/dev/null || true
chmod -R u+w "$dir/pkg"
go version > "$dir/go.version"

/usr/bin/python3 scripts/corpus.py "$dir" "$(go env GOVERSION)" "$(basename "$ximage")"
