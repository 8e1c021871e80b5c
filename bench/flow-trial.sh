#!/bin/sh
# Router-side driver of one flow trial (flow stability and the failover chart): everything that
# needs timing runs here, not over SSH, whose round trips take seconds while the flows load the VM.
#   sh flow-trial.sh OUTDIR HOST FLOWS BEFORE AFTER IFACE LIMIT
# Starts FLOWS flows from the LAN host (bench/flows.py, netns lan) to HOST:5399 and samples
# every pppoe-* tx_bytes every 0.5 s. BEFORE s after the flows started: snapshots the (flow, device)
# set, sets the ISP session limit to LIMIT (unless "keep") and hangs up IFACE. AFTER s later:
# snapshots the set again (every flow still sends, so no closing packet is counted) and stops the
# flows. Under load a step may start late; the times actually taken are recorded.
# Output in OUTDIR: flows.json, ready (start), hangup (time), before, after, rate, done.
set -u
out=$1 host=$2 flows=$3 before=$4 after=$5 iface=$6 limit=$7
labctl=/usr/lib/lab-vm/labctl

now() { read -r u _ </proc/uptime && echo "$u"; }

rm -rf "$out"
mkdir -p "$out"
sh /tmp/bench-lan.sh reset-flows
(
	while [ ! -e "$out/done" ]; do
		l=$(now)
		for d in /sys/class/net/pppoe-*; do
			[ -r "$d/statistics/tx_bytes" ] && read -r b <"$d/statistics/tx_bytes" && l="$l ${d##*/}=$b"
		done
		echo "$l"
		sleep 0.5
	done >"$out/rate"
) &
ip netns exec lan python3 /tmp/bench-flows.py source "$host" 5399 "$flows" 300 "$out/ready" "$out/stop" \
	>"$out/flows.json" 2>&1 &
pid=$!
while [ ! -s "$out/ready" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
if [ -s "$out/ready" ]; then
	read -r t0 <"$out/ready"
	sleep "$(awk -v t0="$t0" -v b="$before" -v now="$(now)" 'BEGIN { d = t0 + b - now; printf "%.2f", (d > 0 ? d : 0) }')"
	sh /tmp/bench-lan.sh flows >"$out/before"
	now >"$out/hangup"
	[ "$limit" = keep ] || $labctl isp-limit "$limit" >/dev/null
	$labctl isp-hangup "$iface" >"$out/hangup.log" 2>&1
	sleep "$after"
	sh /tmp/bench-lan.sh flows >"$out/after"
fi
touch "$out/stop"
wait "$pid"
touch "$out/done"
