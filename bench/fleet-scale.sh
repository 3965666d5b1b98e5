#!/usr/bin/env bash
# fleet-scale.sh: the fleet scale figures of issue 13, measured against a real firewarden-server.
#
#   bench/fleet-scale.sh [sqlite|postgres|nudge|history|history-postgres|all]...   (default: all)
#
# sqlite, postgres   init and serve a server (SQLite data dir; or PostgreSQL in a throwaway
#                    cluster started from the installed binaries), enroll $HOSTS simulated hosts
#                    and report runs at $RATE_SQLITE / $RATE_PG reports/s for $DURATION with
#                    $CONNS connections: reports/s, ingest latency, errors, server memory,
#                    database size and storage per host per day.
# nudge              $AGENTS agents hold their nudge streams open (SQLite server); server
#                    memory, then a nudge to all of them by label, timed.
# history            seed $SEED_HOSTS hosts × $SEED_DAYS days of history through the store's
#                    Go API, then time fleet compliance now and as of instants, and histories.
#
# PG_OPTS adds postgres settings (e.g. "-c synchronous_commit=off"); the default is PostgreSQL's own
# durable configuration.
#
# Everything lives in $WORK (default: a new temporary directory, removed at the end unless
# KEEP=1). Needs Go; the PostgreSQL modes need initdb and postgres (FIREWARDEN_PG_BIN=DIR, or
# /usr/lib/postgresql/N/bin). Run as root, PostgreSQL runs as nobody. The figures are printed; no
# target fails the script.
set -euo pipefail

DURATION=${DURATION:-5m}
HOSTS=${HOSTS:-5000}
CONNS=${CONNS:-32}
RATE_SQLITE=${RATE_SQLITE:-500}
RATE_PG=${RATE_PG:-1000}
AGENTS=${AGENTS:-10000}
SEED_HOSTS=${SEED_HOSTS:-100000}
SEED_DAYS=${SEED_DAYS:-90}
SECRETS=${SECRETS:-20} # each enroll secret has its own enrollment rate limit (50/s)
PORT=${PORT:-18443}

repo=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d /tmp/fleet-scale.XXXXXX)}
chmod 755 "$WORK" # PostgreSQL runs as nobody under it
bin=$WORK/bin
mkdir -p "$bin"
server_pid= pg_dir=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
	[ -n "$pg_dir" ] && pg_stop
	[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

# 10,000 nudge streams are 10,000 descriptors in the server and as many in the simulator.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "ulimit -n $(ulimit -n); $(nproc) CPUs; $(go version)"

(cd "$repo" && go build -o "$bin/firewarden-server" ./cmd/firewarden-server && go build -o "$bin/fleetsim" ./bench/fleetsim)

# init_server DIR [--db URL]: init a data directory listening on loopback, with $SECRETS enroll
# secrets; sets url, fp, token, secrets.
init_server() {
	local dir=$1
	shift
	"$bin/firewarden-server" init --data-dir "$dir" --listen "127.0.0.1:$PORT" --json "$@" >"$dir.json"
	url=$(sed -n 's/.*"url": "\(.*\)".*/\1/p' "$dir.json")
	fp=$(sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p' "$dir.json")
	token=$(sed -n 's/.*"admin_token": "\(.*\)".*/\1/p' "$dir.json")
	secrets=$(sed -n 's/.*"enroll_secret": "\(.*\)".*/\1/p' "$dir.json")
	for i in $(seq 2 "$SECRETS"); do
		s=$("$bin/firewarden-server" secret create --data-dir "$dir" --name "sim$i" --json | sed -n 's/.*"secret": "\(.*\)".*/\1/p')
		secrets="$secrets,$s"
	done
}

start_server() {
	"$bin/firewarden-server" serve --data-dir "$1" >"$1.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		grep -q 'listening on' "$1.log" && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$1.log" >&2
	echo "fleet-scale: the server did not start" >&2
	exit 1
}

stop_server() {
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

pg_bin() {
	if [ -n "${FIREWARDEN_PG_BIN:-}" ]; then echo "$FIREWARDEN_PG_BIN"; return; fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1)
	[ -n "$d" ] && { echo "$d"; return; }
	dirname "$(command -v initdb)"
}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }

# pg_start: a throwaway cluster on a unix socket in $WORK/pg, with PostgreSQL's default
# durability (fsync on), and a database "fleet"; sets pg_url.
pg_start() {
	local b
	b=$(pg_bin)
	pg_dir=$WORK/pg
	mkdir -p "$pg_dir"
	[ "$(id -u)" = 0 ] && chown nobody "$pg_dir"
	as_pg "$b/initdb" -D "$pg_dir/data" -U postgres --auth=trust --no-locale --encoding=UTF8 >"$pg_dir/initdb.log"
	as_pg "$b/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w \
		-o "-k $pg_dir -c listen_addresses= -c max_connections=200 ${PG_OPTS:-}" start >/dev/null
	as_pg "$b/createdb" -h "$pg_dir" -U postgres fleet
	pg_url="postgres://postgres@/fleet?host=$pg_dir&sslmode=disable"
	echo "PostgreSQL $("$b/postgres" --version | awk '{print $3}') in $pg_dir"
}

pg_stop() {
	as_pg "$(pg_bin)/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null || true
	pg_dir=
}

mode_sqlite() {
	say "reports on SQLite: $HOSTS hosts, $RATE_SQLITE reports/s, $DURATION, $CONNS connections"
	init_server "$WORK/sqlite"
	start_server "$WORK/sqlite"
	"$bin/fleetsim" run --url "$url" --fingerprint "$fp" --secret "$secrets" --hosts "$HOSTS" --rate "$RATE_SQLITE" \
		--duration "$DURATION" --conns "$CONNS" --server-pid "$server_pid" --db "$WORK/sqlite/fleet.db"
	stop_server
}

mode_postgres() {
	say "reports on PostgreSQL: $HOSTS hosts, $RATE_PG reports/s, $DURATION, $CONNS connections"
	pg_start
	init_server "$WORK/postgres" --db "$pg_url"
	start_server "$WORK/postgres"
	"$bin/fleetsim" run --url "$url" --fingerprint "$fp" --secret "$secrets" --hosts "$HOSTS" --rate "$RATE_PG" \
		--duration "$DURATION" --conns "$CONNS" --server-pid "$server_pid" --db "$pg_url"
	stop_server
	pg_stop
}

mode_nudge() {
	say "nudge streams: $AGENTS agents (SQLite server)"
	init_server "$WORK/nudge"
	start_server "$WORK/nudge"
	"$bin/fleetsim" nudge --url "$url" --fingerprint "$fp" --secret "$secrets" --token "$token" \
		--agents "$AGENTS" --server-pid "$server_pid"
	stop_server
}

# history_on NAME [--db URL]: seed, serve, query.
history_on() {
	local name=$1
	shift
	init_server "$WORK/$name" "$@"
	local target=$WORK/$name/fleet.db
	[ $# -gt 0 ] && target=$2
	"$bin/fleetsim" seed --db "$target" --hosts "$SEED_HOSTS" --days "$SEED_DAYS"
	start_server "$WORK/$name"
	"$bin/fleetsim" query --url "$url" --fingerprint "$fp" --token "$token" --days "$SEED_DAYS"
	stop_server
}

mode_history() {
	say "history on SQLite: $SEED_HOSTS hosts × $SEED_DAYS days"
	history_on history
}

mode_history_postgres() {
	say "history on PostgreSQL: $SEED_HOSTS hosts × $SEED_DAYS days"
	pg_start
	history_on history-pg --db "$pg_url"
	pg_stop
}

modes=("$@")
[ ${#modes[@]} -eq 0 ] && modes=(all)
for m in "${modes[@]}"; do
	case $m in
	sqlite) mode_sqlite ;;
	postgres) mode_postgres ;;
	nudge) mode_nudge ;;
	history) mode_history ;;
	history-postgres) mode_history_postgres ;;
	all) mode_postgres; mode_sqlite; mode_nudge; mode_history ;;
	*) echo "fleet-scale: unknown mode $m; want sqlite, postgres, nudge, history, history-postgres or all" >&2; exit 2 ;;
	esac
done
