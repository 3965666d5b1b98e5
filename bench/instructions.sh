#!/bin/bash
# Instructions per operation of a Go benchmark, counted by valgrind's callgrind: the difference
# between a short and a long run, divided by the extra operations. Unlike ns/op this does not move
# with CPU steal on a shared VM, so it shows whether a change made the code do less work.
#
# usage: bench/instructions.sh PACKAGE BENCHMARK-REGEX   e.g. bench/instructions.sh ./internal/rules 'PFEval$'
#   env SHORT, LONG: the operations of the two runs (200000 and 1200000); slow operations need
#   fewer, e.g. SHORT=2 LONG=12 for BenchmarkReaderEslogger, whose operation reads 1,000 lines
set -euo pipefail
pkg=${1:?package} bench=${2:?benchmark regex}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
(cd "$root" && go test -c -o "$bin" "$pkg")
count() {
	# GOGC=off: a collection running during the loop would add its own instructions.
	# asyncpreemptoff: valgrind can crash on the signal Go preempts goroutines with.
	# GOMAXPROCS=1 and retries: valgrind 3.19 does not know RDTSCP, which the runtime executes
	# when a thread spins on a contended lock, so a run can die with SIGILL; fewer threads spin
	# less, and a run that died is repeated (at most 5 times) rather than read as a count.
	local n out
	for n in 1 2 3 4 5; do
		out=$(cd "$root/$pkg" && GOGC=off GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			"$bin" -test.run XXX -test.bench "$bench" -test.benchtime "$1"x -test.cpu 1 2>&1 | awk '/Collected/ {print $4}') || true
		if [[ -n $out ]]; then
			echo "$out"
			return
		fi
	done
	echo "instructions.sh: valgrind did not complete $bench in 5 tries" >&2
	exit 2
}
s=${SHORT:-200000} l=${LONG:-1200000}
short=$(count "$s")
long=$(count "$l")
echo "$bench: $(((long - short) / (l - s))) instructions/op"
