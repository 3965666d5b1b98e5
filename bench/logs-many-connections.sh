#!/usr/bin/env bash
# Memory and speed of `firewarden logs summarize` on a 1,000,000-line ipfw log with about 920,000
# distinct connections (issue 16), against the awk pipeline that counts the connection table
# alone (the conn_only pipeline of bench/logs-vs-tools.sh). Prints wall time, CPU time and peak
# memory of each run, best of RUNS (default 3), and the bytes per distinct connection: (peak RSS
# of the many-connection run - peak RSS of a 5,000-connection run of the same length) divided by
# the connections the report counts.
# Usage: bench/logs-many-connections.sh [WORKDIR] [FIREWARDEN-BINARY]
#   (needs GNU time and mawk: apt-get install -y time mawk; the binary defaults to one built from
#   this tree; env RUNS, and CPUS for a taskset CPU list such as 0 or 0,1)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
for t in /usr/bin/time mawk; do command -v "$t" >/dev/null || { echo "needs $t: apt-get install -y time mawk" >&2; exit 2; }; done
fw=${2:-$work/firewarden}
[[ -n ${2:-} ]] || go build -o "$fw" ./cmd/firewarden
go build -o "$work/genipfw" ./bench/genipfw
[[ -s $work/many-1M.log ]] || "$work/genipfw" -lines 1000000 -conns 6000000 > "$work/many-1M.log"
[[ -s $work/few-1M.log ]] || "$work/genipfw" -lines 1000000 -conns 5000 > "$work/few-1M.log"
runs=${RUNS:-3}
pin=()
[[ -z ${CPUS:-} ]] || pin=(taskset -c "$CPUS")

conn_only() { mawk '/ ipfw: /{ sub(/.* ipfw: +/, ""); if ($6 == "out") k = $4 " " $5; else k = $5 " " $4; print $2, k, $6 }' "$1" | LC_ALL=C sort | LC_ALL=C uniq -c; }
export -f conn_only

best() { # label, command...: prints the best wall time of $runs runs, its CPU time and the largest peak RSS
  local label=$1; shift
  local bw="" bc="" mk=0 w u s k
  for ((i = 0; i < runs; i++)); do
    "${pin[@]}" /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" > "$work/out.txt" 2>/dev/null || true
    read -r w u s k < "$work/time.txt"
    if [[ -z $bw ]] || (( $(echo "$w < $bw" | bc) )); then bw=$w bc=$(echo "$u + $s" | bc); fi
    (( k > mk )) && mk=$k
  done
  printf '%-48s %7s s wall %7s s cpu %8s KB\n' "$label" "$bw" "$bc" "$mk"
  eval "${label%% *}_wall=$bw; ${label%% *}_kb=$mk"
}

echo "machine: $(nproc) cores, $(uname -r); $(date -u '+%F %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg); runs $runs${CPUS:+; taskset -c $CPUS}"
best "few firewarden logs summarize few-1M.log" "$fw" logs summarize "$work/few-1M.log"
best "many firewarden logs summarize many-1M.log" "$fw" logs summarize "$work/many-1M.log"
conns=$("$fw" --json logs summarize --top 1 "$work/many-1M.log" | mawk -F': ' '/"connections"/ { gsub(/,/, "", $2); n += $2 } END { print n }')
approx=$("$fw" --json logs summarize --top 1 "$work/many-1M.log" | mawk -F': ' '/"approximate"/ { gsub(/,/, "", $2); print $2 }')
best "awk conn_only many-1M.log" bash -c 'conn_only "$0"' "$work/many-1M.log"
echo "distinct connections: $conns (approximate: $approx)"
echo "bytes per connection: $(( (many_kb - few_kb) * 1024 / conns ))"
echo "awk / firewarden wall time: $(echo "scale=2; $awk_wall / $many_wall" | bc)x"
