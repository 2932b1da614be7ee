#!/usr/bin/env bash
# One table of fleetboot's performance figures on this machine: round trips, first
# boot time, binary sizes, agent memory, fleetsim throughput against the crypto
# ceiling, and the Go benchmarks of the hot paths. Figures are reported, never
# judged: nothing here fails on a time.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
SIM_N=${SIM_N:-500}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleetboot-bench-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

declare -a rows
row() { rows+=("$(printf '%-44s %s' "$1" "$2")"); echo "  $1: $2" >&2; }

echo "building…" >&2
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/fleetboot" ./cmd/fleetboot
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/mockcloud" ./cmd/mockcloud
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/fleetsim" ./cmd/fleetsim
# The rig without RSA key pools: filling them burns a core for seconds and the csr
# flow never uses them.
sed 's/^\(  *keyPoolSize:\).*/\1 0/' testdata/rig.yaml >"$tmp/rig.yaml"

echo "round trips…" >&2
for t in "" --target-records; do
  line=$("$tmp/fleetsim" --rig "$tmp/rig.yaml" -n 1 --no-ceiling --quiet $t | sed -n 's/^round trips *//p')
  row "round trips ${t:-(CNAME-only DNS)}" "$line"
done

echo "first boot as a process…" >&2
mkdir -p "$tmp/rig"
"$tmp/mockcloud" serve --config "$tmp/rig.yaml" --data "$tmp/rig" --ephemeral --log-level warn >"$tmp/rig.out" 2>"$tmp/rig.err" &
pids+=($!)
for _ in $(seq 100); do grep -q '^mockcloud ready' "$tmp/rig.out" && break; sleep 0.1; done
grep -q '^mockcloud ready' "$tmp/rig.out" || { cat "$tmp/rig.err" >&2; exit 1; }
cfg=$tmp/rig/device.yaml
total=$("$tmp/fleetboot" provision --config "$cfg" --state-dir "$tmp/dev1" --dns-client-subnet 198.51.100.0/24 \
  --param SerialNumber=BENCH-1 --steps --log-level warn | awk '$1=="total" {print $2, $3}')
row "first boot, 0 ms added latency (provision)" "${total:-?} (resolve → permanent connection proved)"
row "first boot, 100 ms added latency" "not measured: mockcloud serve --latency is not built yet"

echo "memory of the agent…" >&2
"$tmp/fleetboot" run --config "$cfg" --state-dir "$tmp/dev2" --dns-client-subnet 192.0.2.0/24 \
  --param SerialNumber=BENCH-2 --log-level warn 2>"$tmp/run.err" &
agent=$!
pids+=($agent)
for _ in $(seq 200); do
  "$tmp/fleetboot" status --json --config "$cfg" --state-dir "$tmp/dev2" 2>/dev/null | grep -q '"state": *"online"' && break
  sleep 0.1
done
sleep 2 # steady state: first-boot garbage collected, keep-alive running
kib() { awk -v k="$1:" '$1==k {print $2}' "/proc/$agent/status"; }
rss=$(kib VmRSS) anon=$(kib RssAnon) file=$(kib RssFile) hwm=$(kib VmHWM)
row "agent online (steady): VmRSS / RssAnon / RssFile" "$((rss)) KiB / $((anon)) KiB / $((file)) KiB"
row "agent peak during first boot: VmHWM" "$((hwm)) KiB"
kill "$agent"; wait "$agent" 2>/dev/null || true

echo "binary sizes…" >&2
while read -r name bytes mib; do
  [[ $name == fleetboot-* ]] && row "size $name (static, stripped)" "$bytes bytes, $mib MiB"
done < <(./scripts/cross.sh)

echo "fleetsim ($SIM_N devices, csr)…" >&2
"$tmp/fleetsim" --rig "$tmp/rig.yaml" -n "$SIM_N" --mode csr --concurrency 64 --quiet >"$tmp/sim.txt" || true
for k in "devices/s" "crypto ceiling" "achieved/ceiling" "online"; do
  v=$(awk -v k="$k" 'index($0, k" ")==1 {sub("^"k" +", ""); print; exit}' "$tmp/sim.txt")
  row "fleetsim $SIM_N csr: $k" "$v"
done
v=$(awk '$1=="total" {print "p50 "$3" ms, p95 "$5" ms, p99 "$7" ms"; exit}' "$tmp/sim.txt")
row "fleetsim $SIM_N csr: time to online" "$v"

echo "go benchmarks…" >&2
$GO test -run '^$' -bench . -benchtime 200x -benchmem \
  ./provisioning ./mockcloud/iotcore/template ./mockcloud/iotcore/policy ./mockcloud/route53 ./dnsresolve \
  2>&1 | awk '/^Benchmark/ {printf "%s %s %s %s %s %s\n", $1, $3, $4, $5, $6, $7, $8}' >"$tmp/bench.txt"
while read -r name ns unit rest; do row "bench $name" "$ns $unit ${rest}"; done <"$tmp/bench.txt"

echo
printf '%-44s %s\n' "figure" "value (machine: $(nproc) CPUs, $($GO env GOVERSION))"
printf '%s\n' "${rows[@]}"
