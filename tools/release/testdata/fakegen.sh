#!/bin/sh
# A stand-in for a host build of firewarden in the release tool's tests: it answers the three
# commands the tool runs (man, completion, service files) the way DECISIONS12.md specifies,
# with small fixed contents, so the tests need neither those commands nor a Go build.
set -eu
case "$1 ${2:-}" in
"man --dir")
	printf '.TH FIREWARDEN 1\n' >"$3/firewarden.1"
	printf '.TH FIREWARDEN-CHECK 1\n' >"$3/firewarden-check.1"
	;;
"completion bash") echo "complete -F _firewarden firewarden" ;;
"completion zsh") echo "#compdef firewarden" ;;
"completion fish") echo "complete -c firewarden" ;;
"service files")
	# service files --init INIT --dir DIR --binary PATH
	init=$4 dir=$6 bin=$8
	if [ "$init" = systemd ]; then
		for f in firewarden-guard.service firewarden-block-expire.service firewarden-block-expire.timer; do
			printf '[Service]\nExecStart=%s --config /etc/firewarden/firewarden.yaml guard\n' "$bin" >"$dir/$f"
		done
	else
		for f in org.firewarden.guard.plist org.firewarden.detect-live.plist org.firewarden.block-expire.plist; do
			printf '<plist><string>%s</string></plist>\n' "$bin" >"$dir/$f"
		done
	fi
	;;
*)
	echo "fakegen: unknown command: $*" >&2
	exit 2
	;;
esac
