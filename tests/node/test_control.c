/* Tests for node/control.h: parsing control requests and the command table. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/control.h"
#include "node/wire.h"

static int t_parse(const char *req, const char **cmd)
{
	json_object *o = NULL;
	int r = node_control_parse(req, strlen(req), &o, cmd);
	if (r == NODE_CONTROL_OK)
		cr_assert_not_null(o);
	else
		cr_assert_null(o, "a failed parse returned a request");
	json_object_put(o);
	return r;
}

Test(node_control, table_names_every_command_the_cli_sends)
{
	static const char *want[] = {"peers", "status", "invite", "ping", "send", "recv", "join", "remove", "rotate"};
	cr_assert_eq(node_control_num_cmds(), sizeof want / sizeof want[0]);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_assert_str_eq(node_control_cmd_name(i), want[i]);
	cr_assert_null(node_control_cmd_name(node_control_num_cmds()));
}

Test(node_control, each_command_parses_with_and_without_newline)
{
	for (size_t i = 0; i < node_control_num_cmds(); i++) {
		char req[128];
		const char *cmd = NULL;
		snprintf(req, sizeof req, "{\"cmd\":\"%s\",\"peer\":\"x\"}\n", node_control_cmd_name(i));
		cr_assert_eq(t_parse(req, &cmd), NODE_CONTROL_OK, "%s", req);
		cr_assert_str_eq(cmd, node_control_cmd_name(i));
		req[strlen(req) - 1] = 0;
		cr_assert_eq(t_parse(req, &cmd), NODE_CONTROL_OK, "%s", req);
	}
}

Test(node_control, request_members_reach_the_command)
{
	const char *req = "{\"cmd\":\"send\",\"peer\":\"rob\",\"text\":\"hi\"}\n", *cmd;
	json_object *o, *v;
	cr_assert_eq(node_control_parse(req, strlen(req), &o, &cmd), NODE_CONTROL_OK);
	cr_assert(json_object_object_get_ex(o, "text", &v));
	cr_assert_str_eq(json_object_get_string(v), "hi");
	json_object_put(o);
}

/* The request is held inline: Criterion may run each case in a process of
 * its own, where pointers into this one would dangle. */
struct bad_case {
	char req[40];
	int want;
};

static struct bad_case bad_cases[] = {
	{"", NODE_CONTROL_E_NOT_JSON},
	{"\n", NODE_CONTROL_E_NOT_JSON},
	{"peers\n", NODE_CONTROL_E_NOT_JSON},
	{"{\"cmd\":\"peers\"", NODE_CONTROL_E_NOT_JSON},
	{"[\"peers\"]", NODE_CONTROL_E_NOT_JSON},
	{"\"peers\"", NODE_CONTROL_E_NOT_JSON},
	{"42", NODE_CONTROL_E_NOT_JSON},
	{"null", NODE_CONTROL_E_NOT_JSON},
	{"{}", NODE_CONTROL_E_NO_CMD},
	{"{\"command\":\"peers\"}", NODE_CONTROL_E_NO_CMD},
	{"{\"cmd\":\"\"}", NODE_CONTROL_E_UNKNOWN_CMD},
	{"{\"cmd\":\"PEERS\"}", NODE_CONTROL_E_UNKNOWN_CMD},
	{"{\"cmd\":\"peers \"}", NODE_CONTROL_E_UNKNOWN_CMD},
	{"{\"cmd\":\"shutdown\"}", NODE_CONTROL_E_UNKNOWN_CMD},
	{"{\"cmd\":42}", NODE_CONTROL_E_UNKNOWN_CMD},
	{"{\"cmd\":null}", NODE_CONTROL_E_UNKNOWN_CMD},
	{"{\"cmd\":[\"peers\"]}", NODE_CONTROL_E_UNKNOWN_CMD},
	{"{\"cmd\":{\"cmd\":\"peers\"}}", NODE_CONTROL_E_UNKNOWN_CMD},
};

ParameterizedTestParameters(node_control, malformed_requests_get_a_clear_error)
{
	return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(struct bad_case *c, node_control, malformed_requests_get_a_clear_error)
{
	const char *cmd = "unset";
	int r = t_parse(c->req, &cmd);
	cr_assert_eq(r, c->want, "'%s': %s, want %s", c->req, node_control_strerror(r), node_control_strerror(c->want));
	cr_assert_null(cmd);
}

Test(node_control, every_proper_prefix_of_a_request_is_refused)
{
	const char *req = "{\"cmd\":\"peers\"}";
	for (size_t n = 0; n < strlen(req); n++) {
		json_object *o;
		const char *cmd;
		cr_assert_neq(node_control_parse(req, n, &o, &cmd), NODE_CONTROL_OK, "prefix of %zu bytes", n);
		cr_assert_null(o);
	}
}

Test(node_control, a_nul_ends_the_request)
{
	static const char req[] = "{\"cmd\":\"peers\"}\0garbage";
	static const char cut[] = "{\"cmd\":\0\"peers\"}";
	json_object *o;
	const char *cmd;
	cr_assert_eq(node_control_parse(req, sizeof req - 1, &o, &cmd), NODE_CONTROL_OK);
	json_object_put(o);
	cr_assert_eq(node_control_parse(cut, sizeof cut - 1, &o, &cmd), NODE_CONTROL_E_NOT_JSON);
}

Test(node_control, an_overlong_request_is_refused_before_parsing)
{
	size_t n = NODE_CONTROL_MAX_REQUEST;
	char *req = malloc(n);
	json_object *o;
	const char *cmd;
	cr_assert_not_null(req);
	memset(req, ' ', n);
	memcpy(req, "{\"cmd\":\"peers\"}", 15);
	cr_assert_eq(node_control_parse(req, n, &o, &cmd), NODE_CONTROL_E_TOO_LONG);
	cr_assert_null(o);
	cr_assert_eq(node_control_parse(req, n - 1, &o, &cmd), NODE_CONTROL_OK);
	json_object_put(o);
	free(req);
}

Test(node_control, every_status_has_a_sentence)
{
	for (int s = NODE_CONTROL_E_UNKNOWN_CMD; s <= NODE_CONTROL_OK; s++)
		cr_assert_str_neq(node_control_strerror(s), "unknown status", "status %d", s);
	cr_assert_str_eq(node_control_strerror(-99), "unknown status");
}
