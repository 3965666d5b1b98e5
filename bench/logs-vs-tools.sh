#!/usr/bin/env bash
# Side-by-side: firewarden logs summarize against wc -l, awk|sort|uniq -c pipelines and
# fwlogwatch (Debian package) on generated 10,000,000-line ipfw logs with about 5,000 and about
# 1,000,000 distinct connections. Prints wall time and peak memory of each.
# Usage: bench/logs-vs-tools.sh [WORKDIR]   (needs GNU time and fwlogwatch: apt-get install -y time fwlogwatch)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
for t in /usr/bin/time fwlogwatch mawk; do command -v "$t" >/dev/null || { echo "needs $t: apt-get install -y time fwlogwatch mawk" >&2; exit 2; }; done
go build -o "$work/firewarden" ./cmd/firewarden
go build -o "$work/genipfw" ./bench/genipfw
[[ -s $work/few.log ]] || "$work/genipfw" -lines 10000000 -conns 5000 > "$work/few.log"
[[ -s $work/many.log ]] || "$work/genipfw" -lines 10000000 -conns 1000000 > "$work/many.log"
head -n 1000000 "$work/many.log" > "$work/many-1M.log"

# Only the connection table (action, inside, outside, direction) — a subset of what firewarden counts.
conn_only() { mawk '/ ipfw: /{ sub(/.* ipfw: +/, ""); if ($6 == "out") k = $4 " " $5; else k = $5 " " $4; print $2, k, $6 }' "$1" | LC_ALL=C sort | LC_ALL=C uniq -c; }
# The same counts as the full report: connections, outside addresses, denied destination ports,
# rules, interfaces and protocols, in one awk pass and one sort | uniq -c.
same_counts() {
  mawk '/ ipfw: /{ sub(/.* ipfw: +/, ""); d = $6
    if (d == "out") { k = $4 " " $5; o = $5 } else { k = $5 " " $4; o = $4 }
    print "C", $2, k, d; sub(/:.*/, "", o); print "O", o, d; print "R", $1; print "I", $8; print "P", $3
    if ($2 == "Deny" || $2 == "Reset" || $2 == "Unreach") { p = $5; sub(/.*:/, "", p); print "D", $3, p } }' "$1" | LC_ALL=C sort | LC_ALL=C uniq -c
}
export -f conn_only same_counts

run() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > /dev/null 2>&1 || true
  read -r secs kb < "$work/time.txt"
  printf '%-58s %9s s %9s MiB\n' "$label" "$secs" "$((kb / 1024))"
}

echo "machine: $(nproc) cores, $(uname -r); $(date -u +%F)"
for f in few many; do
  echo "== $f.log: $(wc -l < "$work/$f.log") lines, $(du -h "$work/$f.log" | cut -f1)"
  run "wc -l" wc -l "$work/$f.log"
  run "firewarden logs summarize (full report)" "$work/firewarden" logs summarize "$work/$f.log"
  run "firewarden logs summarize --report classic" "$work/firewarden" logs summarize --report classic "$work/$f.log"
  run "awk|sort|uniq -c, connection table only" bash -c 'conn_only "$0"' "$work/$f.log"
  run "awk|sort|uniq -c, same counts as the full report" bash -c 'same_counts "$0"' "$work/$f.log"
done
echo "== fwlogwatch 1.4 (-P b, ipfw): it rejects every 'out via' line as malformed"
run "fwlogwatch -P b few.log (10M lines)" fwlogwatch -P b "$work/few.log"
run "fwlogwatch -P b many-1M.log (first 1M lines of many.log)" fwlogwatch -P b "$work/many-1M.log"
run "firewarden logs summarize many-1M.log" "$work/firewarden" logs summarize "$work/many-1M.log"
