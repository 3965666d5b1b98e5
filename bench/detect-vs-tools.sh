#!/usr/bin/env bash
# Side-by-side: firewarden detect against the equivalent jq filter (bench/competitors/an0408.jq)
# and against sigma-go (bench/competitors/sigmago, its own module) evaluating the same rule pack,
# on one generated eslogger stream (bench/geneslogger: 1,000,000 lines by default, about 4 GB,
# two thirds unrelated execs, 100 firewall-weakening execs). Every tool runs pinned to one core.
# Prints wall and CPU time, lines/s, MB/s, peak memory and the ratio to firewarden (each
# competitor run against the firewarden runs around it); checks that each tool found the 100
# positives; then runs firewarden on a 4× longer stream, piped from the generator on another
# core, to show its memory does not grow.
#
# Usage: bench/detect-vs-tools.sh [WORKDIR]
#   env LINES (1000000), RUNS (5: firewarden runs before the others, and cat's), COMP_RUNS (1: runs
#   of each competitor), LONG (4: the longer stream is LONG × LINES)
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

# The VM's two vCPUs share a physical core and the machine is shared, so a run can take half as
# long again when something else is busy. Each competitor run is therefore measured between two
# firewarden runs, and its ratio is taken against their mean; the table gives medians.

# timed CMD...: one run on core 0; sets e (wall s), c (CPU s: user + sys), m (peak RSS KiB), l (load).
timed() {
  l=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "${pin0[@]}" "$@" > /dev/null 2>&1 || true
  local u s
  read -r e u s m < <(tail -n 1 "$work/time.txt") # GNU time puts "Command exited with non-zero status" first
  c=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
fw=("$work/firewarden" detect --input eslogger "$es")
fw_walls=() fw_cpus=() fw_rss=0 fw_loads=()
fw_run() {
  timed "${fw[@]}"
  fw_walls+=("$e") fw_cpus+=("$c") fw_loads+=("$l") prev_e=$e prev_c=$c
  ((m > fw_rss)) && fw_rss=$m
  return 0
}
row_line() { # label wall cpu rss ratio_wall ratio_cpu walls loads
  awk -v l="$1" -v w="$2" -v c="$3" -v r="$4" -v xw="$5" -v xc="$6" -v all="$7" -v ld="$8" -v n="$lines" -v b="$bytes" 'BEGIN {
    printf "| %-46s | %7.2f s | %7.2f s | %9.0f | %6.1f | %4.0f MiB | %6.1f× | %6.1f× | %s | %s |\n",
      l, w, c, n / w, b / w / 1e6, r / 1024, xw, xc, all, ld }'
}
rows=()
# compare LABEL N CMD...: N runs of CMD, each followed by a firewarden run.
compare() {
  local label=$1 n=$2; shift 2
  local i ws=() cs=() xw=() xc=() ls=() rss=0 be bc
  for ((i = 0; i < n; i++)); do
    be=$prev_e bc=$prev_c
    timed "$@"
    ws+=("$e") cs+=("$c") ls+=("$l")
    ((m > rss)) && rss=$m
    local ce=$e cc=$c
    fw_run
    xw+=("$(awk -v x="$ce" -v a="$be" -v b="$prev_e" 'BEGIN { printf "%.2f", 2 * x / (a + b) }')")
    xc+=("$(awk -v x="$cc" -v a="$bc" -v b="$prev_c" 'BEGIN { printf "%.2f", 2 * x / (a + b) }')")
  done
  rows+=("$(row_line "$label" "$(median "${ws[@]}")" "$(median "${cs[@]}")" "$rss" "$(median "${xw[@]}")" "$(median "${xc[@]}")" "${ws[*]}" "${ls[*]}")")
}

echo "== $lines lines, one core; ratios: each run against the mean of the firewarden runs just before and after it (median)"
for ((i = 0; i < runs; i++)); do fw_run; done
compare "sigma-go v0.6.6, flat rules (ForRules bundle)" "$comp_runs" "$work/sigmago" -rules bench/competitors/sigmago/rules "$es"
compare "sigma-go v0.6.6, firewarden's pack (bundle)" "$comp_runs" "$work/sigmago" -rules internal/detect/rules "$es"
compare "sigma-go, decode + event map only (no rules)" "$comp_runs" "$work/sigmago" -decode-only "$es"
compare "jq 'empty' (parse only)" "$comp_runs" jq -c empty "$es"
compare "jq -f an0408.jq" "$comp_runs" jq -c -f bench/competitors/an0408.jq "$es"
compare "cat > /dev/null" "$runs" cat "$es"
printf '| %-46s | %9s | %9s | %9s | %6s | %8s | %7s | %7s | %s | %s |\n' tool wall CPU lines/s MB/s "peak RSS" "×wall" "×CPU" "walls (s)" "load"
printf '|%s|\n' "------------------------------------------------|-----------|-----------|-----------|--------|----------|---------|---------|-----------|------"
row_line "firewarden detect --input eslogger" "$(median "${fw_walls[@]}")" "$(median "${fw_cpus[@]}")" "$fw_rss" 1 1 "${fw_walls[*]}" "${fw_loads[*]}"
printf '%s\n' "${rows[@]}"

echo "== memory over a longer stream: firewarden on core 0 reads geneslogger's output (core 1) from a pipe"
for x in 1 "$long"; do
  n=$((lines * x))
  /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "${pin0[@]}" "$work/firewarden" detect --input eslogger - \
    < <("${pin1[@]}" "$work/geneslogger" -lines "$n" -positives $((positives * x)) 2>/dev/null) > /dev/null 2> "$work/long.err" || true
  read -r e u s m < <(tail -n 1 "$work/time.txt")
  printf '%10d lines (%d×): wall %6.2f s, CPU %6.2f s, peak RSS %4d MiB; %s\n' "$n" "$x" "$e" "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" $((m / 1024)) "$(tail -1 "$work/long.err")"
done
