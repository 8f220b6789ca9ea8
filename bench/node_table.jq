# bench/node_table.jq: the node section's tables, from the object bench/run
# keeps in results/node.json: {punch: `atmosphere-bench punch --json`,
# node: `atmosphere-bench punch --node --json`}. Tab-separated.
# Argument $part: "punch" (one row per NAT pair: seconds from `join CODE` to
# the first packet and to the direct path, p50 and p99 over the rounds that
# got there), "node" (figure, value, seed, target, met) or "variants" (per
# lab variant of `punch --portmap` / `--ipv6`, in .variants: the pairs direct
# in every round against issue 12's 15/15, the rounds, how many direct rounds
# went over IPv6 or a mapped endpoint, and the pairs that were not direct).

def fmt($p): if . == null then "-" else (. * pow(10; $p) | round) / pow(10; $p) | tostring end;
def secs: if . == null then null else . / 1000 end;
def met($ok): if $ok == null then "-" elif $ok then "yes" else "NO" end;
def mb: if . == null then null else . * 1024 / 1e6 end;
def mem($role; $n): [.memory[] | select(.role == $role and .peers == $n)][0];
def ka($path; $n): [.keepalive[] | select(.path == $path and .peers == $n)][0];

if $part == "punch" then
  .punch as $p
  | ["pair (rob:matt)", "first p50 s", "first p99 s", "direct p50 s", "direct p99 s", "path", "connected", "direct"]
    | join("\t"),
  ( $p.pairs[]
    | [.pair, (.first_packet_ms.p50 | secs | fmt(2)), (.first_packet_ms.p99 | secs | fmt(2)),
       (.direct_ms.p50 | secs | fmt(2)), (.direct_ms.p99 | secs | fmt(2)), .path,
       "\(.successes)/\(.attempts)", "\(.direct)/\(.attempts)"] | join("\t") ),
  ( $p | ["all pairs", "-", "-", "-", "-", "-", "\(.successes)/\(.attempts)", "\(.direct)/\(.attempts)"]
    | join("\t") )
elif $part == "variants" then
  .variants as $vs
  | ["variant", "pairs direct every round", "target", "met", "direct rounds", "of which ipv6", "via mapping",
   "not direct"] | join("\t"),
  ( $vs[]
    | [.pairs[] | select(.attempts == 0 or .direct < .attempts) | .pair] as $not
    | [.variant, "\(.pairs_direct_every_round)/\(.pairs | length)", "\(.pairs | length)/\(.pairs | length)",
       met(.pairs_direct_every_round == (.pairs | length)), "\(.direct)/\(.attempts)",
       ([.pairs[].direct_by_family.ipv6] | add | tostring), ([.pairs[].direct_via_mapping] | add | tostring),
       (if ($not | length) == 0 then "-" else $not | join(",") end)] | join("\t") )
else
  .node as $n
  | ($n.peers) as $np
  | ["figure", "value", "seed", "target", "met"] | join("\t"),
  ( [[0, "idle, no peer"], [1, "1 idle peer"], [$np, "\($np) idle peers"]][]
    | . as [$k, $what]
    | ($n | mem("hub"; $k)) as $m
    | select($m != null)
    | ([("node VmRSS MB, \($what)"), ($m.vmrss_kib | mb | fmt(2)), (if $k == 1 then "~5" else "-" end), "< 5",
        met($m.vmrss_kib * 1024 < 5e6)] | join("\t")),
      ([("node RssAnon MB (own pages, no shared libs), \($what)"), ($m.rssanon_kib | mb | fmt(2)),
        (if $k == 1 then "~5" else "-" end), "< 5", met($m.rssanon_kib * 1024 < 5e6)] | join("\t")),
      ([("node VmHWM MB, \($what)"), ($m.vmhwm_kib | mb | fmt(2)), "-", "reported", "-"] | join("\t")) ),
  ( ($n | mem("joiner"; 1)) as $m | select($m != null)
    | (["joined node VmRSS MB, 1 idle peer", ($m.vmrss_kib | mb | fmt(2)), "~5", "< 5",
        met($m.vmrss_kib * 1024 < 5e6)] | join("\t")),
      (["joined node RssAnon MB (own pages), 1 idle peer", ($m.rssanon_kib | mb | fmt(2)), "~5", "< 5",
        met($m.rssanon_kib * 1024 < 5e6)] | join("\t")) ),
  ( ["node VmRSS KiB per idle peer beyond the first", ($n.rss_kib_per_extra_peer | fmt(0)), "-", "reported", "-"]
    | join("\t") ),
  ( [["direct", 1], ["relay", 1], ["direct", $np]][]
    | . as [$path, $k]
    | ($n | ka($path; $k)) as $w
    | select($w != null)
    | ([("keepalive B/s per idle peer, \($path), \($k) peer(s): wire in+out"), ($w.wire_bytes_per_s_per_peer | fmt(1)),
        "~1 KB/s", "<= 100", met($w.wire_bytes_per_s_per_peer <= 100)] | join("\t")),
      ([("  sent by the node (wire out)"), ($w.wire_out_bytes_per_s_per_peer | fmt(1)), "-", "reported", "-"]
       | join("\t")),
      ([("  the daemon's own count (e2e bytes in+out)"), ($w.daemon_bytes_per_s_per_peer | fmt(1)), "-", "reported",
        "-"] | join("\t")),
      (select($w.udp_minus_daemon_bytes_per_packet != null)
       | [("  wire minus daemon bytes per UDP packet (28 = IPv4 + UDP)"),
          ($w.udp_minus_daemon_bytes_per_packet | fmt(1)), "-", "~28", "-"]
       | join("\t")) )
end
