#!/usr/bin/env bash
# Side-by-side: recognising SSH authentication failures with internal/authwatch (bench/authparse)
# against SSHGuard's parser (sshg-parser, Debian 12 package sshguard 2.4.2, lines on stdin) and
# fail2ban-regex with the stock sshd filter (Debian 12 package fail2ban 1.0.2), on one generated
# auth.log (bench/genauth: 1,000,000 lines by default, Debian rsyslog format, attacks from 300
# addresses, 20 % IPv6, some user names injecting a victim address). Every tool runs pinned to
# one core. First checks that the tools roughly agree (same attacking addresses, nobody counts
# the victim), then prints wall and CPU time (median of RUNS), lines/s, peak memory and the
# ratio of authparse's line rate to each tool's.
#
# Usage: bench/auth-vs-tools.sh [WORKDIR]
#   env LINES (1000000), RUNS (5: authparse, sshg-parser, cat), F2B_RUNS (1: fail2ban-regex,
#   about two minutes a run here), SEED (1), FORMAT (rfc3164 or iso), INSTR (0; 1 also counts
#   instructions per line of authparse and sshg-parser on the first 100,000 lines with valgrind's
#   callgrind, which CPU steal on a shared VM does not move)
# Needs GNU time, sshguard and fail2ban (reference adaptive.md §8 installs them without starting
# their daemons): apt-get install -y time sshguard fail2ban
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
lines=${LINES:-1000000}
runs=${RUNS:-5}
f2b_runs=${F2B_RUNS:-1}
seed=${SEED:-1}
format=${FORMAT:-rfc3164}
sshg=/usr/libexec/sshguard/sshg-parser
for t in /usr/bin/time "$sshg" fail2ban-regex; do command -v "$t" >/dev/null || { echo "needs $t: apt-get install -y time sshguard fail2ban" >&2; exit 2; }; done
pin0=()
if command -v taskset >/dev/null; then pin0=(taskset -c 0); fi

go build -o "$work/authparse" ./bench/authparse
go build -o "$work/genauth" ./bench/genauth
log=$work/auth-$lines-$seed-$format.log
if [[ ! -s $log ]]; then
  "$work/genauth" -lines "$lines" -seed "$seed" -format "$format" > "$log" 2> "$log.summary"
fi
bytes=$(stat -c %s "$log")
sum() { awk -v k="$1" '$1 == k { print $2 }' "$log.summary"; }
victim=$(sum victim)

echo "machine: $(nproc) vCPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(uname -r), $(go version | cut -d' ' -f3); $(date -u +%FT%RZ)"
echo "firewarden: $(git describe --always --dirty 2>/dev/null || echo "not a git checkout"); pinned: ${pin0[*]:-(taskset unavailable)}; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $log: $lines lines, $bytes bytes; generator: $(paste -sd' ' "$log.summary")"

# Correctness first. Each tool counts something different: authwatch every failure line (several
# per connection), sshguard every line it scores as an attack (not the PAM lines), fail2ban one
# failure per connection (it merges a connection's lines by pid). All must find the same
# attacking addresses and none may count the victim the injected user names name.
echo "== agreement"
"$work/authparse" -addrs "$log" > "$work/authparse.out"
awk '$1 == "addr" { print $2 }' "$work/authparse.out" | sort > "$work/addrs.authparse"
"$sshg" < "$log" > "$work/sshg.out"
awk '{ print $2 }' "$work/sshg.out" | sort -u > "$work/addrs.sshg"
fail2ban-regex -r -o ip "$log" sshd > "$work/f2b.out" 2> "$work/f2b.err" || true
sort -u "$work/f2b.out" > "$work/addrs.f2b"
ap_fail=$(awk '$1 == "failures" { print $2 }' "$work/authparse.out")
ap_conn=$(awk '$1 == "connections" { print $2 }' "$work/authparse.out")
printf '%-34s %9s failure lines, %7s connections, %4s addresses, victim counted %s times\n' \
  "genauth (what it wrote)" "$(sum failures)" "$(sum connections)" "$(sum addresses)" 0
printf '%-34s %9s failure lines, %7s connections, %4s addresses, victim counted %s times\n' \
  "authparse (authwatch)" "$ap_fail" "$ap_conn" "$(wc -l < "$work/addrs.authparse")" "$(grep -c "^addr $victim " "$work/authparse.out" || true)"
printf '%-34s %9s attack lines,  %7s %-11s %4s addresses, victim counted %s times\n' \
  "sshg-parser (sshguard 2.4.2)" "$(wc -l < "$work/sshg.out")" "" "" "$(wc -l < "$work/addrs.sshg")" "$(awk -v v="$victim" '$2 == v' "$work/sshg.out" | wc -l)"
printf '%-34s %9s failures,      %7s %-11s %4s addresses, victim counted %s times\n' \
  "fail2ban-regex sshd (1.0.2)" "$(wc -l < "$work/f2b.out")" "" "" "$(wc -l < "$work/addrs.f2b")" "$(grep -cx "$victim" "$work/f2b.out" || true)"
echo "authparse refused $(awk '$1 == "refused" { print $2 }' "$work/authparse.out") sshd failure lines whose address could be the client's"
[[ $ap_fail == "$(sum failures)" ]] || echo "WARNING: authparse counted $ap_fail failure lines, genauth wrote $(sum failures)" >&2
for t in sshg f2b; do
  if ! cmp -s "$work/addrs.authparse" "$work/addrs.$t"; then
    echo "WARNING: authparse and $t disagree on addresses: $(comm -3 "$work/addrs.authparse" "$work/addrs.$t" | head -5 | tr '\n' ' ')" >&2
  fi
done

# row LABEL N CMD...: N timed runs on core 0; prints one table row.
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
  [[ -z ${ap_wall:-} ]] && ap_wall=$wall ap_cpu=$cpu
  awk -v l="$label" -v w="$wall" -v c="$cpu" -v r="$rss" -v n="$lines" -v aw="$ap_wall" -v ac="$ap_cpu" -v all="${walls[*]}" 'BEGIN {
    if (w == 0) w = 0.005; if (c == 0) c = 0.005; if (aw == 0) aw = 0.005; if (ac == 0) ac = 0.005
    printf "| %-36s | %7.2f s | %7.2f s | %11.0f | %11.0f | %6.0f MiB | %7.1f× | %7.1f× | %s |\n",
      l, w, c, n / w, n / c, r / 1024, w / aw, c / ac, all }'
}

echo "== $lines lines, one core, median of $runs runs ($f2b_runs for fail2ban-regex); ×: how many times faster authparse is"
printf '| %-36s | %9s | %9s | %11s | %11s | %10s | %8s | %8s | %s |\n' tool wall CPU "lines/s" "lines/CPU-s" "peak RSS" "× wall" "× CPU" "all walls (s)"
printf '|%s|\n' "--------------------------------------|-----------|-----------|-------------|-------------|------------|----------|----------|---------------"
ap_wall='' ap_cpu=''
row "authparse (authwatch)" "$runs" "$work/authparse" "$log"
row "sshg-parser < file" "$runs" bash -c 'exec "$0" < "$1"' "$sshg" "$log"
row "fail2ban-regex -r FILE sshd" "$f2b_runs" fail2ban-regex -r "$log" sshd
row "cat > /dev/null" "$runs" cat "$log"
echo "targets (issue #6): authparse ≥ 1.5× sshg-parser's line rate and ≥ 30× fail2ban-regex's"

if [[ ${INSTR:-0} == 1 ]] && command -v valgrind >/dev/null; then
  head -n 100000 "$log" > "$work/head.log"
  # GOGC=off and asyncpreemptoff as in bench/instructions.sh: no collector or preemption signals
  # in the count. Each program's start-up is counted too (a few million instructions).
  instr() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/Collected/ { print $4 }'; }
  ap_i=$(GOGC=off GODEBUG=asyncpreemptoff=1 instr "$work/authparse" "$work/head.log")
  sg_i=$(instr "$sshg" < "$work/head.log")
  awk -v a="$ap_i" -v s="$sg_i" 'BEGIN { printf "== instructions per line (callgrind, 100,000 lines, start-up included): authparse %.0f, sshg-parser %.0f (%.1f×)\n", a / 1e5, s / 1e5, s / a }'
fi
