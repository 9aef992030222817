/*
 * The metadata store: one JSON document, replaced by PUT, merged into by
 * PATCH (RFC 7396), bounded by the size of its compact JSON. A change
 * that would not fit, or that is refused for any reason, leaves the
 * store as it was.
 */
#include "mmds_int.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct mmds *mmds_new(const char *vm_id)
{
	struct mmds *m = calloc(1, sizeof(*m));
	size_t got = 0;

	if (!m)
		return NULL;
	/* The token key: a tenth of a millisecond at most, once. */
	while (got < sizeof(m->key)) {
		ssize_t n = getrandom(m->key + got, sizeof(m->key) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(m);
			return NULL;
		}
		got += (size_t)n;
	}
	m->data = json_null();
	m->limit = MMDS_DEFAULT_SIZE_LIMIT;
	m->version = 1;
	m->vm_id = vm_id;
	return m;
}

void mmds_free(struct mmds *m)
{
	if (!m)
		return;
	json_decref(m->data);
	memset(m->key, 0, sizeof(m->key));
	free(m);
}

void mmds_set_size_limit(struct mmds *m, size_t limit)
{
	m->limit = limit;
}

void mmds_set_version(struct mmds *m, int version, bool imds_compat)
{
	m->version = version == 2 ? 2 : 1;
	m->imds_compat = imds_compat;
}

void mmds_test_advance_clock(struct mmds *m, uint64_t ms)
{
	m->skew_ms += ms;
}

static int fail(int *status, int code, char *err, size_t errlen,
                const char *msg)
{
	*status = code;
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* What every new document must pass: depth and size. */
static int fits(const struct mmds *m, const json_t *v, int *status, char *err,
                size_t errlen)
{
	struct mmds_buf b = { 0 };

	if (mmds_json_depth(v, MMDS_MAX_DEPTH) > MMDS_MAX_DEPTH) {
		*status = 400;
		snprintf(err, errlen,
		         "MMDS error: the document nests containers deeper "
		         "than %d levels",
		         MMDS_MAX_DEPTH);
		return -1;
	}
	mmds_json_write(&b, v, true, m->limit);
	if (b.len > m->limit)
		return fail(status, 413, err, errlen, MMDS_MSG_TOO_LARGE);
	return 0;
}

int mmds_put(struct mmds *m, json_t *v, int *status, char *err, size_t errlen)
{
	if (!v)
		return fail(status, 400, err, errlen,
		            "MMDS error: no document");
	if (fits(m, v, status, err, errlen) < 0)
		return -1;
	json_incref(v);
	json_decref(m->data);
	m->data = v;
	m->initialised = true;
	return 0;
}

/*
 * RFC 7396 as Firecracker applies it: an object patch turns a non-object
 * target into {}, removes the keys it maps to null and merges the rest
 * key by key; any other patch replaces the target whole. Returns the new
 * target (the reference to @target is consumed), NULL when out of memory.
 * Values that are not objects are shared with @patch, never changed in
 * place afterwards: only objects are merged into, and those are always
 * the target's own.
 */
static json_t *merge(json_t *target, json_t *patch)
{
	const char *key;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_incref(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		if (!(target = json_object()))
			return NULL;
	}
	json_object_foreach(patch, key, v)
	{
		json_t *cur, *n;

		if (json_is_null(v)) {
			json_object_del(target, key);
			continue;
		}
		cur = json_object_get(target, key);
		n = merge(cur ? json_incref(cur) : json_null(), v);
		if (!n || json_object_set_new(target, key, n) < 0) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

int mmds_patch(struct mmds *m, json_t *v, int *status, char *err, size_t errlen)
{
	json_t *next;

	if (!m->initialised)
		return fail(status, 400, err, errlen, MMDS_MSG_NOT_INIT);
	if (!v)
		return fail(status, 400, err, errlen,
		            "MMDS error: no document");
	if (mmds_json_depth(v, MMDS_MAX_DEPTH) > MMDS_MAX_DEPTH)
		return fits(m, v, status, err, errlen);
	/* A copy: a patch that does not fit leaves the store untouched. */
	next = json_deep_copy(m->data);
	if (!next || !(next = merge(next, v)))
		return fail(status, 500, err, errlen,
		            "MMDS error: out of memory");
	if (fits(m, next, status, err, errlen) < 0) {
		json_decref(next);
		return -1;
	}
	json_decref(m->data);
	m->data = next;
	return 0;
}

json_t *mmds_get(const struct mmds *m, int *status, char *err, size_t errlen)
{
	(void)status;
	(void)err;
	(void)errlen;
	return json_incref(m->data);
}
