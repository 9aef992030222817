/*
 * The metadata service's host side (mmds_api.h): the API's /mmds
 * resources and the MMDS configuration, with Firecracker's rules.
 */
#include "mmds_api.h"
#include "jbody.h"
#include "log.h"
#include "mmds.h"
#include "util.h"
#include "vmm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A --metadata file may be pretty-printed: more than the limit on disk. */
#define METADATA_FILE_MAX (64 * MIB)

/*
 * After the start Firecracker reaches the store through the interfaces
 * that serve it: with none, GET, PUT and PATCH find no store.
 */
static int reachable(struct vmm *m, int *status, char *err, size_t errlen)
{
	if (vmm_state(m) == VMM_NOT_STARTED || m->cfg.mmds.set)
		return 0;
	*status = 400;
	snprintf(err, errlen, "%s", MMDS_MSG_NOT_INIT);
	return -1;
}

int mmds_api_put(struct vmm *m, json_t *body, int *status, char *err,
                 size_t errlen)
{
	if (reachable(m, status, err, errlen) < 0)
		return -1;
	return mmds_put(m->mmds, body, status, err, errlen);
}

int mmds_api_patch(struct vmm *m, json_t *body, int *status, char *err,
                   size_t errlen)
{
	if (reachable(m, status, err, errlen) < 0)
		return -1;
	return mmds_patch(m->mmds, body, status, err, errlen);
}

char *mmds_api_get(struct vmm *m, int *status, char *err, size_t errlen)
{
	json_t *v;
	char *body;
	size_t len;

	if (reachable(m, status, err, errlen) < 0)
		return NULL;
	if (!(v = mmds_get(m->mmds, status, err, errlen)))
		return NULL;
	/* A store never written, or PUT null, reads as {}: Firecracker's. */
	body = json_is_null(v) ? strdup("{}") : mmds_json_dumps(v, &len);
	json_decref(v);
	if (!body) {
		*status = 500;
		snprintf(err, errlen, "out of memory");
	}
	return body;
}

/* 169.254.x.y with x neither 0 nor 255 (RFC 3927's usable range). */
static bool link_local(uint32_t a)
{
	uint32_t x = (a >> 8) & 0xff;

	return (a >> 16) == 0xa9fe && x != 0 && x != 255;
}

/* The configured interface @id's index, or -1. */
static int net_index(const struct config *c, const char *id)
{
	for (unsigned i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].id, id))
			return (int)i;
	return -1;
}

int fc_mmds_config(struct vmm *m, json_t *body, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "version", JB_STR, false },
		{ "network_interfaces", JB_ARRAY, true },
		{ "ipv4_address", JB_STR, false },
		{ "imds_compat", JB_BOOL, false },
	};
	const char *w = "mmds-config", *version, *ip;
	struct mmds_config n = { .set = true, .version = 1 };
	struct in_addr a;
	json_t *ifs, *e;
	size_t i;

	if (jb_check(body, w, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	version = jb_str(body, "version");
	if (version && strcmp(version, "V1") && strcmp(version, "V2"))
		return util_err(err, errlen, "%s: version '%s' is not V1 or V2",
		                w, version);
	n.version = version && !strcmp(version, "V2") ? 2 : 1;
	n.imds_compat = jb_bool(body, "imds_compat", false);
	n.ipv4 = MMDS_DEFAULT_IPV4;
	if ((ip = jb_str(body, "ipv4_address"))) {
		if (inet_pton(AF_INET, ip, &a) != 1)
			return util_err(err, errlen,
			                "%s: ipv4_address '%s' is not a dotted "
			                "IPv4 address",
			                w, ip);
		n.ipv4 = ntohl(a.s_addr);
		if (!link_local(n.ipv4))
			return util_err(err, errlen,
			                "%s: ipv4_address '%s' is not "
			                "link-local (169.254.x.y, x neither 0 "
			                "nor 255)",
			                w, ip);
	}
	ifs = json_object_get(body, "network_interfaces");
	if (!json_array_size(ifs))
		return util_err(err, errlen,
		                "%s: network_interfaces is empty: name the "
		                "interfaces whose guest requests reach the "
		                "metadata service",
		                w);
	json_array_foreach(ifs, i, e)
	{
		const char *id = json_string_value(e);
		bool dup = false;

		if (!id)
			return util_err(err, errlen,
			                "%s: network_interfaces[%zu] is not a "
			                "string (an iface_id)",
			                w, i);
		if (net_index(&m->cfg, id) < 0)
			return util_err(err, errlen,
			                "%s: network_interfaces: '%s' is not "
			                "the iface_id of a configured network "
			                "interface",
			                w, id);
		for (unsigned j = 0; j < n.nifaces; j++)
			dup = dup || !strcmp(n.ifaces[j], id);
		/* Existing interfaces, each once: at most CONFIG_MAX_NETS. */
		if (!dup && n.nifaces < CONFIG_MAX_NETS)
			snprintf(n.ifaces[n.nifaces++], CONFIG_ID_MAX, "%s",
			         id);
	}
	if (n.version == 1)
		log_warn("%s: version V1 is deprecated (tokens are optional); "
		         "V2 requires them",
		         w);
	m->cfg.mmds = n;
	mmds_set_version(m->mmds, n.version, n.imds_compat);
	return 0;
}

json_t *fc_mmds_config_json(const struct config *c)
{
	const struct mmds_config *n = &c->mmds;
	struct in_addr a = { .s_addr = htonl(n->ipv4) };
	char ip[INET_ADDRSTRLEN];
	json_t *ifs;

	if (!n->set)
		return json_null();
	/* In the interfaces' order, as Firecracker lists them. */
	ifs = json_array();
	for (unsigned i = 0; i < c->nnets; i++)
		for (unsigned j = 0; j < n->nifaces; j++)
			if (!strcmp(c->nets[i].id, n->ifaces[j]))
				json_array_append_new(
				        ifs, json_string(c->nets[i].id));
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	return json_pack("{s:s, s:o, s:s, s:b}", "version",
	                 n->version == 2 ? "V2" : "V1", "network_interfaces",
	                 ifs, "ipv4_address", ip, "imds_compat",
	                 n->imds_compat);
}

int mmds_api_load_file(struct vmm *m, const char *path, char *err,
                       size_t errlen)
{
	char why[256];
	json_error_t je;
	uint8_t *buf;
	size_t len;
	json_t *v;
	int ret, status;

	ret = util_read_file(path, METADATA_FILE_MAX, &buf, &len);
	if (ret < 0)
		return util_err(err, errlen, "'%s': %s", path,
		                ret == -EFBIG ? "larger than 64 MiB"
		                              : strerror(-ret));
	/* Any JSON value, as PUT /mmds takes it. */
	v = json_loadb((const char *)buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
	               &je);
	free(buf);
	if (!v)
		return util_err(err, errlen, "'%s':%d:%d: not valid JSON: %s",
		                path, je.line, je.column, je.text);
	ret = mmds_put(m->mmds, v, &status, why, sizeof(why));
	if (ret < 0 && status == 413) {
		len = 0;
		free(mmds_json_dumps(v, &len));
		snprintf(why, sizeof(why),
		         "%zu bytes of compact JSON, over the limit of the "
		         "metadata store (--mmds-size-limit)",
		         len);
	}
	json_decref(v);
	if (ret < 0)
		return util_err(err, errlen, "'%s': %s", path, why);
	return 0;
}
