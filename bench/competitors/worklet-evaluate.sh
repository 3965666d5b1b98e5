#!/usr/bin/env bash
# Equivalent of an "Enable Firewall (macOS)" worklet's evaluation as its catalogue page describes
# it (reads globalstate from /Library/Preferences/com.apple.alf; 1 or 2 compliant, exit 0;
# anything else non-compliant, exit 1). Written from that description, not from its code.
# ROOT prefixes every system path so it runs against a fake Mac laid out by macemu.
ROOT=${ROOT:-}
# The emulated defaults resolves its argument under ROOT itself, like the real one under /.
state=$("$ROOT/usr/bin/defaults" read /Library/Preferences/com.apple.alf globalstate 2>/dev/null)
case $state in
  1|2) exit 0 ;;
  *) exit 1 ;;
esac
