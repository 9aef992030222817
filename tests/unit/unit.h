/* Check suites of the unit tier; each file contributes one suite. */
#ifndef WISP_UNIT_H
#define WISP_UNIT_H

#include <check.h>

Suite *loader_suite(void);
Suite *log_suite(void);
Suite *boot_suite(void);
Suite *bus_suite(void);
Suite *config_suite(void);
Suite *queue_suite(void);
Suite *mmio_suite(void);
Suite *blk_suite(void);
Suite *rng_suite(void);
Suite *vsock_suite(void);
Suite *http_suite(void);
Suite *server_suite(void);
Suite *fcjson_suite(void);
Suite *cputmpl_suite(void);
Suite *ratelimit_suite(void);
Suite *net_suite(void);
Suite *snapfile_suite(void);
Suite *snapconfig_suite(void);
Suite *snapconfig_v1_suite(void);
Suite *snapmem_suite(void);
Suite *uffd_suite(void);
Suite *uring_suite(void);
Suite *serial_suite(void);
Suite *seccomp_suite(void);
Suite *seccomp_json_suite(void);
Suite *iov_suite(void);
Suite *vdev_suite(void);
Suite *mmds_suite(void);
Suite *mmds_http_suite(void);
Suite *cpuid_suite(void);
Suite *mmds_net_suite(void);

#endif
