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

# measure NAME RUNS CMD…: median wall, CPU (user+sys) and peak RSS of RUNS runs. CPU time is the
# figure to compare on a shared machine, where the wall time includes waiting for the core.
measure() {
  local name=$1 n=$2; shift 2
  : > "$work/runs.txt"
  for _ in $(seq "$n"); do
    /usr/bin/time -f "TIME %e %U %S %M" -o "$work/time.txt" "${pin0[@]}" "$@" > /dev/null 2>&1 || true
    grep '^TIME ' "$work/time.txt" >> "$work/runs.txt"
  done
  awk -v name="$name" -v lines="$lines" '
    { w[NR] = $2; c[NR] = $3 + $4; m[NR] = $5 }
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return a[int((n + 1) / 2)]
    }
    END {
      wm = median(w, NR); cm = median(c, NR); mm = median(m, NR)
      printf "| %-44s | %7.2fs | %7.2fs | %10.0f | %12.0f | %7.1f MB |\n", name, wm, cm, lines / wm, lines / cm, mm / 1024
    }' "$work/runs.txt"
}
echo "== $lines lines, one core, median of $runs runs ($f2b_runs for fail2ban-regex)"
printf '| %-44s | %8s | %8s | %10s | %12s | %10s |\n' tool wall CPU "lines/s" "lines/CPU-s" "peak RSS"
measure "firewarden guard test --print none" "$runs" "$work/firewarden" guard test --print none "$log"
measure "firewarden --json guard test (every line)" "$runs" "$work/firewarden" --json guard test "$log"
measure "fail2ban-regex LOG sshd" "$f2b_runs" fail2ban-regex "$log" sshd
