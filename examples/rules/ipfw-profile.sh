#!/bin/sh
# An ipfw rule script in the style of FreeBSD's rc.firewall, written for the README: what it
# loads depends on firewall_type and firewall_myservices (from rc.conf, or --set).
fwcmd="/sbin/ipfw -q"
${fwcmd} -f flush
${fwcmd} add 100 allow ip from any to any via lo0
${fwcmd} add 200 deny ip from 127.0.0.0/8 to any
case ${firewall_type} in
[Ww][Oo][Rr][Kk][Ss][Tt][Aa][Tt][Ii][Oo][Nn])
	${fwcmd} add 300 check-state
	${fwcmd} add 400 allow ip from me to any out keep-state
	for port in ${firewall_myservices}; do
		${fwcmd} add allow tcp from any to me ${port} in setup keep-state
	done
	${fwcmd} add 65000 deny log ip from any to any
	;;
[Oo][Pp][Ee][Nn])
	${fwcmd} add 65000 allow ip from any to any
	;;
*)
	${fwcmd} add 65000 deny ip from any to any
	;;
esac
