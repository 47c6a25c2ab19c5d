/* SPDX-License-Identifier: BSD-3-Clause */
/* The control socket's commands (docs/control-socket.md): sessions of
 * this daemon, running or ended, by VM name. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>

#include "daemon.h"

static const char *
arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

/* The status of the last ended session of @p vm (any VM: NULL). */
static json_t *
ended_of(const char *vm)
{
	unsigned i;

	for (i = D.nended; i-- > 0;)
		if (vm == NULL || strcmp(vm, json_string_value(json_object_get(
				D.ended[i], "vm"))) == 0)
			return D.ended[i];
	return NULL;
}

/* "vm", if given, is a string. */
static bool
vm_arg(json_t *args, const char **vm, char *err, size_t errlen)
{
	json_t *v = json_object_get(args, "vm");

	*vm = json_string_value(v);
	if (v != NULL && *vm == NULL) {
		snprintf(err, errlen, "'vm' must be a string");
		return false;
	}
	return true;
}

static json_t *
cmd_query_migrate(void *arg, json_t *args, char *err, size_t errlen)
{
	const char *vm;
	struct slot *sl;
	json_t *st;

	RTE_SET_USED(arg);
	if (!vm_arg(args, &vm, err, errlen))
		return NULL;
	sl = migdp_daemon_slot_of(vm, err, errlen);
	if (sl != NULL)
		return migdp_session_status(&sl->sess);
	if (vm == NULL && migdp_daemon_active() > 1) /* several run: name one */
		return NULL;
	st = ended_of(vm);
	if (st != NULL)
		return json_deep_copy(st);
	err[0] = '\0';
	return json_pack("{s:s}", "state", "none");
}

static json_t *
brief(json_t *st)
{
	json_t *pages = json_object_get(st, "pages");

	return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(st, "id"),
			 "vm", json_object_get(st, "vm"), "role", json_object_get(st, "role"),
			 "state", json_object_get(st, "state"), "round", json_object_get(st, "round"),
			 "pages_total", json_object_get(pages, "total"),
			 "pages_transferred", json_object_get(pages, "transferred"));
}

static json_t *
cmd_query_sessions(void *arg, json_t *args, char *err, size_t errlen)
{
	json_t *a = json_array(), *vms = json_array(), *st;
	unsigned i;

	RTE_SET_USED(arg);
	RTE_SET_USED(args);
	RTE_SET_USED(err);
	RTE_SET_USED(errlen);
	for (i = 0; i < MIGDP_MAX_SESSIONS; i++) {
		if (!D.slots[i].active)
			continue;
		st = migdp_session_status(&D.slots[i].sess);
		json_array_append_new(a, brief(st));
		json_decref(st);
	}
	for (i = D.nended; i-- > 0;)
		json_array_append_new(a, brief(D.ended[i]));
	for (i = 0; i < MAX_VMS; i++)
		if (D.vms[i] != NULL)
			json_array_append_new(vms, json_string(migshim_session_name(D.vms[i])));
	return json_pack("{s:o, s:o, s:i, s:i}", "sessions", a, "vms", vms,
			 "served", (int)D.sessions, "max_sessions", (int)D.cfg.sessions);
}

/* migrate / migrate-incoming: a session for a connected VM; with
 * @p stream, migrate-stream / migrate-stream-incoming: a stream session
 * named "name" on the Unix socket "socket" (docs/qemu.md). */
static json_t *
start_cmd(json_t *args, enum migdp_role role, bool stream, char *err, size_t errlen)
{
	const char *vm = arg_str(args, "vm"), *peer = arg_str(args, "peer");
	const char *key = arg_str(args, "key-file");
	const char *name = arg_str(args, "name"), *path = arg_str(args, "socket");
	json_t *enc = json_object_get(args, "encrypt");
	struct in_addr ip = {0};
	char names[256];
	int i;

	if (D.cfg.role != role) {
		snprintf(err, errlen, "this migdp is a %s: use %s", migdp_role_name(D.cfg.role),
			 D.cfg.role == MIGDP_ROLE_SOURCE ?
			 (stream ? "migrate-stream" : "migrate") :
			 (stream ? "migrate-stream-incoming" : "migrate-incoming"));
		return NULL;
	}
	if (stream && (name == NULL || name[0] == '\0' || strlen(name) >= MIGDP_VM_NAME_LEN ||
		       path == NULL || path[0] == '\0')) {
		snprintf(err, errlen, "'name' (1 to %u characters) and 'socket' (a path) are "
			 "needed", MIGDP_VM_NAME_LEN - 1);
		return NULL;
	}
	if ((json_object_get(args, "vm") != NULL && vm == NULL) ||
	    (json_object_get(args, "peer") != NULL && peer == NULL)) {
		snprintf(err, errlen, "'vm' and 'peer' must be strings");
		return NULL;
	}
	if ((json_object_get(args, "key-file") != NULL && key == NULL) ||
	    (enc != NULL && !json_is_boolean(enc))) {
		snprintf(err, errlen, "'key-file' must be a string, 'encrypt' a boolean");
		return NULL;
	}
	if (peer != NULL && (inet_pton(AF_INET, peer, &ip) != 1 || ip.s_addr == 0 ||
			     ip.s_addr == INADDR_BROADCAST)) {
		snprintf(err, errlen, "'peer' is not an IPv4 address: '%s'", peer);
		return NULL;
	}
	if (stream) {
		if (migdp_daemon_slot_of(name, err, errlen) != NULL || migdp_daemon_vm_find(name) >= 0) {
			snprintf(err, errlen, "'%s' is migrating or a connected VM's name already",
				 name);
			return NULL;
		}
		for (i = 0; i < MIGDP_MAX_SESSIONS; i++)
			if (D.slots[i].active && D.slots[i].sess.stream &&
			    strcmp(D.slots[i].sess.stream_path, path) == 0) {
				snprintf(err, errlen, "socket '%s' is stream session '%s''s already",
					 path, D.slots[i].sess.vm);
				return NULL;
			}
		if (migdp_daemon_begin(-1, name, path, ip.s_addr, key,
				       enc == NULL ? -1 : json_is_true(enc), err, errlen) < 0)
			return NULL;
		return json_pack("{s:s, s:s, s:s}", "name", name, "socket", path,
				 "state", "handshake");
	}
	i = migdp_daemon_vm_find(vm);
	if (i < 0) {
		migdp_daemon_vm_names(names, sizeof(names));
		snprintf(err, errlen, "no VM '%s' connected (connected: %s)",
			 vm != NULL ? vm : "(any)", names);
		return NULL;
	}
	if (migdp_daemon_vm_busy(i)) {
		snprintf(err, errlen, "VM '%s' is migrating already", migshim_session_name(D.vms[i]));
		return NULL;
	}
	if (migdp_daemon_begin(i, NULL, NULL, ip.s_addr, key, enc == NULL ? -1 : json_is_true(enc),
			       err, errlen) < 0)
		return NULL;
	return json_pack("{s:s, s:s}", "vm", migshim_session_name(D.vms[i]), "state", "handshake");
}

static json_t *
cmd_migrate(void *arg, json_t *args, char *err, size_t errlen)
{
	RTE_SET_USED(arg);
	return start_cmd(args, MIGDP_ROLE_SOURCE, false, err, errlen);
}

static json_t *
cmd_migrate_stream(void *arg, json_t *args, char *err, size_t errlen)
{
	RTE_SET_USED(arg);
	return start_cmd(args, MIGDP_ROLE_SOURCE, true, err, errlen);
}

static json_t *
cmd_stream_incoming(void *arg, json_t *args, char *err, size_t errlen)
{
	RTE_SET_USED(arg);
	return start_cmd(args, MIGDP_ROLE_DESTINATION, true, err, errlen);
}

static json_t *
cmd_incoming(void *arg, json_t *args, char *err, size_t errlen)
{
	RTE_SET_USED(arg);
	return start_cmd(args, MIGDP_ROLE_DESTINATION, false, err, errlen);
}

static json_t *
cmd_cancel(void *arg, json_t *args, char *err, size_t errlen)
{
	const char *vm;
	struct slot *sl;

	RTE_SET_USED(arg);
	if (!vm_arg(args, &vm, err, errlen))
		return NULL;
	sl = migdp_daemon_slot_of(vm, err, errlen);
	if (sl == NULL)
		return NULL;
	if (migdp_session_cancel(&sl->sess, "cancelled by migrate-cancel", err, errlen) < 0)
		return NULL;
	return json_pack("{s:s}", "state", migdp_state_name(sl->sess.fsm.state));
}

/* Parameters of a running session (named by "vm", or the only one),
 * while legal; with none running, of the next sessions. */
static json_t *
cmd_set_parameters(void *arg, json_t *args, char *err, size_t errlen)
{
	const char *vm, *key;
	struct migdp_conv_params p;
	struct slot *sl;
	char text[64];
	json_t *v;

	RTE_SET_USED(arg);
	if (!vm_arg(args, &vm, err, errlen))
		return NULL;
	sl = migdp_daemon_slot_of(vm, err, errlen);
	if (sl == NULL && (vm != NULL || migdp_daemon_active() > 0))
		return NULL;
	/* 14: an ended session lingering (answering its peer) takes nothing. */
	if (sl != NULL && migdp_fsm_terminal(&sl->sess.fsm)) {
		snprintf(err, errlen, "the migration of '%s' has ended (%s)", sl->sess.vm,
			 migdp_state_name(sl->sess.fsm.state));
		return NULL;
	}
	if (sl != NULL && migdp_fsm_check_command(&sl->sess.fsm, MIGDP_CMD_SET_PARAMETERS,
						  err, errlen) != NULL)
		return NULL;
	if (sl != NULL)
		p = sl->sess.params;
	else if (D.params_set)
		p = D.params;
	else
		migdp_daemon_default_params(&p);
	json_object_foreach(args, key, v) {
		if (strcmp(key, "vm") == 0)
			continue;
		if (json_is_string(v))
			snprintf(text, sizeof(text), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			snprintf(text, sizeof(text), "%s", json_is_true(v) ? "on" : "off");
		else
			snprintf(text, sizeof(text), "?");
		if (migdp_conv_param_set(&p, key, text, err, errlen) < 0)
			return NULL;
	}
	if (sl != NULL) {
		sl->sess.params = p;
		migdp_session_apply_params(&sl->sess);
	} else {
		D.params = p;
		D.params_set = true;
	}
	return json_pack("{s:s?}", "applied_to", sl != NULL ? sl->sess.vm : NULL);
}

const struct migdp_ctl_command migdp_daemon_commands[] = {
	{"query-migrate", cmd_query_migrate, "a migration, running or the last one: state, "
	 "round, pages, rates, expected downtime, rounds, channels, transitions {vm}"},
	{"query-sessions", cmd_query_sessions, "sessions, running and ended, and connected VMs"},
	{"migrate", cmd_migrate, "source: migrate a connected VM {vm, peer: IPv4}"},
	{"migrate-incoming", cmd_incoming, "destination: receive a connected VM {vm}"},
	{"migrate-stream", cmd_migrate_stream, "source: carry a hypervisor's own migration "
	 "streams (QEMU migrate unix:SOCKET) {name, socket, peer: IPv4, key-file, encrypt}"},
	{"migrate-stream-incoming", cmd_stream_incoming, "destination: deliver them to the "
	 "hypervisor's incoming socket (QEMU migrate-incoming unix:SOCKET) {name, socket, "
	 "key-file, encrypt}"},
	{"migrate-cancel", cmd_cancel, "cancel a running migration {vm}"},
	{"migrate-set-parameters", cmd_set_parameters, "{vm, downtime-limit, max-bandwidth, "
	 "max-rounds, auto-converge, throttle-initial, throttle-step, throttle-max}"},
};
const unsigned migdp_daemon_ncommands = RTE_DIM(migdp_daemon_commands);
