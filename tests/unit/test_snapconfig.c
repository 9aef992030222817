/*
 * The snapshot's CONFIG section (vmm/snapconfig.h): every field through
 * a round trip, the defaults of absent records, and each malformed or
 * out-of-range section refused with a message that says what is wrong
 * (format version 1's raw structure: test_snapconfig_v1.c).
 */
#include "unit.h"
#include "snap_test.h"
#include "snapconfig.h"
#include "vdev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct config a, b;
static char err[1024];

/* A machine with every field away from its default somewhere. */
static void full_config(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->vcpus = 4;
	c->smt = true;
	c->mem_mib = 1024;
	c->huge_pages = HUGE_PAGES_2M;
	c->ndrives = 3;
	c->drives[0] = (struct drive_config){
		.id = "rootfs",
		.root = true,
		.read_only = true,
		.no_flush = true,
		.io_sync = true,
		.partuuid = "0eaf4a3c-01",
		.rl = { .bandwidth = { true, 1 << 20, 4096, 100 },
		        .ops = { true, UINT64_MAX, UINT64_MAX - 1, 1 } },
	};
	memset(c->drives[0].path, 'p', CONFIG_PATH_MAX - 1); /* the longest */
	c->drives[0].path[0] = '/';
	c->drives[1] = (struct drive_config){ .id = "data", .path = "d.img" };
	/* The INI file's "cache = none", and a bucket of size 0 it allows. */
	c->drives[2] =
	        (struct drive_config){ .id = "Scratch_2_x",
		                       .path = "/s.img",
		                       .direct = true,
		                       .rl = { .ops = { true, 0, 0, 7 } } };
	c->nnets = 2;
	c->nets[0] = (struct net_config){
		.id = "eth0",
		.host_dev_name = "tap-0123456789a", /* 15: the longest */
		.has_mac = true,
		.mac = { 0x06, 0, 0xac, 0x10, 0, 2 },
		.rx = { { true, 1, 2, 3 }, { true, 4, 5, 6 } },
		.tx = { { true, 7, 8, 9 }, { true, 10, 11, 12 } },
	};
	c->nets[1] =
	        (struct net_config){ .id = "eth1", .host_dev_name = "tap1" };
	c->vsock = (struct vsock_config){ .present = true,
		                          .guest_cid = UINT32_MAX - 1,
		                          .uds_path = "/run/v.sock",
		                          .id = "vsock0" };
}

START_TEST(round_trip_every_field)
{
	size_t n, n2;
	uint8_t *enc, *again;

	full_config(&a);
	enc = snapcfg_encode(&a, &n);
	ck_assert_ptr_nonnull(enc);
	ck_assert_msg(snapcfg_decode(enc, n, &b, err, sizeof(err)) == 0, "%s",
	              err);
	snap_test_same_config(&a, &b);
	/* One encoding per content: the decoded machine encodes the same. */
	again = snapcfg_encode(&b, &n2);
	ck_assert_uint_eq(n, n2);
	ck_assert_mem_eq(enc, again, n);
	free(enc);
	free(again);
}
END_TEST

/* Each field on its own changes what is decoded: none is dropped. */
START_TEST(round_trip_each_field_alone)
{
	struct config base;
	size_t n;

	full_config(&base);
	for (int k = 0; k < 16; k++) {
		uint8_t *enc;

		a = base;
		switch (k) {
		case 0:
			a.vcpus = CONFIG_MAX_VCPUS;
			break;
		case 1:
			a.mem_mib = CONFIG_MAX_MEM_MIB;
			break;
		case 2:
			a.huge_pages = HUGE_PAGES_NONE;
			a.mem_mib = 3;
			break;
		case 3:
			a.drives[0].root = false;
			break;
		case 4:
			a.drives[0].read_only = false;
			break;
		case 5:
			a.drives[0].no_flush = false;
			break;
		case 6:
			a.drives[0].io_sync = false;
			break;
		case 7:
			a.drives[0].partuuid[0] = '\0';
			break;
		case 8:
			a.drives[0].rl.bandwidth.set = false;
			a.drives[0].rl.bandwidth.size = 0;
			a.drives[0].rl.bandwidth.one_time_burst = 0;
			a.drives[0].rl.bandwidth.refill_time_ms = 0;
			break;
		case 9:
			a.drives[1].root = true;
			a.drives[0].root = false;
			break;
		case 10:
			a.nets[0].has_mac = false;
			memset(a.nets[0].mac, 0, 6);
			break;
		case 11:
			a.nets[0].tx.ops = (struct bucket_config){ 0 };
			break;
		case 12:
			a.vsock.id[0] = '\0';
			break;
		case 13:
			a.vsock = (struct vsock_config){ 0 };
			break;
		case 14:
			a.nnets = 0;
			memset(a.nets, 0, sizeof(a.nets));
			break;
		case 15:
			a.ndrives = 0;
			memset(a.drives, 0, sizeof(a.drives));
			break;
		}
		enc = snapcfg_encode(&a, &n);
		ck_assert_msg(snapcfg_decode(enc, n, &b, err, sizeof(err)) == 0,
		              "case %d: %s", k, err);
		snap_test_same_config(&a, &b);
		free(enc);
	}
}
END_TEST

/* ---- sections built record by record ------------------------------- */

struct sec {
	uint8_t buf[3 * CONFIG_PATH_MAX];
	size_t len;
};

static struct sec s;

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

static void rec(uint16_t tag, uint16_t index, const void *v, uint32_t n)
{
	ck_assert_uint_le(s.len + 8 + n, sizeof(s.buf));
	put_le(s.buf + s.len, tag, 2);
	put_le(s.buf + s.len + 2, index, 2);
	put_le(s.buf + s.len + 4, n, 4);
	memcpy(s.buf + s.len + 8, v, n);
	s.len += 8 + n;
}

static void rec_uint(uint16_t tag, uint16_t index, uint64_t v, int n)
{
	uint8_t b8[8];

	put_le(b8, v, n);
	rec(tag, index, b8, (uint32_t)n);
}

static void rec_str(uint16_t tag, uint16_t index, const char *v)
{
	rec(tag, index, v, (uint32_t)strlen(v) + 1);
}

/*
 * A good section (1 vCPU, 128 MiB, drive "d", interface "eth0" on
 * "tap0", vsock 3 on "/v.sock") without the record of @skip.
 */
static void base(uint16_t skip)
{
	s.len = 0;
	put_le(s.buf, SNAPCFG_VERSION, 4);
	s.len = 4;
	if (skip != SNAPCFG_VCPUS)
		rec_uint(SNAPCFG_VCPUS, 0, 1, 4);
	if (skip != SNAPCFG_MEM_MIB)
		rec_uint(SNAPCFG_MEM_MIB, 0, 128, 8);
	if (skip != SNAPCFG_DRIVES)
		rec_uint(SNAPCFG_DRIVES, 0, 1, 4);
	if (skip != SNAPCFG_NETS)
		rec_uint(SNAPCFG_NETS, 0, 1, 4);
	if (skip != SNAPCFG_DRIVE_ID)
		rec_str(SNAPCFG_DRIVE_ID, 0, "d");
	if (skip != SNAPCFG_DRIVE_PATH)
		rec_str(SNAPCFG_DRIVE_PATH, 0, "/d.img");
	if (skip != SNAPCFG_NET_ID)
		rec_str(SNAPCFG_NET_ID, 0, "eth0");
	if (skip != SNAPCFG_NET_TAP)
		rec_str(SNAPCFG_NET_TAP, 0, "tap0");
	if (skip != SNAPCFG_VSOCK_CID)
		rec_uint(SNAPCFG_VSOCK_CID, 0, 3, 4);
	if (skip != SNAPCFG_VSOCK_UDS)
		rec_str(SNAPCFG_VSOCK_UDS, 0, "/v.sock");
}

static int decode(void)
{
	return snapcfg_decode(s.buf, s.len, &a, err, sizeof(err));
}

#define ck_refused(what)                                                       \
	do {                                                                   \
		ck_assert_int_eq(decode(), -1);                                \
		ck_assert_msg(strstr(err, what), "'%s' lacks '%s'", err,       \
		              what);                                           \
	} while (0)

START_TEST(absent_fields_take_their_defaults)
{
	base(0);
	ck_assert_msg(decode() == 0, "%s", err);
	ck_assert_int_eq(a.huge_pages, HUGE_PAGES_NONE);
	ck_assert(!a.drives[0].root && !a.drives[0].read_only);
	ck_assert(!a.drives[0].direct && !a.drives[0].no_flush); /* Writeback */
	ck_assert(!a.drives[0].io_sync && !a.drives[0].partuuid[0]);
	ck_assert(!a.drives[0].rl.bandwidth.set && !a.drives[0].rl.ops.set);
	ck_assert(!a.nets[0].has_mac && !a.nets[0].rx.ops.set);
	ck_assert(!a.nets[0].tx.bandwidth.set && !a.vsock.id[0]);
	ck_assert(a.vsock.present);
	/* No count records: no drives, no interfaces; no vsock record. */
	s.len = 4;
	rec_uint(SNAPCFG_VCPUS, 0, 2, 4);
	rec_uint(SNAPCFG_MEM_MIB, 0, 64, 8);
	ck_assert_msg(decode() == 0, "%s", err);
	ck_assert(a.vcpus == 2 && a.mem_mib == 64 && !a.ndrives && !a.nnets);
	ck_assert(!a.vsock.present);
}
END_TEST

START_TEST(unknown_tags)
{
	base(0);
	rec_str(SNAPCFG_SKIPPABLE | 0x0777, 5, "a newer wisp's hint");
	rec(SNAPCFG_SKIPPABLE | 0x0101, 0, "", 0);
	ck_assert_msg(decode() == 0, "skippable: %s", err);
	ck_assert_str_eq(a.drives[0].id, "d");
	base(0);
	rec_str(0x0777, 0, "x");
	ck_refused("tag 0x0777 is unknown to this wisp (a newer wisp's "
	           "snapshot?)");
	base(0);
	rec_str(0x010a, 0, "x"); /* a drive field this wisp lacks */
	ck_refused("tag 0x010a is unknown");
	/* Not vsock's count record: vsock has none. */
	base(0);
	rec_uint(0x0000, 0, 1, 4);
	ck_refused("tag 0x0000 is unknown");
}
END_TEST

START_TEST(malformed_sections)
{
	s.len = 3;
	ck_refused("3 bytes, too short for the encoding's version");
	base(0);
	put_le(s.buf, SNAPCFG_VERSION + 1, 4);
	ck_refused("encoding version 2; this wisp reads version 1");
	put_le(s.buf, 0, 4);
	ck_refused("encoding version 0");
	/* A head cut short, then a value running past the end. */
	base(0);
	s.len += 5;
	ck_refused("is cut short (5 bytes left, a record's head is 8)");
	base(0);
	s.len -= 2;
	ck_refused("has a value of 8 bytes, past the section's end (6 left)");
	base(0);
	rec_uint(0x0777, 0, 0, 4);
	put_le(s.buf + s.len - 8, UINT32_MAX, 4);
	ck_refused("has a value of 4294967295 bytes, past the section's end");
	/*
	 * Every cut inside a record is refused; one between records may
	 * leave a good machine (without vsock, say). None reads past the
	 * cut: each is an allocation of its own size, for ASan.
	 */
	base(0);
	for (size_t cut = 0, next = 4; cut < s.len; cut++) {
		uint8_t *p = malloc(cut ? cut : 1);
		int rc;

		memcpy(p, s.buf, cut);
		rc = snapcfg_decode(p, cut, &a, err, sizeof(err));
		free(p);
		if (cut == next)
			next += 8 + (s.buf[cut + 4] | s.buf[cut + 5] << 8);
		else
			ck_assert_msg(rc == -1, "cut at %zu accepted", cut);
	}
}
END_TEST

START_TEST(records_in_the_wrong_place)
{
	base(0);
	rec_uint(SNAPCFG_VCPUS, 0, 1, 4);
	ck_refused("(vcpu_count): given twice");
	base(0);
	rec_uint(SNAPCFG_HUGE_PAGES, 1, 0, 1);
	ck_refused("(tag 0x0003): slot 1 is out of range");
	base(0);
	rec_str(SNAPCFG_DRIVE_ID, CONFIG_MAX_DRIVES, "x");
	ck_refused("slot 9 is out of range");
	base(0);
	rec_str(SNAPCFG_DRIVE_ID, 1, "x");
	ck_refused("records for drive 1, of 1 drives");
	base(0);
	rec(SNAPCFG_NET_MAC, 3, "\6\0\0\0\0\1", 6);
	ck_refused("records for interface 3, of 1 interfaces");
	base(0);
	rec_uint(SNAPCFG_VSOCK_ID, 1, 0, 1);
	ck_refused("slot 1 is out of range");
}
END_TEST

START_TEST(required_fields)
{
	static const struct {
		uint16_t tag;
		const char *msg;
	} cases[] = {
		{ SNAPCFG_VCPUS, "vcpu_count is missing" },
		{ SNAPCFG_MEM_MIB, "mem_size_mib is missing" },
		{ SNAPCFG_DRIVE_ID, "drive 0: drive_id is missing" },
		{ SNAPCFG_DRIVE_PATH, "drive 0: path_on_host is missing" },
		{ SNAPCFG_NET_ID, "interface 0: iface_id is missing" },
		{ SNAPCFG_NET_TAP, "interface 0: host_dev_name is missing" },
		{ SNAPCFG_VSOCK_CID, "vsock: guest_cid is missing" },
		{ SNAPCFG_VSOCK_UDS, "vsock: uds_path is missing" },
		/* Without the count, the drive's records are out of place. */
		{ SNAPCFG_DRIVES, "records for drive 0, of 0 drives" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		base(cases[i].tag);
		ck_refused(cases[i].msg);
	}
}
END_TEST

/* @tag replaced by a record of @n bytes at @v: refused with @msg. */
static void ck_value(uint16_t tag, uint16_t index, const void *v, uint32_t n,
                     const char *msg)
{
	base(tag);
	rec(tag, index, v, n);
	ck_assert_msg(decode() == -1, "tag 0x%04x: '%s' accepted", tag, msg);
	ck_assert_msg(strstr(err, msg), "tag 0x%04x: '%s' lacks '%s'", tag, err,
	              msg);
}

static void ck_u(uint16_t tag, uint64_t v, int n, const char *msg)
{
	uint8_t b8[8];

	put_le(b8, v, n);
	ck_value(tag, 0, b8, (uint32_t)n, msg);
}

static void ck_s(uint16_t tag, const char *v, const char *msg)
{
	ck_value(tag, 0, v, (uint32_t)strlen(v) + 1, msg);
}

START_TEST(values_out_of_range)
{
	char big[CONFIG_PATH_MAX + 2];

	ck_u(SNAPCFG_VCPUS, 0, 4, "vcpu_count 0 is not in 1..32");
	ck_u(SNAPCFG_VCPUS, 33, 4, "vcpu_count 33 is not in 1..32");
	ck_u(SNAPCFG_VCPUS, 1, 8, "(vcpu_count): 8 bytes, want 4");
	ck_u(SNAPCFG_MEM_MIB, 1, 8, "mem_size_mib 1 is not in 2..1048576");
	ck_u(SNAPCFG_MEM_MIB, CONFIG_MAX_MEM_MIB + 1, 8, "is not in 2..");
	ck_u(SNAPCFG_HUGE_PAGES, 3, 1, "(huge_pages): 3 is not one of its");
	ck_u(SNAPCFG_SMT, 2, 1, "(smt): 2 is not one of its");
	base(0);
	rec_uint(SNAPCFG_SMT, 0, 1, 1);
	ck_assert_msg(decode() == 0, "%s", err);
	ck_assert(a.smt && a.vcpus == 1);
	ck_u(SNAPCFG_DRIVES, 10, 4, "10 drives, at most 9");
	ck_u(SNAPCFG_NETS, 9, 4, "9 network interfaces, at most 8");
	base(SNAPCFG_MEM_MIB);
	rec_uint(SNAPCFG_MEM_MIB, 0, 129, 8);
	rec_uint(SNAPCFG_HUGE_PAGES, 0, HUGE_PAGES_2M, 1);
	ck_refused("mem_size_mib 129 is not a multiple of the 2 MiB huge page");

	/* Booleans are 0 or 1, and one byte. */
	ck_u(SNAPCFG_DRIVE_ROOT, 2, 1,
	     "(drive 0: is_root_device): 2 is not one of its values (a "
	     "boolean: 0 or 1)");
	ck_u(SNAPCFG_DRIVE_READ_ONLY, 255, 1, "(a boolean: 0 or 1)");
	ck_u(SNAPCFG_DRIVE_IO_SYNC, 1, 4,
	     "(drive 0: io_engine): 4 bytes, want 1");
	ck_u(SNAPCFG_DRIVE_CACHE, 3, 1, "(drive 0: cache_type): 3 is not one");

	/* Strings: terminated, at their end, within the field, valid. */
	ck_value(SNAPCFG_DRIVE_PATH, 0, "/d.img", 6,
	         "(drive 0: path_on_host): the string is not NUL-terminated");
	ck_value(SNAPCFG_DRIVE_PATH, 0, "/d\0img", 7, "not NUL-terminated");
	ck_value(SNAPCFG_DRIVE_PATH, 0, "", 0, "not NUL-terminated");
	memset(big, 'x', sizeof(big));
	big[CONFIG_PATH_MAX] = '\0';
	ck_value(SNAPCFG_DRIVE_PATH, 0, big, CONFIG_PATH_MAX + 1,
	         "a string of 4097 bytes, the field holds 4096");
	ck_s(SNAPCFG_DRIVE_PATH, "", "drive 'd': no path (path_on_host)");
	ck_s(SNAPCFG_DRIVE_ID, "", "drive 0: drive_id '' is not 1-31");
	ck_s(SNAPCFG_DRIVE_ID, "a/b", "drive_id 'a/b' is not 1-31 letters");
	memset(big, 'x', sizeof(big));
	big[CONFIG_ID_MAX] = '\0';
	ck_s(SNAPCFG_DRIVE_ID, big, "a string of 33 bytes, the field holds 32");
	ck_s(SNAPCFG_DRIVE_PARTUUID, "xyz",
	     "partuuid 'xyz' is not a partition");
	ck_s(SNAPCFG_NET_ID, "eth 0", "iface_id 'eth 0' is not 1-31");
	ck_s(SNAPCFG_NET_TAP, "a/b", "host_dev_name 'a/b' is not an interface");
	ck_s(SNAPCFG_NET_TAP, "", "host_dev_name '' is not an interface");
	ck_s(SNAPCFG_VSOCK_UDS, "",
	     "vsock: needs both guest_cid and uds_path (uds_path is empty)");
	memset(big, 'x', sizeof(big));
	big[CONFIG_UDS_MAX] = '\0';
	ck_s(SNAPCFG_VSOCK_UDS, big,
	     "a string of 109 bytes, the field holds 108");
	/* vsock_id is any string, as in Firecracker, which ignores it. */
	base(0);
	rec_str(SNAPCFG_VSOCK_ID, 0, "v 0");
	ck_assert_msg(decode() == 0, "%s", err);
	ck_assert_str_eq(a.vsock.id, "v 0");

	/* The CID: any u32, as the API takes it (Firecracker's rule). */
	ck_u(SNAPCFG_VSOCK_CID, 3, 8, "(vsock: guest_cid): 8 bytes, want 4");
	base(SNAPCFG_VSOCK_CID);
	rec_uint(SNAPCFG_VSOCK_CID, 0, 0, 4);
	ck_assert_msg(decode() == 0, "%s", err);
	ck_assert_uint_eq(a.vsock.guest_cid, 0);

	/* MAC: 6 bytes, unicast. Buckets: 24 bytes. */
	ck_value(SNAPCFG_NET_MAC, 0, "\1\0\0\0\0\1", 6,
	         "guest_mac 01:00:00:00:00:01 is a multicast address");
	ck_value(SNAPCFG_NET_MAC, 0, "\6\0\0\0\0", 5, "5 bytes, want 6");
	ck_value(SNAPCFG_DRIVE_OPS, 0, big, 23,
	         "(drive 0: rate_limiter.ops): 23 bytes, want 24");
	ck_value(SNAPCFG_NET_TX_BANDWIDTH, 0, big, 25,
	         "(interface 0: tx_rate_limiter.bandwidth): 25 bytes");
}
END_TEST

/* What only the whole machine shows: the API refuses these too. */
START_TEST(machine_wide_rules)
{
	base(SNAPCFG_DRIVES);
	rec_uint(SNAPCFG_DRIVES, 0, 2, 4);
	rec_str(SNAPCFG_DRIVE_ID, 1, "d");
	rec_str(SNAPCFG_DRIVE_PATH, 1, "/e.img");
	ck_refused("drive_id 'd' is given twice");
	base(SNAPCFG_DRIVES);
	rec_uint(SNAPCFG_DRIVES, 0, 2, 4);
	rec_uint(SNAPCFG_DRIVE_ROOT, 0, 1, 1);
	rec_str(SNAPCFG_DRIVE_ID, 1, "e");
	rec_str(SNAPCFG_DRIVE_PATH, 1, "/e.img");
	rec_uint(SNAPCFG_DRIVE_ROOT, 1, 1, 1);
	ck_refused("drives 'd' and 'e' are both the root device");
	base(SNAPCFG_NETS);
	rec_uint(SNAPCFG_NETS, 0, 2, 4);
	rec_str(SNAPCFG_NET_ID, 1, "eth1");
	rec_str(SNAPCFG_NET_TAP, 1, "tap0");
	ck_refused("interfaces 'eth0' and 'eth1' have the same host_dev_name");
	base(SNAPCFG_NETS);
	rec_uint(SNAPCFG_NETS, 0, 2, 4);
	rec_str(SNAPCFG_NET_ID, 1, "eth0");
	rec_str(SNAPCFG_NET_TAP, 1, "tap1");
	ck_refused("iface_id 'eth0' is given twice");
	base(SNAPCFG_NETS);
	rec_uint(SNAPCFG_NETS, 0, 2, 4);
	rec_str(SNAPCFG_NET_ID, 1, "eth1");
	rec_str(SNAPCFG_NET_TAP, 1, "tap1");
	rec(SNAPCFG_NET_MAC, 0, "\6\0\0\0\0\1", 6);
	rec(SNAPCFG_NET_MAC, 1, "\6\0\0\0\0\1", 6);
	ck_refused("interfaces 'eth0' and 'eth1' have the same guest_mac");
}
END_TEST

/*
 * Two drives, an interface and vsock, and the bytes wisp wrote for them
 * before the device types described their own records: the encoding
 * must not move, or older wisps could not read newer snapshots.
 */
static void two_drives_one_net_vsock(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->vcpus = 2;
	c->mem_mib = 256;
	c->huge_pages = HUGE_PAGES_2M;
	c->ndrives = 2;
	c->drives[0] = (struct drive_config){
		.id = "root",
		.path = "/r.img",
		.root = true,
		.no_flush = true,
		.partuuid = "0eaf4a3c-01",
		.rl = { .bandwidth = { true, 0x0102030405060708ull,
		                       0x1112131415161718ull, 100 } },
	};
	c->drives[1] = (struct drive_config){
		.id = "data",
		.path = "/d.img",
		.read_only = true,
		.direct = true,
		.io_sync = true,
		.rl = { .ops = { true, 1, 2, 3 } },
	};
	c->nnets = 1;
	c->nets[0] = (struct net_config){
		.id = "eth0",
		.host_dev_name = "tap0",
		.has_mac = true,
		.mac = { 0x06, 0, 0xac, 0x10, 0, 2 },
		.rx = { .bandwidth = { true, 4, 5, 6 } },
		.tx = { .ops = { true, 7, 8, 9 } },
	};
	c->vsock = (struct vsock_config){ .present = true,
		                          .guest_cid = 3,
		                          .uds_path = "/v.sock",
		                          .id = "vsock0" };
}

/* The bytes, a record a line (and its value, 16 bytes a line). */
static const char two_drives_one_net_vsock_bytes[] =
        /* version 1 */
        "\x01\x00\x00\x00"
        /* SNAPCFG_VCPUS, slot 0, 4 bytes */
        "\x01\x00\x00\x00\x04\x00\x00\x00"
        "\x02\x00\x00\x00"
        /* SNAPCFG_MEM_MIB, slot 0, 8 bytes */
        "\x02\x00\x00\x00\x08\x00\x00\x00"
        "\x00\x01\x00\x00\x00\x00\x00\x00"
        /* SNAPCFG_HUGE_PAGES, slot 0, 1 byte */
        "\x03\x00\x00\x00\x01\x00\x00\x00"
        "\x01"
        /* SNAPCFG_DRIVES, slot 0, 4 bytes */
        "\x04\x00\x00\x00\x04\x00\x00\x00"
        "\x02\x00\x00\x00"
        /* SNAPCFG_NETS, slot 0, 4 bytes */
        "\x05\x00\x00\x00\x04\x00\x00\x00"
        "\x01\x00\x00\x00"
        /* SNAPCFG_DRIVE_ID, slot 0, 5 bytes */
        "\x01\x01\x00\x00\x05\x00\x00\x00"
        "\x72\x6f\x6f\x74\x00"
        /* SNAPCFG_DRIVE_PATH, slot 0, 7 bytes */
        "\x02\x01\x00\x00\x07\x00\x00\x00"
        "\x2f\x72\x2e\x69\x6d\x67\x00"
        /* SNAPCFG_DRIVE_ROOT, slot 0, 1 byte */
        "\x03\x01\x00\x00\x01\x00\x00\x00"
        "\x01"
        /* SNAPCFG_DRIVE_READ_ONLY, slot 0, 1 byte */
        "\x04\x01\x00\x00\x01\x00\x00\x00"
        "\x00"
        /* SNAPCFG_DRIVE_CACHE, slot 0, 1 byte */
        "\x05\x01\x00\x00\x01\x00\x00\x00"
        "\x01"
        /* SNAPCFG_DRIVE_IO_SYNC, slot 0, 1 byte */
        "\x06\x01\x00\x00\x01\x00\x00\x00"
        "\x00"
        /* SNAPCFG_DRIVE_PARTUUID, slot 0, 12 bytes */
        "\x07\x01\x00\x00\x0c\x00\x00\x00"
        "\x30\x65\x61\x66\x34\x61\x33\x63\x2d\x30\x31\x00"
        /* SNAPCFG_DRIVE_BANDWIDTH, slot 0, 24 bytes */
        "\x08\x01\x00\x00\x18\x00\x00\x00"
        "\x08\x07\x06\x05\x04\x03\x02\x01\x18\x17\x16\x15\x14\x13\x12\x11"
        "\x64\x00\x00\x00\x00\x00\x00\x00"
        /* SNAPCFG_DRIVE_ID, slot 1, 5 bytes */
        "\x01\x01\x01\x00\x05\x00\x00\x00"
        "\x64\x61\x74\x61\x00"
        /* SNAPCFG_DRIVE_PATH, slot 1, 7 bytes */
        "\x02\x01\x01\x00\x07\x00\x00\x00"
        "\x2f\x64\x2e\x69\x6d\x67\x00"
        /* SNAPCFG_DRIVE_ROOT, slot 1, 1 byte */
        "\x03\x01\x01\x00\x01\x00\x00\x00"
        "\x00"
        /* SNAPCFG_DRIVE_READ_ONLY, slot 1, 1 byte */
        "\x04\x01\x01\x00\x01\x00\x00\x00"
        "\x01"
        /* SNAPCFG_DRIVE_CACHE, slot 1, 1 byte */
        "\x05\x01\x01\x00\x01\x00\x00\x00"
        "\x02"
        /* SNAPCFG_DRIVE_IO_SYNC, slot 1, 1 byte */
        "\x06\x01\x01\x00\x01\x00\x00\x00"
        "\x01"
        /* SNAPCFG_DRIVE_OPS, slot 1, 24 bytes */
        "\x09\x01\x01\x00\x18\x00\x00\x00"
        "\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00"
        "\x03\x00\x00\x00\x00\x00\x00\x00"
        /* SNAPCFG_NET_ID, slot 0, 5 bytes */
        "\x01\x02\x00\x00\x05\x00\x00\x00"
        "\x65\x74\x68\x30\x00"
        /* SNAPCFG_NET_TAP, slot 0, 5 bytes */
        "\x02\x02\x00\x00\x05\x00\x00\x00"
        "\x74\x61\x70\x30\x00"
        /* SNAPCFG_NET_MAC, slot 0, 6 bytes */
        "\x03\x02\x00\x00\x06\x00\x00\x00"
        "\x06\x00\xac\x10\x00\x02"
        /* SNAPCFG_NET_RX_BANDWIDTH, slot 0, 24 bytes */
        "\x04\x02\x00\x00\x18\x00\x00\x00"
        "\x04\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00"
        "\x06\x00\x00\x00\x00\x00\x00\x00"
        /* SNAPCFG_NET_TX_OPS, slot 0, 24 bytes */
        "\x07\x02\x00\x00\x18\x00\x00\x00"
        "\x07\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00"
        "\x09\x00\x00\x00\x00\x00\x00\x00"
        /* SNAPCFG_VSOCK_CID, slot 0, 4 bytes */
        "\x01\x03\x00\x00\x04\x00\x00\x00"
        "\x03\x00\x00\x00"
        /* SNAPCFG_VSOCK_UDS, slot 0, 8 bytes */
        "\x02\x03\x00\x00\x08\x00\x00\x00"
        "\x2f\x76\x2e\x73\x6f\x63\x6b\x00"
        /* SNAPCFG_VSOCK_ID, slot 0, 7 bytes */
        "\x03\x03\x00\x00\x07\x00\x00\x00"
        "\x76\x73\x6f\x63\x6b\x30\x00";
#define TWO_DRIVES_LEN (sizeof(two_drives_one_net_vsock_bytes) - 1)

START_TEST(encoding_is_unchanged)
{
	const uint8_t *want = (const uint8_t *)two_drives_one_net_vsock_bytes;
	size_t n;
	uint8_t *enc;

	two_drives_one_net_vsock(&a);
	enc = snapcfg_encode(&a, &n);
	ck_assert_ptr_nonnull(enc);
	ck_assert_uint_eq(n, TWO_DRIVES_LEN);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(enc[i] == want[i],
		              "byte %zu: 0x%02x, want 0x%02x", i, enc[i],
		              want[i]);
	free(enc);
	/* And those bytes are that machine again. */
	ck_assert_msg(
	        snapcfg_decode(want, TWO_DRIVES_LEN, &b, err, sizeof(err)) == 0,
	        "%s", err);
	snap_test_same_config(&a, &b);
}
END_TEST

/*
 * The device types' record tables (their *_snapcfg.c) are ones the
 * decoder can use: a scope and tags of their own, field sizes that match
 * their kinds, and slots that fit its masks.
 */
START_TEST(record_tables_are_sound)
{
	static const uint16_t machine_tags[] = { SNAPCFG_VCPUS, SNAPCFG_MEM_MIB,
		                                 SNAPCFG_HUGE_PAGES };
	const struct snapcfg_type *seen[VMM_MAX_VIRTIO];
	unsigned ntypes = 0, slots = 0;

	for (const struct vdev_type *const *ty = vdev_types; *ty; ty++) {
		const struct snapcfg_type *st =
		        (*ty)->conf ? (*ty)->conf->snap : NULL;
		const char *tn = (*ty)->name;

		if (!st)
			continue;
		ck_assert_uint_lt(ntypes, VMM_MAX_VIRTIO);
		ck_assert_msg(st->scope > 0 && st->scope < 0x80, "%s: scope",
		              tn);
		ck_assert_msg(st->name && st->nfields > 0 && st->nfields <= 32,
		              "%s: name or fields", tn);
		if (st->count_tag) {
			ck_assert_msg(st->count_tag >> 8 == 0 &&
			                      st->count_name && st->plural,
			              "%s: count record", tn);
			for (size_t j = 0; j < 3; j++)
				ck_assert_uint_ne(st->count_tag,
				                  machine_tags[j]);
		} else {
			ck_assert_msg((*ty)->conf->max == 1,
			              "%s: no count record, max %u", tn,
			              (*ty)->conf->max);
		}
		for (unsigned j = 0; j < ntypes; j++) {
			ck_assert_uint_ne(seen[j]->scope, st->scope);
			ck_assert(!st->count_tag ||
			          seen[j]->count_tag != st->count_tag);
		}
		for (unsigned k = 0; k < st->nfields; k++) {
			const struct snapcfg_field *f = &st->fields[k];
			static const size_t sizes[] = {
				[SNAPCFG_U32] = 4,
				[SNAPCFG_U64] = 8,
				[SNAPCFG_BOOL] = sizeof(bool),
				[SNAPCFG_BUCKET] = sizeof(struct bucket_config),
			};

			ck_assert_msg(f->name && f->tag >> 8 == st->scope,
			              "%s: field %u", tn, k);
			for (unsigned j = 0; j < k; j++)
				ck_assert_uint_ne(st->fields[j].tag, f->tag);
			if (f->kind == SNAPCFG_STR)
				ck_assert_uint_gt(f->size, 1);
			else if (f->kind == SNAPCFG_CUSTOM)
				ck_assert_msg(
				        f->get && f->set && f->len > 0 &&
				                f->len <= SNAPCFG_VALUE_MAX &&
				                (!f->top || f->len == 1),
				        "%s: %s", tn, f->name);
			else
				ck_assert_msg(f->size == sizes[f->kind],
				              "%s: %s is %zu bytes", tn,
				              f->name, f->size);
		}
		seen[ntypes++] = st;
		slots += (*ty)->conf->max;
	}
	ck_assert_uint_ge(ntypes, 3);
	ck_assert_uint_le(slots, VMM_MAX_VIRTIO);
}
END_TEST

Suite *snapconfig_suite(void)
{
	Suite *su = suite_create("snapconfig");
	TCase *tc = tcase_create("records");

	tcase_add_test(tc, round_trip_every_field);
	tcase_add_test(tc, round_trip_each_field_alone);
	tcase_add_test(tc, absent_fields_take_their_defaults);
	tcase_add_test(tc, unknown_tags);
	tcase_add_test(tc, malformed_sections);
	tcase_add_test(tc, records_in_the_wrong_place);
	tcase_add_test(tc, required_fields);
	tcase_add_test(tc, values_out_of_range);
	tcase_add_test(tc, machine_wide_rules);
	tcase_add_test(tc, encoding_is_unchanged);
	tcase_add_test(tc, record_tables_are_sound);
	suite_add_tcase(su, tc);
	return su;
}
