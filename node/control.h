#ifndef NODE_CONTROL_H
#define NODE_CONTROL_H
/* node/control.h: the control protocol of a running node, spoken on
 * $ATMOSPHERE_HOME/control.sock by the other commands. A client sends one
 * JSON object on one line, {"cmd": NAME, ...}, and reads JSON lines back;
 * every NAME is one row of the command table in node/control.c:
 *   peers                 {"peers": [...], "self": {...}}
 *   status                this node's ids and endpoints
 *   invite [expires] [short_expires]  {"code", "short_code", "short_expires": seconds
 *                         the short code opens the code through a relay (0: not
 *                         at all), "relays": where the joiner finds it}
 *   ping peer             {"rtt_ms", "path"} (waits up to 5 s)
 *   send peer text        {"ok": true, "path"}
 *   recv [follow]         {"from", "text"} lines, then {"end": true} (or
 *                         more lines until the client leaves, with follow)
 *   join code             {"line": ...} progress lines, then {"ok": true}
 *   remove peer           {"removed": node id, "name", "told": peers told now,
 *                         "readmitted": members re-admitted by this node}
 *   rotate                {"epoch": the new secret's, "told": members told now}
 * A failure is {"error": reason}; a request that is not JSON, has no
 * "cmd" or names no command is answered {"error":"unknown request"}. */
#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct node_state;

enum node_control_status {
	NODE_CONTROL_OK = 0,
	NODE_CONTROL_E_TOO_LONG = -1,    /* longer than NODE_CONTROL_MAX_REQUEST */
	NODE_CONTROL_E_NOT_JSON = -2,    /* not one JSON object */
	NODE_CONTROL_E_NO_CMD = -3,      /* no "cmd" member */
	NODE_CONTROL_E_UNKNOWN_CMD = -4, /* "cmd" names no command */
};

/* node_control_strerror returns a sentence for a node_control_status. */
const char *node_control_strerror(int status);

/* node_control_parse parses one request of len bytes (at most
 * NODE_CONTROL_MAX_REQUEST; anything after the first NUL is ignored, as a
 * line read from the socket is a C string). On NODE_CONTROL_OK *out_req is
 * the request (the caller's: json_object_put) and *out_cmd its command's
 * name in the table (static storage). On failure both are NULL. */
int node_control_parse(const char *req, size_t len, struct json_object **out_req, const char **out_cmd);

/* node_control_num_cmds / node_control_cmd_name: the command table's names. */
size_t node_control_num_cmds(void);
const char *node_control_cmd_name(size_t i);

/* node_control_call sends one request line to a running daemon and hands
 * every reply line to on_line until it returns false or the daemon closes.
 * Returns 0, -ENOENT/-ECONNREFUSED when no daemon runs, -EPIPE when it
 * answered nothing, or -errno. */
typedef bool (*node_line_fn)(const char *line, void *arg);
int node_control_call(const struct node_state *st, const char *request, node_line_fn on_line, void *arg);

#endif
