/*
 * The CONFIG section of format version 1 (vmm/snapconfig_legacy.c): the
 * raw structure of the wisp before, laid out here from its offsets, not
 * from the decoder's own structure; every field read, each bad byte
 * refused with a message.
 */
#include "unit.h"
#include "snap_test.h"
#include "snapconfig.h"

#include <stdlib.h>
#include <string.h>

static struct config a, b;
static char err[1024];

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* Offsets of wisp's struct snap_config in format-version-1 files. */
enum {
	V1_NDRIVES = 16,
	V1_NNETS = 20,
	V1_DRIVES = 24,
	V1_DRIVE = 4248,
	V1_D_PATH = 32,
	V1_D_ROOT = 4128,
	V1_D_RO = 4129,
	V1_D_DIRECT = 4130,
	V1_D_NO_FLUSH = 4131,
	V1_D_IO_SYNC = 4132,
	V1_D_PARTUUID = 4133,
	V1_D_RL = 4176, /* set at +0, size +8, burst +16, refill +24; ops +32 */
	V1_NETS = 34008,
	V1_NET = 192,
	V1_N_TAP = 32,
	V1_N_HAS_MAC = 48,
	V1_N_MAC = 49,
	V1_N_RX = 56,
	V1_N_TX = 120,
	V1_VSOCK = 35544, /* present +0, cid +4, uds +8, id +116 */
};

static uint8_t v1[SNAPCFG_LEGACY_SIZE];

/* The fixture's machine (tests/integration/fixtures/snap-v1). */
static void v1_good(void)
{
	uint8_t *d = v1 + V1_DRIVES, *n = v1 + V1_NETS, *v = v1 + V1_VSOCK;

	memset(v1, 0, sizeof(v1));
	put_le(v1, 1, 4);
	put_le(v1 + 8, 8, 8);
	put_le(v1 + V1_NDRIVES, 1, 4);
	put_le(v1 + V1_NNETS, 1, 4);
	strcpy((char *)d, "d0");
	strcpy((char *)d + V1_D_PATH, "disk.img");
	d[V1_D_IO_SYNC] = 1;
	d[V1_D_RL] = 1;
	put_le(d + V1_D_RL + 8, 104857600, 8);
	put_le(d + V1_D_RL + 24, 100, 8);
	d[V1_D_RL + 32] = 1;
	put_le(d + V1_D_RL + 40, 100000, 8);
	put_le(d + V1_D_RL + 48, 5000, 8);
	put_le(d + V1_D_RL + 56, 1000, 8);
	put_le(d + 4240, 0x3f, 4); /* the INI parser's seen bits: ignored */
	strcpy((char *)n, "eth0");
	strcpy((char *)n + V1_N_TAP, "wsnap0");
	n[V1_N_HAS_MAC] = 1;
	memcpy(n + V1_N_MAC, "\6\0\xac\x10\x09\2", 6);
	n[V1_N_RX + 32] = 1;
	put_le(n + V1_N_RX + 40, 2000, 8);
	put_le(n + V1_N_RX + 56, 100, 8);
	n[V1_N_TX] = 1;
	put_le(n + V1_N_TX + 8, 1048576, 8);
	put_le(n + V1_N_TX + 16, 65536, 8);
	put_le(n + V1_N_TX + 24, 100, 8);
	v[0] = 1;
	put_le(v + 4, 52, 4);
	strcpy((char *)v + 8, "v.sock");
	strcpy((char *)v + 116, "vsock0");
}

static int decode_v1(void)
{
	return snapcfg_decode_legacy(v1, sizeof(v1), &a, err, sizeof(err));
}

START_TEST(legacy_every_field)
{
	const struct drive_config *d = &a.drives[0];
	const struct net_config *n = &a.nets[0];
	size_t len;
	uint8_t *enc;

	v1_good();
	ck_assert_msg(decode_v1() == 0, "%s", err);
	ck_assert(a.vcpus == 1 && a.mem_mib == 8 && a.huge_pages == 0);
	ck_assert(a.ndrives == 1 && a.nnets == 1);
	ck_assert_str_eq(d->id, "d0");
	ck_assert_str_eq(d->path, "disk.img");
	ck_assert(!d->root && !d->read_only && !d->direct && !d->no_flush);
	ck_assert(d->io_sync && !d->partuuid[0]);
	snap_test_same_bucket(
	        &d->rl.bandwidth,
	        &(struct bucket_config){ true, 104857600, 0, 100 });
	snap_test_same_bucket(&d->rl.ops, &(struct bucket_config){
	                                          true, 100000, 5000, 1000 });
	ck_assert_str_eq(n->id, "eth0");
	ck_assert_str_eq(n->host_dev_name, "wsnap0");
	ck_assert(n->has_mac);
	ck_assert_mem_eq(n->mac, "\6\0\xac\x10\x09\2", 6);
	ck_assert(!n->rx.bandwidth.set && !n->tx.ops.set);
	snap_test_same_bucket(&n->rx.ops,
	                      &(struct bucket_config){ true, 2000, 0, 100 });
	snap_test_same_bucket(
	        &n->tx.bandwidth,
	        &(struct bucket_config){ true, 1048576, 65536, 100 });
	ck_assert(a.vsock.present && a.vsock.guest_cid == 52);
	ck_assert_str_eq(a.vsock.uds_path, "v.sock");
	ck_assert_str_eq(a.vsock.id, "vsock0");
	/* What an old file held, a new one holds: snapshotting it again. */
	enc = snapcfg_encode(&a, &len);
	ck_assert_msg(snapcfg_decode(enc, len, &b, err, sizeof(err)) == 0, "%s",
	              err);
	snap_test_same_config(&a, &b);
	free(enc);
}
END_TEST

#define ck_v1_refused(what)                                                    \
	do {                                                                   \
		ck_assert_int_eq(decode_v1(), -1);                             \
		ck_assert_msg(strstr(err, what), "'%s' lacks '%s'", err,       \
		              what);                                           \
		v1_good();                                                     \
	} while (0)

START_TEST(legacy_refusals)
{
	uint8_t *d = v1 + V1_DRIVES, *n = v1 + V1_NETS, *v = v1 + V1_VSOCK;

	v1_good();
	ck_assert_int_eq(
	        snapcfg_decode_legacy(v1, sizeof(v1) - 1, &a, err, sizeof(err)),
	        -1);
	ck_assert_str_eq(err, "35695 bytes; format version 1 has 35696 "
	                      "(another wisp's layout?)");
	d[V1_D_ROOT] = 2;
	ck_v1_refused("is_root_device of slot 0 is 2, not a boolean (0 or 1)");
	d[V1_D_RL + 32] = 0x80;
	ck_v1_refused("rate_limiter.ops.set of slot 0 is 128, not a boolean");
	n[V1_N_HAS_MAC] = 3;
	ck_v1_refused("guest_mac (given) of slot 0 is 3");
	v[0] = 2;
	ck_v1_refused("vsock (present) of slot 0 is 2");
	memset(d, 'a', 32);
	ck_v1_refused(
	        "drive_id of slot 0 is not NUL-terminated in its 32 bytes");
	memset(d + V1_D_PATH, 'a', CONFIG_PATH_MAX);
	ck_v1_refused("path_on_host of slot 0 is not NUL-terminated");
	memset(n + V1_N_TAP, 'a', 16);
	ck_v1_refused("host_dev_name of slot 0 is not NUL-terminated");
	memset(v + 8, 'a', 108);
	ck_v1_refused("uds_path of slot 0 is not NUL-terminated");
	put_le(v1 + V1_NDRIVES, 9, 4);
	ck_v1_refused("9 drives and 1 network interfaces, at most 8 and 8");
	put_le(v1 + 4, 2, 4);
	ck_v1_refused("huge_pages 2 is not None or 2M");
	/* Through the same checks as the records. */
	put_le(v1, 0, 4);
	ck_v1_refused("vcpu_count 0 is not in 1..32");
	d[V1_D_DIRECT] = d[V1_D_NO_FLUSH] = 1;
	ck_v1_refused("cache_type is both Unsafe and O_DIRECT");
	n[V1_N_MAC] = 1;
	ck_v1_refused("is a multicast address");
	strcpy((char *)n + V1_N_TAP, "a:b");
	ck_v1_refused("host_dev_name 'a:b' is not an interface name");
	/* Beyond the counts and without vsock, nothing is looked at. */
	put_le(v1 + V1_NDRIVES, 0, 4);
	memset(d, 0xff, V1_DRIVE);
	v[0] = 0;
	memset(v + 4, 0xff, 4);
	ck_assert_msg(decode_v1() == 0, "%s", err);
	ck_assert(!a.ndrives && !a.vsock.present && !a.vsock.guest_cid);
}
END_TEST

Suite *snapconfig_v1_suite(void)
{
	Suite *su = suite_create("snapconfig format version 1");
	TCase *tc = tcase_create("raw structure");

	tcase_add_test(tc, legacy_every_field);
	tcase_add_test(tc, legacy_refusals);
	suite_add_tcase(su, tc);
	return su;
}
