/*
 * The metadata store and its host side: PUT, RFC 7396 merge patches
 * (the RFC's own examples, scalar and null patches), the size limit at
 * its edge with the store unchanged on failure, the nesting limit, the
 * compact JSON as Firecracker writes it; the MMDS configuration's rules
 * (PUT /mmds/config, --config-file, GET /vm/config), the API's state
 * rule after the start, --metadata; and SHA-256 / HMAC-SHA-256 against
 * the published vectors (FIPS 180-2 examples, RFC 4231).
 */
#include "unit.h"
#include "fcjson.h"
#include "mmds.h"
#include "mmds_api.h"
#include "sha256.h"
#include "util.h"
#include "vmm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct mmds *s;
static struct vmm m;
static char err[512], dir[64];
static int status;

static void setup(void)
{
	memset(&m, 0, sizeof(m));
	vmm_init(&m);
	s = m.mmds;
	snprintf(dir, sizeof(dir), "/tmp/wisp-mmds-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	config_free(&m.cfg);
	mmds_free(m.mmds);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static json_t *j(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);

	ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, e.text);
	return v;
}

static int put(const char *text)
{
	json_t *v = j(text);
	int r = mmds_put(s, v, &status, err, sizeof(err));

	json_decref(v);
	return r;
}

static int patch(const char *text)
{
	json_t *v = j(text);
	int r = mmds_patch(s, v, &status, err, sizeof(err));

	json_decref(v);
	return r;
}

/* The store as compact JSON must be @want. */
static void store_is(const char *want)
{
	json_t *v = mmds_get(s, &status, err, sizeof(err));
	size_t len;
	char *got = mmds_json_dumps(v, &len);

	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(len, strlen(want));
	free(got);
	json_decref(v);
}

START_TEST(put_get_and_uninitialised)
{
	store_is("null");
	ck_assert_int_eq(patch("{\"a\": 1}"), -1);
	ck_assert_int_eq(status, 400);
	ck_assert_str_eq(err, MMDS_MSG_NOT_INIT);
	ck_assert_int_eq(put("{\"b\": {\"y\": 2, \"x\": 1}, \"a\": [true]}"),
	                 0);
	store_is("{\"a\":[true],\"b\":{\"x\":1,\"y\":2}}");
	/* PUT null is a PUT: the store is initialised, and PATCH works. */
	ck_assert_int_eq(put("null"), 0);
	store_is("null");
	ck_assert_int_eq(patch("{\"a\": 1}"), 0);
	store_is("{\"a\":1}");
}
END_TEST

/* RFC 7396, Appendix A, and Firecracker's rule for scalar patches. */
START_TEST(merge_patch_rfc_examples)
{
	static const char *const t[][3] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}",
		  "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}",
		  "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
		  "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"a\":\"foo\"}", "null", "null" },
		{ "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"a\":1,\"e\":null}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}",
		  "{\"a\":{\"bb\":{}}}" },
		/* A scalar store made an object, nested on the way. */
		{ "7", "{\"x\":{\"y\":null,\"z\":\"w\"}}",
		  "{\"x\":{\"z\":\"w\"}}" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		ck_assert_int_eq(put(t[i][0]), 0);
		ck_assert_msg(patch(t[i][1]) == 0, "case %zu: %s", i, err);
		store_is(t[i][2]);
	}
}
END_TEST

START_TEST(size_limit_edges)
{
	char body[300];

	/* {"k":"xxx..."}: 8 bytes around the string. */
	mmds_set_size_limit(s, 100);
	memset(body, 0, sizeof(body));
	strcpy(body, "{\"k\": \"");
	memset(body + 7, 'x', 92);
	strcat(body, "\"}");
	ck_assert_int_eq(put(body), 0);
	ck_assert_int_eq(patch("{\"k\": null, \"a\": 1}"), 0);
	store_is("{\"a\":1}");
	/* One byte over: 413, and the store keeps what it had. */
	body[7 + 92] = 'x';
	strcpy(body + 7 + 93, "\"}");
	ck_assert_int_eq(put(body), -1);
	ck_assert_int_eq(status, 413);
	ck_assert_str_eq(err, MMDS_MSG_TOO_LARGE);
	store_is("{\"a\":1}");
	body[7 + 92] = '\0';
	strcat(body, "\"}");
	ck_assert_int_eq(put(body), 0);
	ck_assert_int_eq(patch("{\"b\": 1}"), -1);
	ck_assert_int_eq(status, 413);
	ck_assert_int_eq(patch("{\"k\": \"short\"}"), 0);
	store_is("{\"k\":\"short\"}");
	/* Measured after escaping: "\n" takes two bytes. */
	mmds_set_size_limit(s, 12);
	ck_assert_int_eq(put("{\"a\":\"\\n\\n\"}"), 0);
	ck_assert_int_eq(put("{\"a\":\"\\n\\n\\n\"}"), -1);
	mmds_set_size_limit(s, 0);
	ck_assert_int_eq(put("1"), -1);
	ck_assert_int_eq(status, 413);
}
END_TEST

/* serde_json's recursion limit: 127 nested containers, not 128. */
START_TEST(nesting_limit)
{
	char body[600];
	size_t n = 0;

	for (int i = 0; i < MMDS_MAX_DEPTH; i++)
		body[n++] = '[';
	for (int i = 0; i < MMDS_MAX_DEPTH; i++)
		body[n++] = ']';
	body[n] = '\0';
	ck_assert_int_eq(put(body), 0);
	memmove(body + 1, body, n + 1);
	body[0] = '[';
	strcat(body, "]");
	ck_assert_int_eq(put(body), -1);
	ck_assert_int_eq(status, 400);
	ck_assert_ptr_nonnull(strstr(err, "127"));
	ck_assert_int_eq(put("{}"), 0);
	ck_assert_int_eq(patch(body), -1);
	store_is("{}");
}
END_TEST

/* The bytes serde_json writes: the size limit counts them. */
START_TEST(json_as_firecracker_writes_it)
{
	static const char *const t[][2] = {
		{ "0.1", "0.1" },
		{ "1.0", "1.0" },
		{ "1e2", "100.0" },
		{ "-2.5", "-2.5" },
		{ "1e15", "1000000000000000.0" },
		{ "1e16", "1e16" },
		{ "1.5e16", "1.5e16" },
		{ "123456.789", "123456.789" },
		{ "0.0001234", "0.0001234" },
		{ "0.00001", "0.00001" },
		{ "0.000001", "1e-6" },
		{ "1.5e-7", "1.5e-7" },
		{ "1e300", "1e300" },
		{ "-0.0", "-0.0" },
		{ "0.0", "0.0" },
		{ "5e-324", "5e-324" },
		{ "1.7976931348623157e308", "1.7976931348623157e308" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\/\\u007f\\u00e9\"",
		  "\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\/\x7f\xc3\xa9\"" },
		{ "\"a\\u0000b\"", "\"a\\u0000b\"" },
		{ "{\"b\":1,\"a\":{\"d\":[],\"c\":{}},\"B\":null,\"\":false}",
		  "{\"\":false,\"B\":null,\"a\":{\"c\":{},\"d\":[]},\"b\":1}" },
		{ "{\"\xc3\xa9\":1,\"z\":2}", "{\"z\":2,\"\xc3\xa9\":1}" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		ck_assert_int_eq(put(t[i][0]), 0);
		store_is(t[i][1]);
	}
}
END_TEST

static void add_net(const char *id)
{
	snprintf(m.cfg.nets[m.cfg.nnets].id, CONFIG_ID_MAX, "%s", id);
	snprintf(m.cfg.nets[m.cfg.nnets].host_dev_name, CONFIG_IFNAME_MAX,
	         "tap%u", m.cfg.nnets);
	m.cfg.nnets++;
}

static int config(const char *text)
{
	json_t *v = j(text);
	int r = fc_mmds_config(&m, v, err, sizeof(err));

	json_decref(v);
	return r;
}

#define REFUSED(call, msg)                                                     \
	do {                                                                   \
		ck_assert_int_eq((call), -1);                                  \
		ck_assert_msg(strstr(err, (msg)), "'%s' lacks '%s'", err,      \
		              (msg));                                          \
		ck_assert(!m.cfg.mmds.set);                                    \
	} while (0)

START_TEST(config_rules)
{
	json_t *v;
	char *text;

	add_net("eth0");
	add_net("eth1");
	REFUSED(config("{}"), "missing field 'network_interfaces'");
	REFUSED(config("{\"network_interfaces\": []}"), "is empty");
	REFUSED(config("{\"network_interfaces\": [\"eth2\"]}"),
	        "'eth2' is not the iface_id of a configured");
	REFUSED(config("{\"network_interfaces\": [1]}"),
	        "network_interfaces[0] is not a string");
	REFUSED(config("{\"network_interfaces\": \"eth0\"}"),
	        "'network_interfaces' must be an array");
	REFUSED(config("{\"network_interfaces\": [\"eth0\"], \"version\": "
	               "\"V3\"}"),
	        "version 'V3' is not V1 or V2");
	REFUSED(config("{\"network_interfaces\": [\"eth0\"], \"x\": 1}"),
	        "unknown field 'x'");
	REFUSED(config("{\"network_interfaces\": [\"eth0\"], \"imds_compat\": "
	               "1}"),
	        "'imds_compat' must be a boolean");
	static const char *const bad_ip[] = {
		"10.0.0.1",     "169.254.0.1",   "169.254.255.1",
		"169.253.1.1",  "169.254.1",     "",
		"169.254.01.1", "169.254.1.256", "::1",
		" 169.254.1.1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_ip); i++) {
		char body[128];

		snprintf(body, sizeof(body),
		         "{\"network_interfaces\": [\"eth0\"], "
		         "\"ipv4_address\": \"%s\"}",
		         bad_ip[i]);
		REFUSED(config(body), "ipv4_address");
	}

	/* Defaults: V1, 169.254.169.254, no imds_compat. */
	ck_assert_int_eq(config("{\"network_interfaces\": [\"eth1\"]}"), 0);
	ck_assert(m.cfg.mmds.set);
	ck_assert_int_eq(m.cfg.mmds.version, 1);
	ck_assert_uint_eq(m.cfg.mmds.ipv4, MMDS_DEFAULT_IPV4);
	ck_assert(!m.cfg.mmds.imds_compat);
	ck_assert_uint_eq(m.cfg.mmds.nifaces, 1);
	ck_assert_str_eq(m.cfg.mmds.ifaces[0], "eth1");

	/* Each interface once; GET /vm/config lists them in their order. */
	ck_assert_int_eq(config("{\"network_interfaces\": [\"eth1\", \"eth0\", "
	                        "\"eth1\"], \"version\": \"V2\", "
	                        "\"ipv4_address\": \"169.254.1.254\", "
	                        "\"imds_compat\": true}"),
	                 0);
	ck_assert_uint_eq(m.cfg.mmds.nifaces, 2);
	ck_assert_uint_eq(m.cfg.mmds.ipv4, 0xa9fe01feu);
	v = fc_mmds_config_json(&m.cfg);
	text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(text, "{\"version\":\"V2\",\"network_interfaces\":["
	                       "\"eth0\",\"eth1\"],\"ipv4_address\":\"169."
	                       "254.1.254\",\"imds_compat\":true}");
	free(text);
	json_decref(v);
	/* A refused body changes nothing. */
	ck_assert_int_eq(config("{\"network_interfaces\": [\"eth0\"], "
	                        "\"version\": \"V9\"}"),
	                 -1);
	ck_assert_int_eq(m.cfg.mmds.version, 2);
	ck_assert_uint_eq(m.cfg.mmds.nifaces, 2);
}
END_TEST

/* --config-file with "mmds-config", after its interfaces. */
START_TEST(config_file_section)
{
	char path[128], kernel[128];
	json_t *out;
	FILE *f;

	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	f = fopen(kernel, "w");
	fputs("k", f);
	fclose(f);
	out = fc_vm_config_json(&m.cfg);
	ck_assert(json_is_null(json_object_get(out, "mmds-config")));
	json_decref(out);

	snprintf(path, sizeof(path), "%s/vm.json", dir);
	f = fopen(path, "w");
	fprintf(f,
	        "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
	        "\"mmds-config\": {\"network_interfaces\": [\"n1\"], "
	        "\"version\": \"V2\"}, "
	        "\"network-interfaces\": [{\"iface_id\": \"n1\", "
	        "\"host_dev_name\": \"tap9\"}]}",
	        kernel);
	fclose(f);
	ck_assert_msg(fcjson_load_file(&m, path, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert(m.cfg.mmds.set);
	ck_assert_int_eq(m.cfg.mmds.version, 2);
	out = fc_vm_config_json(&m.cfg);
	ck_assert_str_eq(
	        json_string_value(json_object_get(
	                json_object_get(out, "mmds-config"), "version")),
	        "V2");
	json_decref(out);

	/* An interface the file does not configure fails the load. */
	f = fopen(path, "w");
	fprintf(f,
	        "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
	        "\"mmds-config\": {\"network_interfaces\": [\"n2\"]}}",
	        kernel);
	fclose(f);
	ck_assert_int_eq(fcjson_load_file(&m, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "mmds-config: network_interfaces"));
}
END_TEST

/* After the start the API reaches the store only through an MMDS
 * configuration; before it, always. */
START_TEST(api_state_rule)
{
	json_t *v = j("{\"a\": \"b\"}");
	char *body;

	body = mmds_api_get(&m, &status, err, sizeof(err));
	ck_assert_str_eq(body, "{}");
	free(body);
	ck_assert_int_eq(mmds_api_patch(&m, v, &status, err, sizeof(err)), -1);
	ck_assert_int_eq(status, 400);
	ck_assert_int_eq(mmds_api_put(&m, v, &status, err, sizeof(err)), 0);
	atomic_store(&m.state, VMM_RUNNING);
	status = 0;
	ck_assert_ptr_null(mmds_api_get(&m, &status, err, sizeof(err)));
	ck_assert_int_eq(status, 400);
	ck_assert_str_eq(err, MMDS_MSG_NOT_INIT);
	ck_assert_int_eq(mmds_api_put(&m, v, &status, err, sizeof(err)), -1);
	ck_assert_int_eq(mmds_api_patch(&m, v, &status, err, sizeof(err)), -1);
	m.cfg.mmds.set = true;
	ck_assert_int_eq(mmds_api_patch(&m, v, &status, err, sizeof(err)), 0);
	body = mmds_api_get(&m, &status, err, sizeof(err));
	ck_assert_str_eq(body, "{\"a\":\"b\"}");
	free(body);
	atomic_store(&m.state, VMM_NOT_STARTED);
	json_decref(v);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(metadata_file)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/md.json", dir);
	ck_assert_int_eq(mmds_api_load_file(&m, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	write_file(path, "{\"latest\": {\"meta-data\": [1,\n");
	ck_assert_int_eq(mmds_api_load_file(&m, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not valid JSON"));
	/* Pretty-printed on disk, measured compact. */
	write_file(path, "{\n    \"k\":   \"vvvvvvvv\"\n}\n");
	mmds_set_size_limit(s, 16);
	ck_assert_int_eq(mmds_api_load_file(&m, path, err, sizeof(err)), 0);
	store_is("{\"k\":\"vvvvvvvv\"}");
	mmds_set_size_limit(s, 15);
	ck_assert_int_eq(mmds_api_load_file(&m, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "16 bytes of compact JSON"));
	write_file(path, "\"just a string\"");
	mmds_set_size_limit(s, MMDS_DEFAULT_SIZE_LIMIT);
	ck_assert_int_eq(mmds_api_load_file(&m, path, err, sizeof(err)), 0);
	store_is("\"just a string\"");
}
END_TEST

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

START_TEST(sha256_vectors)
{
	static const char *const t[][2] = {
		{ "abc",
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff6"
		  "1f20015ad" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		      "7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419d"
		  "b06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijk"
		  "lmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037af"
		  "ee9d1" },
	};
	uint8_t d[SHA256_LEN], a[1003];
	char h[2 * SHA256_LEN + 1];
	struct sha256 c;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		sha256_init(&c);
		sha256_update(&c, t[i][0], strlen(t[i][0]));
		sha256_final(&c, d);
		hex(d, sizeof(d), h);
		ck_assert_str_eq(h, t[i][1]);
	}
	/* One million 'a', fed in pieces that straddle the blocks. */
	memset(a, 'a', sizeof(a));
	sha256_init(&c);
	for (int i = 0; i < 1000; i++)
		sha256_update(&c, a, i % 2 ? 997 : 1003);
	sha256_final(&c, d);
	hex(d, sizeof(d), h);
	ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e"
	                    "046d39ccc7112cd0");
}
END_TEST

/* RFC 4231's test cases; 5 is the 128-bit truncation the tokens use. */
START_TEST(hmac_sha256_rfc4231)
{
	uint8_t k20b[20], k20a[20], k25[25], k131[131], d50d[50], d50c[50],
	        k20c[20], mac[SHA256_LEN];
	struct {
		const uint8_t *key;
		size_t klen;
		const void *data;
		size_t dlen;
		const char *want;
	} t[] = {
		{ k20b, 20, "Hi There", 8,
		  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32"
		  "cff7" },
		{ (const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
		  28,
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec"
		  "3843" },
		{ k20a, 20, d50d, 50,
		  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced5"
		  "65fe" },
		{ k25, 25, d50c, 50,
		  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729"
		  "665b" },
		{ k20c, 20, "Test With Truncation", 20,
		  "a3b6167473100ee06e0c796c2955552b" },
		{ k131, 131,
		  "Test Using Larger Than Block-Size Key - Hash Key "
		  "First",
		  54,
		  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee3"
		  "7f54" },
		{ k131, 131,
		  "This is a test using a larger than block-size key and a "
		  "larger than block-size data. The key needs to be hashed "
		  "before being used by the HMAC algorithm.",
		  152,
		  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a"
		  "35e2" },
	};
	char h[2 * SHA256_LEN + 1];

	memset(k20b, 0x0b, sizeof(k20b));
	memset(k20a, 0xaa, sizeof(k20a));
	memset(k20c, 0x0c, sizeof(k20c));
	memset(k131, 0xaa, sizeof(k131));
	memset(d50d, 0xdd, sizeof(d50d));
	memset(d50c, 0xcd, sizeof(d50c));
	for (int i = 0; i < 25; i++)
		k25[i] = (uint8_t)(i + 1);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		sha256_hmac(t[i].key, t[i].klen, t[i].data, t[i].dlen, mac);
		hex(mac, strlen(t[i].want) / 2, h);
		ck_assert_msg(!strcmp(h, t[i].want), "case %zu: %s", i + 1, h);
	}
}
END_TEST

Suite *mmds_suite(void)
{
	Suite *su = suite_create("mmds");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, put_get_and_uninitialised);
	tcase_add_test(tc, merge_patch_rfc_examples);
	tcase_add_test(tc, size_limit_edges);
	tcase_add_test(tc, nesting_limit);
	tcase_add_test(tc, json_as_firecracker_writes_it);
	tcase_add_test(tc, config_rules);
	tcase_add_test(tc, config_file_section);
	tcase_add_test(tc, api_state_rule);
	tcase_add_test(tc, metadata_file);
	tcase_add_test(tc, sha256_vectors);
	tcase_add_test(tc, hmac_sha256_rfc4231);
	suite_add_tcase(su, tc);
	return su;
}
