/*
 * The device registry: every registered type is complete, devices get
 * their slots and IRQs in configuration order, the command line announces
 * exactly those, and a VM's devices are built, found, saved, restored
 * and torn down through the types alone (no KVM: a fake VM).
 */
#include "unit.h"
#include "blk.h"
#include "fake_driver.h"
#include "mmds.h"
#include "snap_test.h"
#include "metrics.h"
#include "vmm.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct vmm m;
static char dir[64];

static void setup(void)
{
	memset(&m, 0, sizeof(m));
	vmm_init(&m);
	snap_test_dir(dir, sizeof(dir));
}

static void teardown(void)
{
	vdev_teardown(&m);
	evloop_destroy(&m.loop);
	free(m.vm.mem);
	config_free(&m.cfg);
	mmds_free(m.mmds);
	snap_test_rmdir(dir);
}

/* Drive @i: an image of 64 KiB in the scratch directory. */
static void add_drive(unsigned i, const char *id, bool root)
{
	struct drive_config *d = &m.cfg.drives[i];
	uint8_t zero[65536] = { 0 };

	snprintf(d->id, sizeof(d->id), "%s", id);
	snprintf(d->path, sizeof(d->path), "%s/%s.img", dir, id);
	d->root = root;
	snap_test_write_file(d->path, zero, sizeof(zero));
	m.cfg.ndrives = i + 1;
}

static void add_vsock(void)
{
	m.cfg.vsock.present = true;
	m.cfg.vsock.guest_cid = 3;
	snprintf(m.cfg.vsock.uds_path, sizeof(m.cfg.vsock.uds_path),
	         "%s/v.sock", dir);
}

START_TEST(every_type_is_complete)
{
	unsigned n = 0;

	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++, n++) {
		const struct vdev_type *t = *ty;

		ck_assert_ptr_nonnull(t->name);
		ck_assert_msg(t->count && t->id && t->create && t->destroy &&
		                      t->save && t->restore && t->stats,
		              "%s: a lifecycle hook is missing", t->name);
		ck_assert_msg(t->snap_size > 0 && t->snap_size <= VDEV_SNAP_MAX,
		              "%s: snap_size %zu", t->name, t->snap_size);
		ck_assert_msg(t->group && t->stat_names && t->nstats > 0 &&
		                      t->nstats <= VDEV_MAX_STATS,
		              "%s: metrics", t->name);
		ck_assert_msg(t->conf && t->conf->max > 0 && t->conf->size &&
		                      t->conf->item && t->conf->set_count &&
		                      t->conf->check,
		              "%s: where its configuration sits", t->name);
		ck_assert_msg(t->conf->ini_section && t->conf->ini_key,
		              "%s: INI section", t->name);
		ck_assert_msg(t->conf->json_key && t->conf->put &&
		                      t->conf->get && t->conf->api_path,
		              "%s: Firecracker JSON and API resource", t->name);
		ck_assert_msg(!t->conf->override_key == !t->conf->override,
		              "%s: snapshot load override", t->name);
		for (const struct vdev_type *const *o = vdev_types; o != ty;
		     o++)
			ck_assert_str_ne((*o)->group, t->group);
	}
	/*
	 * The first types keep their places: slots follow this order, and
	 * snapshots taken with these devices must load into the same slots.
	 */
	ck_assert_uint_ge(n, 3);
	ck_assert_ptr_eq(vdev_types[0], &vdev_blk);
	ck_assert_ptr_eq(vdev_types[1], &vdev_net);
	ck_assert_ptr_eq(vdev_types[2], &vdev_vsock);
}
END_TEST

START_TEST(slots_follow_the_configuration)
{
	char out[1024], err[256];

	add_drive(0, "data", false);
	add_drive(1, "rootfs", true);
	add_vsock();
	ck_assert_uint_eq(vdev_count(&m.cfg), 3);
	ck_assert_int_eq(
	        vdev_cmdline(&m.cfg, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "virtio_mmio.device=4K@0xc0001000:5 "
	                      "virtio_mmio.device=4K@0xc0002000:6 "
	                      "virtio_mmio.device=4K@0xc0003000:7 "
	                      "root=/dev/vda rw");
	/* The root drive went first: it is /dev/vda. */
	ck_assert_str_eq(m.cfg.drives[0].id, "rootfs");
	ck_assert_str_eq(m.cfg.drives[1].id, "data");
	/* The user's root= wins; no devices, no words. */
	m.cfg.cmdline = strdup("console=ttyS0 root=/dev/vdb");
	ck_assert_int_eq(
	        vdev_cmdline(&m.cfg, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_ptr_null(strstr(out, "root="));
	m.cfg.ndrives = 0;
	m.cfg.vsock.present = false;
	ck_assert_int_eq(
	        vdev_cmdline(&m.cfg, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(unwritable_drive_is_named)
{
	char out[1024], err[256];

	add_drive(0, "rootfs", true);
	snprintf(m.cfg.drives[0].path, sizeof(m.cfg.drives[0].path),
	         "%s/missing.img", dir);
	ck_assert_int_eq(
	        vdev_cmdline(&m.cfg, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "drive 'rootfs'"));
	ck_assert_ptr_nonnull(strstr(err, "missing.img"));
	/* Read-only drives are not written: no check. */
	m.cfg.drives[0].read_only = true;
	ck_assert_int_eq(
	        vdev_cmdline(&m.cfg, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(out, "root=/dev/vda ro"));
}
END_TEST

static void build(int want)
{
	char err[256] = "";

	fake_vm_init(&m.vm, 1 << 20);
	ck_assert_int_eq(evloop_init(&m.loop), 0);
	ck_assert_msg(vdev_build(&m, err, sizeof(err)) == want, "%s", err);
}

START_TEST(build_find_save_restore_teardown)
{
	uint8_t snap[VDEV_SNAP_MAX];
	char err[256];
	struct virtio_mmio *t;

	add_drive(0, "rootfs", true);
	add_drive(1, "data", false);
	add_vsock();
	build(0);
	ck_assert_uint_eq(m.nvdev, 3);
	ck_assert_ptr_eq(m.vdev[0].type, &vdev_blk);
	ck_assert_ptr_eq(m.vdev[1].type, &vdev_blk);
	ck_assert_ptr_eq(m.vdev[2].type, &vdev_vsock);
	for (unsigned n = 0; n < m.nvdev; n++) {
		ck_assert_uint_eq(m.vdev[n].t->bus.base, VDEV_BASE(n));
		ck_assert_uint_eq(m.vdev[n].t->irq, VDEV_IRQ(n));
	}
	t = vdev_find(&m, &vdev_blk, 1);
	ck_assert_ptr_eq(t, m.vdev[1].t);
	ck_assert_str_eq(((struct blk *)t->dev)->id, "data");
	ck_assert_ptr_null(vdev_find(&m, &vdev_net, 0));
	ck_assert_ptr_null(vdev_find(&m, &vdev_blk, 2));
	ck_assert_int_eq(access(m.cfg.vsock.uds_path, F_OK), 0);
	ck_assert_int_eq(vdev_attach(&m), 0);
	for (unsigned n = 0; n < m.nvdev; n++) {
		const struct vdev_type *ty = m.vdev[n].type;

		memset(snap, 0, sizeof(snap));
		ty->save(m.vdev[n].t, snap);
		ck_assert_msg(
		        ty->restore(m.vdev[n].t, snap, err, sizeof(err)) == 0,
		        "%s: %s", ty->name, err);
	}
	vdev_teardown(&m);
	ck_assert_uint_eq(m.nvdev, 0);
	/* The listener's socket file goes with the device. */
	ck_assert_int_eq(access(m.cfg.vsock.uds_path, F_OK), -1);
}
END_TEST

/*
 * The Prometheus file: every sample line of the exposition format's
 * shape after its HELP and TYPE, the devices labelled by id, counters
 * as totals, the file replaced whole (no temporary left).
 */
START_TEST(prometheus_file)
{
	char path[128], line[512], tmp[160], err[256];
	char seen_type[128] = "";
	unsigned samples = 0;
	bool drive_line = false, entropy_line = false;
	const char *entropy =
	        "wisp_entropy_entropy_bytes_total{id=\"entropy\"} ";
	FILE *f;

	add_drive(0, "rootfs", true);
	m.cfg.entropy.present = true;
	build(0);
	ck_assert_uint_eq(m.nvdev, 2);
	snprintf(path, sizeof(path), "%s/wisp.prom", dir);
	ck_assert_int_eq(metrics_prom_set_path(path, err, sizeof(err)), 0);
	METRIC_INC(vcpu, exit_io_out);
	ck_assert_int_eq(metrics_prom_write(&m), 0);
	ck_assert_int_eq(metrics_prom_write(&m), 0); /* over the old one */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		char name[128], rest[256];

		if (!strncmp(line, "# HELP ", 7))
			continue;
		if (sscanf(line, "# TYPE %127s %255s", name, rest) == 2) {
			ck_assert_msg(!strcmp(rest, "counter") ||
			                      !strcmp(rest, "gauge"),
			              "%s", line);
			snprintf(seen_type, sizeof(seen_type), "%s", name);
			continue;
		}
		/* name{id="..."} value, or name value */
		ck_assert_msg(
		        sscanf(line, "%127[a-z0-9_]%255[^\n]", name, rest) == 2,
		        "bad line: %s", line);
		ck_assert_msg(!strcmp(name, seen_type), "no TYPE before %s",
		              line);
		ck_assert_msg(!strncmp(name, "wisp_", 5), "%s", line);
		samples++;
		drive_line |= !strcmp(line, "wisp_block_read_count_total"
		                            "{id=\"rootfs\"} 0\n");
		entropy_line |= !strncmp(line, entropy, strlen(entropy));
	}
	fclose(f);
	ck_assert_uint_gt(samples, 50);
	ck_assert(drive_line);
	ck_assert(entropy_line);
	metrics_prom_set_path("", err, sizeof(err)); /* refused: stays */
}
END_TEST

START_TEST(failed_build_names_the_device)
{
	add_drive(0, "rootfs", true);
	add_drive(1, "data", false);
	add_vsock();
	snprintf(m.cfg.drives[1].path, sizeof(m.cfg.drives[1].path),
	         "%s/missing.img", dir);
	build(-1);
	/* What was built stays listed for vdev_teardown(), nothing else. */
	ck_assert_uint_eq(m.nvdev, 1);
	ck_assert_int_eq(access(m.cfg.vsock.uds_path, F_OK), -1);
	vdev_teardown(&m);
	ck_assert_uint_eq(m.nvdev, 0);
}
END_TEST

Suite *vdev_suite(void)
{
	Suite *s = suite_create("vdev");
	TCase *tc = tcase_create("registry");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_type_is_complete);
	tcase_add_test(tc, slots_follow_the_configuration);
	tcase_add_test(tc, unwritable_drive_is_named);
	tcase_add_test(tc, build_find_save_restore_teardown);
	tcase_add_test(tc, failed_build_names_the_device);
	tcase_add_test(tc, prometheus_file);
	suite_add_tcase(s, tc);
	return s;
}
