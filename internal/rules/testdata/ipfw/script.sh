#!/bin/sh
IPFW=/sbin/ipfw
$IPFW -f flush
$IPFW -q add 100 allow ip from any to any via lo0
$IPFW -q add deny ip from 127.0.0.0/8 to any in          # 200
$IPFW -q add 300 check-state
$IPFW -q add 400 allow tcp from me to any out setup keep-state
$IPFW -q add 500 allow udp from me to any 53 out keep-state
$IPFW -q add 600 skipto 1000 ip from 192.0.2.0/24 to any in
$IPFW -q add 700 allow tcp from any to me 22 in setup
$IPFW -q add 800 allow icmp from any to any icmptypes 0,3,8,11
$IPFW -q add 900 deny log ip from any to any
$IPFW -q add 1000 allow tcp from any to me 22,80,443 in setup
$IPFW -q add 1100 deny ip from any to any
