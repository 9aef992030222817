/*
 * virtio-rng's configuration (vmm/vdev.h, struct vdev_conf): the entropy
 * device of struct config, as the INI file ([entropy]), Firecracker's
 * JSON and REST API (/entropy) and a snapshot give it.
 */
#include "jbody.h"
#include "rng.h"
#include "snapconfig.h"
#include "util.h"
#include "vdev.h"

#include <string.h>

static void *item(struct config *c, unsigned i)
{
	(void)i;
	return &c->entropy;
}

static void set_count(struct config *c, unsigned n)
{
	c->entropy.present = n != 0;
}

static int check(const struct config *c, unsigned i, char *err, size_t errlen)
{
	(void)c;
	(void)i;
	(void)err;
	(void)errlen;
	return 0; /* any rate limiter is one a request could give */
}

/* [entropy]: enabled (yes/no, default yes), bandwidth, ops. */
static int ini_key(struct config *c, const struct config_ini_key *k, char *err,
                   size_t errlen)
{
	struct entropy_config *e = &c->entropy;

	e->present = true;
	if (!strcmp(k->key, "bandwidth"))
		return config_ini_bucket(k, &e->rl.bandwidth, err, errlen);
	if (!strcmp(k->key, "ops"))
		return config_ini_bucket(k, &e->rl.ops, err, errlen);
	if (strcmp(k->key, "enabled"))
		return config_ini_err(k, err, errlen, "unknown key");
	if (config_ini_bool(k->value, &e->present) < 0)
		return config_ini_err(k, err, errlen, "'%s' is not yes or no",
		                      k->value);
	return 0;
}

static int put(struct config *c, const char *path_id, json_t *body, char *err,
               size_t errlen)
{
	static const struct jb_field f[] = {
		{ "rate_limiter", JB_OBJ, false },
	};
	struct rate_limiter_config rl;

	(void)path_id;
	if (jb_check(body, "entropy", f, ARRAY_SIZE(f), err, errlen) < 0 ||
	    jb_rate_limiter(jb_get(body, "rate_limiter"),
	                    "entropy: rate_limiter", &rl, false, err,
	                    errlen) < 0)
		return -1;
	c->entropy = (struct entropy_config){ .present = true, .rl = rl };
	return 0;
}

static json_t *get(const struct config *c)
{
	if (!c->entropy.present)
		return json_null();
	return json_pack("{s:o}", "rate_limiter",
	                 jb_rate_limiter_json(&c->entropy.rl));
}

const struct vdev_conf rng_conf = {
	.max = 1,
	.size = sizeof(struct entropy_config),
	.item = item,
	.set_count = set_count,
	.snap = &rng_snapcfg,
	.check = check,
	.ini_section = "entropy",
	.ini_key = ini_key,
	.json_key = "entropy",
	.api_path = "/entropy",
	.put = put,
	.get = get, /* Firecracker counts no PUT /entropy requests */
};
