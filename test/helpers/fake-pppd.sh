#!/bin/sh
# Test stand-in for a client pppd talking to an ISP (the host kernel has no PPP): installed
# as "pppd" for test/integration/probe-dials.test.ts. The ISP is the directory $FAKE_ISP:
#   password   the password it accepts, as pppd's option file spells it (quoted form)
#   held       sessions already up elsewhere (wan)      limit   N|off: refuse beyond N
#   walled     N|off: sessions beyond N get 172.30.0.x   nooffer present: never answers
#   live/      one file per granted session (pid)        argv    every command line seen
# A granted session is a veth named by "ifname" with its address; SIGTERM hangs it up.
echo "$*" >>"$FAKE_ISP/argv"
while [ $# -gt 0 ]; do
	case $1 in
	file) opts=$2; shift ;;
	ifname) ifn=$2; shift ;;
	logfile) log=$2; shift ;;
	nic-*) nic=${1#nic-} ;;
	esac
	shift
done
[ -d "/sys/class/net/$nic" ] || { echo "no such interface $nic"; exit 1; }
sleep 0.3
[ -e "$FAKE_ISP/nooffer" ] && { sleep 1; echo "Timeout waiting for PADO packets" >>"$log"; exit 8; }
[ "$(sed -n 's/^password //p' "$opts")" = "$(cat "$FAKE_ISP/password")" ] ||
	{ echo "Remote message: Authentication failed" >>"$log"; exit 19; }
live=$(($(cat "$FAKE_ISP/held") + $(find "$FAKE_ISP/live" -type f | wc -l)))
limit=$(cat "$FAKE_ISP/limit")
[ "$limit" != off ] && [ "$live" -ge "$limit" ] &&
	{ echo "Remote message: Maximum sessions exceeded" >>"$log"; exit 19; }
n=$((live + 1))
walled=$(cat "$FAKE_ISP/walled")
addr=100.64.0.$((n + 1))
[ "$walled" != off ] && [ "$live" -ge "$walled" ] && addr=172.30.0.$n
echo $$ >"$FAKE_ISP/live/$$"
trap 'ip link del "$ifn"; rm -f "$FAKE_ISP/live/$$"; exit 5' TERM
ip link add "$ifn" type veth peer name "${ifn}x" && ip addr add "$addr/32" dev "$ifn" && ip link set "$ifn" up
while :; do
	sleep 1 &
	wait $!
done
