#!/usr/bin/env bash
# Signs a batch of device CSRs with the maker's CA, as a production line does after
# `fleetboot factory keygen --cn SERIAL --csr-out SERIAL.csr` on each gateway.
#
#   scripts/factory-sign.sh MAKER_CA.pem MAKER_CA.key CSR_DIR OUT_DIR [DAYS]
#
# For every CSR_DIR/NAME.csr it writes OUT_DIR/NAME.pem: a client certificate
# (clientAuth, not a CA) with the CSR's subject, valid DAYS days (default 7300), and
# checks it with `openssl verify`. Install it on the gateway with
# `fleetboot factory install-cert --cert NAME.pem --ca MAKER_CA.pem`.
set -euo pipefail
[[ $# -ge 4 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
ca=$1 cakey=$2 in=$3 out=$4 days=${5:-7300}
mkdir -p "$out"
ext=$(mktemp)
trap 'rm -f "$ext"' EXIT
cat >"$ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
n=0
for csr in "$in"/*.csr; do
  [[ -e "$csr" ]] || { echo "no .csr files in $in" >&2; exit 1; }
  name=$(basename "$csr" .csr)
  openssl req -in "$csr" -noout -verify 2>/dev/null || { echo "$csr: CSR signature does not verify" >&2; exit 1; }
  openssl x509 -req -in "$csr" -CA "$ca" -CAkey "$cakey" -set_serial "0x$(openssl rand -hex 16)" -days "$days" \
    -sha256 -extfile "$ext" -out "$out/$name.pem" 2>/dev/null
  openssl verify -CAfile "$ca" "$out/$name.pem" >/dev/null
  n=$((n+1))
done
echo "signed $n certificates into $out"
