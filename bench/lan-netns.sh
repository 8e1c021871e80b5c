# Bench fixture on the lab router: a LAN host (netns benchlan, 192.168.77.2) behind the
# router (veth benchlan0, 192.168.77.1), masqueraded out of every pppoe-* device, as
# OpenWrt's fw4 does for the wan zone (the lab's fw4 stand-in installs no nftables rules).
# An nft set records (LAN source port, output device) per forwarded TCP segment that carries
# data, with a packet counter, so a flow that changes dial shows up twice.
#
# The LAN host shares the router's kernel, so its packets reach the router's forwarding path
# still carrying the sending socket's flow hash (skb->hash, l4), which IPv4 multipath hash policy 1
# uses as is. Linux re-randomises a socket's hash after every retransmission timeout
# (net.core.txrehash=1), which would move the flow to another dial, where masquerade drops it
# (nf_nat: masqueraded flow, output interface changed) and the server resets it. A real LAN host's
# packets arrive with a hash of their addresses and ports, which never changes: txrehash=0 in the
# LAN netns gives every flow one fixed hash for its lifetime, like that.
#
# Usage: sh lan-netns.sh up|down|reset-flows|flows   (flows: "port device packets" per line)
IP=/usr/libexec/ip-full
case $1 in
up)
	$IP netns add benchlan 2>/dev/null
	if ! $IP link show benchlan0 >/dev/null 2>&1; then
		$IP link add benchlan0 type veth peer name lan1 netns benchlan
		$IP addr add 192.168.77.1/24 dev benchlan0
		$IP link set benchlan0 up
		$IP -n benchlan addr add 192.168.77.2/24 dev lan1
		$IP -n benchlan link set lan1 up
		$IP -n benchlan link set lo up
		$IP -n benchlan route add default via 192.168.77.1
	fi
	$IP netns exec benchlan sh -c 'echo 0 >/proc/sys/net/core/txrehash'
	echo 1 >/proc/sys/net/ipv4/ip_forward
	nft delete table ip bench 2>/dev/null
	nft -f - <<'NFT'
table ip bench {
	set flows { type inet_service . ifname; flags dynamic; size 65536; counter; }
	chain benchfwd { type filter hook forward priority 0; policy accept;
		ip saddr 192.168.77.2 tcp dport { 5201-5208, 5399 } tcp flags & (fin | syn | rst) == 0 ip length > 64 update @flows { tcp sport . oifname }
	}
	chain benchpost { type nat hook postrouting priority 100; policy accept;
		oifname "pppoe-*" masquerade
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
	$IP link del benchlan0 2>/dev/null
	$IP netns del benchlan 2>/dev/null
	echo 0 >/proc/sys/net/ipv4/ip_forward
	;;
esac
