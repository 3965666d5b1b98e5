#!/usr/bin/env bash
# Side-by-side: how fast a brute-force guard cuts a client off, end to end. firewarden guard
# (nftables backend, holding 100,000 other bans or none) and fail2ban (Debian's package, stock
# sshd filter, pyinotify backend, nftables-allports action) each run in the server namespace of a
# veth pair and follow a log file; for each sample the benchmark writes a new client's third
# "Failed password" line and connects from that client until a connection fails. Prints the
# median, p99 and worst in milliseconds (cmd/firewarden/guard_e2e_linux_test.go).
#
# Usage (as root): bench/guard-latency-vs-fail2ban.sh [RUNS]
# Needs: apt-get install -y iproute2 nftables fail2ban python3-pyinotify
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
[[ $(id -u) == 0 ]] || { echo "needs root for network namespaces and nftables" >&2; exit 2; }
for p in ip fail2ban-server; do
  command -v "$p" >/dev/null || { echo "needs $p: apt-get install -y iproute2 fail2ban python3-pyinotify" >&2; exit 2; }
done
echo "machine: $(nproc) vCPU, $(uname -r), $(go version | cut -d' ' -f3), fail2ban $(fail2ban-server -V 2>/dev/null | head -1); $(date -u +%FT%RZ)"
echo "firewarden: $(git describe --always --dirty 2>/dev/null || echo "not a git checkout"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go test ./cmd/firewarden -run '^$' -bench 'GuardLatency|Fail2banLatency' -benchtime 1x -count "$runs" |
  awk '/^Benchmark/ {
    name = $1; sub(/-[0-9]+$/, "", name)
    for (i = 3; i < NF; i += 2) v[$(i + 1)] = $i
    printf "%-40s p50 %8.2f ms   p99 %8.2f ms   max %8.2f ms\n", name, v["p50-ms"], v["p99-ms"], v["max-ms"]
  }
  /fail2ban backend/ { print "  " $0 }'
