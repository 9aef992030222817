/*
 * The UART's console output: the THR (a vCPU's port write) fills a ring,
 * the event loop writes it out; a reader that stops reading never stops
 * a vCPU, and what does not fit is dropped and counted. Real pipes and a
 * real event loop; the "vCPU" is a thread whose write(2) to the console
 * is trapped by seccomp.
 */
#include "unit.h"
#include "fake_driver.h"
#include "metrics.h"
#include "serial.h"
#include "util.h"
#include "vcpu_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#define BIG (200 * 1024)

static struct vm vm;
static struct evloop loop;
static struct serial ser;
static int rfd = -1, wfd = -1; /* the console pipe: our end, wisp's */

static uint64_t missed(void)
{
	return atomic_load(&metrics.uart_missed_write_count);
}

static void pump(void)
{
	while (evloop_run_once(&loop, 0) > 0)
		;
}

/* Byte @i of what the guest prints. */
static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void thr(uint8_t b)
{
	ck_assert(bus_access(&vm.pio, SERIAL_COM1_BASE, &b, 1, true));
}

static void print(size_t from, size_t n)
{
	for (size_t i = from; i < from + n; i++)
		thr(pat(i));
}

/* Read what is there (the loop serves meanwhile), up to @max bytes. */
static size_t take(uint8_t *buf, size_t max)
{
	size_t got = 0;

	for (unsigned idle = 0; got < max && idle < 50;) {
		ssize_t r;

		pump();
		r = read(rfd, buf + got, max - got);
		if (r > 0) {
			got += (size_t)r;
			idle = 0;
		} else {
			idle++;
			usleep(1000);
		}
	}
	return got;
}

static void open_pipe(int size)
{
	int fds[2];

	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
	rfd = fds[0];
	wfd = fds[1];
	if (size)
		ck_assert_int_eq(fcntl(wfd, F_SETPIPE_SZ, size), size);
	ck_assert_int_eq(fcntl(rfd, F_SETFL, O_NONBLOCK), 0);
}

static void start(int fd)
{
	ck_assert_int_eq(serial_init(&ser, &vm, fd), 0);
	ck_assert_int_eq(serial_attach(&ser, &loop), 0);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN); /* as wisp's main() does */
	fake_vm_init(&vm, 4096);
	bus_init(&vm.pio, "pio");
	ck_assert_int_eq(evloop_init(&loop), 0);
	open_pipe(4096);
	start(wfd);
}

static void teardown(void)
{
	serial_destroy(&ser);
	evloop_destroy(&loop);
	if (rfd >= 0)
		close(rfd);
	if (wfd >= 0)
		close(wfd);
	rfd = wfd = -1;
	free(vm.mem);
}

START_TEST(output_in_order)
{
	static uint8_t got[3000];

	print(0, sizeof(got));
	ck_assert_uint_eq(take(got, sizeof(got)), sizeof(got));
	for (size_t i = 0; i < sizeof(got); i++)
		ck_assert_uint_eq(got[i], pat(i));
	/* The caller's description stays blocking: a private one is used. */
	ck_assert_int_eq(fcntl(wfd, F_GETFL) & O_NONBLOCK, 0);
}
END_TEST

static void flood(void *n)
{
	print(0, *(size_t *)n);
}

/*
 * Nobody reads: the vCPU goes on (it never writes the pipe itself), the
 * ring keeps the first SERIAL_OUT_SIZE bytes, the rest is counted; once
 * the reader reads again, the ring comes out in order.
 */
START_TEST(stalled_reader_never_blocks_the_vcpu)
{
	static uint8_t got[SERIAL_OUT_SIZE + 4096];
	uint64_t m0 = missed();
	size_t n = BIG;
	int first;
	unsigned traps =
	        vcpu_thread_run(flood, &n, NULL, 0, ser.out.fd, &first);

	ck_assert_msg(traps == 0, "the vCPU made system call %d", first);
	ck_assert_uint_eq(missed() - m0, BIG - SERIAL_OUT_SIZE);
	ck_assert_uint_eq(take(got, sizeof(got)), SERIAL_OUT_SIZE);
	for (size_t i = 0; i < SERIAL_OUT_SIZE; i++)
		ck_assert_uint_eq(got[i], pat(i));
	ck_assert_uint_eq(missed() - m0, BIG - SERIAL_OUT_SIZE);
	/* Room again: new output flows. */
	print(7, 100);
	ck_assert_uint_eq(take(got, sizeof(got)), 100);
	ck_assert_uint_eq(got[0], pat(7));
}
END_TEST

struct race {
	atomic_bool done;
	size_t n;
};

static void flood_racing(void *p)
{
	struct race *r = p;

	print(0, r->n);
	atomic_store(&r->done, true);
}

static void *vcpu_racing(void *p)
{
	vcpu_thread_run(flood_racing, p, NULL, 0, -1, NULL);
	return NULL;
}

/* The loop drains while a vCPU prints: every byte arrives or is counted. */
START_TEST(concurrent_drain_loses_nothing_silently)
{
	struct race r = { .n = 1 << 20 };
	static uint8_t buf[65536];
	uint64_t m0 = missed(), got = 0;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, vcpu_racing, &r), 0);
	while (!atomic_load(&r.done)) {
		ssize_t k;

		evloop_run_once(&loop, 1);
		while ((k = read(rfd, buf, sizeof(buf))) > 0)
			got += (uint64_t)k;
	}
	pthread_join(t, NULL);
	got += take(buf, sizeof(buf));
	while (ser.out.len) /* a later gap timer */
		got += take(buf, sizeof(buf));
	ck_assert_uint_eq(got + (missed() - m0), r.n);
}
END_TEST

static void *late_reader(void *p)
{
	size_t *got = p, want = *got;
	static uint8_t buf[SERIAL_OUT_SIZE];

	*got = 0;
	usleep(50 * 1000);
	while (*got < want) {
		ssize_t r = read(rfd, buf, sizeof(buf));

		if (r > 0)
			*got += (size_t)r;
		else
			usleep(1000);
	}
	return NULL;
}

/* At exit, what the ring holds waits for a reader that is slow... */
START_TEST(exit_flush_waits_for_a_slow_reader)
{
	uint64_t m0 = missed();
	size_t got = 40000;
	pthread_t t;

	print(0, got); /* the loop has not run: all of it is in the ring */
	ck_assert_int_eq(pthread_create(&t, NULL, late_reader, &got), 0);
	serial_flush_exit(&ser);
	pthread_join(t, NULL);
	ck_assert_uint_eq(got, 40000);
	ck_assert_uint_eq(missed(), m0);
	/* After the flush, output is dropped and counted. */
	print(0, 10);
	ck_assert_uint_eq(missed() - m0, 10);
}
END_TEST

/* ... and gives up on one that reads nothing: the rest is counted. */
START_TEST(exit_flush_gives_up_on_a_stalled_reader)
{
	uint64_t m0 = missed();

	print(0, 40000);
	serial_flush_exit(&ser);
	ck_assert_uint_eq(missed() - m0, 40000 - 4096);
}
END_TEST

/* The reader closes: counted as an error, output dropped, no signal. */
START_TEST(reader_gone)
{
	uint64_t e0 = atomic_load(&metrics.uart_error_count), m0 = missed();

	close(rfd);
	rfd = -1;
	print(0, 100);
	pump();
	ck_assert_uint_eq(atomic_load(&metrics.uart_error_count) - e0, 1);
	ck_assert_uint_eq(missed() - m0, 100);
	print(0, 100);
	pump();
	ck_assert_uint_eq(missed() - m0, 200);
	ck_assert_uint_eq(atomic_load(&metrics.uart_error_count) - e0, 1);
}
END_TEST

/* A regular file never waits for a reader: all of it, in order. */
START_TEST(regular_file)
{
	char path[] = "/tmp/wisp-serial-XXXXXX";
	int fd = mkstemp(path);
	static uint8_t got[BIG];
	uint64_t m0 = missed();

	ck_assert_int_ge(fd, 0);
	unlink(path);
	serial_destroy(&ser);
	bus_init(&vm.pio, "pio"); /* the bus cannot remove a device */
	start(fd);
	for (size_t i = 0; i < BIG; i += 16384) {
		print(i, 16384);
		pump();
	}
	serial_flush_exit(&ser);
	ck_assert_int_eq(pread(fd, got, sizeof(got), 0), BIG);
	for (size_t i = 0; i < BIG; i++)
		ck_assert_uint_eq(got[i], pat(i));
	ck_assert_uint_eq(missed(), m0);
	close(fd);
}
END_TEST

/*
 * Host input filled the receive buffer (the console stops reading its
 * input then); the guest's driver clears the FIFO as Linux's 8250 does
 * at start: the console is woken to read again.
 */
START_TEST(fifo_clear_wakes_the_console)
{
	static uint8_t in[SERIAL_RX_SIZE];
	uint8_t fcr = 0x07; /* enable, clear rx, clear tx */
	uint64_t v = 0;

	ck_assert_uint_eq(serial_rx_push(&ser, in, sizeof(in)), sizeof(in));
	ck_assert_uint_eq(serial_rx_room(&ser), 0);
	ck_assert_int_eq(read(ser.rx_space_fd, &v, sizeof(v)), -1);
	ck_assert(bus_access(&vm.pio, SERIAL_COM1_BASE + 2, &fcr, 1, true));
	ck_assert_uint_eq(serial_rx_room(&ser), SERIAL_RX_SIZE);
	ck_assert_int_eq(read(ser.rx_space_fd, &v, sizeof(v)), sizeof(v));
	ck_assert_uint_eq(v, 1);
}
END_TEST

/* Snapshots keep the registers and unread input, as before. */
START_TEST(snapshot_state)
{
	struct serial_state st, back;
	uint8_t v = 0x5a;

	bus_access(&vm.pio, SERIAL_COM1_BASE + 7, &v, 1, true); /* SCR */
	ck_assert_uint_eq(serial_rx_push(&ser, (const uint8_t *)"hi", 2), 2);
	serial_save(&ser, &st);
	ck_assert_uint_eq(st.scr, 0x5a);
	ck_assert_uint_eq(st.rx_len, 2);
	st.rx_head = SERIAL_RX_SIZE;
	ck_assert_int_eq(serial_restore(&ser, &st), -1);
	st.rx_head = 0;
	v = 0;
	bus_access(&vm.pio, SERIAL_COM1_BASE + 7, &v, 1, true);
	ck_assert_int_eq(serial_restore(&ser, &st), 0);
	serial_save(&ser, &back);
	ck_assert_int_eq(memcmp(&st, &back, sizeof(st)), 0);
	bus_access(&vm.pio, SERIAL_COM1_BASE, &v, 1, false);
	ck_assert_uint_eq(v, 'h');
}
END_TEST

Suite *serial_suite(void)
{
	Suite *s = suite_create("serial");
	TCase *tc = tcase_create("output");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, output_in_order);
	tcase_add_test(tc, stalled_reader_never_blocks_the_vcpu);
	tcase_add_test(tc, concurrent_drain_loses_nothing_silently);
	tcase_add_test(tc, exit_flush_waits_for_a_slow_reader);
	tcase_add_test(tc, exit_flush_gives_up_on_a_stalled_reader);
	tcase_add_test(tc, reader_gone);
	tcase_add_test(tc, regular_file);
	tcase_add_test(tc, fifo_clear_wakes_the_console);
	tcase_add_test(tc, snapshot_state);
	suite_add_tcase(s, tc);
	return s;
}
