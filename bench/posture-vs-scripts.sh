#!/usr/bin/env bash
# Side-by-side: firewarden check against a worklet-style evaluation and an mSCP-style per-rule
# audit, on the same emulated Macs (macOS 14.6 and 15.1, laid out by macemu). Reports program runs
# (counted by the emulator) and wall time (hyperfine). Usage: bench/posture-vs-scripts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine: apt-get install -y hyperfine" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
go build -o "$work/firewarden" ./cmd/firewarden
go build -o "$work/macemu" ./internal/host/hosttest/macemu
calls() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("calls") or []))' "$1/.macemu/state.json"; }

for preset in 14 15; do
  root="$work/mac$preset"
  "$work/macemu" layout -preset "$preset" "$root" >/dev/null
  # Turn the firewall on with firewarden so "compliant" has a meaning for the worklet.
  "$work/firewarden" --root "$root" fix --only alf.enabled >/dev/null || true
  echo "== macOS preset $preset, firewall on"
  before=$(calls "$root")
  set +e
  ROOT=$root bash bench/competitors/worklet-evaluate.sh; wcode=$?
  "$work/firewarden" --root "$root" check --only alf.enabled >/dev/null; fcode=$?
  set -e
  echo "worklet evaluation exit $wcode (0 = compliant); firewarden check --only alf.enabled exit $fcode"
  before=$(calls "$root")
  ROOT=$root bash bench/competitors/mscp-style-audit.sh >/dev/null || true
  mid=$(calls "$root")
  "$work/firewarden" --root "$root" check >/dev/null || true
  after=$(calls "$root")
  echo "program runs for the 8 default controls: mSCP-style $((mid-before)), firewarden $((after-mid))"
  hyperfine -N --warmup 3 --runs 30 --style basic \
    -n "worklet evaluation" "env ROOT=$root bash bench/competitors/worklet-evaluate.sh" \
    -n "firewarden check --only alf.enabled" "$work/firewarden --root $root check --only alf.enabled" \
    -n "mSCP-style audit (8 controls)" "env ROOT=$root bash bench/competitors/mscp-style-audit.sh" \
    -n "firewarden check (8 controls)" "$work/firewarden --root $root check" \
    -i 2>&1 | grep -E "^(Benchmark|  Time|Summary|  [0-9. ]+ ±|    )" || true
done
