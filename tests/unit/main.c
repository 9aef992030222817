#include "unit.h"
#include "log.h"
#include "seccomp_policy.h"

#include <stdlib.h>

int main(void)
{
	SRunner *sr = srunner_create(loader_suite());
	int failed;

	log_init(0, LOG_ERROR); /* expected errors stay quiet */
	/* The server suite runs the API thread in this process: no filter. */
	seccomp_disable();
	srunner_add_suite(sr, boot_suite());
	srunner_add_suite(sr, cpuid_suite());
	srunner_add_suite(sr, bus_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, queue_suite());
	srunner_add_suite(sr, iov_suite());
	srunner_add_suite(sr, mmio_suite());
	srunner_add_suite(sr, blk_suite());
	srunner_add_suite(sr, rng_suite());
	srunner_add_suite(sr, vsock_suite());
	srunner_add_suite(sr, http_suite());
	srunner_add_suite(sr, server_suite());
	srunner_add_suite(sr, fcjson_suite());
	srunner_add_suite(sr, cputmpl_suite());
	srunner_add_suite(sr, mmds_suite());
	srunner_add_suite(sr, mmds_http_suite());
	srunner_add_suite(sr, mmds_net_suite());
	srunner_add_suite(sr, ratelimit_suite());
	srunner_add_suite(sr, net_suite());
	srunner_add_suite(sr, vdev_suite());
	srunner_add_suite(sr, snapfile_suite());
	srunner_add_suite(sr, snapconfig_suite());
	srunner_add_suite(sr, snapconfig_v1_suite());
	srunner_add_suite(sr, snapmem_suite());
	srunner_add_suite(sr, uffd_suite());
	srunner_add_suite(sr, uring_suite());
	srunner_add_suite(sr, log_suite());
	srunner_add_suite(sr, serial_suite());
	srunner_add_suite(sr, seccomp_suite());
	srunner_add_suite(sr, seccomp_json_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
