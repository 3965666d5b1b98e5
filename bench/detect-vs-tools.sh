#!/usr/bin/env bash
# Side-by-side: firewarden detect against the equivalent jq filter (bench/competitors/an0408.jq)
# and against sigma-go (bench/competitors/sigmago, its own module) evaluating the same rule pack,
# on one generated eslogger stream (bench/geneslogger: 1,000,000 lines by default, about 4 GB,
# two thirds unrelated execs, 100 firewall-weakening execs). Every tool runs pinned to one core.
# Prints wall and CPU time (median of RUNS), lines/s, MB/s, peak memory, and the ratio to
# firewarden; checks that each tool found the 100 positives; then runs firewarden on a 4× longer
# stream, piped from the generator on another core, to show its memory does not grow.
#
# Usage: bench/detect-vs-tools.sh [WORKDIR]
#   env LINES (1000000), RUNS (5, firewarden), COMP_RUNS (1, the others), LONG (4: the longer stream
#   is LONG × LINES)
# Needs GNU time and jq: apt-get install -y time jq
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-$(mktemp -d)}
mkdir -p "$work"
lines=${LINES:-1000000}
runs=${RUNS:-5}
comp_runs=${COMP_RUNS:-1}
long=${LONG:-4}
positives=$((lines / 10000))
((positives > 0)) || positives=1
for t in /usr/bin/time jq; do command -v "$t" >/dev/null || { echo "needs $t: apt-get install -y time jq" >&2; exit 2; }; done
pin0=() pin1=()
if command -v taskset >/dev/null && (($(nproc) > 1)); then pin0=(taskset -c 0) pin1=(taskset -c 1); fi

go build -o "$work/firewarden" ./cmd/firewarden
go build -o "$work/geneslogger" ./bench/geneslogger
(cd bench/competitors/sigmago && go build -o "$work/sigmago" .)
es=$work/es-$lines.json
if [[ ! -s $es ]]; then
  "$work/geneslogger" -lines "$lines" -positives "$positives" > "$es" 2> "$es.summary"
fi
bytes=$(stat -c %s "$es")

echo "machine: $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -r), $(go version | cut -d' ' -f3); $(date -u +%FT%RZ)"
echo "firewarden: $(git describe --always --dirty 2>/dev/null || echo "not a git checkout"); pinned: ${pin0[*]:-(taskset unavailable)}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $es: $(cat "$es.summary")"
echo "       $lines lines, $bytes bytes ($((bytes / 1000000)) MB)"

# Correctness first: each tool must report the positives the generator placed.
echo "== matches (expected $positives)"
fw_n=$("$work/firewarden" detect --input eslogger --window 0 "$es" 2>/dev/null | wc -l || true)
echo "firewarden detect --window 0: $fw_n alerts"
"$work/firewarden" detect --input eslogger --window 0 "$es" 2>&1 >/dev/null | tail -1 || true
jq_n=$("${pin0[@]}" jq -c -f bench/competitors/an0408.jq "$es" | wc -l)
echo "jq an0408.jq: $jq_n matches"
sg_n=$("$work/sigmago" -rules bench/competitors/sigmago/rules "$es" 2>/dev/null || true)
echo "sigma-go, flat-field rules (bench/competitors/sigmago/rules): $sg_n matches"
sgp_n=$("$work/sigmago" -rules internal/detect/rules "$es" 2>"$work/sigmago-pack.err" || true)
echo "sigma-go, firewarden's pack (internal/detect/rules): $sgp_n matches (derived fields absent; $(grep -c skipping "$work/sigmago-pack.err" || true) rule files refused)"
[[ $fw_n == "$positives" ]] || echo "WARNING: firewarden reported $fw_n alerts, expected $positives" >&2

# run LABEL CMD...: RUNS timed runs on core 0; prints one table row.
row() {
  local label=$1 n=$2; shift 2
  local i walls=() cpus=() rss=0
  for ((i = 0; i < n; i++)); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "${pin0[@]}" "$@" > /dev/null 2>&1 || true
    read -r e u s m < <(tail -n 1 "$work/time.txt") # GNU time puts "Command exited with non-zero status" first
    walls+=("$e") cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')")
    ((m > rss)) && rss=$m
  done
  local wall cpu
  wall=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  [[ -z ${fw_wall:-} ]] && fw_wall=$wall fw_cpu=$cpu
  awk -v l="$label" -v w="$wall" -v c="$cpu" -v r="$rss" -v n="$lines" -v b="$bytes" -v fw="$fw_wall" -v fc="$fw_cpu" -v all="${walls[*]}" 'BEGIN {
    printf "| %-44s | %7.2f s | %7.2f s | %10.0f | %7.1f | %6.0f MiB | %6.1f× | %6.1f× | %s |\n",
      l, w, c, n / w, b / w / 1e6, r / 1024, w / fw, c / fc, all }'
}

echo "== $lines lines, one core, median of $runs runs for firewarden and cat, $comp_runs for the others"
printf '| %-44s | %9s | %9s | %10s | %7s | %10s | %7s | %7s | %s |\n' tool wall CPU lines/s MB/s "peak RSS" "×wall" "×CPU" "all walls (s)"
printf '|%s|\n' "----------------------------------------------|-----------|-----------|------------|---------|------------|---------|---------|---------------"
fw_wall='' fw_cpu=''
row "firewarden detect --input eslogger" "$runs" "$work/firewarden" detect --input eslogger "$es"
row "sigma-go v0.6.6, flat rules (ForRules bundle)" "$comp_runs" "$work/sigmago" -rules bench/competitors/sigmago/rules "$es"
row "sigma-go v0.6.6, firewarden's pack (bundle)" "$comp_runs" "$work/sigmago" -rules internal/detect/rules "$es"
row "sigma-go, decode + event map only (no rules)" "$comp_runs" "$work/sigmago" -decode-only "$es"
row "jq 'empty' (parse only)" "$comp_runs" jq -c empty "$es"
row "jq -f an0408.jq" "$comp_runs" jq -c -f bench/competitors/an0408.jq "$es"
row "cat > /dev/null" "$runs" cat "$es"

echo "== memory over a longer stream: firewarden on core 0 reads geneslogger's output (core 1) from a pipe"
for x in 1 "$long"; do
  n=$((lines * x))
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "${pin0[@]}" "$work/firewarden" detect --input eslogger - \
    < <("${pin1[@]}" "$work/geneslogger" -lines "$n" -positives $((positives * x)) 2>/dev/null) > /dev/null 2> "$work/long.err" || true
  read -r e u s m < <(tail -n 1 "$work/time.txt")
  printf '%10d lines (%d×): wall %6.2f s, CPU %6.2f s, peak RSS %4d MiB; %s\n' "$n" "$x" "$e" "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" $((m / 1024)) "$(tail -1 "$work/long.err")"
done
