/*
 * Reading and writing Firecracker's JSON bodies: a body is checked
 * against a table of fields (names, types, which are required) before
 * anything is taken from it, and the pieces several resources share
 * (paths, ids, rate limiters) are read and written the same way
 * everywhere. Used by the API's resources (fcjson.c) and by each device
 * type's configuration (virtio/ *_conf.c).
 */
#ifndef WISP_JBODY_H
#define WISP_JBODY_H

#include "config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jb_type { JB_BOOL, JB_UINT, JB_STR, JB_OBJ, JB_ARRAY, JB_ANY };

struct jb_field {
	const char *name;
	enum jb_type type;
	bool required;
};

/*
 * @o is an object whose keys are all in @f (@n of them), each of its
 * type (null stands for an absent optional field), with every required
 * field present. 0, or -1 with "@what: ..." in @err.
 */
int jb_check(json_t *o, const char *what, const struct jb_field *f, size_t n,
             char *err, size_t errlen);

/*
 * The JSON document in the file at @path (at most @max bytes, no
 * duplicate keys), or NULL with "PATH: why" (or "PATH:LINE:COLUMN: why")
 * in @err.
 */
json_t *jb_read_file(const char *path, size_t max, char *err, size_t errlen);

/* The field's value when given and not null, else NULL. */
json_t *jb_get(json_t *o, const char *name);
/* Typed values of checked fields, @def when absent or null. */
uint64_t jb_u64(json_t *o, const char *name, uint64_t def);
bool jb_bool(json_t *o, const char *name, bool def);
const char *jb_str(json_t *o, const char *name); /* NULL when absent */

/* A path the VMM will open with access @mode: not empty, short, there. */
int jb_path(const char *what, const char *field, const char *p, int mode,
            char *err, size_t errlen);
/* A resource id (config_id_ok()), with Firecracker's messages. */
#define JB_ID_MISMATCH                                                         \
	"The id from the path does not match the id from the body!"
int jb_id(const char *what, const char *id, char *err, size_t errlen);

/*
 * A RateLimiter object (NULL: none) into @rl. @keep: only the buckets
 * the object names change (a PATCH), else both are set from it.
 */
int jb_rate_limiter(json_t *o, const char *what, struct rate_limiter_config *rl,
                    bool keep, char *err, size_t errlen);

/* One TokenBucket object (NULL: none, so unset) into @b. */
int jb_bucket(json_t *o, const char *what, struct bucket_config *b, char *err,
              size_t errlen);
/* New references: a RateLimiter (null when unlimited), a string or null. */
json_t *jb_rate_limiter_json(const struct rate_limiter_config *rl);
json_t *jb_str_or_null(const char *s);

#endif
