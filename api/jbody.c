/* Firecracker JSON bodies: checked field tables and shared pieces. */
#include "jbody.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *type_name(enum jb_type t)
{
	static const char *const names[] = {
		[JB_BOOL] = "a boolean", [JB_UINT] = "a non-negative integer",
		[JB_STR] = "a string",   [JB_OBJ] = "an object",
		[JB_ARRAY] = "an array", [JB_ANY] = "a value",
	};
	return names[t];
}

static bool has_type(json_t *v, enum jb_type t)
{
	switch (t) {
	case JB_BOOL:
		return json_is_boolean(v);
	case JB_UINT:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case JB_STR:
		return json_is_string(v);
	case JB_OBJ:
		return json_is_object(v);
	case JB_ARRAY:
		return json_is_array(v);
	case JB_ANY:
		return true;
	}
	return false;
}

int jb_check(json_t *o, const char *what, const struct jb_field *f, size_t n,
             char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return util_err(err, errlen,
		                "%s: the body must be a JSON object", what);
	json_object_foreach(o, key, v)
	{
		size_t i;

		for (i = 0; i < n && strcmp(key, f[i].name); i++)
			;
		if (i == n)
			return util_err(err, errlen, "%s: unknown field '%s'",
			                what, key);
		if (json_is_null(v) && !f[i].required)
			continue;
		if (!has_type(v, f[i].type))
			return util_err(err, errlen, "%s: '%s' must be %s",
			                what, key, type_name(f[i].type));
	}
	for (size_t i = 0; i < n; i++)
		if (f[i].required && !json_object_get(o, f[i].name))
			return util_err(err, errlen, "%s: missing field '%s'",
			                what, f[i].name);
	return 0;
}

json_t *jb_read_file(const char *path, size_t max, char *err, size_t errlen)
{
	json_error_t je;
	uint8_t *buf;
	size_t len;
	json_t *root;
	int ret = util_read_file(path, max, &buf, &len);

	if (ret < 0) {
		if (ret == -EFBIG)
			util_err(err, errlen, "%s: larger than %zu KiB", path,
			         max / 1024);
		else
			util_err(err, errlen, "%s: %s", path, strerror(-ret));
		return NULL;
	}
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!root)
		util_err(err, errlen, "%s:%d:%d: %s", path, je.line, je.column,
		         je.text);
	return root;
}

json_t *jb_get(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_null(v) ? NULL : v;
}

uint64_t jb_u64(json_t *o, const char *name, uint64_t def)
{
	json_t *v = jb_get(o, name);

	return v ? (uint64_t)json_integer_value(v) : def;
}

bool jb_bool(json_t *o, const char *name, bool def)
{
	json_t *v = jb_get(o, name);

	return v ? json_is_true(v) : def;
}

const char *jb_str(json_t *o, const char *name)
{
	json_t *v = jb_get(o, name);

	return v ? json_string_value(v) : NULL;
}

int jb_path(const char *what, const char *field, const char *p, int mode,
            char *err, size_t errlen)
{
	if (!*p || strlen(p) >= CONFIG_PATH_MAX)
		return util_err(err, errlen, "%s: '%s' is empty or too long",
		                what, field);
	if (access(p, mode) < 0)
		return util_err(err, errlen, "%s: %s '%s': %s", what, field, p,
		                strerror(errno));
	return 0;
}

int jb_id(const char *what, const char *id, char *err, size_t errlen)
{
	if (!*id)
		return util_err(err, errlen, "The ID cannot be empty.");
	if (strlen(id) >= CONFIG_ID_MAX)
		return util_err(err, errlen,
		                "%s: the id '%s' is longer than %d characters",
		                what, id, CONFIG_ID_MAX - 1);
	if (!config_id_ok(id))
		return util_err(err, errlen,
		                "API Resource IDs can only contain "
		                "alphanumeric characters and underscores.");
	return 0;
}

int jb_bucket(json_t *o, const char *what, struct bucket_config *b, char *err,
              size_t errlen)
{
	static const struct jb_field f[] = {
		{ "size", JB_UINT, true },
		{ "one_time_burst", JB_UINT, false },
		{ "refill_time", JB_UINT, true },
	};

	memset(b, 0, sizeof(*b));
	if (!o)
		return 0;
	if (jb_check(o, what, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	b->size = jb_u64(o, "size", 0);
	b->one_time_burst = jb_u64(o, "one_time_burst", 0);
	b->refill_time_ms = jb_u64(o, "refill_time", 0);
	/* Firecracker: a bucket of size or refill time 0 is no limit. */
	b->set = b->size && b->refill_time_ms;
	return 0;
}

int jb_rate_limiter(json_t *o, const char *what, struct rate_limiter_config *rl,
                    bool keep, char *err, size_t errlen)
{
	static const struct jb_field f[] = {
		{ "bandwidth", JB_OBJ, false },
		{ "ops", JB_OBJ, false },
	};
	struct rate_limiter_config n =
	        keep ? *rl : (struct rate_limiter_config){ 0 };
	char w[96];

	if (!o) {
		*rl = n;
		return 0;
	}
	if (jb_check(o, what, f, ARRAY_SIZE(f), err, errlen) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.bandwidth", what);
	if ((!keep || jb_get(o, "bandwidth")) &&
	    jb_bucket(jb_get(o, "bandwidth"), w, &n.bandwidth, err, errlen) < 0)
		return -1;
	snprintf(w, sizeof(w), "%s.ops", what);
	if ((!keep || jb_get(o, "ops")) &&
	    jb_bucket(jb_get(o, "ops"), w, &n.ops, err, errlen) < 0)
		return -1;
	*rl = n;
	return 0;
}

static json_t *bucket_json(const struct bucket_config *b)
{
	json_t *o;

	if (!b->set)
		return json_null();
	o = json_pack("{s:I, s:I}", "size", (json_int_t)b->size, "refill_time",
	              (json_int_t)b->refill_time_ms);
	json_object_set_new(
	        o, "one_time_burst",
	        b->one_time_burst ? json_integer((json_int_t)b->one_time_burst)
	                          : json_null());
	return o;
}

json_t *jb_rate_limiter_json(const struct rate_limiter_config *rl)
{
	if (!rl->bandwidth.set && !rl->ops.set)
		return json_null();
	return json_pack("{s:o, s:o}", "bandwidth", bucket_json(&rl->bandwidth),
	                 "ops", bucket_json(&rl->ops));
}

json_t *jb_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}
