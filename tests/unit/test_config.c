/* The INI configuration: values, and one precise message per mistake. */
#include "unit.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/wisp-unit-XXXXXX";
static char ini[256], kernel[256];
static char err[8192];
static struct config cfg;

static void setup(void)
{
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(ini, sizeof(ini), "%s/vm.ini", dir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	f = fopen(kernel, "w");
	fputs("not really a kernel", f);
	fclose(f);
	config_init(&cfg);
}

static void teardown(void)
{
	char cmd[300];

	config_free(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/wisp-unit-XXXXXX");
}

/* A fresh configuration from @text. */
static int load(const char *text)
{
	FILE *f = fopen(ini, "w");

	config_free(&cfg);
	config_init(&cfg);
	fputs(text, f);
	fclose(f);
	return config_load_ini(&cfg, ini, err, sizeof(err));
}

#define ck_load_fails(text, msg)                                               \
	do {                                                                   \
		ck_assert_int_eq(load(text), -1);                              \
		ck_assert_msg(strstr(err, msg), "error '%s' lacks '%s'", err,  \
		              msg);                                            \
	} while (0)

START_TEST(valid_file)
{
	ck_assert_int_eq(load("# comment\n[machine]\nvcpus = 4\nmem_mib = "
	                      "512\n[boot]\nkernel = vmlinux\ncmdline = "
	                      "console=ttyS0 wisp.run=\"a; b\"\n[serial]\n"
	                      "output = out.txt\ninput = none\n"),
	                 0);
	ck_assert_uint_eq(cfg.vcpus, 4);
	ck_assert_uint_eq(cfg.mem_mib, 512);
	ck_assert_str_eq(cfg.kernel, kernel); /* relative to the file */
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0 wisp.run=\"a; b\"");
	ck_assert_str_eq(strrchr(cfg.serial_out, '/'), "/out.txt");
	ck_assert(!cfg.serial_in);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(cmdline_continuation)
{
	ck_assert_int_eq(load("[boot]\ncmdline = console=ttyS0\n  quiet\n"), 0);
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0 quiet");
}
END_TEST

START_TEST(errors_name_line_and_key)
{
	ck_load_fails("[machine]\nvcpus = 0\n",
	              "vm.ini:2: [machine] vcpus: '0'");
	ck_load_fails("[machine]\nvcpus = 33\n", "is not a number in 1..32");
	ck_load_fails("[machine]\n\nvcpus = two\n",
	              "vm.ini:3: [machine] vcpus");
	ck_load_fails("[machine]\nmem_mib = 1\n", "[machine] mem_mib: '1'");
	ck_load_fails("[machine]\nmem_mib = -5\n", "[machine] mem_mib");
	ck_load_fails("[machine]\nmem_mib = 99999999999999999999\n",
	              "[machine] mem_mib");
	ck_load_fails("[machine]\ncpus = 2\n", "vm.ini:2: [machine] cpus: "
	                                       "unknown key");
	ck_load_fails("[machin]\nvcpus = 2\n", "vm.ini:2: unknown section "
	                                       "[machin]");
	ck_load_fails("[machine]\nvcpus = 1\nvcpus = 2\n",
	              "vm.ini:3: [machine] vcpus: given twice");
	ck_load_fails("[boot]\nkernel = missing\n", "[boot] kernel: '");
	ck_load_fails("[boot]\nkernel = missing\n", "No such file");
	ck_load_fails("[boot]\nkernel =\n", "[boot] kernel: empty path");
	ck_load_fails("[serial]\ninput = keyboard\n",
	              "[serial] input: 'keyboard'");
	ck_load_fails("[machine]\nthis is not ini\n", "vm.ini:2: syntax error");
}
END_TEST

START_TEST(drives)
{
	ck_assert_int_eq(load("[boot]\nkernel = vmlinux\n"
	                      "[drive.rootfs]\npath = vmlinux\nroot = yes\n"
	                      "[drive.data_1]\npath = vmlinux\nread_only = "
	                      "yes\ncache = none\n"),
	                 0);
	ck_assert_uint_eq(cfg.ndrives, 2);
	ck_assert_str_eq(cfg.drives[0].id, "rootfs");
	ck_assert(cfg.drives[0].root);
	ck_assert(!cfg.drives[0].read_only);
	ck_assert_str_eq(cfg.drives[0].path, kernel);
	ck_assert(cfg.drives[1].read_only);
	ck_assert(cfg.drives[1].direct);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(drive_errors)
{
	ck_load_fails("[drive.a/b]\npath = vmlinux\n", "drive id must be");
	ck_load_fails("[drive.]\npath = vmlinux\n", "drive id must be");
	/* Firecracker's rule: letters, digits and '_' only. */
	ck_load_fails("[drive.data-1]\npath = vmlinux\n", "drive id must be");
	ck_load_fails("[drive.x]\npath = nope\n", "[drive.x] path: '");
	ck_load_fails("[drive.x]\nroot = maybe\n", "'maybe' is not yes or no");
	ck_load_fails("[drive.x]\ncache = unsafe\n",
	              "'unsafe' is not writeback or none");
	ck_load_fails("[drive.x]\nsize = 1\n", "[drive.x] size: unknown key");
	ck_load_fails("[drive.x]\nroot = yes\nroot = no\n", "given twice");
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(
	        load("[boot]\nkernel = vmlinux\n[drive.x]\nroot = yes\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "drive 'x': no path"));
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(load("[boot]\nkernel = vmlinux\n[drive.a]\npath = "
	                      "vmlinux\nroot = yes\n[drive.b]\npath = "
	                      "vmlinux\nroot = yes\n"),
	                 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "are both the root device"));
}
END_TEST

START_TEST(nets_vsock_and_limits)
{
	ck_assert_int_eq(load("[boot]\nkernel = vmlinux\n"
	                      "[drive.d]\npath = vmlinux\nbandwidth = "
	                      "1048576 100\nops = 100 1000 50\n"
	                      "[net.eth0]\ntap = tap0\nmac = "
	                      "06:00:ac:10:00:02\nrx_bandwidth = 10 20 "
	                      "30\ntx_ops = 5 6\n"
	                      "[net.eth1]\ntap = tap1\n"
	                      "[vsock]\nguest_cid = 3\nuds_path = "
	                      "/tmp/v.sock\n"
	                      "[entropy]\nbandwidth = 4096 1000\n"),
	                 0);
	ck_assert(cfg.entropy.present && cfg.entropy.rl.bandwidth.size == 4096);
	ck_assert(cfg.drives[0].rl.bandwidth.set);
	ck_assert_uint_eq(cfg.drives[0].rl.bandwidth.size, 1048576);
	ck_assert_uint_eq(cfg.drives[0].rl.bandwidth.refill_time_ms, 100);
	ck_assert_uint_eq(cfg.drives[0].rl.bandwidth.one_time_burst, 0);
	ck_assert_uint_eq(cfg.drives[0].rl.ops.one_time_burst, 50);
	ck_assert_uint_eq(cfg.nnets, 2);
	ck_assert_str_eq(cfg.nets[0].host_dev_name, "tap0");
	ck_assert(cfg.nets[0].has_mac);
	ck_assert_uint_eq(cfg.nets[0].mac[4], 0);
	ck_assert_uint_eq(cfg.nets[0].mac[5], 2);
	ck_assert_uint_eq(cfg.nets[0].rx.bandwidth.one_time_burst, 30);
	ck_assert_uint_eq(cfg.nets[0].tx.ops.refill_time_ms, 6);
	ck_assert(!cfg.nets[0].tx.bandwidth.set);
	ck_assert(!cfg.nets[1].has_mac);
	ck_assert(cfg.vsock.present);
	ck_assert_uint_eq(cfg.vsock.guest_cid, 3);
	ck_assert_str_eq(cfg.vsock.uds_path, "/tmp/v.sock");
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(net_vsock_errors)
{
	ck_load_fails("[net.a1]\ntap = a/b\n", "'a/b' is not an interface");
	ck_load_fails("[net.a2]\ntap = 0123456789abcdef\n",
	              "is not an interface");
	ck_load_fails("[net.a3]\nmac = 01:00:00:00:00:01\n",
	              "not a unicast MAC");
	ck_load_fails("[net.a4]\nmac = 02:00:00:00:00\n", "not a unicast MAC");
	ck_load_fails("[net.a5]\nmac = 02-00-00-00-00-01\n",
	              "not a unicast MAC");
	ck_load_fails("[net.a6]\nspeed = 1\n", "[net.a6] speed: unknown key");
	ck_load_fails("[net.a8]\ntap = x\ntap = y\n", "given twice");
	ck_load_fails("[entropy]\nrate = 1\n", "[entropy] rate: unknown key");
	ck_load_fails("[entropy]\nops = x\n", "is not 'SIZE REFILL_MS");
	ck_load_fails("[net.a9]\nrx_bandwidth = 10\n",
	              "is not 'SIZE REFILL_MS [ONE_TIME_BURST]'");
	ck_load_fails("[net.a10]\nrx_ops = 10 -1\n", "is not 'SIZE");
	ck_load_fails("[net.a11]\nrx_ops = 1 2 3 4\n", "is not 'SIZE");
	ck_load_fails("[drive.x]\nbandwidth = lots\n", "is not 'SIZE");
	ck_load_fails("[net.]\ntap = x\n", "net id must be");
	ck_load_fails("[vsock]\nguest_cid = 2\n", "[vsock] guest_cid: '2'");
	ck_load_fails("[vsock]\nguest_cid = 4294967295\n",
	              "not a number in 3..4294967294");
	ck_load_fails("[vsock]\nuds_path =\n", "must be 1-107 bytes");
	ck_load_fails("[vsock]\nport = 1\n", "[vsock] port: unknown key");
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(load("[boot]\nkernel = vmlinux\n[net.a]\ntap = t\n"
	                      "[net.b]\ntap = t\n"),
	                 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(
	        err, "interfaces 'a' and 'b' have the same host_dev_name"));
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(load("[boot]\nkernel = vmlinux\n[net.a]\nmac = "
	                      "02:00:00:00:00:01\n"),
	                 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no tap given"));
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(load("[boot]\nkernel = vmlinux\n[vsock]\nguest_cid "
	                      "= 3\n"),
	                 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "needs both guest_cid and uds_path"));
}
END_TEST

START_TEST(overlong_line)
{
	char text[600] = "[boot]\ncmdline = ";

	memset(text + strlen(text), 'x', 300);
	ck_load_fails(text, "vm.ini:2: line longer than");
}
END_TEST

START_TEST(missing_file_and_kernel)
{
	ck_assert_int_eq(
	        config_load_ini(&cfg, "/nonexistent/vm.ini", err, sizeof(err)),
	        -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/vm.ini: No such"));
	ck_assert_int_eq(load("[machine]\nvcpus = 2\n"), 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "[boot] kernel"));
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("ini");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, valid_file);
	tcase_add_test(tc, cmdline_continuation);
	tcase_add_test(tc, errors_name_line_and_key);
	tcase_add_test(tc, drives);
	tcase_add_test(tc, drive_errors);
	tcase_add_test(tc, nets_vsock_and_limits);
	tcase_add_test(tc, net_vsock_errors);
	tcase_add_test(tc, overlong_line);
	tcase_add_test(tc, missing_file_and_kernel);
	suite_add_tcase(s, tc);
	return s;
}
