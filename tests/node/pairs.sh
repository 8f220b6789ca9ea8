#!/bin/sh
# tests/node/pairs.sh BINARY: the seed's Rob/Matt scenario across every pair
# of NAT types (issue 5, "Tests").
#
# The lab (natlab/lab.sh): a public host running our relay and our
# STUN server (RFC 5780, two addresses), and two sites of each NAT type
# (none, full_cone, restricted_cone, port_restricted, symmetric). For each
# pair X:Y, Rob (site X1) runs init, serve and join and Matt (site Y2) runs
# `join CODE`; the 10 mixed pairs run both ways round (25 runs). Both
# `peers --json` must list the other as connected, a message must go each
# way with send/recv, and the path must be direct, except for symmetric
# with symmetric, which may use the relay (14 of the 15 unordered pairs
# direct). port_restricted with symmetric goes direct through hard-NAT
# probing (node/birthday.h), which starts 5 s after the HELLO: within the
# 20 s the direct path is given. Prints a table: pair, path, what the join said, seconds from
# `join CODE` to both connected and to the direct path on both sides.
#
# ND_PAIRS="port_restricted:port_restricted symmetric:none" runs a subset
# (ROB_TYPE:MATT_TYPE); ND_ORDER=one runs each unordered pair once (Rob on
# the more restrictive NAT); ND_KEEP=1 keeps the logs. Each pair uses its own
# UDP ports (no stale conntrack entries between pairs). About a minute;
# bounded by ND_BUDGET (420 s). Needs root; exits 77 otherwise.
# Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: pairs.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

types="none full_cone restricted_cone port_restricted symmetric"
# Each mixed pair runs both ways round (Rob, who issues the code, behind
# either NAT): 25 runs, about a minute. ND_ORDER=one runs each unordered
# pair once, Rob behind the more restrictive NAT (the joiner must then get
# through the issuer's NAT): 15 runs.
all=""
set -- $types
while [ $# -gt 0 ]; do
	for y in "$@"; do
		all="$all $y:$1"
		[ "${ND_ORDER:-both}" != one ] && [ "$y" != "$1" ] && all="$all $1:$y"
	done
	shift
done
# A broken node can make every pair wait out its deadlines: past this many
# seconds the remaining pairs are not run (and the test fails).
budget=${ND_BUDGET:-420}
started=$(nd_ms)
want=${ND_PAIRS:-$all}

# --- the lab ---------------------------------------------------------------------
nd_lab_public
for t in $types; do
	natlab_site "${t}1" "$t"
	natlab_site "${t}2" "$t"
done

may_relay() {
	case $1 in
	symmetric:symmetric) return 0 ;;
	esac
	return 1
}

secs() { # secs FROM_MS TO_MS
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1000 }'
}

both_path() { # both_path PATH
	nd_path_is "$rh" "$rob" matt "$1" && nd_path_is "$mh" "$matt" rob "$1"
}

fail=0
table="$nd_tmp/table"
: >"$table"
k=0
for pair in $all; do
	k=$((k + 1))
	case " $want " in *" $pair "*) ;; *) continue ;; esac
	x=${pair%%:*}
	y=${pair#*:}
	if [ $(($(nd_ms) - started)) -gt $((budget * 1000)) ]; then
		fail=1
		printf '%-34s %-13s %-6s %8s %8s  %s\n' "$pair" - - - - "FAIL: not run (over the ${budget} s budget)" >>"$table"
		continue
	fi
	rh="${x}1"
	mh="${y}2"
	rob="$nd_tmp/p$k-rob"
	matt="$nd_tmp/p$k-matt"
	rport=$((20000 + 10 * k + 1))
	mport=$((20000 + 10 * k + 2))
	echo "--- $pair: rob on $rh ($(natlab_host_ip "$rh"):$rport), matt on $mh ($(natlab_host_ip "$mh"):$mport)"
	why=""
	tconn=- tdirect=- said=-
	nd_rob_pid="" nd_matt_pid=""
	if ! nd_pair_up "$rh" "$rob" "$mh" "$matt" "$rport" "$mport"; then
		why="setup failed"
	elif ! nd_wait 30 "$pair: both connected" nd_both_connected "$rh" "$rob" "$mh" "$matt"; then
		why="not connected within 30 s"
	else
		tconn=$(secs "$nd_join_ms" "$(nd_ms)")
		if ! may_relay "$pair"; then
			if nd_wait 20 "$pair: direct path on both sides" both_path direct; then
				tdirect=$(secs "$nd_join_ms" "$(nd_ms)")
			else
				why="path not direct within 20 s"
			fi
		fi
		nd_wait 10 "$pair: join finished" grep -q "✓ Joined mesh: lab" "$matt.out" ||
			why="${why:+$why; }no '✓ Joined mesh: lab' line"
		if grep -q "✓ P2P connection established!" "$matt.out"; then
			said=p2p
		elif grep -q "✓ Connected via relay: $nd_relay_url" "$matt.out"; then
			said=relay
		fi
		m1="rob to matt over $pair"
		m2="matt to rob over $pair"
		nd_run "$rh" "$rob" send matt "$m1" >>"$rob.send" 2>&1 || why="${why:+$why; }rob's send failed"
		nd_run "$mh" "$matt" send rob "$m2" >>"$matt.send" 2>&1 || why="${why:+$why; }matt's send failed"
		nd_recv_until "$mh" "$matt" "$matt.recv" "rob: $m1" 10 || why="${why:+$why; }matt did not receive"
		nd_recv_until "$rh" "$rob" "$rob.recv" "matt: $m2" 10 || why="${why:+$why; }rob did not receive"
	fi
	rp=$(nd_peer "$rh" "$rob" matt)
	mp=$(nd_peer "$mh" "$matt" rob)
	path="${rp#* }/${mp#* }"
	[ "${rp#* }" = "${mp#* }" ] && path=${rp#* }
	if [ -z "$why" ] && ! may_relay "$pair" && [ "$path" != direct ]; then
		why="path $path after the messages, want direct"
	fi
	if [ -n "$why" ]; then
		fail=1
		res="FAIL: $why"
		echo "FAIL $pair: $why"
		for f in "$rob.log" "$matt.out" "$rob.send" "$matt.send" "$rob.recv" "$matt.recv"; do
			[ -f "$f" ] || continue
			echo "  == ${f##*/}"
			tail -n 25 "$f" | sed 's/^/    /'
		done
		if command -v conntrack >/dev/null 2>&1; then
			for r in "$rh-r" "$mh-r"; do
				echo "  == conntrack of $r (UDP)"
				natlab_exec "$r" conntrack -L -p udp 2>/dev/null | sed 's/^/    /'
			done
		fi
	else
		res=ok
	fi
	printf '%-34s %-13s %-6s %8s %8s  %s\n' "$pair" "$path" "$said" "$tconn" "$tdirect" "$res" >>"$table"
	nd_kill "$nd_rob_pid" "$nd_matt_pid"
done

echo
printf '%-34s %-13s %-6s %8s %8s  %s\n' "pair (rob:matt)" "path" "join" "conn s" "direct s" "result"
cat "$table"
if [ "$fail" -ne 0 ]; then
	echo "pairs: FAILED"
	exit 1
fi
echo "pairs: all passed"
exit 0
