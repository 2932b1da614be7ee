#!/usr/bin/env bash
# make demo: start the default rig, provision three gateways placed in North America,
# Europe and Asia by claim, and one from the factory line by JITP (its certificate
# signed by the rig's maker CA); show where each landed and how long each step
# took, list the things per region, stop the rig.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
work=$(mktemp -d /tmp/fleetboot-demo.XXXXXX)
cloud_pid=
cleanup() {
  if [[ -n "$cloud_pid" ]]; then kill "$cloud_pid" 2>/dev/null || true; wait "$cloud_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$BIN/mockcloud" serve --config testdata/rig.yaml --data "$work/cloud" --log-level warn >"$work/cloud.out" 2>"$work/cloud.log" &
cloud_pid=$!
for _ in $(seq 1 300); do
  grep -q '^mockcloud ready:' "$work/cloud.out" 2>/dev/null && break
  if ! kill -0 "$cloud_pid" 2>/dev/null; then cat "$work/cloud.log" >&2; echo "demo: mockcloud did not start" >&2; exit 1; fi
  sleep 0.1
done
grep '^mockcloud ready:' "$work/cloud.out" || { echo "demo: mockcloud not ready after 30s" >&2; exit 1; }
control=$(sed -n 's/.*control=\([^ ]*\).*/\1/p' "$work/cloud.out")
echo

# name  client subnet (EDNS)  serial
devices=(
  "north-america 198.51.100.0/24 NA-0001"
  "europe        192.0.2.0/24    EU-0001"
  "asia          203.0.113.0/24  AS-0001"
)
for d in "${devices[@]}"; do
  read -r place subnet serial <<<"$d"
  echo "== gateway $serial placed in $place (client subnet $subnet)"
  "$BIN/fleetboot" provision --config "$work/cloud/device.yaml" --state-dir "$work/dev-$serial" \
    --dns-client-subnet "$subnet" --param "SerialNumber=$serial" --param "Site=$place" --steps \
    2>"$work/dev-$serial.log" || { cat "$work/dev-$serial.log" >&2; exit 1; }
  "$BIN/fleetboot" status --config "$work/cloud/device.yaml" --state-dir "$work/dev-$serial" | sed 's/^/   /'
  echo
done

# The factory line: the key is made on the gateway, the maker's CA signs its CSR,
# the certificate goes back to the gateway; its first connection registers it.
serial=GW-JITP-0001
echo "== gateway $serial from the factory line, placed in europe: just-in-time provisioning"
jitp=("--config" "$work/cloud/device.yaml" "--state-dir" "$work/dev-$serial" "--provisioning-mode" "jitp")
mkdir -p "$work/csr"
"$BIN/fleetboot" factory keygen "${jitp[@]}" --cn "$serial" --csr-out "$work/csr/$serial.csr"
# The rig's maker CA signs (scripts/factory-sign.sh does the same with openssl).
"$BIN/mockcloud" sign-csr --data "$work/cloud" --csr "$work/csr/$serial.csr" --out "$work/$serial.pem"
"$BIN/fleetboot" factory install-cert "${jitp[@]}" --cert "$work/$serial.pem" --ca "$work/cloud/maker-ca.pem" | sed 's/^/   factory: /'
"$BIN/fleetboot" provision "${jitp[@]}" --dns-client-subnet 192.0.2.0/24 --steps \
  2>"$work/dev-$serial.log" || { cat "$work/dev-$serial.log" >&2; exit 1; }
"$BIN/fleetboot" status "${jitp[@]}" | sed 's/^/   /'
echo

echo "== things per region (control plane $control)"
for region in us-east-1 eu-west-1 ap-northeast-1; do
  printf '   %-15s %s\n' "$region" "$("$BIN/mockcloud" things --control "$control" --region "$region" | tr '\n' ' ')"
done
