/*
 * Metrics: counters written as one JSON line per flush to the metrics
 * file (PUT /metrics, --metrics-path), on FlushMetrics, every 60 s and at
 * exit. Like Firecracker's, counters are reported as the change since the
 * previous line and grouped the same way (put_api_requests, vcpu, i8042,
 * block, block_<drive id> ...), so dashboards built for it read ours.
 */
#ifndef WISP_METRICS_H
#define WISP_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

/* X(group, name): every process-wide counter. */
#define METRICS_COUNTERS(X)                                                    \
	X(get_api_requests, instance_info_count)                               \
	X(get_api_requests, machine_cfg_count)                                 \
	X(get_api_requests, mmds_count)                                        \
	X(get_api_requests, vmm_version_count)                                 \
	X(get_api_requests, vm_config_count)                                   \
	X(put_api_requests, actions_count)                                     \
	X(put_api_requests, actions_fails)                                     \
	X(put_api_requests, boot_source_count)                                 \
	X(put_api_requests, boot_source_fails)                                 \
	X(put_api_requests, drive_count)                                       \
	X(put_api_requests, drive_fails)                                       \
	X(put_api_requests, logger_count)                                      \
	X(put_api_requests, logger_fails)                                      \
	X(put_api_requests, machine_cfg_count)                                 \
	X(put_api_requests, machine_cfg_fails)                                 \
	X(put_api_requests, metrics_count)                                     \
	X(put_api_requests, metrics_fails)                                     \
	X(put_api_requests, network_count)                                     \
	X(put_api_requests, network_fails)                                     \
	X(put_api_requests, mmds_count)                                        \
	X(put_api_requests, mmds_fails)                                        \
	X(put_api_requests, vsock_count)                                       \
	X(put_api_requests, vsock_fails)                                       \
	X(put_api_requests, snapshot_create_count)                             \
	X(put_api_requests, snapshot_create_fails)                             \
	X(put_api_requests, snapshot_load_count)                               \
	X(put_api_requests, snapshot_load_fails)                               \
	X(put_api_requests, serial_count)                                      \
	X(put_api_requests, serial_fails)                                      \
	X(put_api_requests, cpu_cfg_count)                                     \
	X(put_api_requests, cpu_cfg_fails)                                     \
	X(patch_api_requests, drive_count)                                     \
	X(patch_api_requests, drive_fails)                                     \
	X(patch_api_requests, machine_cfg_count)                               \
	X(patch_api_requests, machine_cfg_fails)                               \
	X(patch_api_requests, network_count)                                   \
	X(patch_api_requests, network_fails)                                   \
	X(patch_api_requests, mmds_count)                                      \
	X(patch_api_requests, mmds_fails)                                      \
	X(patch_api_requests, vm_count)                                        \
	X(patch_api_requests, vm_fails)                                        \
	X(vcpu, exit_io_in)                                                    \
	X(vcpu, exit_io_out)                                                   \
	X(vcpu, exit_mmio_read)                                                \
	X(vcpu, exit_mmio_write)                                               \
	X(vcpu, failures)                                                      \
	X(i8042, read_count)                                                   \
	X(i8042, write_count)                                                  \
	X(i8042, reset_count)                                                  \
	X(i8042, missed_read_count)                                            \
	X(i8042, missed_write_count)                                           \
	X(uart, read_count)                                                    \
	X(uart, write_count)                                                   \
	X(uart, error_count)        /* the console's reader went away */       \
	X(uart, flush_count)        /* writes of the output ring */            \
	X(uart, missed_write_count) /* bytes dropped: the ring was full */     \
	X(uart, rate_limiter_dropped_bytes) /* over PUT /serial's limit */     \
	X(mmds, rx_accepted)     /* guest frames the service took */           \
	X(mmds, rx_accepted_err) /* ... and could not handle */                \
	X(mmds, rx_accepted_unusual)                                           \
	X(mmds, rx_bad_eth)                                                    \
	X(mmds, rx_invalid_token) /* GETs with a bad or expired token */       \
	X(mmds, rx_no_token)      /* GETs without one */                       \
	X(mmds, rx_count)                                                      \
	X(mmds, tx_bytes)                                                      \
	X(mmds, tx_count)                                                      \
	X(mmds, tx_errors)                                                     \
	X(mmds, tx_frames)                                                     \
	X(mmds, connections_created)                                           \
	X(mmds, connections_destroyed)

#define METRICS_FIELD(group, name) _Atomic uint64_t group##_##name;
struct metrics {
	METRICS_COUNTERS(METRICS_FIELD)
	/* Absolute values ("store" metrics), not deltas. */
	_Atomic uint64_t startup_time_us; /* exec to API socket / guest start */
	/* The same in process CPU time, from the jailer's exec (given). */
	_Atomic uint64_t startup_cpu_time_us;
	_Atomic uint64_t pause_vm_us, resume_vm_us; /* the last ones */
	_Atomic uint64_t full_create_snapshot_us, diff_create_snapshot_us;
	_Atomic uint64_t load_snapshot_us;
};
#undef METRICS_FIELD

extern struct metrics metrics;

/* Count one event; relaxed, cheap enough for every vCPU exit. */
#define METRIC_INC(group, name)                                                \
	atomic_fetch_add_explicit(&metrics.group##_##name, 1,                  \
	                          memory_order_relaxed)
#define METRIC_SET(field, v)                                                   \
	atomic_store_explicit(&metrics.field, (v), memory_order_relaxed)

struct vmm;

/*
 * Write metrics to @path (a file or FIFO that exists). Once per process,
 * as in Firecracker. Returns 0, or -1 with the reason in @err.
 */
int metrics_set_path(const char *path, char *err, size_t errlen);
const char *metrics_get_path(void); /* "" when none */
/*
 * PUT /metrics' emit_id (each line gets the instance id as "id") and
 * properties (an object of strings, each line gets it as "properties";
 * NULL: none; a reference is taken), as Firecracker writes them. Set
 * with the path, once.
 */
void metrics_set_extras(bool emit_id, struct json_t *properties);
bool metrics_get_emit_id(void);
struct json_t *metrics_get_properties(void); /* borrowed; NULL: none */

/*
 * --metrics-prometheus: the same metrics in Prometheus' text format,
 * rewritten whole (a file next to it renamed over it) whenever a JSON
 * line is due (metrics_prom.c). 0, or -1 with the reason in @err.
 */
int metrics_prom_set_path(const char *path, char *err, size_t errlen);
const char *metrics_prom_path(void); /* "" when none */
int metrics_prom_write(struct vmm *m);

/* Write a line every 60 s from the event loop (after vmm_loop_start()). */
void metrics_start(struct vmm *m);

/*
 * Write one line now: the counters' changes since the last line, and the
 * drives' own. Event loop thread (or after it ended). 0 when written or
 * nowhere to write, -1 when the write failed.
 */
int metrics_flush(struct vmm *m);

#endif
