#!/bin/sh
# tests/stun/natlab_lifetime.sh BINARY: `atmosphere network
# --mapping-lifetime` measures how long a real kernel NAT keeps an idle UDP
# mapping (RFC 5780 §4.6 with RESPONSE-PORT; issue 12), and says "not
# measured" against servers that do not support RESPONSE-PORT.
#
# Sites (natlab/lab.sh), all stock masquerade; their routers' conntrack
# forgets an idle UDP flow after (net.netfilter.nf_conntrack_udp_timeout
# and _udp_timeout_stream, per network namespace):
#   short    4 s   `--mapping-lifetime 10`: the interval must hold 4 s
#   long     12 s  `--mapping-lifetime 15`: it must hold 12 s
#   lasting  30 s  `--mapping-lifetime 5` : "more than 5 s"; and from the
#                  same host, `--mapping-lifetime` against a plain server
#                  (420 Unknown Attribute) and a tiny Python responder
#                  that ignores RESPONSE-PORT: "not measured", no interval
# The public host runs `atmosphere stun-server` in RFC 5780 mode (which
# honours RESPONSE-PORT) and a plain one (which does not).
# Needs root; exits 77 (skip) otherwise. About 20 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: natlab_lifetime.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
natlab_require || exit 77
[ -x "$bin" ] || { echo "natlab_lifetime: $bin is not executable"; exit 1; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: $py not found"; exit 77; }

tmp=$(mktemp -d /tmp/natlab_lifetime.XXXXXX)
natlab_init
trap 'natlab_cleanup; [ -n "${NL_KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

natlab_public pub 203.0.113.10 203.0.113.11
udp_timeout() { # udp_timeout SITE SECONDS: the site router's conntrack timeouts for UDP
	for _k in nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream; do
		natlab_exec "$1-r" sysctl -qw "net.netfilter.$_k=$2" ||
			{ echo "natlab_lifetime: cannot set $_k in $1-r"; exit 1; }
	done
}
natlab_site short port_restricted
natlab_site long port_restricted
natlab_site lasting port_restricted
udp_timeout short 4
udp_timeout long 12
udp_timeout lasting 30

natlab_exec pub "$bin" stun-server --host 203.0.113.10 --port 3478 --alt-host 203.0.113.11 --alt-port 3479 \
	--threads 1 --rate 0 >"$tmp/rfc5780.out" 2>&1 &
natlab_exec pub "$bin" stun-server --host 203.0.113.10 --port 4478 --threads 1 --rate 0 >"$tmp/plain.out" 2>&1 &
# A Binding responder that knows no attribute and answers every request at
# its source (as many public servers do with RESPONSE-PORT). Ends by itself.
natlab_exec pub "$py" -c '
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.10", 5478))
s.settimeout(1.0)
print("listening on udp 203.0.113.10:5478", flush=True)
end = time.monotonic() + 60
magic = 0x2112A442
while time.monotonic() < end:
    try:
        data, (ip, port) = s.recvfrom(2048)
    except socket.timeout:
        continue
    if len(data) < 20 or data[0:2] != b"\x00\x01":
        continue
    xip = struct.unpack("!I", socket.inet_aton(ip))[0] ^ magic
    attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, port ^ (magic >> 16), xip)
    s.sendto(struct.pack("!HHI", 0x0101, len(attr), magic) + data[8:20] + attr, (ip, port))
' >"$tmp/ignoring.out" 2>&1 &
deadline=$(($(date +%s) + 10))
for f in rfc5780 plain ignoring; do
	until grep -q "listening on udp" "$tmp/$f.out" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "FAIL: the $f server did not start:"
			cat "$tmp/$f.out"
			exit 1
		fi
		sleep 0.05
	done
done

# Every run at once, each bounded by `timeout`.
run() { # run SITE NAME STUN MAX [--json]
	_site=$1 _name=$2 _stun=$3 _max=$4
	shift 4
	natlab_exec "$_site" timeout 40 "$bin" network --stun "$_stun" --timeout 2s --no-port-mapping \
		--mapping-lifetime="$_max" "$@" >"$tmp/$_name.out" 2>"$tmp/$_name.err" &
	pids="$pids $!"
}
pids=""
start=$(date +%s)
run short short 203.0.113.10:3478 10 --json
run short short_text 203.0.113.10:3478 10
run long long 203.0.113.10:3478 15 --json
run lasting lasting 203.0.113.10:3478 5 --json
run lasting plain 203.0.113.10:4478 5 --json
run lasting plain_text 203.0.113.10:4478 5
run lasting ignoring 203.0.113.10:5478 5 --json
for p in $pids; do
	wait "$p"
done
echo "natlab_lifetime: the runs took $(($(date +%s) - start)) s"

# lifetime NAME: "MEASURED MIN MAX NOTE" from mapping_lifetime.
lifetime() {
	"$py" -c '
import json, sys
try:
    m = json.load(open(sys.argv[1]))["mapping_lifetime"]
    print(m["measured"], m["min_s"], m["max_s"], m["note"])
except Exception as e:
    print("error", type(e).__name__, e)
' "$tmp/$1.out"
}
show() {
	sed 's/^/    /' "$tmp/$1.out" "$tmp/$1.err" | head -n 80
}

# holds NAME SECONDS: the measured interval [min, max) holds SECONDS.
holds() {
	got=$(lifetime "$1")
	echo "$1: mapping_lifetime $got (conntrack timeout $2 s)"
	set -- "$1" "$2" $got
	if [ "$3" != True ] || [ "$4" = None ] || [ "$5" = None ] || [ "$4" -gt "$2" ] || [ "$5" -le "$2" ]; then
		bad "$1: the interval does not hold $2 s"
		show "$1"
	fi
}
holds short 4
holds long 12

got=$(lifetime lasting)
echo "lasting: mapping_lifetime $got (conntrack timeout 30 s, max 5 s)"
[ "$got" = "True 5 None None" ] || { bad "lasting: want 'True 5 None None'"; show lasting; }

for s in plain ignoring; do
	got=$(lifetime "$s")
	echo "$s: mapping_lifetime $got"
	case $got in
	"False None None the server does not support RESPONSE-PORT"*) ;;
	*) bad "$s: want not measured, the server does not support RESPONSE-PORT"; show "$s" ;;
	esac
done
case $(lifetime plain) in *420*) ;; *) bad "plain: the note does not name the 420 answer" ;; esac
case $(lifetime ignoring) in *ignores*) ;; *) bad "ignoring: the note does not say the server ignores it" ;; esac

line=$(grep "mapping lifetime:" "$tmp/short_text.out" | sed 's/^ *//')
echo "short (text): $line"
case $line in
"mapping lifetime: between "*" s idle (203.0.113.10:3478: alive after 1, "*"expired after "*) ;;
*) bad "short: the text report says '$line'"; show short_text ;;
esac
line=$(grep "mapping lifetime:" "$tmp/plain_text.out" | sed 's/^ *//')
echo "plain (text): $line"
case $line in
"mapping lifetime: not measured: the server does not support RESPONSE-PORT (it answers 420 Unknown Attribute)"*) ;;
*) bad "plain: the text report says '$line'"; show plain_text ;;
esac

if [ "$fail" -ne 0 ]; then
	echo "natlab_lifetime: FAILED"
	exit 1
fi
echo "natlab_lifetime: passed"
exit 0
