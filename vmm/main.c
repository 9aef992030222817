/*
 * wisp: run one microVM, configured by an INI file, flags, a Firecracker
 * JSON file or the REST API, until the guest resets or powers off or the
 * host stops it.
 */
#include "config.h"
#include "fcjson.h"
#include "log.h"
#include "metrics.h"
#include "mmds.h"
#include "mmds_api.h"
#include "routes.h"
#include "seccomp_policy.h"
#include "server.h"
#include "snapfile.h"
#include "snapshot.h"
#include "util.h"
#include "vmm.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cli {
	bool boot_now;  /* a configuration was given: start without the API */
	bool fc_config; /* --config-file: Firecracker's, with its API */
	const char *api_sock;
	bool no_api;
	const char *config_file; /* Firecracker JSON */
	size_t max_body;
	/* Firecracker's jailer: the process CPU time at its exec, and its
	 * own; both 0 when not given. */
	bool cpu_times;
	uint64_t start_cpu_us, parent_cpu_us;
	const char *metadata; /* --metadata: JSON for the metadata store */
	bool mmds_limit_set;  /* else the store's limit is max_body */
	size_t mmds_limit;
	const char *seccomp_filter; /* --seccomp-filter: a JSON filter file */
	bool no_seccomp;
};

/* Firecracker's default API socket, when no configuration is given. */
#define DEFAULT_API_SOCK "/run/firecracker.socket"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: wisp --config FILE [options]       boot from an INI "
	        "file\n"
	        "       wisp --kernel FILE [options]       boot from flags\n"
	        "       wisp --api-sock PATH [options]     wait for the REST "
	        "API\n"
	        "       wisp --config-file FILE [--no-api] boot from a "
	        "Firecracker JSON file\n"
	        "\n"
	        "  --config FILE        VM configuration (INI, see README)\n"
	        "  --config-file FILE   VM configuration (Firecracker JSON)\n"
	        "  --api-sock PATH      serve the REST API on this Unix "
	        "socket\n"
	        "  --no-api             no API (needs a configuration)\n"
	        "  --http-api-max-payload-size N  API body limit in bytes "
	        "(51200)\n"
	        "  --metadata FILE      JSON put into the metadata store "
	        "(MMDS)\n"
	        "  --mmds-size-limit N  metadata store limit in bytes of "
	        "compact JSON\n"
	        "                       (default: the API body limit)\n"
	        "  --id ID              instance id (anonymous-instance)\n"
	        "  --kernel FILE        kernel (ELF vmlinux, PVH ELF or "
	        "bzImage)\n"
	        "  --initrd FILE        initial ramdisk\n"
	        "  --cmdline STR        kernel command line\n"
	        "  --vcpus N            vCPUs, 1-%d (default 1)\n"
	        "  --mem-mib N          guest RAM in MiB (default 128)\n"
	        "  --boot-timer         log the guest's boot-timer write "
	        "(always "
	        "on)\n"
	        "  --start-time-us N    CLOCK_MONOTONIC µs of the caller's "
	        "exec,\n"
	        "                       for boot-time figures\n"
	        "  --start-time-cpu-us N, --parent-cpu-time-us N\n"
	        "                       process CPU µs at the jailer's exec "
	        "and the\n"
	        "                       jailer's own (startup CPU metric)\n"
	        "  --describe-snapshot FILE  print a state file's format "
	        "version\n"
	        "  --snapshot-version   print the state file format "
	        "version\n"
	        "  --level LEVEL        log level: error, warn, info, debug\n"
	        "  --module PREFIX      only log lines of source files under "
	        "PREFIX\n"
	        "  --log-path FILE      log to FILE (or FIFO) instead of "
	        "stderr\n"
	        "  --show-level, --show-log-origin   log line details\n"
	        "  --metrics-path FILE  write metrics lines to FILE (or "
	        "FIFO)\n"
	        "  --metrics-prometheus FILE  the metrics in Prometheus' text "
	        "format,\n"
	        "                       FILE rewritten whole each minute\n"
	        "  --no-seccomp         no system call filters (debugging "
	        "only)\n"
	        "  --seccomp-filter FILE  the filters of a seccompiler JSON "
	        "file\n"
	        "                       (vmm, api, vcpu) instead of wisp's "
	        "own\n"
	        "  --version, --help\n"
	        "\n"
	        "Without --api-sock and --no-api the API is served "
	        "on\n" DEFAULT_API_SOCK
	        ", as Firecracker's (with --config-file "
	        "too).\nArguments after '--' are ignored.\n"
	        "Flags given after --config override its values.\n"
	        "Exit status: 0 guest reset or poweroff, 1 VMM error, 2 bad "
	        "usage or config,\n"
	        "3 guest panic or triple fault, 4 KVM error.\n",
	        CONFIG_MAX_VCPUS);
}

enum {
	OPT_CONFIG = 256,
	OPT_CONFIG_FILE,
	OPT_API_SOCK,
	OPT_NO_API,
	OPT_MAX_PAYLOAD,
	OPT_METADATA,
	OPT_MMDS_LIMIT,
	OPT_ID,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_VCPUS,
	OPT_MEM,
	OPT_BOOT_TIMER,
	OPT_START_TIME,
	OPT_START_CPU,
	OPT_PARENT_CPU,
	OPT_DESCRIBE_SNAPSHOT,
	OPT_SNAPSHOT_VERSION,
	OPT_MODULE,
	OPT_ENABLE_PCI,
	OPT_SECCOMP_FILTER,
	OPT_LEVEL,
	OPT_LOG_PATH,
	OPT_SHOW_LEVEL,
	OPT_SHOW_ORIGIN,
	OPT_METRICS_PATH,
	OPT_METRICS_PROM,
	OPT_NO_SECCOMP,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "http-api-max-payload-size", required_argument, NULL,
	  OPT_MAX_PAYLOAD },
	{ "metadata", required_argument, NULL, OPT_METADATA },
	{ "mmds-size-limit", required_argument, NULL, OPT_MMDS_LIMIT },
	{ "id", required_argument, NULL, OPT_ID },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "mem-mib", required_argument, NULL, OPT_MEM },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "start-time-us", required_argument, NULL, OPT_START_TIME },
	{ "start-time-cpu-us", required_argument, NULL, OPT_START_CPU },
	{ "parent-cpu-time-us", required_argument, NULL, OPT_PARENT_CPU },
	{ "describe-snapshot", required_argument, NULL, OPT_DESCRIBE_SNAPSHOT },
	{ "snapshot-version", no_argument, NULL, OPT_SNAPSHOT_VERSION },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "enable-pci", no_argument, NULL, OPT_ENABLE_PCI },
	{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "log-path", required_argument, NULL, OPT_LOG_PATH },
	{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
	{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
	{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
	{ "metrics-prometheus", required_argument, NULL, OPT_METRICS_PROM },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ 0 },
};

static int set_cli_path(char *dst, const char *flag, const char *v)
{
	if (strlen(v) >= CONFIG_PATH_MAX || !*v) {
		fprintf(stderr, "wisp: %s: bad path\n", flag);
		return -1;
	}
	if (access(v, R_OK) < 0) {
		fprintf(stderr, "wisp: %s '%s': %s\n", flag, v,
		        strerror(errno));
		return -1;
	}
	strcpy(dst, v);
	return 0;
}

/* Two passes: the configuration files first, so other flags override them. */
static int parse_args(struct vmm *m, struct cli *o, int argc, char **argv)
{
	char err[CONFIG_PATH_MAX + 512];
	uint64_t v;
	int opt, lvl;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (opt == OPT_CONFIG &&
		    config_load_ini(&m->cfg, optarg, err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp: %s\n", err);
			return -1;
		}
		if (opt == OPT_CONFIG_FILE &&
		    fcjson_load_file(m, optarg, err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp: %s\n", err);
			return -1;
		}
		if (opt == OPT_CONFIG || opt == OPT_CONFIG_FILE)
			o->boot_now = true;
		if (opt == OPT_CONFIG_FILE)
			o->fc_config = true;
	}
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
		case OPT_CONFIG_FILE:
		case OPT_BOOT_TIMER: /* the device is always there */
			break;
		case OPT_API_SOCK:
			o->api_sock = optarg;
			break;
		case OPT_NO_API:
			o->no_api = true;
			break;
		case OPT_MAX_PAYLOAD:
			if (!util_parse_u64(optarg, &v) || v < 1 ||
			    v > 64 * MIB) {
				fprintf(stderr,
				        "wisp: --http-api-max-payload-size "
				        "'%s' "
				        "is not a number of bytes in 1..%llu\n",
				        optarg, 64 * MIB);
				return -1;
			}
			o->max_body = (size_t)v;
			break;
		case OPT_METADATA:
			o->metadata = optarg;
			break;
		case OPT_MMDS_LIMIT:
			if (!util_parse_u64(optarg, &v) || v > SIZE_MAX) {
				fprintf(stderr,
				        "wisp: --mmds-size-limit '%s' is not a "
				        "number of bytes\n",
				        optarg);
				return -1;
			}
			o->mmds_limit = (size_t)v;
			o->mmds_limit_set = true;
			break;
		case OPT_ID:
			if (!*optarg || strlen(optarg) > 64 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz"
			                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			                   "0123456789-") != strlen(optarg)) {
				fprintf(stderr,
				        "wisp: --id '%s': 1-64 letters, digits "
				        "or '-'\n",
				        optarg);
				return -1;
			}
			snprintf(m->id, sizeof(m->id), "%s", optarg);
			break;
		case OPT_KERNEL:
			if (set_cli_path(m->cfg.kernel, "--kernel", optarg))
				return -1;
			o->boot_now = true;
			break;
		case OPT_INITRD:
			if (set_cli_path(m->cfg.initrd, "--initrd", optarg))
				return -1;
			break;
		case OPT_CMDLINE:
			free(m->cfg.cmdline);
			m->cfg.cmdline = strdup(optarg);
			break;
		case OPT_VCPUS:
			if (!util_parse_u64(optarg, &v) || v < 1 ||
			    v > CONFIG_MAX_VCPUS) {
				fprintf(stderr,
				        "wisp: --vcpus '%s' is not in 1..%d\n",
				        optarg, CONFIG_MAX_VCPUS);
				return -1;
			}
			m->cfg.vcpus = (unsigned)v;
			break;
		case OPT_MEM:
			if (!util_parse_u64(optarg, &v) ||
			    v < CONFIG_MIN_MEM_MIB || v > CONFIG_MAX_MEM_MIB) {
				fprintf(stderr,
				        "wisp: --mem-mib '%s' is not in "
				        "%llu..%llu\n",
				        optarg, CONFIG_MIN_MEM_MIB,
				        CONFIG_MAX_MEM_MIB);
				return -1;
			}
			m->cfg.mem_mib = v;
			break;
		case OPT_START_TIME:
			if (!util_parse_u64(optarg, &v) || v > util_now_us()) {
				fprintf(stderr,
				        "wisp: --start-time-us '%s' is not a "
				        "past CLOCK_MONOTONIC time\n",
				        optarg);
				return -1;
			}
			log_init(v, log_get_level());
			break;
		case OPT_START_CPU:
		case OPT_PARENT_CPU:
			if (!util_parse_u64(optarg, &v)) {
				fprintf(stderr,
				        "wisp: --%s '%s' is not a number of "
				        "microseconds\n",
				        opt == OPT_START_CPU
				                ? "start-time-cpu-us"
				                : "parent-cpu-time-us",
				        optarg);
				return -1;
			}
			*(opt == OPT_START_CPU ? &o->start_cpu_us
			                       : &o->parent_cpu_us) = v;
			o->cpu_times |= opt == OPT_START_CPU;
			break;
		case OPT_DESCRIBE_SNAPSHOT: {
			char out[512];

			if (snapshot_describe(optarg, out, sizeof(out), err,
			                      sizeof(err)) < 0) {
				fprintf(stderr, "wisp: %s\n", err);
				exit(WISP_EXIT_ERROR);
			}
			fputs(out, stdout);
			exit(0);
		}
		case OPT_SNAPSHOT_VERSION:
			printf("v%d.0.0\n", SNAP_VERSION);
			exit(0);
		case OPT_MODULE:
			if (log_set_module(optarg) < 0) {
				fprintf(stderr,
				        "wisp: --module '%s': longer than 63 "
				        "bytes\n",
				        optarg);
				return -1;
			}
			break;
		case OPT_ENABLE_PCI:
			fprintf(stderr,
			        "wisp: --enable-pci: wisp's devices are "
			        "virtio-mmio only (no PCI)\n");
			return -1;
		case OPT_SECCOMP_FILTER:
			o->seccomp_filter = optarg;
			break;
		case OPT_LEVEL:
			lvl = log_parse_level(optarg);
			if (lvl < LOG_OFF) {
				fprintf(stderr,
				        "wisp: --level '%s' is not off, "
				        "error, warn, info or debug\n",
				        optarg);
				return -1;
			}
			log_set_level((enum log_level)lvl);
			break;
		case OPT_LOG_PATH:
			if (log_set_path(optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "wisp: --log-path %s\n", err);
				return -1;
			}
			break;
		case OPT_SHOW_LEVEL:
			log_set_format(true, log_get_origin());
			break;
		case OPT_SHOW_ORIGIN:
			log_set_format(log_get_show_level(), true);
			break;
		case OPT_METRICS_PATH:
			if (metrics_set_path(optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "wisp: --metrics-path %s\n",
				        err);
				return -1;
			}
			break;
		case OPT_METRICS_PROM:
			if (metrics_prom_set_path(optarg, err, sizeof(err)) <
			    0) {
				fprintf(stderr,
				        "wisp: --metrics-prometheus %s\n", err);
				return -1;
			}
			break;
		case OPT_NO_SECCOMP:
			o->no_seccomp = true;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "wisp: unexpected argument '%s'\n",
		        argv[optind]);
		return -1;
	}
	/* As Firecracker's parser: one or the other. */
	if (o->seccomp_filter && o->no_seccomp) {
		fprintf(stderr, "wisp: --seccomp-filter and --no-seccomp "
		                "exclude each other\n");
		return -1;
	}
	if (o->no_seccomp)
		seccomp_disable();
	if (o->seccomp_filter &&
	    seccomp_load_file(o->seccomp_filter, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: --seccomp-filter %s\n", err);
		return -1;
	}
	if (o->no_api && o->api_sock) {
		fprintf(stderr, "wisp: --no-api and --api-sock exclude each "
		                "other\n");
		return -1;
	}
	if (!o->boot_now && o->no_api) {
		fprintf(stderr, "wisp: --no-api needs a configuration "
		                "(--config-file, --config or --kernel)\n");
		usage(stderr);
		return -1;
	}
	/* Firecracker serves its API unless --no-api, with --config-file
	 * too (Kata waits on it); wisp's own --config and --kernel start a
	 * VM without one unless --api-sock asks. */
	if ((!o->boot_now || o->fc_config) && !o->no_api && !o->api_sock)
		o->api_sock = DEFAULT_API_SOCK;
	return 0;
}

/*
 * --help and --version anywhere before a "--" answer at once, whatever
 * else the line holds (as Firecracker's parser does); the words after
 * "--" are someone else's (Firecracker's jailer passes them on): the
 * number of words left to parse.
 */
static int early_args(int argc, char **argv)
{
	int n = 1;

	while (n < argc && strcmp(argv[n], "--"))
		n++;
	for (int i = 1; i < n; i++) {
		if (!strcmp(argv[i], "--version")) {
			/* "<name> v<semver>": Kata parses the first line. */
			printf("wisp v%s\n", WISP_VERSION);
			exit(0);
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			exit(0);
		}
	}
	return n;
}

struct start_call {
	char err[CONFIG_PATH_MAX + 512];
	bool usage;
	int rc;
};

/* A configuration given at start boots on the event loop thread, as
 * InstanceStart does: its filter goes on there before the guest runs. */
static void start_on_loop(struct vmm *m, void *arg)
{
	struct start_call *c = arg;

	c->rc = vmm_start(m, c->err, sizeof(c->err), &c->usage);
}

/* Firecracker's api_server startup figures: wall clock and CPU. */
static void startup_metrics(const struct cli *o)
{
	struct timespec ts;

	METRIC_SET(startup_time_us, util_now_us() - log_start_us());
	if (o->cpu_times && !clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)) {
		uint64_t now = (uint64_t)ts.tv_sec * 1000000 +
		               (uint64_t)ts.tv_nsec / 1000;

		METRIC_SET(startup_cpu_time_us,
		           (now > o->start_cpu_us ? now - o->start_cpu_us : 0) +
		                   o->parent_cpu_us);
	}
}

int main(int argc, char **argv)
{
	static struct vmm m;
	struct cli o = { .max_body = HTTP_BODY_MAX_DEFAULT };
	struct api_server api = { .listen_fd = -1 };
	char err[CONFIG_PATH_MAX + 512];
	bool api_up = false;
	int code;

	log_init(util_now_us(), LOG_INFO);
	argc = early_args(argc, argv);
	seccomp_test_hook_init();
	vmm_init(&m);
	if (parse_args(&m, &o, argc, argv) < 0) {
		config_free(&m.cfg);
		return WISP_EXIT_USAGE;
	}
	/* Firecracker's default: the store may be as large as a request. */
	mmds_set_size_limit(m.mmds,
	                    o.mmds_limit_set ? o.mmds_limit : o.max_body);
	/* A bad or oversized document fails the start (exit 1), as there. */
	if (o.metadata &&
	    mmds_api_load_file(&m, o.metadata, err, sizeof(err)) < 0) {
		fprintf(stderr, "wisp: --metadata %s\n", err);
		vmm_fini(&m);
		return WISP_EXIT_ERROR;
	}
	signal(SIGPIPE, SIG_IGN);
	vcpu_signals_init();
	if (o.api_sock) {
		if (api_server_init(&api, o.api_sock, o.max_body, routes_handle,
		                    &m, err, sizeof(err)) < 0) {
			fprintf(stderr, "wisp: --api-sock %s\n", err);
			config_free(&m.cfg);
			return WISP_EXIT_USAGE;
		}
		api_up = true;
	}
	if (vmm_loop_start(&m) < 0) {
		code = WISP_EXIT_ERROR;
		goto out;
	}
	metrics_start(&m);
	if (o.boot_now) {
		static struct start_call sc;

		if (vmm_call(&m, start_on_loop, &sc) < 0 || sc.rc < 0) {
			fprintf(stderr, "wisp: %s\n",
			        sc.err[0] ? sc.err
			                  : "the VMM is shutting down");
			vm_request_exit(&m.vm, sc.usage ? WISP_EXIT_USAGE
			                                : WISP_EXIT_ERROR);
			goto run;
		}
	}
	if (api_up && api_server_start(&api) < 0)
		vm_request_exit(&m.vm, WISP_EXIT_ERROR);
	else
		startup_metrics(&o);
run:
	code = vmm_main(&m);
	if (seccomp_enabled() && vmm_state(&m) != VMM_NOT_STARTED) {
		/*
		 * Under vCPU 0's filter: no teardown (the kernel frees it
		 * all), only the socket files go, as a clean exit leaves none.
		 */
		if (api_up)
			unlink(api.path);
		vdev_exit_cleanup(&m);
		log_debug("exit status %d", code);
		_exit(code);
	}
out:
	if (api_up)
		api_server_destroy(&api);
	vmm_fini(&m);
	log_debug("exit status %d", code);
	return code;
}
