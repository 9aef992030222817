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

static int load(const char *text)
{
	FILE *f = fopen(ini, "w");

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
	                      "[drive.data-1]\npath = vmlinux\nread_only = "
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
	ck_assert_ptr_nonnull(strstr(err, "[drive.x]: no path"));
	config_free(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(load("[boot]\nkernel = vmlinux\n[drive.a]\npath = "
	                      "vmlinux\nroot = yes\n[drive.b]\npath = "
	                      "vmlinux\nroot = yes\n"),
	                 0);
	ck_assert_int_eq(config_validate(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "more than one drive has root"));
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
	tcase_add_test(tc, overlong_line);
	tcase_add_test(tc, missing_file_and_kernel);
	suite_add_tcase(s, tc);
	return s;
}
