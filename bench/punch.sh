#!/bin/sh
# bench/punch.sh: the measuring half of `atmosphere-bench punch` (bench/
# bench_punch.c runs it, reads its records and makes the JSON and the table).
# It builds the NAT lab of natlab/lab.sh and drives real nodes with the
# helpers of natlab/nodes.sh.
#
#   punch.sh --atmosphere BIN --out FILE --mode punch --pairs "ROB:MATT ..."
#            --rounds N --budget S --connect-wait S --direct-wait S
#            [--portmap 0|1] [--ipv6 0|1]
#   punch.sh --atmosphere BIN --out FILE --mode node --peers N --idle S
#
# punch mode, per pair and round (fresh UDP ports each round, so no stale
# conntrack entry is reused): Rob (site ROB1) runs init, serve and join; t0
# is the moment Matt (site MATT2) starts `atmosphere join CODE`.
#   first packet  when Matt's node got the first authenticated packet from
#                 Rob (the answer to its handshake: a round trip over any
#                 path), its `peers --json` `first_session_at_ms`.
#   direct        when the later of the two sides opened its direct (or LAN)
#                 path to the other, their `direct_since_ms`.
# Both are wall-clock times the nodes record to the millisecond (docs/NODE.md),
# read once the polls below have seen them happen: a first `atmosphere ping
# rob` that succeeds on Matt's node, then both `peers --json` listing the
# other with path "direct" (or "lan"), each polled every 50 ms, for up to
# --direct-wait seconds after the first packet. A node that gives no such
# field (an older build) falls back to the end of the successful check, an
# upper bound by one check (about 0.05-0.2 s: an `ip netns exec` of the CLI).
# Record per round (tab-separated):
#   round PAIR ROUND ok|fail|skipped FIRST_MS DIRECT_MS PATH FAMILY ROBMAP
#         MATTMAP VIA NOTE
# where FIRST_MS/DIRECT_MS are "-" when not reached and PATH is the path
# both sides list at the end ("direct", "relay", "none", or "A/B"); FAMILY
# the path's family both list ("ipv4", "ipv6", "-" off a direct path, or
# "A/B"); ROBMAP/MATTMAP the port mapping each node holds at the end
# (self.port_mapping: "pcp", "natpmp", "upnp" or "-"); VIA "yes" when a
# side's direct path goes to the other's mapped endpoint (one STUN did
# not give: path_info), else "no".
#
# Variants of the lab (issue 12's targets), either or both:
#   --portmap 1  every NAT router (all types but "none") runs Debian's
#                miniupnpd with UPnP IGD, NAT-PMP and PCP (natlab_upnp),
#                the nodes ask (ATMOSPHERE_PORT_MAPPING=on), and Rob's code
#                is taken once his node holds a mapping (ND_READY, 10 s).
#   --ipv6 1     every host gets global IPv6 beside its IPv4 NAT, every
#                site router a home router's IPv6 firewall (nd_lab_ipv6),
#                Rob's code is taken once he knows his IPv6 endpoint, and
#                after the direct path the round waits up to 5 s for both
#                to list it on IPv6 (the node's preference).
#
# node mode: a hub node (full cone) and N peers, each joined with its own
# code from its own full-cone site. Counters in the hub's namespace count
# every UDP and TCP packet on its one interface (IP bytes: headers included,
# link layer not). Records:
#   mem ROLE PEERS VMRSS_KIB VMHWM_KIB        ROLE hub or joiner
#   wire PATH PEERS MS UDP_IN_B UDP_IN_P UDP_OUT_B UDP_OUT_P TCP_IN_B TCP_IN_P
#        TCP_OUT_B TCP_OUT_P SELF_IN SELF_OUT
# (SELF_*: the daemon's own bytes_in/bytes_out of those peers over the same
# window, e2e packet bytes without IP/UDP headers.) Each window starts
# SETTLE_S after the last path change, past the 10 s punch window.
# Phases: 0 peers; 1 peer on direct (idle window); the same peer forced to
# the relay (the wan router drops UDP between the two sites; idle window);
# then N peers on direct (idle window).
#
# Both modes write "fail STAGE REASON" on a failure and "done" at the end.
# Needs root. Everything runs in namespaces named after this shell's PID and
# is removed on exit, INT and TERM.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../natlab/lab.sh"
. "$here/../natlab/nodes.sh"

bin="" out="" mode=punch pairs="" rounds=3 budget=600 connect_wait=30 direct_wait=15 peers=8 idle=30
portmap=0 ipv6=0
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || { echo "punch.sh: $1 needs a value" >&2; exit 2; }
	case $1 in
	--atmosphere) bin=$2 ;;
	--out) out=$2 ;;
	--mode) mode=$2 ;;
	--pairs) pairs=$2 ;;
	--rounds) rounds=$2 ;;
	--budget) budget=$2 ;;
	--connect-wait) connect_wait=$2 ;;
	--direct-wait) direct_wait=$2 ;;
	--peers) peers=$2 ;;
	--idle) idle=$2 ;;
	--portmap) portmap=$2 ;;
	--ipv6) ipv6=$2 ;;
	*) echo "punch.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift 2
done
[ -n "$bin" ] && [ -n "$out" ] || { echo "punch.sh: --atmosphere and --out are required" >&2; exit 2; }
: >"$out" || exit 1
# Progress goes to stderr; the records to $out.
exec 3>>"$out" 1>&2

natlab_require || exit 2
nd_setup "$bin"
natlab_init
echo "punch.sh: NAT lab in namespaces ${NL_PREFIX}*" >&2
finish() {
	trap '' INT TERM # a second signal must not cut the cleanup short
	natlab_cleanup
	nd_cleanup
}
trap finish EXIT
trap 'exit 1' INT TERM

# The punch window (10 s after the session, node/daemon.c) plus a tick:
# windows start after it, so they hold only steady-state traffic.
SETTLE_S=11
POLL=0.05
started=$(nd_ms)
# (sh has no locals: every helper's variables carry its own prefix.)
rec() { # rec FIELD...: one tab-separated record
	_rec_l=$1
	shift
	for _rec_f in "$@"; do _rec_l="$_rec_l	$_rec_f"; done
	echo "$_rec_l" >&3
}
over_budget() {
	[ $(($(nd_ms) - started)) -gt $((budget * 1000)) ]
}
# poll SECONDS CMD...: CMD until it succeeds, every $POLL s; 1 on timeout.
poll() {
	_poll_end=$(($(nd_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(nd_ms)" -lt "$_poll_end" ] || return 1
		sleep "$POLL"
	done
}
is_direct() { # is_direct HOST HOME PEER: on a direct (or LAN) path
	nd_path_is "$1" "$2" "$3" direct || nd_path_is "$1" "$2" "$3" lan
}

# --- punch ----------------------------------------------------------------

punch_round() { # punch_round PAIR ROUND PORTBASE
	_x=${1%%:*} _y=${1#*:}
	rh="${_x}1" mh="${_y}2"
	rob="$nd_tmp/$_x-$_y-$2-rob" matt="$nd_tmp/$_x-$_y-$2-matt"
	_first=- _direct=- _note="" _status=ok
	nd_rob_pid="" nd_matt_pid=""
	echo "--- $1 round $2: rob on $rh, matt on $mh" >&2
	if ! nd_pair_up "$rh" "$rob" "$mh" "$matt" "$3" $(($3 + 1)) >"$rob.setup" 2>&1; then
		_status=fail _note="setup: $(tail -n 1 "$rob.setup")"
	elif ! poll "$connect_wait" nd_run "$mh" "$matt" ping rob >/dev/null 2>&1; then
		_status=fail _note="no ping answered within ${connect_wait} s"
	else
		_first=$(($(nd_ms) - nd_join_ms))
		_at=$(nd_field "$mh" "$matt" rob first_session_at_ms)
		[ -n "$_at" ] && _first=$((_at - nd_join_ms))
		if poll "$direct_wait" both_direct; then
			_direct=$(($(nd_ms) - nd_join_ms))
			_at=$(nd_field "$rh" "$rob" matt direct_since_ms)
			_at2=$(nd_field "$mh" "$matt" rob direct_since_ms)
			if [ -n "$_at" ] && [ -n "$_at2" ]; then
				[ "$_at2" -gt "$_at" ] && _at=$_at2
				_direct=$((_at - nd_join_ms))
			fi
		else
			_note="no direct path within ${direct_wait} s of the first packet"
		fi
	fi
	if [ "$_direct" != - ] && [ "$ipv6" = 1 ]; then
		poll 5 both_family ipv6 || true
	fi
	_rp=$(nd_peer "$rh" "$rob" matt)
	_mp=$(nd_peer "$mh" "$matt" rob)
	_path=${_rp#* }
	[ "${_rp#* }" = "${_mp#* }" ] || _path="${_rp#* }/${_mp#* }"
	# "family remote mapproto mapped_endpoint" of each side: $4-$7 Rob's,
	# $8-$11 Matt's.
	# shellcheck disable=SC2046  # four words each
	set -- "$1" "$2" "$3" $(path_info "$rh" "$rob" matt) $(path_info "$mh" "$matt" rob)
	_fam=$4
	[ "$4" = "$8" ] || _fam="$4/$8"
	_via=no
	{ [ "$7" != - ] && [ "$7" = "$9" ]; } || { [ "${11}" != - ] && [ "${11}" = "$5" ]; } && _via=yes
	if [ "$_status" = fail ]; then
		echo "FAIL $1 round $2: $_note" >&2
		for _f in "$rob.log" "$matt.out"; do
			[ -f "$_f" ] && tail -n 8 "$_f" | sed "s|^|  ${_f##*/}: |" >&2
		done
	fi
	rec round "$1" "$2" "$_status" "$_first" "$_direct" "$_path" "$_fam" "$6" "${10}" "$_via" "${_note:--}"
	nd_kill "$nd_rob_pid" "$nd_matt_pid"
}
both_direct() {
	is_direct "$rh" "$rob" matt && is_direct "$mh" "$matt" rob
}
# path_info HOST HOME PEER: "FAMILY REMOTE MAP MAPPED" from HOME's `peers
# --json`: PEER's path family and remote endpoint while on a direct (or
# LAN) path, this node's port mapping protocol and mapped endpoint; "-"
# for each that is not there. MAPPED is "-" too when it is the node's
# STUN-mapped endpoint (a port-preserving NAT: the router maps the port it
# would have used anyway), so VIA says the mapping gave the path an
# endpoint STUN did not.
path_info() {
	nd_run "$1" "$2" peers --json 2>/dev/null | jq -r --arg p "$3" '
		(.peers[] | select(.name == $p or .node_id == $p)) as $q |
		[(if $q.connected and ($q.path == "direct" or $q.path == "lan") then $q.family // "-" else "-" end),
		 (if $q.connected and ($q.path == "direct" or $q.path == "lan") and $q.remote != "" then $q.remote else "-" end),
		 (.self.port_mapping // "-"),
		 (if .self.mapped_endpoint == null or .self.mapped_endpoint == .self.public_endpoint then "-"
		  else .self.mapped_endpoint end)] | join(" ")' 2>/dev/null | grep . ||
		echo "- - - -"
}
family_is() { # family_is HOST HOME PEER FAMILY: direct, on FAMILY
	[ "$(path_info "$1" "$2" "$3" | cut -d' ' -f1)" = "$4" ]
}
both_family() {
	family_is "$rh" "$rob" matt "$1" && family_is "$mh" "$matt" rob "$1"
}
# Rob is ready for his code to be taken (ND_READY): he holds a port mapping
# (--portmap; a site without NAT has no gateway to ask) and knows his IPv6
# endpoint (--ipv6).
rob_ready() { # rob_ready HOST HOME
	nd_run "$1" "$2" peers --json 2>/dev/null | jq -e --argjson m "$rob_wants_map" --argjson v "$ipv6" '
		(($m == 0) or (.self.port_mapping != null)) and
		(($v == 0) or (.self.public_endpoint_ipv6 != null))' >/dev/null 2>&1
}

run_punch() {
	nd_lab_public
	_types=""
	for _p in $pairs; do
		for _t in "${_p%%:*}1" "${_p#*:}2"; do
			case " $_types " in *" $_t "*) ;; *) _types="$_types $_t" ;; esac
		done
	done
	for _s in $_types; do
		natlab_site "$_s" "${_s%?}"
	done
	if [ "$portmap" = 1 ]; then
		export ATMOSPHERE_PORT_MAPPING=on
		for _s in $_types; do
			[ "${_s%?}" = none ] && continue
			echo "--- miniupnpd (upnp, natpmp, pcp) on router $_s-r" >&2
			natlab_upnp "$_s" upnp,natpmp,pcp 203.0.113.10:3478 ||
				{ rec fail portmap "miniupnpd not found (Debian package miniupnpd-nftables)"; return 1; }
		done
	fi
	if [ "$ipv6" = 1 ]; then
		# shellcheck disable=SC2086  # one site per word
		nd_lab_ipv6 $_types
		ND_INIT_ARGS=$nd_stun6_arg
	fi
	[ "$portmap" = 1 ] || [ "$ipv6" = 1 ] && ND_READY=rob_ready
	_k=0
	for _r in $(seq 1 "$rounds"); do
		for _p in $pairs; do
			_k=$((_k + 1))
			if over_budget; then
				rec round "$_p" "$_r" skipped - - - "over the ${budget} s budget"
				continue
			fi
			rob_wants_map=0
			[ "$portmap" = 1 ] && [ "${_p%%:*}" != none ] && rob_wants_map=1
			# Fresh ports every round: 20000 + 2k, Rob's and Matt's.
			punch_round "$_p" "$_r" $((20000 + 2 * _k))
		done
	done
}

# --- node -----------------------------------------------------------------

# The hub's counters: every UDP and TCP packet through its interface "lan".
counters_setup() {
	natlab_exec "$1" nft -f - <<-'EOF'
	table inet atmos_bench {
		counter udp_in { }
		counter udp_out { }
		counter tcp_in { }
		counter tcp_out { }
		chain in { type filter hook input priority -300; policy accept;
			iifname "lan" meta l4proto udp counter name "udp_in"
			iifname "lan" meta l4proto tcp counter name "tcp_in"
		}
		chain out { type filter hook output priority -300; policy accept;
			oifname "lan" meta l4proto udp counter name "udp_out"
			oifname "lan" meta l4proto tcp counter name "tcp_out"
		}
	}
	EOF
}
# counters HOST: "udp_in_bytes udp_in_packets udp_out_b udp_out_p tcp_in_b ..."
counters() {
	for _c in udp_in udp_out tcp_in tcp_out; do
		natlab_exec "$1" nft list counter inet atmos_bench "$_c" |
			sed -n 's/.*packets \([0-9]*\) bytes \([0-9]*\).*/\2 \1/p'
	done | tr '\n' ' '
}
# self_bytes HOST HOME: the sums of bytes_in and bytes_out over every peer.
self_bytes() {
	nd_run "$1" "$2" peers --json 2>/dev/null |
		jq -r '[([.peers[].bytes_in] | add // 0), ([.peers[].bytes_out] | add // 0)] | "\(.[0]) \(.[1])"'
}
mem() { # mem ROLE PEERS PID
	_st=/proc/$3/status
	_rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "$_st" 2>/dev/null)
	_hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "$_st" 2>/dev/null)
	# RssAnon: the node's own pages (heap, stacks, rings), without the
	# shared libraries' file pages that VmRSS also counts.
	_anon=$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "$_st" 2>/dev/null)
	[ -n "$_rss" ] && [ -n "$_hwm" ] && [ -n "$_anon" ] || { rec fail mem "cannot read $_st"; return 1; }
	rec mem "$1" "$2" "$_rss" "$_hwm" "$_anon"
}
# window PATH PEERS: counts IDLE seconds of the hub's traffic.
window() {
	echo "--- idle window: $2 peer(s) on $1, ${idle} s" >&2
	_cap=""
	if [ -n "${PUNCH_PCAP:-}" ]; then
		# A diagnostic: every packet of the window on the hub's interface.
		ip netns exec "$(natlab_ns hub)" tcpdump -i lan -s 128 -w "$PUNCH_PCAP/window-$1-$2.pcap" 2>/dev/null &
		_cap=$!
		sleep 0.5
	fi
	_c0="$(counters hub) $(self_bytes hub "$hub")"
	_t0=$(nd_ms)
	sleep "$idle"
	_c1="$(counters hub) $(self_bytes hub "$hub")"
	_t1=$(nd_ms)
	if [ -n "$_cap" ]; then
		kill "$_cap" 2>/dev/null
		wait "$_cap" 2>/dev/null
	fi
	# Ten numbers before, ten after: their differences.
	_d=$(echo "$_c0 $_c1" | awk 'NF == 20 { for (i = 1; i <= 10; i++) printf "%s%d", (i > 1 ? " " : ""), $(i + 10) - $i }')
	[ -n "$_d" ] || { rec fail window "unreadable counters: $_c0 / $_c1"; return 1; }
	# shellcheck disable=SC2086  # one field per number
	rec wire "$1" "$2" $((_t1 - _t0)) $_d
}
hub_sees() { # hub_sees PEERNAME PATH
	nd_path_is hub "$hub" "$1" "$2" || { [ "$2" = direct ] && nd_path_is hub "$hub" "$1" lan; }
}
all_direct() {
	for _j in $(seq 1 "$1"); do
		hub_sees "p$_j" direct || return 1
	done
}
join_peer() { # join_peer K: a code from the hub, `join CODE` on site pK
	nd_run hub "$hub" join >"$hub.code$1" 2>&1
	_code=$(sed -n 's/^Full code: //p' "$hub.code$1")
	[ -n "$_code" ] || { rec fail join "no join code: $(cat "$hub.code$1")"; return 1; }
	nd_start "p$1" "$nd_tmp/p$1" "$nd_tmp/p$1.out" join "$_code" --port 7000 --name "p$1"
	eval "peer_pid_$1=\$nd_pid"
}

run_node() {
	nd_lab_public
	natlab_site hub full_cone
	for _j in $(seq 1 "$peers"); do
		natlab_site "p$_j" full_cone
	done
	hub=$nd_tmp/hub
	nd_run hub "$hub" init lab --relay "$nd_relay_url" $nd_stun_args --port 7000 --name hub >"$hub.init" 2>&1 ||
		{ rec fail init "$(cat "$hub.init")"; return 1; }
	nd_start hub "$hub" "$hub.log" serve
	hub_pid=$nd_pid
	nd_wait 15 "the hub answers" nd_up hub "$hub" || { rec fail serve "$(tail -n 3 "$hub.log")"; return 1; }
	counters_setup hub || { rec fail counters "nft rejected the counters"; return 1; }
	sleep 2
	mem hub 0 "$hub_pid" || return 1

	join_peer 1 || return 1
	poll 30 hub_sees p1 direct || { rec fail join "p1 not on a direct path within 30 s"; return 1; }
	sleep "$SETTLE_S"
	window direct 1 || return 1
	mem hub 1 "$hub_pid" || return 1
	mem joiner 1 "$peer_pid_1" || return 1

	echo "--- p1 forced to the relay" >&2
	nd_block_direct hub p1
	poll 20 hub_sees p1 relay || { rec fail relay "p1 not on the relay within 20 s"; return 1; }
	sleep "$SETTLE_S"
	window relay 1 || return 1
	nd_unblock_direct

	if [ "$peers" -gt 1 ]; then
		for _j in $(seq 2 "$peers"); do
			join_peer "$_j" || return 1
		done
		poll 60 all_direct "$peers" || { rec fail join "not every peer on a direct path within 60 s"; return 1; }
		sleep "$SETTLE_S"
		window direct "$peers" || return 1
		mem hub "$peers" "$hub_pid" || return 1
	fi
	return 0
}

case $mode in
punch) run_punch || exit 1 ;;
node) run_node || { tail -n 20 "$hub.log" >&2; exit 1; } ;;
*) echo "punch.sh: unknown mode '$mode'" >&2; exit 2 ;;
esac
rec done
exit 0
