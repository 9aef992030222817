/*
 * Firecracker JSON bodies: what each resource accepts, what it refuses
 * (with a message naming the field) and that a refused body changes
 * nothing; and GET /vm/config read back as a --config-file.
 */
#include "unit.h"
#include "fcjson.h"
#include "jbody.h"
#include "mmds.h"
#include "util.h"
#include "vmm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/wisp-fcjson-XXXXXX";
static char kernel[256], disk[256];
static char err[8192];
static struct config cfg;

static void setup(void)
{
	FILE *f;

	strcpy(dir, "/tmp/wisp-fcjson-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	snprintf(disk, sizeof(disk), "%s/disk.img", dir);
	f = fopen(kernel, "w");
	fputs("kernel", f);
	fclose(f);
	f = fopen(disk, "w");
	fputs("disk", f);
	fclose(f);
	config_init(&cfg);
}

static void teardown(void)
{
	char cmd[300];

	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* @tmpl with each "%s" replaced by @arg (no printf: the tests' JSON). */
static void fill(char *out, size_t len, const char *tmpl, const char *arg)
{
	size_t n = 0;

	for (const char *p = tmpl; *p && n + 1 < len; p++) {
		if (p[0] == '%' && p[1] == 's') {
			n += (size_t)snprintf(out + n, len - n, "%s", arg);
			p++;
		} else {
			out[n++] = *p;
		}
	}
	out[MIN(n, len - 1)] = '\0';
}

/* Parse @text, a JSON value the test wrote. */
static json_t *j(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, e.text);
	return v;
}

static int machine(const char *text, bool patch)
{
	json_t *v = j(text);
	int r = fc_machine_config(&cfg, v, patch, err, sizeof(err));

	json_decref(v);
	return r;
}

#define REFUSED(call, msg)                                                     \
	do {                                                                   \
		ck_assert_int_eq((call), -1);                                  \
		ck_assert_msg(strstr(err, (msg)), "'%s' lacks '%s'", err,      \
		              (msg));                                          \
	} while (0)

START_TEST(machine_config_rules)
{
	ck_assert_int_eq(machine("{\"vcpu_count\": 4, \"mem_size_mib\": 512, "
	                         "\"track_dirty_pages\": true, \"huge_pages\": "
	                         "\"2M\", \"smt\": false}",
	                         false),
	                 0);
	ck_assert_uint_eq(cfg.vcpus, 4);
	ck_assert_uint_eq(cfg.mem_mib, 512);
	ck_assert(cfg.track_dirty_pages);
	ck_assert_int_eq(cfg.huge_pages, HUGE_PAGES_2M);

	REFUSED(machine("{\"vcpu_count\": 33, \"mem_size_mib\": 64}", false),
	        "vcpu_count 33 is not in 1..32");
	REFUSED(machine("{\"vcpu_count\": 1}", false),
	        "missing field 'mem_size_mib'");
	REFUSED(machine("{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"x\": 1}",
	                false),
	        "unknown field 'x'");
	REFUSED(machine("{\"vcpu_count\": true, \"mem_size_mib\": 64}", false),
	        "'vcpu_count' must be a non-negative integer");
	REFUSED(machine("{\"vcpu_count\": 1, \"mem_size_mib\": 64, "
	                "\"cpu_template\": \"T2\"}",
	                false),
	        "cpu_template 'T2'");
	REFUSED(machine("{\"mem_size_mib\": 511}", true), "multiple of the 2");
	REFUSED(machine("{\"huge_pages\": \"1G\"}", true),
	        "huge_pages '1G' is not None, Transparent or 2M");
	REFUSED(machine("{}", true), "empty PATCH");
	/* Nothing above changed the configuration. */
	ck_assert_uint_eq(cfg.vcpus, 4);
	ck_assert_uint_eq(cfg.mem_mib, 512);

	/* PATCH keeps what it does not name; PUT resets it. */
	ck_assert_int_eq(machine("{\"vcpu_count\": 2}", true), 0);
	ck_assert_uint_eq(cfg.vcpus, 2);
	ck_assert(cfg.track_dirty_pages);
	ck_assert_int_eq(
	        machine("{\"vcpu_count\": 1, \"mem_size_mib\": 64}", false), 0);
	ck_assert(!cfg.track_dirty_pages);
	ck_assert_int_eq(cfg.huge_pages, HUGE_PAGES_NONE);
	/* Transparent: any size, THP by madvise. */
	ck_assert_int_eq(machine("{\"mem_size_mib\": 65, \"huge_pages\": "
	                         "\"Transparent\"}",
	                         true),
	                 0);
	ck_assert_int_eq(cfg.huge_pages, HUGE_PAGES_THP);
	/* null is an absent optional field, as serde's Option reads it. */
	ck_assert_int_eq(machine("{\"vcpu_count\": 1, \"mem_size_mib\": 64, "
	                         "\"smt\": null}",
	                         false),
	                 0);
}
END_TEST

static int boot(const char *fmt, const char *arg)
{
	char text[1024];
	json_t *v;
	int r;

	fill(text, sizeof(text), fmt, arg);
	v = j(text);
	r = fc_boot_source(&cfg, v, err, sizeof(err));
	json_decref(v);
	return r;
}

START_TEST(boot_source_rules)
{
	ck_assert_int_eq(boot("{\"kernel_image_path\": \"%s\"}", kernel), 0);
	ck_assert_str_eq(cfg.kernel, kernel);
	ck_assert_str_eq(cfg.cmdline, FC_DEFAULT_BOOT_ARGS);
	ck_assert_int_eq(boot("{\"kernel_image_path\": \"%s\", \"boot_args\": "
	                      "\"console=ttyS0\"}",
	                      kernel),
	                 0);
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0");
	REFUSED(boot("{\"kernel_image_path\": \"%s/none\"}", dir),
	        "No such file");
	REFUSED(boot("{\"kernel_image_path\": \"%s\", \"initrd_path\": 7}",
	             kernel),
	        "'initrd_path' must be a string");
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0");
}
END_TEST

static int serial(const char *text)
{
	json_t *v = j(text);
	int r = fc_serial(&cfg, v, err, sizeof(err));

	json_decref(v);
	return r;
}

START_TEST(serial_rules)
{
	ck_assert(cfg.serial_in);
	ck_assert_int_eq(serial("{\"serial_out_path\": \"/tmp/x/console\", "
	                        "\"rate_limiter\": {\"size\": 1024, "
	                        "\"refill_time\": 100, \"one_time_burst\": "
	                        "65536}}"),
	                 0);
	ck_assert_str_eq(cfg.serial_out, "/tmp/x/console");
	ck_assert(!cfg.serial_in); /* a file: stdin is not the console */
	ck_assert(cfg.serial_rl.set);
	ck_assert_uint_eq(cfg.serial_rl.size, 1024);
	ck_assert_uint_eq(cfg.serial_rl.refill_time_ms, 100);
	ck_assert_uint_eq(cfg.serial_rl.one_time_burst, 65536);

	REFUSED(serial("{\"serial_out_path\": 3}"),
	        "serial: 'serial_out_path' must be a string");
	REFUSED(serial("{\"serial_out_path\": \"\"}"),
	        "'serial_out_path' must be a path of 1-4095 bytes");
	REFUSED(serial("{\"path\": \"/tmp/c\"}"), "unknown field 'path'");
	REFUSED(serial("{\"rate_limiter\": {\"size\": 1}}"),
	        "serial: rate_limiter: missing field 'refill_time'");
	REFUSED(serial("{\"rate_limiter\": {\"bandwidth\": {}}}"),
	        "unknown field 'bandwidth'");
	REFUSED(serial("{\"rate_limiter\": 5}"),
	        "'rate_limiter' must be an object");
	ck_assert_str_eq(cfg.serial_out, "/tmp/x/console");
	ck_assert(cfg.serial_rl.set);

	/* The whole body replaces the last: {} is stdout, stdin, no limit;
	 * a bucket of size 0 is no limit (Firecracker's TokenBucket). */
	ck_assert_int_eq(serial("{}"), 0);
	ck_assert_str_eq(cfg.serial_out, "");
	ck_assert(cfg.serial_in);
	ck_assert(!cfg.serial_rl.set);
	ck_assert_int_eq(serial("{\"serial_out_path\": null, \"rate_limiter\": "
	                        "{\"size\": 0, \"refill_time\": 10}}"),
	                 0);
	ck_assert(!cfg.serial_rl.set);
}
END_TEST

static int drive(const char *id, const char *fmt, const char *arg)
{
	char text[2048];
	json_t *v;
	int r;

	fill(text, sizeof(text), fmt, arg);
	v = j(text);
	r = blk_conf.put(&cfg, id, v, err, sizeof(err));
	json_decref(v);
	return r;
}

START_TEST(drive_rules)
{
	ck_assert_int_eq(drive("root",
	                       "{\"drive_id\": \"root\", \"path_on_host\": "
	                       "\"%s\", \"is_root_device\": true, "
	                       "\"partuuid\": \"0eaa91a0-01\"}",
	                       disk),
	                 0);
	ck_assert_uint_eq(cfg.ndrives, 1);
	ck_assert(cfg.drives[0].root);
	ck_assert(cfg.drives[0].no_flush); /* Unsafe by default */
	ck_assert_str_eq(cfg.drives[0].partuuid, "0eaa91a0-01");
	REFUSED(drive("data",
	              "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
	              "\"is_root_device\": true}",
	              disk),
	        "'root' is already the root device");
	REFUSED(drive("data",
	              "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
	              "\"is_root_device\": false, \"socket\": \"/s\"}",
	              disk),
	        "vhost-user");
	REFUSED(drive("data",
	              "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
	              "\"is_root_device\": false, \"rate_limiter\": {\"ops\": "
	              "{\"size\": 1, \"refill_time\": 1, \"burst\": 1}}}",
	              disk),
	        "drives: rate_limiter.ops: unknown field 'burst'");
	ck_assert_uint_eq(cfg.ndrives, 1);
	/* The same id again replaces the drive, root flag included. */
	ck_assert_int_eq(drive("root",
	                       "{\"drive_id\": \"root\", \"path_on_host\": "
	                       "\"%s\", \"is_root_device\": false, "
	                       "\"cache_type\": \"Writeback\"}",
	                       disk),
	                 0);
	ck_assert_uint_eq(cfg.ndrives, 1);
	ck_assert(!cfg.drives[0].root);
	ck_assert(!cfg.drives[0].no_flush);
}
END_TEST

START_TEST(net_and_vsock_rules)
{
	json_t *v = j("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
	              "\"guest_mac\": \"AA:FC:00:00:00:01\"}");

	ck_assert_int_eq(net_conf.put(&cfg, "eth0", v, err, sizeof(err)), 0);
	json_decref(v);
	ck_assert_uint_eq(cfg.nnets, 1);
	ck_assert_uint_eq(cfg.nets[0].mac[0], 0xaa);
	v = j("{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
	      "\"guest_mac\": \"01:00:00:00:00:01\"}");
	REFUSED(net_conf.put(&cfg, "eth1", v, err, sizeof(err)), "multicast");
	json_decref(v);
	v = j("{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}");
	REFUSED(net_conf.put(&cfg, "eth1", v, err, sizeof(err)),
	        "already used by 'eth0'");
	json_decref(v);

	v = j("{\"guest_cid\": 4294967296, \"uds_path\": \"/v\"}");
	REFUSED(vsock_conf.put(&cfg, NULL, v, err, sizeof(err)),
	        "guest_cid 4294967296 is not a 32-bit number");
	json_decref(v);
	ck_assert(!cfg.vsock.present);
	/* Any u32 else, as Firecracker: firecracker-containerd sends 0. */
	v = j("{\"guest_cid\": 0, \"uds_path\": \"/v\", \"vsock_id\": "
	      "\"agent_api\"}");
	ck_assert_int_eq(vsock_conf.put(&cfg, NULL, v, err, sizeof(err)), 0);
	json_decref(v);
	ck_assert(cfg.vsock.present && cfg.vsock.guest_cid == 0);
	ck_assert_int_eq(vsock_conf.check(&cfg, 0, err, sizeof(err)), 0);
	cfg.vsock.present = false;
	v = j("{\"guest_cid\": 3, \"uds_path\": \"/tmp/v.sock\"}");
	ck_assert_int_eq(vsock_conf.put(&cfg, NULL, v, err, sizeof(err)), 0);
	json_decref(v);
	ck_assert_uint_eq(cfg.vsock.guest_cid, 3);
}
END_TEST

/* GET /vm/config, written to a file, boots the same configuration. */
START_TEST(vm_config_round_trip)
{
	static struct vmm m;
	char path[300];
	json_t *out;
	FILE *f;

	ck_assert_int_eq(
	        machine("{\"vcpu_count\": 3, \"mem_size_mib\": 96}", false), 0);
	ck_assert_int_eq(boot("{\"kernel_image_path\": \"%s\", \"boot_args\": "
	                      "\"a=b\"}",
	                      kernel),
	                 0);
	ck_assert_int_eq(
	        drive("d1",
	              "{\"drive_id\": \"d1\", \"path_on_host\": \"%s\", "
	              "\"is_root_device\": true, \"is_read_only\": "
	              "true, \"rate_limiter\": {\"bandwidth\": "
	              "{\"size\": 10, \"refill_time\": 5}}}",
	              disk),
	        0);
	{
		json_t *e = j("{\"rate_limiter\": {\"ops\": {\"size\": 5, "
		              "\"refill_time\": 100}}}");

		ck_assert_int_eq(rng_conf.put(&cfg, NULL, e, err, sizeof(err)),
		                 0);
		json_decref(e);
		e = j("{\"rate\": 1}");
		REFUSED(rng_conf.put(&cfg, NULL, e, err, sizeof(err)),
		        "entropy: unknown field 'rate'");
		json_decref(e);
	}
	out = fc_vm_config_json(&cfg);
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	f = fopen(path, "w");
	ck_assert_int_eq(json_dumpf(out, f, JSON_INDENT(2)), 0);
	fclose(f);
	json_decref(out);

	vmm_init(&m);
	ck_assert_msg(fcjson_load_file(&m, path, err, sizeof(err)) == 0, "%s",
	              err);
	ck_assert_uint_eq(m.cfg.vcpus, 3);
	ck_assert_uint_eq(m.cfg.mem_mib, 96);
	ck_assert_str_eq(m.cfg.kernel, kernel);
	ck_assert_str_eq(m.cfg.cmdline, "a=b");
	ck_assert_uint_eq(m.cfg.ndrives, 1);
	ck_assert(m.cfg.drives[0].root && m.cfg.drives[0].read_only);
	ck_assert_uint_eq(m.cfg.drives[0].rl.bandwidth.size, 10);
	ck_assert_uint_eq(m.cfg.drives[0].rl.bandwidth.refill_time_ms, 5);
	ck_assert(m.cfg.entropy.present && m.cfg.entropy.rl.ops.size == 5 &&
	          !m.cfg.entropy.rl.bandwidth.set);
	config_free(&m.cfg);
	mmds_free(m.mmds);
}
END_TEST

/* A PATCH names the buckets it changes; the others keep their values. */
START_TEST(rate_limiter_patch_keeps_buckets)
{
	struct rate_limiter_config rl = { 0 };
	json_t *v;

	v = j("{\"bandwidth\": {\"size\": 100, \"refill_time\": 10}, "
	      "\"ops\": {\"size\": 7, \"refill_time\": 1000}}");
	ck_assert_int_eq(jb_rate_limiter(v, "t", &rl, false, err, sizeof(err)),
	                 0);
	json_decref(v);
	ck_assert(rl.bandwidth.set && rl.ops.set);
	v = j("{\"ops\": {\"size\": 9, \"refill_time\": 1000}}");
	ck_assert_int_eq(jb_rate_limiter(v, "t", &rl, true, err, sizeof(err)),
	                 0);
	ck_assert(rl.bandwidth.set && rl.bandwidth.size == 100);
	ck_assert_uint_eq(rl.ops.size, 9);
	/* The same body in a PUT: the bucket it does not name is no limit. */
	ck_assert_int_eq(jb_rate_limiter(v, "t", &rl, false, err, sizeof(err)),
	                 0);
	json_decref(v);
	ck_assert(!rl.bandwidth.set && rl.ops.size == 9);
	/* Size 0 switches a bucket off; a bad bucket changes nothing. */
	v = j("{\"ops\": {\"size\": 0, \"refill_time\": 1000}}");
	ck_assert_int_eq(jb_rate_limiter(v, "t", &rl, true, err, sizeof(err)),
	                 0);
	json_decref(v);
	ck_assert(!rl.ops.set);
	rl.ops = (struct bucket_config){ .set = true,
		                         .size = 5,
		                         .refill_time_ms = 5 };
	v = j("{\"bandwidth\": {\"size\": 1, \"refill_time\": 1}, "
	      "\"ops\": {\"size\": -1, \"refill_time\": 1}}");
	REFUSED(jb_rate_limiter(v, "t", &rl, true, err, sizeof(err)),
	        "t.ops: 'size' must be a non-negative integer");
	json_decref(v);
	ck_assert(!rl.bandwidth.set && rl.ops.size == 5);
}
END_TEST

/*
 * PUT /snapshot/load: the device types' override fields are kept for
 * the load (which checks them against the snapshot); others refused.
 */
START_TEST(snapshot_load_overrides)
{
	struct snapshot_load l;
	char body[1024];
	json_t *v;

	fill(body, sizeof(body),
	     "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\", "
	     "\"network_overrides\": [{\"iface_id\": \"eth0\", "
	     "\"host_dev_name\": \"tap9\"}], \"vsock_override\": "
	     "{\"uds_path\": \"/v.sock\"}}",
	     disk);
	v = j(body);
	ck_assert_msg(fc_snapshot_load(v, &l, err, sizeof(err)) == 0, "%s",
	              err);
	json_decref(v);
	ck_assert_ptr_nonnull(l.overrides);
	ck_assert_uint_eq(json_object_size(l.overrides), 2);
	ck_assert(json_is_array(
	        json_object_get(l.overrides, "network_overrides")));
	json_decref(l.overrides);

	fill(body, sizeof(body),
	     "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\", "
	     "\"tap_overrides\": []}",
	     disk);
	v = j(body);
	REFUSED(fc_snapshot_load(v, &l, err, sizeof(err)),
	        "unknown field 'tap_overrides'");
	json_decref(v);
	ck_assert_ptr_null(l.overrides);

	/* An override against a snapshot's configuration. */
	cfg.nnets = 1;
	snprintf(cfg.nets[0].id, sizeof(cfg.nets[0].id), "eth0");
	snprintf(cfg.nets[0].host_dev_name, sizeof(cfg.nets[0].host_dev_name),
	         "tap0");
	v = j("[{\"iface_id\": \"eth1\", \"host_dev_name\": \"t\"}]");
	REFUSED(net_conf.override(&cfg, v, err, sizeof(err)),
	        "the snapshot has no interface 'eth1'");
	json_decref(v);
	v = j("[{\"iface_id\": \"eth0\", \"host_dev_name\": \"a/b\"}]");
	REFUSED(net_conf.override(&cfg, v, err, sizeof(err)),
	        "is not an interface name");
	json_decref(v);
	v = j("[{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap7\"}]");
	ck_assert_int_eq(net_conf.override(&cfg, v, err, sizeof(err)), 0);
	json_decref(v);
	ck_assert_str_eq(cfg.nets[0].host_dev_name, "tap7");
	v = j("{\"uds_path\": \"/x.sock\"}");
	REFUSED(vsock_conf.override(&cfg, v, err, sizeof(err)),
	        "the snapshot has no vsock device");
	json_decref(v);
}
END_TEST

/* PUT /snapshot/load's clock_realtime and huge_pages, as Firecracker's. */
START_TEST(snapshot_load_clock_and_huge_pages)
{
	static const struct {
		const char *extra; /* fields after snapshot_path */
		const char *refused;
		bool huge_set, realtime;
		enum huge_pages huge;
	} t[] = {
		{ "\"mem_file_path\": \"%s\"", NULL, false, false, 0 },
		{ "\"mem_file_path\": \"%s\", \"huge_pages\": \"Snapshot\"",
		  NULL, false, false, 0 },
		{ "\"mem_file_path\": \"%s\", \"huge_pages\": \"None\", "
		  "\"clock_realtime\": true",
		  NULL, true, true, HUGE_PAGES_NONE },
		{ "\"mem_file_path\": \"%s\", \"huge_pages\": \"Transparent\"",
		  NULL, true, false, HUGE_PAGES_THP },
		{ "\"mem_backend\": {\"backend_type\": \"Uffd\", "
		  "\"backend_path\": \"%s\"}, \"huge_pages\": \"2M\"",
		  NULL, true, false, HUGE_PAGES_2M },
		{ "\"mem_file_path\": \"%s\", \"huge_pages\": \"2M\"",
		  "huge_pages 2M needs the Uffd memory backend", false, false,
		  0 },
		{ "\"mem_file_path\": \"%s\", \"huge_pages\": \"4K\"",
		  "huge_pages '4K' is not Snapshot, None, Transparent or 2M",
		  false, false, 0 },
		{ "\"mem_file_path\": \"%s\", \"clock_realtime\": 1",
		  "'clock_realtime' must be", false, false, 0 },
	};
	struct snapshot_load l;
	char fmt[512], body[1024];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		json_t *v;

		snprintf(fmt, sizeof(fmt), "{\"snapshot_path\": \"%%s\", %s}",
		         t[i].extra);
		fill(body, sizeof(body), fmt, disk);
		v = j(body);
		if (t[i].refused) {
			REFUSED(fc_snapshot_load(v, &l, err, sizeof(err)),
			        t[i].refused);
		} else {
			ck_assert_msg(
			        fc_snapshot_load(v, &l, err, sizeof(err)) == 0,
			        "%zu: %s", i, err);
			ck_assert_int_eq(l.huge_set, t[i].huge_set);
			ck_assert_int_eq(l.clock_realtime, t[i].realtime);
			if (l.huge_set)
				ck_assert_int_eq(l.huge_pages, t[i].huge);
			json_decref(l.overrides);
		}
		json_decref(v);
	}
}
END_TEST

Suite *fcjson_suite(void)
{
	Suite *s = suite_create("fcjson");
	TCase *tc = tcase_create("bodies");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, machine_config_rules);
	tcase_add_test(tc, boot_source_rules);
	tcase_add_test(tc, serial_rules);
	tcase_add_test(tc, drive_rules);
	tcase_add_test(tc, net_and_vsock_rules);
	tcase_add_test(tc, vm_config_round_trip);
	tcase_add_test(tc, rate_limiter_patch_keeps_buckets);
	tcase_add_test(tc, snapshot_load_overrides);
	tcase_add_test(tc, snapshot_load_clock_and_huge_pages);
	suite_add_tcase(s, tc);
	return s;
}
