#!/usr/bin/env bash
# The release builds of the device binary (scripts/release-build.sh) for the gateway
# architectures, with their sizes. `cross.sh --nm` also lists what is large (from an
# unstripped twin).
#
# The release flavour (TAGS, default "nocbor") keeps TPM support and drops the CBOR
# codec, which costs about 380 KiB and which devices on the JSON topics never use.
# The other flavours are printed for arm64 so the cost of each option is in view.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}; export GO
DIST=${DIST:-dist}
TAGS=${TAGS-nocbor}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
mkdir -p "$DIST"

targets=("linux amd64 -" "linux arm64 -" "linux arm 7")
printf '%-26s %12s %9s\n' binary bytes MiB
for t in "${targets[@]}"; do
  read -r os arch arm <<<"$t"
  name=fleetboot-$os-$arch
  env=(GOOS="$os" GOARCH="$arch" TAGS="$TAGS" VERSION="$VERSION")
  if [ "$arm" != - ]; then env+=(GOARM="$arm"); name=$name"v$arm"; fi
  env "${env[@]}" ./scripts/release-build.sh "$DIST/$name"
  bytes=$(stat -c %s "$DIST/$name")
  printf '%-26s %12d %9.2f\n' "$name" "$bytes" "$(echo "$bytes / 1048576" | bc -l)"
done

echo
echo "linux/arm64 by build tags (release: \"$TAGS\"):"
flavours=("" "nocbor" "notpm" "notpm nocbor")
tmpb=$(mktemp)
for tags in "${flavours[@]}"; do
  GOOS=linux GOARCH=arm64 TAGS="$tags" ./scripts/release-build.sh "$tmpb"
  bytes=$(stat -c %s "$tmpb")
  printf '  %-24s %12d %9.2f\n' "${tags:-(none: TPM + CBOR)}" "$bytes" "$(echo "$bytes / 1048576" | bc -l)"
done
rm -f "$tmpb"

if [ "${1:-}" = --nm ]; then
  # -s -w drops the symbol table, so the analysis reads an unstripped arm64 twin.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  GOOS=linux GOARCH=arm64 TAGS="$TAGS" STRIP=0 ./scripts/release-build.sh "$tmp/fleetboot"
  "$GO" tool nm -size -sort size "$tmp/fleetboot" >"$tmp/nm.txt"
  echo
  echo "largest packages (linux/arm64, code and read-only data, KiB; go tool nm marks bss as D, so data is left out):"
  awk '$3 ~ /^[TtRr]$/ {
      sym=$4
      # package path: up to the first dot after the last slash.
      n=split(sym, parts, "/"); last=parts[n]; dot=index(last, ".")
      pkg=(dot>0) ? substr(sym, 1, length(sym)-length(last)+dot-1) : sym
      sub(/^type:\.eq\./, "", pkg); sub(/^go:/, "go:", pkg)
      size[pkg]+=$2 }
    END { for (p in size) printf "%10.1f  %s\n", size[p]/1024, p }' "$tmp/nm.txt" | sort -rn | head -"${NM_TOP:-25}"
  echo
  echo "largest symbols:"
  awk '$3 ~ /^[TtRr]$/' "$tmp/nm.txt" | head -"${NM_TOP:-15}" | awk '{printf "%10.1f KiB  %s %s\n", $2/1024, $3, $4}'
fi
