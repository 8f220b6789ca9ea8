/* Fuzz node_control_parse, the node's control protocol parser: never
 * crashes; a failure returns a known status and no request; a success
 * returns a JSON object whose command is a row of the table (the very
 * string the table holds), and the request re-serialised parses again to
 * the same command. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/control.h"
#include "node/wire.h"
#include "tests/fuzz/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checked in every build type (assert vanishes under NDEBUG). */
static bool in_table(const char *cmd)
{
	for (size_t i = 0; i < node_control_num_cmds(); i++)
		if (cmd == node_control_cmd_name(i))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *o = (json_object *)1;
	const char *cmd = "unset";
	int r = node_control_parse((const char *)data, size, &o, &cmd);
	CHECK(node_control_strerror(r) != NULL);
	if (r != NODE_CONTROL_OK) {
		CHECK(r >= NODE_CONTROL_E_UNKNOWN_CMD && r < 0);
		CHECK(o == NULL && cmd == NULL);
		if (size >= NODE_CONTROL_MAX_REQUEST)
			CHECK(r == NODE_CONTROL_E_TOO_LONG);
		return 0;
	}
	CHECK(size < NODE_CONTROL_MAX_REQUEST);
	CHECK(o && json_object_is_type(o, json_type_object));
	CHECK(cmd && in_table(cmd));
	/* Round trip: what the daemon acted on, written out, means the same. */
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	size_t sl = strlen(s);
	if (sl < NODE_CONTROL_MAX_REQUEST) {
		json_object *o2;
		const char *cmd2;
		CHECK(node_control_parse(s, sl, &o2, &cmd2) == NODE_CONTROL_OK);
		CHECK(cmd2 == cmd);
		json_object_put(o2);
	}
	json_object_put(o);
	return 0;
}
