#!/usr/bin/env bash
# Side-by-side: a full 1-65535 TCP connect scan of a target whose firewall drops every port
# but three, by firewarden scan and by nmap -sT -T4 -p- --max-retries 1 (Debian's nmap). The
# target is a server namespace joined to a client namespace by a veth pair (192.0.2.1 and
# 2001:db8:77::1, documentation ranges): listeners on 22, 443 and 8443, an nftables rule set that
# accepts those three ports, rejects 1000-1099 with a TCP reset and drops everything else. Both
# scanners run in the client namespace; the script prints each one's wall time and open ports.
# The issue's goal: firewarden in less than half nmap's time, with the same open ports.
#
#
# With TARGET "drop" the target drops everything (no port open, nothing reset): both scanners
# first look whether the host is up (firewarden's ping of a few likely ports, nmap's host
# discovery, so no -Pn), and both should stop early, saying the host seems down. nmap runs
# --unprivileged there, so that its discovery is a TCP connect to 80 and 443 like firewarden's
# (no root needed); as root on the same link nmap asks ARP instead, finds the host up and scans
# every port (here it had not finished after 21 minutes).
#
# Usage (as root): bench/scan-vs-nmap.sh [RUNS] [ADDRESS-FAMILY: 4|6] [TARGET: three|drop]
# Needs: apt-get install -y iproute2 nftables nmap python3
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
fam=${2:-4}
kind=${3:-three}
[[ $kind == three || $kind == drop ]] || { echo "TARGET is three or drop, not $kind" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root for network namespaces and nftables" >&2; exit 2; }
for p in ip nft nmap python3; do
  command -v "$p" >/dev/null || { echo "needs $p: apt-get install -y iproute2 nftables nmap python3" >&2; exit 2; }
done
tmp=$(mktemp -d)
srv=fwbench-srv-$$ cli=fwbench-cli-$$
cleanup() {
  [[ -n ${lpid:-} ]] && kill "$lpid" 2>/dev/null || true
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/firewarden" ./cmd/firewarden
ip netns add "$srv"
ip netns add "$cli"
ip link add vs netns "$srv" type veth peer name vc netns "$cli"
for x in "$srv vs 192.0.2.1/24 2001:db8:77::1/64" "$cli vc 192.0.2.2/24 2001:db8:77::2/64"; do
  set -- $x
  ip -n "$1" link set lo up
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$1" -6 addr add "$4" dev "$2" nodad
  ip -n "$1" link set "$2" up
done
if [[ $kind == three ]]; then
  cat >"$tmp/target.nft" <<'NFT'
table inet fwbench {
	chain input {
		type filter hook input priority 0; policy drop;
		iif "lo" accept
		meta l4proto ipv6-icmp accept
		tcp dport { 22, 443, 8443 } accept
		tcp dport 1000-1099 reject with tcp reset
	}
}
NFT
else
  cat >"$tmp/target.nft" <<'NFT'
table inet fwbench {
	chain input {
		type filter hook input priority 0; policy drop;
		iif "lo" accept
		meta l4proto ipv6-icmp accept
	}
}
NFT
fi
ip netns exec "$srv" nft -f "$tmp/target.nft"
# Three listeners that accept and close (python3's socket module, no dependency).
ip netns exec "$srv" python3 -c '
import socket, select
ss = []
for p in (22, 443, 8443):
    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", p)); s.listen(1024); ss.append(s)
while True:
    for s in select.select(ss, [], [])[0]:
        c, _ = s.accept(); c.close()
' &
lpid=$!
sleep 1
target=192.0.2.1 nmap6=
[[ $fam == 6 ]] && target=2001:db8:77::1 nmap6=-6
echo "machine: $(nproc) vCPU, $(uname -r), $(go version | cut -d' ' -f3), $(nmap --version | head -1); $(date -u +%FT%RZ)"
echo "firewarden: $(git describe --always --dirty 2>/dev/null || echo "not a git checkout"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $kind == drop ]]; then
  echo "target $target: everything dropped"
  for ((i = 1; i <= runs; i++)); do
    s=$(date +%s.%N)
    rc=0
    ip netns exec "$cli" "$tmp/firewarden" scan --ports - "$target" >/dev/null 2>"$tmp/fw.err" || rc=$?
    e=$(date +%s.%N)
    printf 'firewarden scan --ports -               %7.2f s   exit %d: %s\n' "$(echo "$e - $s" | bc)" "$rc" "$(tail -1 "$tmp/fw.err")"
    s=$(date +%s.%N)
    ip netns exec "$cli" nmap --unprivileged $nmap6 -n -sT -T4 -p- --max-retries 1 "$target" >"$tmp/nmap.out"
    e=$(date +%s.%N)
    printf 'nmap --unprivileged -n -sT -T4 -p- --max-retries 1 %7.2f s   %s\n' "$(echo "$e - $s" | bc)" "$(grep -m1 -i 'seems down\|scanned' "$tmp/nmap.out")"
  done
  exit 0
fi
echo "target $target: open 22,443,8443; 1000-1099 reset; everything else dropped"
for ((i = 1; i <= runs; i++)); do
  s=$(date +%s.%N)
  ip netns exec "$cli" "$tmp/firewarden" --json scan --ports - "$target" >"$tmp/fw.json"
  e=$(date +%s.%N)
  fwopen=$(python3 -c 'import json,sys; print(",".join(str(r["port"]) for r in json.load(open(sys.argv[1]))["results"] if r["state"]=="open"))' "$tmp/fw.json")
  printf 'firewarden scan --ports -               %7.2f s   open %s\n' "$(echo "$e - $s" | bc)" "$fwopen"
  s=$(date +%s.%N)
  ip netns exec "$cli" nmap $nmap6 -Pn -n -sT -T4 -p- --max-retries 1 -oX "$tmp/nmap.xml" "$target" >/dev/null
  e=$(date +%s.%N)
  nmopen=$(python3 -c '
import sys, xml.etree.ElementTree as ET
print(",".join(p.get("portid") for p in ET.parse(sys.argv[1]).iter("port") if p.find("state").get("state") == "open"))' "$tmp/nmap.xml")
  printf 'nmap -Pn -n -sT -T4 -p- --max-retries 1 %7.2f s   open %s\n' "$(echo "$e - $s" | bc)" "$nmopen"
done
