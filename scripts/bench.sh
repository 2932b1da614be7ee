#!/usr/bin/env bash
# One table of fleetboot's performance figures on this machine: first-boot round
# trips and time at 0 ms and LATENCY_MS of added one-way latency, binary sizes,
# agent memory, fleetsim throughput against the crypto ceiling, and the Go
# benchmarks of the hot paths. Figures are reported, never judged: nothing here
# fails on a time. docs/PERFORMANCE.md explains each figure.
#
# Knobs (environment): LATENCY_MS (100), BOOTS per rig and latency (3), SIM_N
# devices for fleetsim (500), JITP_N for its jitp run (200), BENCHTIME for the Go benchmarks (0.2s).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
LATENCY_MS=${LATENCY_MS:-100}
BOOTS=${BOOTS:-3}
SIM_N=${SIM_N:-500}
JITP_N=${JITP_N:-200}
BENCHTIME=${BENCHTIME:-0.2s}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleetboot-bench-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

declare -a rows
row() { rows+=("$(printf '%-60s %s' "$1" "$2")"); echo "  $1: $2" >&2; }

echo "binary sizes (scripts/cross.sh)…" >&2
DIST=$tmp/dist ./scripts/cross.sh >"$tmp/cross.txt"
while read -r name bytes mib; do
  [[ $name == fleetboot-* ]] && row "size $name (static, stripped, release tags)" "$bytes bytes, $mib MiB"
done <"$tmp/cross.txt"
awk '/by build tags/ {on=1; next} on && NF>=3 {mib=$NF; bytes=$(NF-1); NF-=2; sub(/^ +/, ""); print $0 "|" bytes "|" mib}' "$tmp/cross.txt" >"$tmp/flavours.txt"
while IFS='|' read -r tags bytes mib; do row "size linux/arm64, tags: $tags" "$bytes bytes, $mib MiB"; done <"$tmp/flavours.txt"

echo "building…" >&2
# The device side runs the release binary itself (the amd64 one of cross.sh).
fleetboot=$tmp/dist/fleetboot-linux-amd64
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/mockcloud" ./cmd/mockcloud
CGO_ENABLED=0 $GO build -trimpath -o "$tmp/fleetsim" ./cmd/fleetsim
# The rig without RSA key pools: filling them burns a core for seconds and the csr
# flow never uses them. A twin whose geolocation answer carries the target's
# addresses.
sed 's/^\(  *keyPoolSize:\).*/\1 0/' testdata/rig.yaml >"$tmp/rig.yaml"
sed 's/^includeTargetRecords:.*/includeTargetRecords: true/' "$tmp/rig.yaml" >"$tmp/rig-tr.yaml"

# startrig RIGFILE LATENCY NAME: mockcloud serve --ephemeral; sets $rigpid, $rigdir.
startrig() {
  rigdir=$tmp/$3
  mkdir -p "$rigdir"
  "$tmp/mockcloud" serve --config "$1" --data "$rigdir/data" --ephemeral --latency "$2" --log-level warn >"$rigdir/out" 2>"$rigdir/err" &
  rigpid=$!
  pids+=("$rigpid")
  for _ in $(seq 300); do grep -q '^mockcloud ready' "$rigdir/out" && return 0; sleep 0.1; done
  cat "$rigdir/err" >&2
  echo "bench: mockcloud not ready" >&2
  exit 1
}
stoprig() { kill "$rigpid"; wait "$rigpid" 2>/dev/null || true; }

# boots RIGFILE LATENCY NAME: BOOTS first boots (csr, one state folder each) with
# `fleetboot provision --steps`; writes "step ms" lines of every boot to NAME.steps.
boots() {
  startrig "$1" "$2" "$3"
  : >"$tmp/$3.steps"
  for i in $(seq "$BOOTS"); do
    "$fleetboot" provision --config "$rigdir/data/device.yaml" --state-dir "$rigdir/dev$i" \
      --dns-client-subnet 198.51.100.0/24 --param "SerialNumber=BENCH-$3-$i" --steps --log-level warn |
      awk 'NF==3 && $3=="ms" {print $1, $2}' >>"$tmp/$3.steps"
  done
  stoprig
}

# median NAME STEP: the median over the boots of one step's time, in ms.
median() { awk -v s="$2" '$1==s {print $2}' "$tmp/$1.steps" | sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# rt NAME0 NAMEL STEP...: round trips the steps cost, from their median times at
# 0 ms and at LATENCY_MS: the difference over the added round trip, "n (exact)".
rt() {
  local a=$1 b=$2 t0=0 tl=0
  shift 2
  for s in "$@"; do
    t0=$(echo "$t0 + $(median "$a" "$s")" | bc -l)
    tl=$(echo "$tl + $(median "$b" "$s")" | bc -l)
  done
  awk -v t0="$t0" -v tl="$tl" -v l="$LATENCY_MS" 'BEGIN {x=(tl-t0)/(2*l); if (x<0.005 && x>-0.005) x=0; printf "%d (%.2f)", int(x+0.5), x}'
}
steps=(resolve claim-connect subscribe create-certificate register-thing connect)
claim=(claim-connect subscribe create-certificate register-thing)

echo "first boot at 0 ms and ${LATENCY_MS} ms added one-way latency ($BOOTS boots each)…" >&2
boots "$tmp/rig.yaml" 0ms cname-0
boots "$tmp/rig.yaml" "${LATENCY_MS}ms" cname-l
boots "$tmp/rig-tr.yaml" 0ms tr-0
boots "$tmp/rig-tr.yaml" "${LATENCY_MS}ms" tr-l
for s in "${steps[@]}" key publish-status; do
  row "step $s (CNAME-only DNS): 0 / ${LATENCY_MS} ms, round trips" \
    "$(median cname-0 "$s") ms / $(median cname-l "$s") ms, $(rt cname-0 cname-l "$s")"
done
row "step resolve (DNS carries the target): 0 / ${LATENCY_MS} ms, round trips" \
  "$(median tr-0 resolve) ms / $(median tr-l resolve) ms, $(rt tr-0 tr-l resolve)"
row "round trips to the permanent CONNACK, CNAME-only DNS" "$(rt cname-0 cname-l "${steps[@]}") by time, target 9"
row "round trips to the permanent CONNACK, DNS carries the target" "$(rt tr-0 tr-l "${steps[@]}") by time, target 8"
row "round trips of the claim phase" "$(rt cname-0 cname-l "${claim[@]}") / $(rt tr-0 tr-l "${claim[@]}") by time, target 5"
for n in cname tr; do
  label="CNAME-only DNS"
  [ $n = tr ] && label="DNS carries the target"
  row "first boot, $label: total at 0 / ${LATENCY_MS} ms" "$(median $n-0 total) ms / $(median $n-l total) ms (resolve to status published, median of $BOOTS)"
done

echo "round trips as fleetsim counts them…" >&2
for t in "" --target-records; do
  line=$("$tmp/fleetsim" --rig "$tmp/rig.yaml" -n 1 --no-ceiling --quiet $t | sed -n 's/^round trips *//p')
  row "fleetsim round-trip counter ${t:-(CNAME-only DNS)}" "$line"
done

echo "memory of the agent…" >&2
startrig "$tmp/rig.yaml" 0ms mem
cfg=$rigdir/data/device.yaml
"$fleetboot" run --config "$cfg" --state-dir "$rigdir/dev" --dns-client-subnet 192.0.2.0/24 \
  --param SerialNumber=BENCH-MEM --log-level warn 2>"$rigdir/run.err" &
agent=$!
pids+=("$agent")
for _ in $(seq 200); do
  "$fleetboot" status --json --config "$cfg" --state-dir "$rigdir/dev" 2>/dev/null | grep -q '"state": *"online"' && break
  sleep 0.1
done
sleep 2 # steady state: first-boot garbage collected, keep-alive running
kib() { awk -v k="$1:" '$1==k {print $2}' "/proc/$agent/status"; }
rss=$(kib VmRSS) anon=$(kib RssAnon) file=$(kib RssFile) hwm=$(kib VmHWM)
row "agent online (steady): VmRSS / RssAnon / RssFile" "$((rss)) KiB / $((anon)) KiB / $((file)) KiB"
row "agent peak during first boot: VmHWM" "$((hwm)) KiB"
kill "$agent"
wait "$agent" 2>/dev/null || true
stoprig

# simrows FILE LABEL KEY...: the report lines KEY of a fleetsim run and its
# time to online, as rows named "fleetsim LABEL: …".
simrows() {
  local file=$1 label=$2 k v
  shift 2
  for k in "$@"; do
    v=$(awk -v k="$k" 'index($0, k" ")==1 {sub("^"k" +", ""); print; exit}' "$file")
    row "fleetsim $label: $k" "$v"
  done
  v=$(awk '$1=="total" {print "p50 "$3" ms, p95 "$5" ms, p99 "$7" ms"; exit}' "$file")
  row "fleetsim $label: time to online" "$v"
}

echo "fleetsim ($SIM_N devices, csr)…" >&2
"$tmp/fleetsim" --rig "$tmp/rig.yaml" -n "$SIM_N" --mode csr --concurrency 64 --pool 0 --quiet >"$tmp/sim.txt" || true
simrows "$tmp/sim.txt" "$SIM_N csr" "online" "devices/s" "crypto ceiling" "ceiling after the run" "achieved/ceiling" "round trips"

echo "fleetsim ($JITP_N devices, jitp)…" >&2
"$tmp/fleetsim" --rig "$tmp/rig.yaml" -n "$JITP_N" --mode jitp --concurrency 64 --no-ceiling --quiet >"$tmp/jitp.txt" || true
simrows "$tmp/jitp.txt" "$JITP_N jitp" "online" "devices/s" "round trips"

echo "go benchmarks ($BENCHTIME each)…" >&2
$GO test -run '^$' -bench . -benchtime "$BENCHTIME" -benchmem \
  ./provisioning ./mockcloud/iotcore/template ./mockcloud/iotcore/policy ./mockcloud/route53 ./dnsresolve \
  ./mockcloud/iotcore ./mockcloud/iotcore/registry ./mockcloud/netem \
  2>&1 | awk '/^Benchmark/ {name=$1; sub(/-[0-9]+$/, "", name); $1=""; $2=""; sub(/^ +/, ""); print name, $0}' >"$tmp/bench.txt"
while read -r name rest; do row "bench $name" "$rest"; done <"$tmp/bench.txt"

echo
printf '%-60s %s\n' "figure" "value (machine: $(nproc) CPUs, $($GO env GOVERSION), ${LATENCY_MS} ms added one-way latency)"
printf '%s\n' "${rows[@]}"
