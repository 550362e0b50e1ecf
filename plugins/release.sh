#!/usr/bin/env bash
# release.sh is `make release`: it builds kubectl-vobox for each platform
# krew's manifest lists, packs each with the LICENSE in a tar.gz, writes its
# sha256, and renders plugins/vobox.yaml with the version and the sums.
#
# Usage: VERSION=v1.2.3 [DIST=dist] bash plugins/release.sh
#
# The archives are reproducible (sorted, owner 0, mtime 0, gzip -n), so a
# second build of the same commit gives the same sums.
set -euo pipefail

VERSION="${VERSION:?set VERSION, e.g. VERSION=v0.1.0}"
DIST="${DIST:-dist}"
PLATFORMS=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# krew parses the version as semver with a leading v.
if ! [[ $VERSION =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]]; then
  echo "release: VERSION=$VERSION is not a semantic version with a leading v (krew refuses it)" >&2
  exit 1
fi

mkdir -p "$DIST"
DIST="$(cd "$DIST" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

declare -A sums
for p in "${PLATFORMS[@]}"; do
  os="${p%/*}" arch="${p#*/}"
  name="kubectl-vobox_${os}_${arch}"
  stage="$work/$name"
  mkdir -p "$stage"
  echo "release: building $name.tar.gz" >&2
  (cd "$ROOT" && CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath \
    -ldflags "-s -w -X main.version=$VERSION" -o "$stage/kubectl-vobox" ./cmd/kubectl-vobox)
  cp "$ROOT/LICENSE" "$stage/LICENSE"
  chmod 0755 "$stage/kubectl-vobox"
  chmod 0644 "$stage/LICENSE"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$stage" -cf - kubectl-vobox LICENSE |
    gzip -n -9 >"$DIST/$name.tar.gz"
  sum="$(sha256sum "$DIST/$name.tar.gz" | cut -d' ' -f1)"
  echo "$sum  $name.tar.gz" >"$DIST/$name.tar.gz.sha256"
  sums["${os}_${arch}"]="$sum"
done

# Render the manifest: the version, each platform's URI and sha256. The
# platform is the os and arch of the selector above the uri and sha256.
sumlist=""
for k in "${!sums[@]}"; do sumlist+="$k=${sums[$k]} "; done
awk -v version="$VERSION" -v sumlist="$sumlist" '
  BEGIN { n = split(sumlist, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], p, "="); sums[p[1]] = p[2] } }
  /^  version: / { print "  version: " version; next }
  /^ +os: / { os = $2 }
  /^ +arch: / { arch = $2 }
  /^ +uri: / { sub(/\/download\/[^\/]+\//, "/download/" version "/"); print; next }
  /^ +sha256: / {
    key = os "_" arch
    if (!(key in sums)) { print "release: no archive for " key > "/dev/stderr"; exit 1 }
    sub(/sha256: .*/, "sha256: \"" sums[key] "\""); done[key] = 1; print; next
  }
  { print }
  END { for (k in sums) if (!(k in done)) { print "release: the manifest has no platform " k > "/dev/stderr"; exit 1 } }
' "$ROOT/plugins/vobox.yaml" >"$DIST/vobox.yaml.tmp"
mv "$DIST/vobox.yaml.tmp" "$DIST/vobox.yaml"
echo "release: $DIST/vobox.yaml for $VERSION" >&2
