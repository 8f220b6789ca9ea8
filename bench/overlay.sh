#!/bin/sh
# bench/overlay.sh ATMOSPHERE_BINARY OUT_JSON: the IP overlay against
# wireguard-go and Nebula, in the NAT lab (`bench/run overlay` runs it).
#
# Two hosts with public addresses (NAT type "none": every tunnel goes direct
# and no NAT is measured) and the lab's public host with our relay and STUN
# server. Between the same two namespaces, in one run:
#   underlay     iperf3 and ping straight between the hosts' addresses
#   atmosphere   our overlay (serve --tun), direct path
#   atmos-relay  our overlay with direct UDP blocked: the relay path
#   wireguard-go a userspace WireGuard over TUN (Debian wireguard-go)
#   nebula       Nebula 1.6.1 (Debian nebula), static host map, no lighthouse
# Each row: TCP throughput with iperf3 (1 and 4 streams, BENCH_OVERLAY_SECS
# each, default 5), ping RTT p50/p99 over 200 pings 10 ms apart, and the
# tunnel daemons' CPU seconds per GB moved (utime+stime of both ends over
# the two iperf3 runs; iperf3's own CPU not counted). Rows of a tool that is
# not installed are skipped with a note. Prints a table; writes the JSON.
#
# BENCH_OVERLAY_ONLY=atmosphere measures the underlay and our direct row
# alone (for comparing switches such as ATMOSPHERE_TUN_GRO or
# ATMOSPHERE_UDP_GRO, quicker); BENCH_OVERLAY_ONLY=ours the underlay and our
# direct and relay rows. Our rows also say on stderr, per iperf3 run, how
# many packets the receiver took in and how many went in coalesced TUN
# writes (gro_seen below).
#
# Needs root. Bounded: every iperf3 and ping has its count or duration, and
# the lab (namespaces, processes) is removed on exit.
set -u
bin=${1:?usage: overlay.sh ATMOSPHERE_BINARY OUT_JSON}
out=${2:?usage: overlay.sh ATMOSPHERE_BINARY OUT_JSON}
secs=${BENCH_OVERLAY_SECS:-5}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../natlab/lab.sh"
. "$here/../natlab/nodes.sh"
command -v iperf3 >/dev/null || { echo "overlay: iperf3 is not installed (apt-get install iperf3)" >&2; exit 2; }
nd_begin "$bin" lab
rows=$nd_tmp/rows
: >"$rows"

nd_lab_public
natlab_site a none
natlab_site b none
A=$(natlab_host_ip a)
B=$(natlab_host_ip b)

# cpu_ticks PID...: utime + stime of the processes, in clock ticks.
cpu_ticks() {
	_t=0
	for _p in "$@"; do
		# Fields 14 and 15 of /proc/PID/stat, counted after the ")" that
		# ends the command name.
		_s=$(sed 's/.*) //' "/proc/$_p/stat" 2>/dev/null | awk '{print $12 + $13}')
		_t=$((_t + ${_s:-0}))
	done
	echo "$_t"
}

# listening PORT: a TCP listener on PORT in b.
listening() {
	natlab_exec b ss -Hltn "sport = :$1" | grep -q .
}

# gro_seen NAME STREAMS: on stderr, what the receiver's GRO did during the
# iperf3 run just ended (our rows only: gro_on): the packets it took in from
# the peer, the writes of more than one packet and the packets in them,
# since the last call; so each run's packets per TUN write can be told
# apart (docs/PERFORMANCE.md, "Overlay").
gro_on=
gro_last="0 0 0"
gro_seen() {
	[ -n "$gro_on" ] || return 0
	_g=$(nd_run b "$matt" peers --json | "$nd_py" -c 'import json,sys; o=json.load(sys.stdin)["self"].get("overlay") or {}
g=o.get("gro") or {}
print(o.get("packets_in", 0), g.get("writes", 0), g.get("packets", 0))' 2>/dev/null)
	set -- "$1" "$2" ${_g:-0 0 0} $gro_last
	[ "$_g" ] || return 0
	echo "overlay: $1 row, $2 stream(s), receiver: $(($3 - $6)) packets in, gro: $(($4 - $7)) writes of $(($5 - $8)) packets" >&2
	gro_last="$3 $4 $5"
}

# measure NAME DST_ADDR PID...: iperf3 1 and 4 streams from a to b's DST,
# then ping; appends a row "NAME mbps1 mbps4 p50 p99 cpu_s_per_gb".
measure() {
	_name=$1 _dst=$2
	shift 2
	nd_spawn b "$nd_tmp/iperf-$_name.srv" iperf3 -s -1 -B "$_dst" -p 5201
	nd_wait 5 "iperf3 server" listening 5201 || true
	gro_seen "$_name" 0 2>/dev/null # the baseline
	_t0=$(cpu_ticks "$@")
	natlab_exec a iperf3 -J -c "$_dst" -p 5201 -t "$secs" -P 1 >"$nd_tmp/iperf-$_name-1.json" 2>&1
	gro_seen "$_name" 1
	nd_spawn b "$nd_tmp/iperf-$_name.srv4" iperf3 -s -1 -B "$_dst" -p 5202
	nd_wait 5 "iperf3 server" listening 5202 || true
	natlab_exec a iperf3 -J -c "$_dst" -p 5202 -t "$secs" -P 4 >"$nd_tmp/iperf-$_name-4.json" 2>&1
	gro_seen "$_name" 4
	_t1=$(cpu_ticks "$@")
	natlab_exec a ping -c 200 -i 0.01 -W 1 -q "$_dst" >/dev/null 2>&1 # warm
	natlab_exec a ping -c 200 -i 0.01 -W 1 "$_dst" >"$nd_tmp/ping-$_name.txt" 2>&1
	"$nd_py" - "$_name" "$nd_tmp/iperf-$_name-1.json" "$nd_tmp/iperf-$_name-4.json" "$nd_tmp/ping-$_name.txt" \
		$((_t1 - _t0)) "$(getconf CLK_TCK)" "$#" >>"$rows" <<'PY'
import json, re, sys
name, j1, j4, pingf, ticks, hz, procs = sys.argv[1:8]
def mbps(path):
    try:
        d = json.load(open(path))
        e = d["end"]
        return e["sum_received"]["bits_per_second"] / 1e6, e["sum_received"]["bytes"]
    except Exception:
        return None, 0
m1, b1 = mbps(j1)
m4, b4 = mbps(j4)
rtts = sorted(float(x) for x in re.findall(r"time=([0-9.]+) ms", open(pingf).read()))
def pct(p):
    return rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else None
gb = (b1 + b4) / 1e9
cpu = int(ticks) / int(hz) / gb if gb and int(procs) else None
print(json.dumps({"name": name, "mbps_1": m1, "mbps_4": m4, "ping_p50_ms": pct(0.5), "ping_p99_ms": pct(0.99),
                  "pings": len(rtts), "cpu_s_per_gb": cpu}))
PY
}

# --- underlay ---
measure underlay "$B"

# --- our overlay, direct, then relay ---
rob=$nd_tmp/rob
matt=$nd_tmp/matt
ND_SERVE_ARGS=--tun ND_JOIN_ARGS=--tun nd_pair_up a "$rob" b "$matt" 7777 7777 || exit 1
nd_wait 25 "both connected" nd_both_connected a "$rob" b "$matt" || { echo "overlay: nodes did not connect" >&2; exit 1; }
direct() { nd_path_is a "$rob" matt direct && nd_path_is b "$matt" rob direct; }
nd_wait 15 "direct path" direct || echo "overlay: not direct: $(nd_peer a "$rob" matt)" >&2
m4=$(nd_run a "$rob" peers --json | "$nd_py" -c 'import json,sys; print(next(p["overlay_ipv4"] for p in json.load(sys.stdin)["peers"] if p["name"]=="matt"))')
natlab_exec a ping -c 3 -i 0.2 -W 2 "$m4" >/dev/null 2>&1
gro_on=1
measure atmosphere "$m4" "$nd_rob_pid" "$nd_matt_pid"
# What the sender's offloads did in that row (ATMOSPHERE_TUN_OFFLOAD and
# ATMOSPHERE_UDP_GSO switch them): on stderr, beside the table.
nd_run a "$rob" peers --json | "$nd_py" -c 'import json,sys; o=json.load(sys.stdin)["self"].get("overlay") or {}
print("overlay: atmosphere row, sender: offload %s, udp_gso %s" % (o.get("offload"), o.get("udp_gso")), file=sys.stderr)'
# And the receiver's GRO on its TUN and on its UDP socket
# (ATMOSPHERE_TUN_GRO and ATMOSPHERE_UDP_GRO switch them).
nd_run b "$matt" peers --json | "$nd_py" -c 'import json,sys; o=json.load(sys.stdin)["self"].get("overlay") or {}
print("overlay: atmosphere row, receiver: gro %s, udp_gro %s" % (o.get("gro"), o.get("udp_gro")), file=sys.stderr)'
# Datagrams the receiver's kernel dropped for a full socket buffer (its
# namespace's /proc/net/snmp, all of the row's runs).
natlab_exec b cat /proc/net/snmp | awk '/^Udp:/ {n++; if (n == 1) for (i = 1; i <= NF; i++) h[i] = $i; else for (i = 1; i <= NF; i++) if (h[i] == "RcvbufErrors") print "overlay: atmosphere row, receiver: UDP RcvbufErrors " $i}' >&2
only=${BENCH_OVERLAY_ONLY:-}
[ "$only" = atmosphere ] || {
nd_block_direct a b
relay() { nd_path_is a "$rob" matt relay && nd_path_is b "$matt" rob relay; }
nd_wait 20 "relay path" relay || echo "overlay: not on the relay: $(nd_peer a "$rob" matt)" >&2
measure atmos-relay "$m4" "$nd_rob_pid" "$nd_matt_pid" "$nd_relay_pid"
nd_unblock_direct
}
gro_on=
nd_kill "$nd_rob_pid" "$nd_matt_pid"

# --- wireguard-go ---
if [ "$only" = atmosphere ] || [ "$only" = ours ]; then
	:
elif command -v wireguard-go >/dev/null && command -v wg >/dev/null; then
	umask 077
	wg genkey >"$nd_tmp/wga.key"
	wg genkey >"$nd_tmp/wgb.key"
	wg pubkey <"$nd_tmp/wga.key" >"$nd_tmp/wga.pub"
	wg pubkey <"$nd_tmp/wgb.key" >"$nd_tmp/wgb.pub"
	# Distinct names: the UAPI sockets live in the one /var/run/wireguard.
	nd_spawn a "$nd_tmp/wga.log" env WG_PROCESS_FOREGROUND=1 wireguard-go wga
	wga_pid=$nd_pid
	nd_spawn b "$nd_tmp/wgb.log" env WG_PROCESS_FOREGROUND=1 wireguard-go wgb
	wgb_pid=$nd_pid
	nd_wait 5 "wireguard-go up" natlab_exec b ip link show wgb >/dev/null 2>&1
	natlab_exec a wg set wga private-key "$nd_tmp/wga.key" listen-port 51820 peer "$(cat "$nd_tmp/wgb.pub")" \
		allowed-ips 10.99.0.2/32 endpoint "$B:51820"
	natlab_exec b wg set wgb private-key "$nd_tmp/wgb.key" listen-port 51820 peer "$(cat "$nd_tmp/wga.pub")" \
		allowed-ips 10.99.0.1/32 endpoint "$A:51820"
	natlab_exec a ip addr add 10.99.0.1/24 dev wga
	natlab_exec b ip addr add 10.99.0.2/24 dev wgb
	natlab_exec a ip link set wga mtu 1420 up
	natlab_exec b ip link set wgb mtu 1420 up
	natlab_exec a ping -c 3 -i 0.2 -W 2 10.99.0.2 >/dev/null 2>&1
	measure wireguard-go 10.99.0.2 "$wga_pid" "$wgb_pid"
	nd_kill "$wga_pid" "$wgb_pid"
else
	echo '{"name": "wireguard-go", "skipped": "not installed (apt-get install wireguard-go wireguard-tools)"}' >>"$rows"
fi

# --- Nebula ---
if [ "$only" = atmosphere ] || [ "$only" = ours ]; then
	:
elif command -v nebula >/dev/null && command -v nebula-cert >/dev/null; then
	nb=$nd_tmp/nebula
	mkdir -p "$nb"
	(cd "$nb" && nebula-cert ca -name lab >/dev/null &&
		nebula-cert sign -name a -ip 10.98.0.1/24 >/dev/null &&
		nebula-cert sign -name b -ip 10.98.0.2/24 >/dev/null)
	for h in a b; do
		if [ $h = a ]; then peer_vpn=10.98.0.2 peer_ip=$B; else peer_vpn=10.98.0.1 peer_ip=$A; fi
		cat >"$nb/$h.yml" <<-EOF
		pki: {ca: $nb/ca.crt, cert: $nb/$h.crt, key: $nb/$h.key}
		static_host_map: {"$peer_vpn": ["$peer_ip:4242"]}
		lighthouse: {am_lighthouse: false, interval: 60, hosts: []}
		listen: {host: 0.0.0.0, port: 4242}
		punchy: {punch: false}
		tun: {disabled: false, dev: nebula-$h, mtu: 1300}
		logging: {level: warning}
		firewall:
		  outbound: [{port: any, proto: any, host: any}]
		  inbound: [{port: any, proto: any, host: any}]
		EOF
		nd_spawn $h "$nb/$h.log" nebula -config "$nb/$h.yml"
		eval "nb_${h}_pid=\$nd_pid"
	done
	nd_wait 10 "nebula up" natlab_exec b ip link show nebula-b >/dev/null 2>&1
	natlab_exec a ping -c 5 -i 0.2 -W 2 10.98.0.2 >/dev/null 2>&1
	# shellcheck disable=SC2154 # set by the eval above
	measure nebula 10.98.0.2 "$nb_a_pid" "$nb_b_pid"
	nd_kill "$nb_a_pid" "$nb_b_pid"
else
	echo '{"name": "nebula", "skipped": "not installed (apt-get install nebula)"}' >>"$rows"
fi

"$nd_py" - "$rows" "$out" "$secs" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"secs": int(sys.argv[3]), "rows": rows}, open(sys.argv[2], "w"), indent=1)
by = {r["name"]: r for r in rows}
def f(v, p=0):
    return "-" if v is None else ("%.*f" % (p, v))
def ratio(a, b):
    return "-" if a is None or not b else "%.2f" % (a / b)
ours = by.get("atmosphere", {})
print("%-13s %10s %10s %9s %9s %10s %9s %9s" % ("path", "1 stream", "4 streams", "ping p50", "ping p99", "CPU s/GB",
                                                "ours/this", "ours/this"))
print("%-13s %10s %10s %9s %9s %10s %9s %9s" % ("", "Mbit/s", "Mbit/s", "ms", "ms", "", "1 stream", "4 streams"))
for r in rows:
    if "skipped" in r:
        print("%-13s skipped: %s" % (r["name"], r["skipped"]))
        continue
    print("%-13s %10s %10s %9s %9s %10s %9s %9s" % (r["name"], f(r["mbps_1"]), f(r["mbps_4"]), f(r["ping_p50_ms"], 3),
          f(r["ping_p99_ms"], 3), f(r["cpu_s_per_gb"], 2), ratio(ours.get("mbps_1"), r["mbps_1"]),
          ratio(ours.get("mbps_4"), r["mbps_4"])))
PY
echo "iperf3 TCP a -> b, ${secs} s per run; ping: 200 echoes 10 ms apart after 200 to warm; CPU: the tunnel"
echo "daemons' utime+stime (both ends, and our relay on the relay row) over both iperf3 runs per GB received."
echo "Targets (issue 11): direct >= 1.0x wireguard-go and >= 1.5x Nebula; added latency <= wireguard-go's."
