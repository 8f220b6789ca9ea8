#!/bin/sh
# The system units as the build makes them (dist/*.service.in), without
# installing anything:
#   - systemd-analyze verify has nothing to say about either (it works
#     offline; the ExecStart binary is pointed at the built one, which
#     verify wants to exist; --man=no: the man pages are not installed);
#   - atmosphere-relay.service has the hardening the issue asks for, and a
#     state directory for the byte budget's count;
#   - atmosphere-node.service can run the IP overlay (`serve --tun`):
#     CAP_NET_ADMIN ambient and in the bounding set, /dev/net/tun allowed
#     (and no PrivateDevices=, which would hide it), AF_NETLINK allowed for
#     rtnetlink, and no other capability.
# tests/dist/deb.sh checks the same units once installed from the package.
# Usage: units.sh UNIT_DIR BINARY (UNIT_DIR: the build's dist/system).
set -u
units=$1
bin=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze (run .ci/deps)"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/atmos-units.$$.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

for u in atmosphere-relay.service atmosphere-node.service; do
	[ -f "$units/$u" ] || fail "no $units/$u"
	sed "s|^ExecStart=[^ ]*atmosphere |ExecStart=$bin |" "$units/$u" >"$dir/$u"
	grep -q "^ExecStart=$bin " "$dir/$u" || fail "$u: no 'ExecStart=.../atmosphere ...' line"
done
# verify's exit status ignores unknown keys and bad values (it only warns),
# so any output is a failure.
systemd-analyze verify --man=no "$dir/atmosphere-relay.service" "$dir/atmosphere-node.service" >"$dir/verify" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$dir/verify")"
[ ! -s "$dir/verify" ] || fail "systemd-analyze verify: $(cat "$dir/verify")"

# key VALUE: the unit has a line "key=VALUE" (the last one of the key
# counts, as systemd reads it).
has() { [ "$(sed -n "s/^$2=//p" "$1" | tail -1)" = "$3" ] || fail "$(basename "$1"): want '$2=$3', have '$(grep "^$2=" "$1")'"; }
lacks() { ! grep -q "^$2=$3" "$1" || fail "$(basename "$1"): has '$(grep "^$2=$3" "$1")'"; }

r=$dir/atmosphere-relay.service
has "$r" Type notify
has "$r" DynamicUser yes
has "$r" AmbientCapabilities CAP_NET_BIND_SERVICE
has "$r" CapabilityBoundingSet CAP_NET_BIND_SERVICE
has "$r" ProtectSystem strict
has "$r" NoNewPrivileges yes
has "$r" Restart on-failure
has "$r" ExecReload '/bin/kill -HUP $MAINPID'
has "$r" StateDirectory atmosphere-relay
grep -q '^WatchdogSec=' "$r" || fail "atmosphere-relay.service: no WatchdogSec="
grep -q '^LimitNOFILE=' "$r" || fail "atmosphere-relay.service: no LimitNOFILE="

n=$dir/atmosphere-node.service
sed -n 's/^ExecStart=[^ ]* //p' "$n" | grep -qw -- '--tun' || fail "atmosphere-node.service: ExecStart without --tun"
has "$n" DynamicUser yes
has "$n" NoNewPrivileges yes
has "$n" AmbientCapabilities CAP_NET_ADMIN
has "$n" CapabilityBoundingSet CAP_NET_ADMIN
has "$n" DevicePolicy closed
has "$n" DeviceAllow '/dev/net/tun rw'
lacks "$n" PrivateDevices yes
fams=$(sed -n 's/^RestrictAddressFamilies=//p' "$n" | tail -1)
for f in AF_UNIX AF_INET AF_INET6 AF_NETLINK; do
	echo " $fams " | grep -q " $f " || fail "atmosphere-node.service: RestrictAddressFamilies='$fams' lacks $f"
done
has "$n" StateDirectory atmosphere
echo "ok units: verified; relay hardened; node with CAP_NET_ADMIN, /dev/net/tun and AF_NETLINK"
