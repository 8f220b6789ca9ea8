# natlab/lab.sh: a NAT lab in network namespaces, sourced by the tests, the
# punch bench (bench/punch.sh) and tools/demo.
#
# Topology (docs/NAT-LAB.md says why each piece is so):
#
#   public host(s) ── 203.0.113.0/24 ──┐
#                                      wan router (no default route: nothing
#   site i router ── 198.51.100.8i/29 ─┘  leaves the lab)
#     └── lan: host 10.i.0.2/24, or 192.0.2.16i+2/28 for type "none"
#
# Each site router emulates one NAT type with nftables:
#   none             no NAT: the host has a public address, the router forwards
#   port_restricted  stock masquerade (EIM, APDF)
#   symmetric        masquerade fully-random (APDM, APDF)
#   full_cone        masquerade + learned port map, inbound DNAT through it,
#                    unmapped inbound UDP dropped in raw (EIM, EIF)
#   restricted_cone  full_cone + inbound UDP only from addresses the port has
#                    sent to (EIM, ADF)
#
# Usage (POSIX sh):
#   . natlab/lab.sh
#   natlab_require || exit 77      # root, ip, nft, netns; prints why not
#   natlab_init                    # namespaces named after $NL_TAG and $$, cleanup trap
#   natlab_public pub 203.0.113.10 203.0.113.11
#   natlab_site a full_cone        # router "a-r", host "a"
#   natlab_exec a CMD...           # run CMD in host a
#   natlab_host_ip a               # the host's own address
#   natlab_router_ip a             # the router's public address (the host's mapped ip)
#   natlab_upnp a pcp,natpmp,upnp 203.0.113.10:3478   # miniupnpd on router a-r
#   natlab_sequential a 0x2800     # router a-r: UDP ports from a counter (below)
#   natlab_ipv6 pub a b            # IPv6 beside IPv4 (below), after the nodes exist
#   natlab_ipv6_firewall a         # router a-r: stateful IPv6 filter, no NAT66
#   natlab_host_ip6 a              # the host's global IPv6 address
#
# IPv6 (natlab_ipv6): global-like addresses from 2001:db8::/32 and no NAT,
# as IPv6 is deployed: public host NAME gets 2001:db8:113::10 (and ::11 when
# it has a second IPv4 address) on 2001:db8:113::/64; site i's router
# 2001:db8:100:i::2/64 toward the wan, its LAN 2001:db8:i::/64 with the host
# on ::2. Whatever NAT the site has on IPv4, IPv6 is routed; add
# natlab_ipv6_firewall for the stateful filter home routers run (RFC 6092).
#
# NL_TAG (environment, default empty): a tag in every namespace name the lab
# makes, "nl<TAG>-<pid>-<node>" ("nl<pid>-<node>" without one), so that engineers or CI jobs running lab
# tests on one machine at once can tell (and clean up) their own; the pid
# alone already keeps two labs apart. Letters and digits, a few of them.
#
# natlab_cleanup (run by the trap) ends the processes inside the lab's
# namespaces and deletes them. Functions exit the script on setup failure.

NL_PREFIX=""
NL_TAG=${NL_TAG:-}
NL_NAMESPACES=""
NL_SITES=0
NL_TMP=""

natlab_require() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: the NAT lab needs root (network namespaces, nftables)"
		return 1
	fi
	for _nl_tool in ip nft; do
		if ! command -v "$_nl_tool" >/dev/null 2>&1; then
			echo "SKIP: '$_nl_tool' not found (Debian packages iproute2, nftables)"
			return 1
		fi
	done
	case $NL_TAG in
	*[!A-Za-z0-9]*) echo "natlab: NL_TAG '$NL_TAG' must be letters and digits" >&2; return 1 ;;
	esac
	_nl_probe="nlprobe$NL_TAG${NL_TAG:+-}$$"
	if ! ip netns add "$_nl_probe" 2>/dev/null; then
		echo "SKIP: cannot create network namespaces here"
		return 1
	fi
	if ! ip netns exec "$_nl_probe" nft add table ip probe 2>/dev/null; then
		ip netns del "$_nl_probe"
		echo "SKIP: nftables does not work in a network namespace here"
		return 1
	fi
	ip netns del "$_nl_probe"
	return 0
}

natlab_die() {
	echo "natlab: $*" >&2
	exit 1
}

# natlab_ns NAME: the namespace name of lab node NAME.
natlab_ns() {
	echo "${NL_PREFIX}$1"
}

natlab_exec() {
	_nl_ns=$(natlab_ns "$1")
	shift
	ip netns exec "$_nl_ns" "$@"
}

natlab_addns() {
	_nl_ns=$(natlab_ns "$1")
	ip netns add "$_nl_ns" || natlab_die "cannot create namespace $_nl_ns"
	NL_NAMESPACES="$NL_NAMESPACES $_nl_ns"
	ip -n "$_nl_ns" link set lo up
	ip netns exec "$_nl_ns" sysctl -qw net.ipv4.ip_forward=1
	# A bridged LAN with br_netfilter would lose hairpinned packets.
	ip netns exec "$_nl_ns" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null || true
}

# natlab_link A IFA B IFB: a veth pair between lab nodes A and B.
natlab_link() {
	ip link add "$2" netns "$(natlab_ns "$1")" type veth peer name "$4" netns "$(natlab_ns "$3")" ||
		natlab_die "cannot link $1/$2 to $3/$4"
	ip -n "$(natlab_ns "$1")" link set "$2" up
	ip -n "$(natlab_ns "$3")" link set "$4" up
}

natlab_cleanup() {
	for _nl_ns in $NL_NAMESPACES; do
		# Only processes inside the lab's own namespaces: ours.
		for _nl_pid in $(ip netns pids "$_nl_ns" 2>/dev/null); do
			kill -TERM "$_nl_pid" 2>/dev/null
		done
	done
	for _nl_ns in $NL_NAMESPACES; do
		for _nl_pid in $(ip netns pids "$_nl_ns" 2>/dev/null); do
			kill -KILL "$_nl_pid" 2>/dev/null
		done
		ip netns del "$_nl_ns" 2>/dev/null
	done
	NL_NAMESPACES=""
	# Files of natlab_upnp (configs, leases, logs).
	[ -z "$NL_TMP" ] || rm -rf "$NL_TMP"
	NL_TMP=""
}

# natlab_init: the wan router, and the cleanup trap.
natlab_init() {
	NL_PREFIX="nl$NL_TAG${NL_TAG:+-}$$-"
	trap natlab_cleanup EXIT
	trap 'natlab_cleanup; exit 1' INT TERM
	natlab_addns wan
}

# natlab_public NAME ADDR...: a public host on 203.0.113.0/24 with ADDRs.
natlab_public() {
	_nl_name=$1
	shift
	natlab_addns "$_nl_name"
	natlab_link wan "p-$_nl_name" "$_nl_name" wan
	ip -n "$(natlab_ns wan)" addr add 203.0.113.1/24 dev "p-$_nl_name"
	for _nl_a in "$@"; do
		ip -n "$(natlab_ns "$_nl_name")" addr add "$_nl_a/24" dev wan
	done
	ip -n "$(natlab_ns "$_nl_name")" route add default via 203.0.113.1
}

natlab_router_ip() {
	eval "echo \$NL_ROUTER_IP_$1"
}

natlab_host_ip() {
	eval "echo \$NL_HOST_IP_$1"
}

# natlab_nat_rules TYPE: the router's nftables ruleset for TYPE on stdout.
natlab_nat_rules() {
	case $1 in
	none)
		;;
	port_restricted)
		cat <<-'EOF'
		table ip nat {
			chain post { type nat hook postrouting priority srcnat; policy accept;
				oifname "wan" masquerade
			}
		}
		EOF
		;;
	symmetric)
		cat <<-'EOF'
		table ip nat {
			chain post { type nat hook postrouting priority srcnat; policy accept;
				oifname "wan" masquerade fully-random
			}
		}
		EOF
		;;
	full_cone | restricted_cone)
		# Learn "external port -> internal addr . port" after SNAT;
		# inbound UDP is DNATed through it. Unmapped inbound UDP is
		# dropped in raw, before conntrack could turn it into a flow to
		# the router that steals the port (docs/NAT-LAB.md: the masquerade trap).
		_nl_peers_rule=""
		_nl_learn_peer=""
		if [ "$1" = restricted_cone ]; then
			_nl_peers_rule='iifname "wan" meta l4proto udp ip saddr . udp dport != @peers drop'
			_nl_learn_peer='oifname "wan" meta l4proto udp update @peers { ip daddr . udp sport }'
		fi
		cat <<-EOF
		table ip nat {
			set extports { type inet_service; flags dynamic; }
			map extmap { type inet_service : ipv4_addr . inet_service; flags dynamic; }
			set peers { type ipv4_addr . inet_service; flags dynamic; }
			chain raw_in { type filter hook prerouting priority raw; policy accept;
				iifname "wan" meta l4proto udp udp dport != @extports drop
				$_nl_peers_rule
			}
			chain dnat_in { type nat hook prerouting priority dstnat; policy accept;
				iifname "wan" meta l4proto udp dnat ip addr . port to udp dport map @extmap
			}
			chain post { type nat hook postrouting priority srcnat; policy accept;
				oifname "wan" masquerade
			}
			chain learn { type filter hook postrouting priority srcnat + 10; policy accept;
				oifname "wan" meta l4proto udp update @extports { udp sport }
				oifname "wan" meta l4proto udp update @extmap { udp sport : ct original ip saddr . ct original proto-src }
				$_nl_learn_peer
			}
		}
		EOF
		;;
	*)
		natlab_die "unknown NAT type '$1'"
		;;
	esac
}

# natlab_sequential SITE OFFSET: router SITE-r's UDP masquerade takes its
# port from an nftables counter loaded afresh (`masquerade to :numgen inc
# mod 200 offset OFFSET`), so each new flow gets the next port, as a
# sequential NAT does (address- and port-dependent mapping and filtering,
# like symmetric's). The counter reaches the NAT in host byte order, so
# with OFFSET's low byte 0 the port moves by 256 a flow (0x2800: 40, 296,
# 552, ...): a sequential NAT of stride 256 over 200 ports. Other traffic
# keeps the plain masquerade. Linux's own NAT has no sequential allocation
# (SNAT picks a random offset when it cannot keep the port), hence the rule.
natlab_sequential() {
	ip netns exec "$(natlab_ns "$1-r")" nft -f - <<-NFT || natlab_die "the counter rule on $1-r"
		delete table ip nat
		table ip nat {
			chain post { type nat hook postrouting priority srcnat; policy accept;
				oifname "wan" meta l4proto udp masquerade to :numgen inc mod 200 offset $2
				oifname "wan" masquerade
			}
		}
	NFT
}

# natlab_site NAME TYPE: router NAME-r emulating TYPE, host NAME behind it.
natlab_site() {
	_nl_name=$1
	_nl_type=$2
	NL_SITES=$((NL_SITES + 1))
	_nl_i=$NL_SITES
	[ "$_nl_i" -le 15 ] || natlab_die "at most 15 sites"
	_nl_router="$_nl_name-r"
	natlab_addns "$_nl_router"
	natlab_addns "$_nl_name"
	natlab_link wan "s$_nl_i" "$_nl_router" wan
	natlab_link "$_nl_router" lan "$_nl_name" lan
	_nl_wan_ip="198.51.100.$((8 * _nl_i + 1))"
	_nl_router_ip="198.51.100.$((8 * _nl_i + 2))"
	ip -n "$(natlab_ns wan)" addr add "$_nl_wan_ip/29" dev "s$_nl_i"
	ip -n "$(natlab_ns "$_nl_router")" addr add "$_nl_router_ip/29" dev wan
	ip -n "$(natlab_ns "$_nl_router")" route add default via "$_nl_wan_ip"
	if [ "$_nl_type" = none ]; then
		_nl_lan_gw="192.0.2.$((16 * _nl_i + 1))"
		_nl_host_ip="192.0.2.$((16 * _nl_i + 2))"
		_nl_prefix=28
		ip -n "$(natlab_ns wan)" route add "192.0.2.$((16 * _nl_i))/28" via "$_nl_router_ip"
	else
		_nl_lan_gw="10.$_nl_i.0.1"
		_nl_host_ip="10.$_nl_i.0.2"
		_nl_prefix=24
	fi
	ip -n "$(natlab_ns "$_nl_router")" addr add "$_nl_lan_gw/$_nl_prefix" dev lan
	ip -n "$(natlab_ns "$_nl_name")" addr add "$_nl_host_ip/$_nl_prefix" dev lan
	ip -n "$(natlab_ns "$_nl_name")" route add default via "$_nl_lan_gw"
	_nl_rules=$(natlab_nat_rules "$_nl_type")
	if [ -n "$_nl_rules" ]; then
		echo "$_nl_rules" | ip netns exec "$(natlab_ns "$_nl_router")" nft -f - || natlab_die "nftables rules for $_nl_type"
	fi
	eval "NL_HOST_IP_$_nl_name=$_nl_host_ip"
	eval "NL_SITE_I_$_nl_name=$_nl_i"
	if [ "$_nl_type" = none ]; then
		eval "NL_ROUTER_IP_$_nl_name=$_nl_host_ip"
	else
		eval "NL_ROUTER_IP_$_nl_name=$_nl_router_ip"
	fi
}

# natlab_upnp SITE PROTOCOLS STUN [LIFETIME]: Debian's miniupnpd (nftables
# backend) on router SITE-r, serving the site's LAN. PROTOCOLS is a comma-
# separated subset of upnp,natpmp,pcp. miniupnpd 2.3.1 has one switch for
# NAT-PMP and PCP (they share UDP port 5351), so asking for one of them alone
# adds an input rule that drops the other's requests by their version byte
# (0: NAT-PMP, 2: PCP). STUN is an RFC 5780 server (host:port) on the lab's
# public side: miniupnpd refuses to map when its external address is a
# reserved one, as the lab's documentation ranges are, unless STUN shows the
# address is reachable from outside unfiltered (ext_perform_stun). LIFETIME
# caps granted lifetimes (max_lifetime; default 3600 s). miniupnpd's rules go
# into a table of their own (inet miniupnpd: forward filter, prerouting DNAT,
# postrouting) beside the lab's "ip nat". Any NAT type: on the cone types,
# whose raw hook drops unmapped or unknown-peer inbound UDP, the ports the
# router's own sockets send from (miniupnpd's STUN check) are let in, as a
# home router's own sockets are not behind its NAT; the hosts' traffic
# keeps the type's filtering, so on a restricted_cone router a mapped port
# still answers only addresses the host has sent to (the lab's filter runs
# in raw, before miniupnpd's DNAT). Returns 1 (with a SKIP line) when
# miniupnpd is not installed. The log is $NL_TMP/miniupnpd-SITE.log.
natlab_upnp() {
	_nl_site=$1
	_nl_protos=$2
	_nl_stun=$3
	_nl_life=${4:-3600}
	if ! command -v miniupnpd >/dev/null 2>&1; then
		echo "SKIP: miniupnpd not found (Debian package miniupnpd-nftables)"
		return 1
	fi
	[ -n "$NL_TMP" ] || NL_TMP=$(mktemp -d "/tmp/natlab$$.XXXXXX")
	_nl_r="$_nl_site-r"
	_nl_upnp=no
	_nl_pmp=no
	_nl_drop=""
	_nl_want_pcp=no
	_nl_want_natpmp=no
	case ",$_nl_protos," in *,upnp,*) _nl_upnp=yes ;; esac
	case ",$_nl_protos," in *,pcp,*) _nl_want_pcp=yes ;; esac
	case ",$_nl_protos," in *,natpmp,*) _nl_want_natpmp=yes ;; esac
	case $_nl_want_pcp$_nl_want_natpmp in
	yesyes) _nl_pmp=yes ;;
	yesno) _nl_pmp=yes _nl_drop='udp dport 5351 @th,64,8 0 drop' ;;
	noyes) _nl_pmp=yes _nl_drop='udp dport 5351 @th,64,8 2 drop' ;;
	esac
	# The router's own traffic (miniupnpd's STUN check) keeps its ports, as
	# a home router's does: without this a symmetric site's "masquerade
	# fully-random" would randomise them and miniupnpd would refuse to map.
	_nl_wan_addr=$(natlab_router_ip "$_nl_site")
	ip netns exec "$(natlab_ns "$_nl_r")" nft -f - <<-EOF || natlab_die "miniupnpd tables on $_nl_r"
	table inet miniupnpd {
		chain forward { type filter hook forward priority 0; policy accept;
			jump miniupnpd
		}
		chain miniupnpd { }
		chain prerouting { type nat hook prerouting priority dstnat; policy accept;
			jump prerouting_miniupnpd
		}
		chain postrouting { type nat hook postrouting priority srcnat - 1; policy accept;
			oifname "wan" ip saddr $_nl_wan_addr snat ip to $_nl_wan_addr
			jump postrouting_miniupnpd
		}
		chain prerouting_miniupnpd { }
		chain postrouting_miniupnpd { }
		chain only { type filter hook input priority 0; policy accept;
			$_nl_drop
		}
	}
	EOF
	if ip netns exec "$(natlab_ns "$_nl_r")" nft list chain ip nat raw_in >/dev/null 2>&1; then
		ip netns exec "$(natlab_ns "$_nl_r")" nft -f - <<-'EOF' || natlab_die "own-socket exception on $_nl_r"
		add set ip nat own { type inet_service; flags dynamic; }
		add chain ip nat own_out { type filter hook output priority raw; policy accept; }
		add rule ip nat own_out oifname "wan" meta l4proto udp update @own { udp sport }
		insert rule ip nat raw_in iifname "wan" meta l4proto udp udp dport @own accept
		EOF
	fi
	_nl_lan_net=$(ip -n "$(natlab_ns "$_nl_r")" -4 -o addr show dev lan | awk '{print $4}')
	_nl_conf="$NL_TMP/miniupnpd-$_nl_site.conf"
	cat >"$_nl_conf" <<-EOF
	ext_ifname=wan
	listening_ip=lan
	ext_perform_stun=yes
	ext_stun_host=${_nl_stun%:*}
	ext_stun_port=${_nl_stun##*:}
	enable_upnp=$_nl_upnp
	enable_natpmp=$_nl_pmp
	secure_mode=yes
	system_uptime=no
	min_lifetime=2
	max_lifetime=$_nl_life
	lease_file=$NL_TMP/miniupnpd-$_nl_site.leases
	upnp_table_name=miniupnpd
	upnp_nat_table_name=miniupnpd
	upnp_forward_chain=miniupnpd
	upnp_nat_chain=prerouting_miniupnpd
	upnp_nat_postrouting_chain=postrouting_miniupnpd
	allow 1024-65535 $_nl_lan_net 1024-65535
	deny 0-65535 0.0.0.0/0 0-65535
	EOF
	ip netns exec "$(natlab_ns "$_nl_r")" miniupnpd -f "$_nl_conf" -d -P "$NL_TMP/miniupnpd-$_nl_site.pid" \
		>"$NL_TMP/miniupnpd-$_nl_site.log" 2>&1 &
	# Ready once it listens on what it was asked to serve.
	_nl_i=0
	while [ "$_nl_i" -lt 100 ]; do
		if grep -q "Port forwarding is now enabled" "$NL_TMP/miniupnpd-$_nl_site.log" 2>/dev/null &&
			{ [ "$_nl_pmp" = no ] || grep -q "Listening for NAT-PMP/PCP" "$NL_TMP/miniupnpd-$_nl_site.log"; } &&
			{ [ "$_nl_upnp" = no ] || grep -q "HTTP listening on port" "$NL_TMP/miniupnpd-$_nl_site.log"; }; then
			return 0
		fi
		sleep 0.1
		_nl_i=$((_nl_i + 1))
	done
	cat "$NL_TMP/miniupnpd-$_nl_site.log" >&2
	natlab_die "miniupnpd on $_nl_r did not start"
}

# --- IPv6 ---------------------------------------------------------------------

# natlab_v6addr NODE IFACE ADDR/LEN: an address usable at once (no DAD wait).
natlab_v6addr() {
	ip -n "$(natlab_ns "$1")" -6 addr add "$3" dev "$2" nodad || natlab_die "cannot add $3 to $1/$2"
}

# natlab_ipv6 NAME...: IPv6 on the wan router and on each named node that
# natlab_public or natlab_site made (a site's router comes with its host).
natlab_ipv6() {
	ip netns exec "$(natlab_ns wan)" sysctl -qw net.ipv6.conf.all.forwarding=1
	for _nl_n in "$@"; do
		_nl_site_i=$(eval "echo \${NL_SITE_I_$_nl_n:-}")
		if [ -z "$_nl_site_i" ]; then
			# A public host: its wan side is p-NAME on the wan router.
			natlab_v6addr wan "p-$_nl_n" 2001:db8:113::1/64
			natlab_v6addr "$_nl_n" wan 2001:db8:113::10/64
			if [ "$(ip -n "$(natlab_ns "$_nl_n")" -4 -o addr show dev wan | wc -l)" -gt 1 ]; then
				natlab_v6addr "$_nl_n" wan 2001:db8:113::11/64
			fi
			ip -n "$(natlab_ns "$_nl_n")" -6 route add default via 2001:db8:113::1
			eval "NL_HOST_IP6_$_nl_n=2001:db8:113::10"
			continue
		fi
		_nl_r="$_nl_n-r"
		ip netns exec "$(natlab_ns "$_nl_r")" sysctl -qw net.ipv6.conf.all.forwarding=1
		natlab_v6addr wan "s$_nl_site_i" "2001:db8:100:$_nl_site_i::1/64"
		natlab_v6addr "$_nl_r" wan "2001:db8:100:$_nl_site_i::2/64"
		ip -n "$(natlab_ns "$_nl_r")" -6 route add default via "2001:db8:100:$_nl_site_i::1"
		natlab_v6addr "$_nl_r" lan "2001:db8:$_nl_site_i::1/64"
		natlab_v6addr "$_nl_n" lan "2001:db8:$_nl_site_i::2/64"
		ip -n "$(natlab_ns "$_nl_n")" -6 route add default via "2001:db8:$_nl_site_i::1"
		ip -n "$(natlab_ns wan)" -6 route add "2001:db8:$_nl_site_i::/64" via "2001:db8:100:$_nl_site_i::2"
		eval "NL_HOST_IP6_$_nl_n=2001:db8:$_nl_site_i::2"
	done
	# The global addresses skip DAD (nodad), but each link's fe80:: address
	# is still tentative for about a second, and neighbour discovery, so
	# every routed packet, waits for it: wait until no address is tentative.
	for _nl_n in wan "$@"; do
		_nl_ns="$(natlab_ns "$_nl_n")"
		natlab_v6_settle "$_nl_ns"
		[ -n "$(eval "echo \${NL_SITE_I_$_nl_n:-}")" ] && natlab_v6_settle "$(natlab_ns "$_nl_n-r")"
	done
	return 0
}

# natlab_v6_settle NETNS: waits (up to 5 s) until NETNS has no tentative
# IPv6 address.
natlab_v6_settle() {
	_nl_i=0
	while [ -n "$(ip -n "$1" -6 addr show tentative 2>/dev/null)" ]; do
		[ "$_nl_i" -ge 100 ] && natlab_die "IPv6 addresses in $1 still tentative after 5 s"
		sleep 0.05
		_nl_i=$((_nl_i + 1))
	done
}

natlab_host_ip6() {
	eval "echo \$NL_HOST_IP6_$1"
}

# natlab_ipv6_firewall SITE: router SITE-r forwards IPv6 from the wan only
# when it answers what the LAN sent (conntrack), as RFC 6092 asks of home
# routers: no NAT, address-and-port-dependent filtering.
natlab_ipv6_firewall() {
	ip netns exec "$(natlab_ns "$1-r")" nft -f - <<-'EOF' || natlab_die "IPv6 firewall on $1-r"
	table ip6 fw {
		chain forward { type filter hook forward priority 0; policy accept;
			iifname "wan" ct state established,related accept
			iifname "wan" drop
		}
	}
	EOF
}
