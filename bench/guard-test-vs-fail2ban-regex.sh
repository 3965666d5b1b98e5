#!/usr/bin/env bash
# Side-by-side: testing a log against the guard's rules with `firewarden guard test` (its parser,
# per-process correlation, forgiveness and counting, on the lines' own time) and with
# fail2ban-regex and the stock sshd filter (Debian 12 package fail2ban 1.0.2), on one generated
# auth.log (bench/genauth: 200,000 lines by default, Debian rsyslog format). Every tool runs
# pinned to one core; prints wall and CPU time (median of RUNS), lines/s and peak memory.
# fail2ban-regex only matches lines: it neither correlates nor counts toward bans, so
# `guard test` does more work per line.
#
# Usage: bench/guard-test-vs-fail2ban-regex.sh [WORKDIR]
#   env LINES (200000), RUNS (3), F2B_RUNS (1), SEED (1)
# Needs GNU time and fail2ban (its daemon need not run): apt-get install -y time fail2ban
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
lines=${LINES:-200000}
runs=${RUNS:-3}
f2b_runs=${F2B_RUNS:-1}
seed=${SEED:-1}
for t in /usr/bin/time fail2ban-regex; do command -v "$t" >/dev/null || { echo "needs $t: apt-get install -y time fail2ban" >&2; exit 2; }; done
pin0=()
if command -v taskset >/dev/null; then pin0=(taskset -c 0); fi

go build -o "$work/firewarden" ./cmd/firewarden
go build -o "$work/genauth" ./bench/genauth
log=$work/auth-$lines-$seed.log
if [[ ! -s $log ]]; then
  "$work/genauth" -lines "$lines" -seed "$seed" > "$log" 2> "$log.summary"
fi
echo "machine: $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -r), $(go version | cut -d' ' -f3); $(date -u +%FT%RZ)"
echo "firewarden: $(git describe --always --dirty 2>/dev/null || echo "not a git checkout"); pinned: ${pin0[*]:-(taskset unavailable)}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $log: $lines lines, $(stat -c %s "$log") bytes"

# What each says about the log, for the record.
echo "== what they found"
"$work/firewarden" guard test --print none "$log" | head -4 | sed "s/^/guard test: /" || true
fail2ban-regex "$log" sshd 2>/dev/null | grep -E '^(Lines|Failregex):' | sed 's/^/fail2ban-regex: /' || true

# measure NAME RUNS CMD…: median wall, CPU (user+sys) and peak RSS of RUNS runs.
measure() {
  local name=$1 n=$2; shift 2
  local walls=() cpus=() rss=()
  for _ in $(seq "$n"); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "${pin0[@]}" "$@" > /dev/null 2>&1 || true
    read -r w u s m < <(tail -n1 "$work/time.txt") # GNU time says first when the exit status is not 0
    walls+=("$w"); cpus+=("$(echo "$u + $s" | bc)"); rss+=("$m")
  done
  local w c m
  w=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  c=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  m=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '| %-44s | %7ss | %7ss | %10.0f | %7.1f MB |\n' "$name" "$w" "$c" "$(echo "$lines / $w" | bc -l)" "$(echo "$m / 1024" | bc -l)"
}
echo "== $lines lines, one core, median of $runs runs ($f2b_runs for fail2ban-regex)"
printf '| %-44s | %8s | %8s | %10s | %10s |\n' tool wall CPU "lines/s" "peak RSS"
measure "firewarden guard test --print none" "$runs" "$work/firewarden" guard test --print none "$log"
measure "firewarden --json guard test (every line)" "$runs" "$work/firewarden" --json guard test "$log"
measure "fail2ban-regex LOG sshd" "$f2b_runs" fail2ban-regex "$log" sshd
