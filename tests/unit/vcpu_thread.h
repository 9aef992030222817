/*
 * Run device code the way a vCPU runs it: on a thread of its own, under
 * a seccomp filter that traps the system calls a vCPU must not make
 * (counted, answered ENOSYS, the thread goes on), so a test can assert
 * that an MMIO or port write never reaches them.
 */
#ifndef WISP_UNIT_VCPU_THREAD_H
#define WISP_UNIT_VCPU_THREAD_H

/* Host-socket, epoll and timer calls: the vsock teardown's. */
extern const int vcpu_thread_socket_calls[];
extern const unsigned vcpu_thread_nsocket_calls;

/*
 * fn(arg) on a new thread, with @deny (@ndeny syscall numbers) and any
 * write(2) to @fd (-1: none) trapped. Returns how many were trapped;
 * *@first (if not NULL) is the first one's number.
 */
unsigned vcpu_thread_run(void (*fn)(void *), void *arg, const int *deny,
                         unsigned ndeny, int fd, int *first);

#endif
