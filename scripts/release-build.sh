#!/usr/bin/env bash
# The device binary as it ships, for one target: the one definition of the release
# flags, used by `make cross`, the size check and the qemu first-boot test.
#
#   GOOS=linux GOARCH=arm64 [GOARM=7] [TAGS=…] scripts/release-build.sh OUT
#
# Static (CGO_ENABLED=0), stripped (-s -w), -trimpath, tags "nocbor" (TPM keystore
# linked, the CBOR codec left out). Inlining is off outside the standard library
# (-gcflags all=-l, then std= restores the compiler's defaults for std): inlined
# copies of our code and of yaml, miekg/dns, zap, paho and go-tpm cost about 320 KiB
# on arm64, while crypto, the runtime and the network stack keep theirs. The agent
# spends its time in TLS handshakes and waiting on the network, so the calls that
# stay cost nothing measurable (docs/PERFORMANCE.md, "Binary sizes").
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: GOOS=… GOARCH=… $0 OUT" >&2; exit 2; }
out=$(realpath -m "$1")
cd "$(dirname "$0")/.."
GO=${GO:-go}
TAGS=${TAGS-nocbor}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
strip="-s -w"
[ "${STRIP:-1}" = 1 ] || strip="" # STRIP=0: the symbol table kept, for `cross.sh --nm`
CGO_ENABLED=0 exec "$GO" build -trimpath -tags "$TAGS" \
  -gcflags 'all=-l' -gcflags 'std=' \
  -ldflags "$strip -X main.version=$VERSION ${EXTRA_LDFLAGS:-}" \
  -o "$out" ./cmd/fleetboot
