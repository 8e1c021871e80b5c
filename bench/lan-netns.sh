#!/bin/sh
# Bench fixture on the lab router: the lab's LAN host (netns lan, 192.168.1.100 behind br-lan)
# sends the traffic; the router's firewall (the lab's fw4, real nftables) masquerades it out of
# the wan zone, as on OpenWrt. This adds only a counter: an nft set that records (LAN source
# port, output device) per forwarded TCP segment that carries data, with a packet counter, so a
# flow that changes dial shows up twice. The set lives in its own table, so fw4 reloads keep it.
#
# The LAN host shares the router's kernel, so its packets reach the router's forwarding path
# still carrying the sending socket's flow hash (skb->hash, l4), which IPv4 multipath hash policy 1
# uses as is. Linux re-randomises a socket's hash after every retransmission timeout
# (net.core.txrehash=1), which would move the flow to another dial, where masquerade drops it.
# A real LAN host's packets arrive with a hash of their addresses and ports, which never changes:
# the lab sets txrehash=0 in the LAN netns (checked here) to give every flow one fixed hash.
#
# Usage: sh lan-netns.sh up|down|reset-flows|flows   (flows: "port device packets" per line)
LAN_NS=lan
LAN_IP=192.168.1.100
case $1 in
up)
	if [ "$(ip netns exec "$LAN_NS" cat /proc/sys/net/core/txrehash)" != 0 ]; then
		echo "bench: the lab's LAN host ($LAN_NS) is missing or has txrehash on" >&2
		exit 1
	fi
	nft delete table ip bench 2>/dev/null
	nft -f - <<NFT
table ip bench {
	set flows { type inet_service . ifname; flags dynamic; size 65536; counter; }
	chain benchfwd { type filter hook forward priority -10; policy accept;
		ip saddr $LAN_IP tcp dport { 5201-5208, 5399 } tcp flags & (fin | syn | rst) == 0 ip length > 64 update @flows { tcp sport . oifname }
	}
}
NFT
	;;
reset-flows) nft flush set ip bench flows ;;
flows)
	nft list set ip bench flows | tr -d '\n\t' | sed 's/.*elements = {//; s/}.*//' | tr ',' '\n' |
		awk '{ gsub(/"/, ""); for (i = 1; i <= NF; i++) if ($i == "packets") print $1, $3, $(i + 1) }'
	;;
down)
	nft delete table ip bench 2>/dev/null
	;;
esac
