#!/bin/sh
# SYNTHETIC, written here: the FreeBSD Handbook's idiom of a command held in a variable.
kldstat -q -m ipfw || kldload ipfw
ipfw -q -f flush
cmd="ipfw -q add"
pif="em0"     # public interface
export ks="keep-state"
$cmd 00005 allow all from any to any via lo0
$cmd 00200 check-state
$cmd 00300 allow tcp from any to any 22 in via $pif setup ${ks}
$cmd allow tcp from me to any out via $pif setup $ks
$cmd 00500 deny log all from any to any
