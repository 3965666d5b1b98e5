#!/usr/bin/env bash
# Equivalent of a per-rule compliance script in the style of the macOS Security Compliance
# Project's generated audit: one independent command (and grep) per rule, for the same eight
# controls firewarden's default baseline covers. Commands and expected strings are the ones the
# mSCP rules and CIS texts cite (shared/reference/alf.md §2.4, §6). Written for this comparison.
ROOT=${ROOT:-}
sfw="$ROOT/usr/libexec/ApplicationFirewall/socketfilterfw"
fails=0
check() { # name, expected count, command...
  local name=$1 want=$2; shift 2
  local got; got=$("$@" 2>/dev/null)
  if [[ $got == "$want" ]]; then echo "$name pass"; else echo "$name fail"; fails=$((fails+1)); fi
}
check firewall 1 bash -c "'$sfw' --getglobalstate | grep -c -E '\(State = [12]\)'"
check stealth 1 bash -c "'$sfw' --getstealthmode | grep -c -E 'Stealth mode enabled|stealth mode is on'"
check logging 1 bash -c "'$sfw' --getloggingmode | grep -c 'Log mode is on'"
check ssh 0 bash -c "'$ROOT/bin/launchctl' print-disabled system | grep -c '\"com.openssh.sshd\" => enabled'"
check screensharing 0 bash -c "'$ROOT/bin/launchctl' print-disabled system | grep -c '\"com.apple.screensharing\" => enabled'"
check smbd 1 bash -c "'$ROOT/bin/launchctl' print-disabled system | grep -c '\"com.apple.smbd\" => disabled'"
check aeserver 1 bash -c "'$ROOT/bin/launchctl' print-disabled system | grep -c '\"com.apple.AEServer\" => disabled'"
check remotelogin "Remote Login: Off" "$ROOT/usr/sbin/systemsetup" -getremotelogin
check sip 1 bash -c "'$ROOT/usr/bin/csrutil' status | grep -c 'System Integrity Protection status: enabled.'"
exit $((fails > 0))
