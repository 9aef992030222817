# wisp: a minimal KVM microVM monitor. `make help` lists the targets.

CC      ?= gcc
BUILD   ?= build
WARN    := -Wall -Wextra -Werror -Wshadow -Wimplicit-fallthrough -Wformat=2 \
           -Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -D_GNU_SOURCE $(WARN) -MMD -MP -Ivmm -Ivirtio -Iapi
LDLIBS  := -linih -luring -ljansson -lseccomp -lpthread
# The sanitizer build is the test build: seccomp traps and says who was
# caught (WISP_DEBUG), and the forbidden-call hooks exist (WISP_TEST_HOOKS).
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined -DWISP_DEBUG -DWISP_TEST_HOOKS

# Debian packages the build, the tests and the benchmarks need.
DEPS := build-essential pkg-config clang-format libinih-dev check \
        libseccomp-dev liburing-dev libjansson-dev \
        linux-source-6.1 bc flex bison libelf-dev xz-utils lz4 \
        busybox-static e2fsprogs cpio qemu-system-x86 clang libclang-rt-14-dev \
        fio jq curl python3 nftables iproute2

VMM_SRC := $(wildcard vmm/*.c vmm/x86/*.c virtio/*.c api/*.c)
VMM_LIB := $(filter-out vmm/main.c,$(VMM_SRC))
OBJ      = $(VMM_SRC:%.c=$(BUILD)/obj/%.o)
ASAN_OBJ = $(VMM_SRC:%.c=$(BUILD)/asan/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
JAILER_SRC := $(wildcard jailer/*.c)
JAILER_OBJ  = $(JAILER_SRC:%.c=$(BUILD)/obj/%.o)
# Host-side tools shipped with wisp (tools/*.c), static like wisp.
TOOLS    := $(BUILD)/wisp-snap $(BUILD)/uffd-handler
TOOL_OBJ  = $(patsubst %,$(BUILD)/obj/tools/%.o,$(notdir $(TOOLS)))
SNAP_OBJ  = $(patsubst %,$(BUILD)/obj/vmm/%.o,snapfile snapfile_read \
	snaptmp snapmem util)

.PHONY: all asan deps kvm-node guest run test test-unit test-probe test-api test-clients test-net \
	install uninstall test-install \
        test-seccomp test-jailer test-linux test-snap \
        perf fuzz fuzz-regress fmt fmt-check clean help

all: $(BUILD)/wisp $(BUILD)/wisp-jailer $(BUILD)/probe.elf \
	$(BUILD)/probe64.elf $(TOOLS)

help:
	@echo "make            build build/wisp, build/wisp-jailer, build/probe.elf and the tools"
	@echo "make run        boot the demo Linux guest (builds it first)"
	@echo "make test       every test tier: unit, probe guest, API, net,"
	@echo "                jailer, Linux"
	@echo "make perf       benchmarks; results go to docs/perf.md"
	@echo "make guest      guest kernel, initramfs and rootfs (cached)"
	@echo "make fuzz       fuzz targets, FUZZ_SECONDS each (not in make test)"
	@echo "make fuzz-regress  each fuzz target once over its seeds and"
	@echo "                reproducers (tests/fuzz/regress; in make test)"
	@echo "make asan       ASan+UBSan build in $(BUILD)/asan/wisp"
	@echo "make deps       install missing Debian packages"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -c $< -o $@

# Static: nothing to load at exec (about 0.3 ms less to the first guest
# instruction here) and no libraries to place inside a jail.
$(BUILD)/wisp: $(OBJ) Makefile
	$(CC) $(CFLAGS) -static -o $@ $(filter %.o,$^) $(LDLIBS)

# The jailer (jailer/, docs/security.md): static like wisp, and it links
# nothing of the VMM.
$(BUILD)/wisp-jailer: $(JAILER_OBJ) Makefile
	$(CC) $(CFLAGS) -static -o $@ $(filter %.o,$^)

# Offline snapshot tool: merge diff memory files, list state files.
$(BUILD)/wisp-snap: $(BUILD)/obj/tools/wisp-snap.o $(SNAP_OBJ) Makefile
	$(CC) $(CFLAGS) -static -o $@ $(filter %.o,$^)

# The example page-fault handler of the Uffd memory backend.
$(BUILD)/uffd-handler: $(BUILD)/obj/tools/uffd-handler.o Makefile
	$(CC) $(CFLAGS) -static -o $@ $(filter %.o,$^) -ljansson

asan: $(BUILD)/asan/wisp
$(BUILD)/asan/wisp: $(ASAN_OBJ) Makefile
	$(CC) $(CFLAGS) $(SAN) -o $@ $(filter %.o,$^) $(LDLIBS)

include tests/guest/guest.mk

# Unit tests link the VMM's objects (not main) under the sanitizers.
$(BUILD)/unit: $(UNIT_SRC) $(VMM_LIB:%.c=$(BUILD)/asan/%.o)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -o $@ $^ $(LDLIBS) \
		$(shell pkg-config --libs check)

deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	  echo "missing packages; run: sudo apt-get install$$missing"; \
	  exit 1; \
	fi
	@$(MAKE) -s kvm-node

# A host whose KVM module is loaded but whose /dev was laid without its
# node (a CI machine once had no /dev/kvm): make the node from what the
# module registered, as udev would. Without a module there is nothing to
# make, and the tiers that boot a guest say "/dev/kvm: No such file".
kvm-node:
	@if [ ! -e /dev/kvm ] && [ -r /sys/class/misc/kvm/dev ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    mm=$$(cat /sys/class/misc/kvm/dev); \
	    echo "creating /dev/kvm ($$mm) for the loaded KVM module"; \
	    mknod -m 0600 /dev/kvm c "$${mm%%:*}" "$${mm##*:}"; \
	  else \
	    echo "no /dev/kvm although KVM is loaded; as root: make kvm-node"; \
	  fi; \
	elif [ ! -e /dev/kvm ]; then \
	  echo "warning: no /dev/kvm and no KVM module: guests cannot boot here"; \
	fi

guest: deps
	rootfs-tools/build.sh $(BUILD)/guest

# The demo: the Linux guest runs RUN_CMD and reboots; RUN_CMD= gives a shell.
RUN_CMD ?= uname -a; nproc; free -m; cat /proc/cmdline
RUN_ARGS = --kernel $(BUILD)/guest/vmlinux \
	--initrd $(BUILD)/guest/initramfs.cpio --vcpus 2 --mem-mib 256 \
	--cmdline 'console=ttyS0 reboot=k,panic_warm panic=1 $(if \
	$(strip $(RUN_CMD)),wisp.run="$(RUN_CMD)")'

run: deps
	$(MAKE) all guest
	$(BUILD)/wisp $(RUN_ARGS)

test: deps
	$(MAKE) all asan $(BUILD)/unit
	$(MAKE) guest
	$(MAKE) fmt-check test-unit fuzz-regress test-snap test-install test-probe \
		test-api test-clients test-net \
		test-seccomp test-jailer test-snapshot \
		test-linux

test-unit: $(BUILD)/unit
	$(BUILD)/unit

test-probe: $(BUILD)/asan/wisp $(BUILD)/probe.elf $(BUILD)/probe64.elf \
		$(BUILD)/vsock_host
	WISP=$(BUILD)/asan/wisp PROBE=$(BUILD)/probe.elf \
		PROBE64=$(BUILD)/probe64.elf VSOCK_HOST=$(BUILD)/vsock_host \
		tests/integration/probe.sh

# The host end of the vsock probe scenarios and of perf/vsockbench.sh.
$(BUILD)/vsock_host: tests/vsock_host.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

test-api: $(BUILD)/asan/wisp $(BUILD)/wisp $(BUILD)/probe.elf
	WISP=$(BUILD)/asan/wisp WISP_PLAIN=$(BUILD)/wisp PROBE=$(BUILD)/probe.elf \
		tests/integration/api.sh

# Firecracker's clients' command lines and request sequences (as root).
test-clients: $(BUILD)/asan/wisp $(BUILD)/wisp $(BUILD)/wisp-jailer \
		$(BUILD)/probe.elf $(BUILD)/vsock_host
	WISP=$(BUILD)/asan/wisp WISP_PLAIN=$(BUILD)/wisp JAILER=$(BUILD)/wisp-jailer \
		PROBE=$(BUILD)/probe.elf VSOCK_HOST=$(BUILD)/vsock_host \
		tests/integration/clients.sh

test-net: $(BUILD)/asan/wisp $(BUILD)/wisp $(BUILD)/probe.elf
	WISP=$(BUILD)/asan/wisp WISP_PLAIN=$(BUILD)/wisp PROBE=$(BUILD)/probe.elf \
		tests/integration/net.sh

test-seccomp: $(BUILD)/asan/wisp $(BUILD)/wisp $(BUILD)/probe.elf \
		$(BUILD)/vsock_host
	WISP=$(BUILD)/asan/wisp WISP_PLAIN=$(BUILD)/wisp PROBE=$(BUILD)/probe.elf \
		VSOCK_HOST=$(BUILD)/vsock_host tests/integration/seccomp.sh

# As root. The production build: a jail has no libraries for ASan's.
test-jailer: $(BUILD)/wisp-jailer $(BUILD)/wisp $(BUILD)/probe.elf
	JAILER=$(BUILD)/wisp-jailer WISP=$(BUILD)/wisp PROBE=$(BUILD)/probe.elf \
		tests/integration/jailer.sh

# Snapshot host tools, no KVM: wisp-snap, and uffd-handler serving
# uffd_client, which maps memory as wisp does and calls uffd_attach().
test-snap: $(TOOLS) $(BUILD)/uffd_client $(BUILD)/asan/wisp
	WISP_SNAP=$(BUILD)/wisp-snap UFFD_HANDLER=$(BUILD)/uffd-handler \
		UFFD_CLIENT=$(BUILD)/uffd_client WISP=$(BUILD)/asan/wisp \
		tests/integration/snap.sh

# Snapshots of running VMs (as root: a small tmpfs for the full disk).
test-snapshot: $(BUILD)/asan/wisp $(BUILD)/probe.elf $(TOOLS)
	WISP=$(BUILD)/asan/wisp PROBE=$(BUILD)/probe.elf \
		WISP_SNAP=$(BUILD)/wisp-snap UFFD_HANDLER=$(BUILD)/uffd-handler \
		tests/integration/snapshot.sh

$(BUILD)/uffd_client: tests/uffd_client.c $(BUILD)/asan/vmm/uffd.o
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ -lpthread

test-linux: $(BUILD)/asan/wisp $(BUILD)/wisp $(BUILD)/wisp-jailer
	WISP=$(BUILD)/asan/wisp WISP_PLAIN=$(BUILD)/wisp \
		JAILER=$(BUILD)/wisp-jailer GUEST=$(BUILD)/guest \
		tests/integration/linux.sh

# Fuzz targets (tests/fuzz): libFuzzer + ASan/UBSan, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g -Ivmm -Ivirtio -Iapi \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wno-gnu-variable-sized-type-not-at-end
FUZZ_TARGETS := fuzz_kernel fuzz_queue fuzz_blk fuzz_net fuzz_vsock fuzz_http \
	fuzz_snapfile fuzz_transport fuzz_mmds_http fuzz_mmds_net

$(BUILD)/fuzz/fuzz_kernel: tests/fuzz/fuzz_kernel.c vmm/x86/loader.c \
		vmm/util.c vmm/x86/x86.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

# vm.c only for vm_gpa(); the target builds its VM by hand, without KVM.
$(BUILD)/fuzz/fuzz_queue: tests/fuzz/fuzz_queue.c virtio/queue.c vmm/vm.c \
		vmm/log.c vmm/util.c vmm/bus.c virtio/queue.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

$(BUILD)/fuzz/fuzz_blk: tests/fuzz/fuzz_blk.c virtio/blk.c virtio/iov.c virtio/mmio.c \
		virtio/queue.c virtio/uring.c virtio/ratelimit.c vmm/evloop.c \
		vmm/vm.c vmm/log.c vmm/util.c vmm/bus.c virtio/blk.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) -luring

# What virtio-net needs for MMDS on an interface: the network stack and
# the store behind it (net.c calls them; fuzz_net and fuzz_transport turn
# MMDS on for their interface).
FUZZ_NET_MMDS_SRC := virtio/mmds_net.c virtio/mmds_tcp.c vmm/mmds.c \
	vmm/mmds_http.c vmm/mmds_json.c vmm/mmds_serve.c vmm/mmds_token.c \
	vmm/sha256.c

$(BUILD)/fuzz/fuzz_net: tests/fuzz/fuzz_net.c virtio/net.c virtio/iov.c virtio/tap.c \
		virtio/mmio.c virtio/queue.c virtio/uring.c virtio/ratelimit.c \
		vmm/evloop.c vmm/vm.c vmm/log.c vmm/util.c vmm/bus.c virtio/net.h \
		$(FUZZ_NET_MMDS_SRC) virtio/mmds_net.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) -luring -ljansson -lm

$(BUILD)/fuzz/fuzz_vsock: tests/fuzz/fuzz_vsock.c virtio/vsock.c virtio/iov.c \
		virtio/vsock_conn.c virtio/vsock_uds.c virtio/mmio.c \
		virtio/queue.c vmm/evloop.c vmm/vm.c vmm/log.c vmm/util.c \
		vmm/bus.c virtio/vsock.h virtio/vsock_conn.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

# The transport's state machine under blk, net and vsock; io_uring is the
# fake in tests/fuzz/fake_uring.c, so the input chooses when and how each
# request ends.
FUZZ_TRANSPORT_SRC := tests/fuzz/fuzz_transport.c \
	tests/fuzz/fuzz_transport_dev.c tests/fuzz/fake_uring.c virtio/blk.c \
	virtio/net.c virtio/tap.c virtio/vsock.c virtio/vsock_conn.c \
	virtio/vsock_uds.c virtio/mmio.c virtio/queue.c virtio/ratelimit.c \
	virtio/iov.c vmm/evloop.c vmm/vm.c vmm/log.c vmm/util.c vmm/bus.c \
	$(FUZZ_NET_MMDS_SRC)
# vsock with a table of 32 connections, not 1023: an input can fill it
# (the table-full paths), and each run builds it in a fraction of the time.
$(BUILD)/fuzz/fuzz_transport: $(FUZZ_TRANSPORT_SRC) tests/fuzz/fuzz_transport.h \
		tests/fuzz/fake_uring.h virtio/blk.h virtio/net.h virtio/vsock.h \
		virtio/vsock_conn.h virtio/mmio.h virtio/queue.h virtio/uring.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -DVSOCK_MAX_CONNS=32 -o $@ $(filter %.c,$^) \
		-ljansson -lm

$(BUILD)/fuzz/fuzz_http: tests/fuzz/fuzz_http.c api/http.c api/http.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^)

# The metadata service as the guest reaches it: the request head, the
# store, the tokens.
FUZZ_MMDS_SRC := tests/fuzz/fuzz_mmds_http.c vmm/mmds.c vmm/mmds_http.c \
	vmm/mmds_json.c vmm/mmds_serve.c vmm/mmds_token.c vmm/sha256.c vmm/util.c
$(BUILD)/fuzz/fuzz_mmds_http: $(FUZZ_MMDS_SRC) vmm/mmds.h vmm/mmds_int.h \
		vmm/sha256.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) -ljansson -lm

# The guest's frames to MMDS's network stack, with the store behind it;
# frames are built and checked with the unit tests' guest (mmds_guest.c).
FUZZ_MMDS_NET_SRC := tests/fuzz/fuzz_mmds_net.c tests/unit/mmds_guest.c \
	$(FUZZ_NET_MMDS_SRC) vmm/util.c
$(BUILD)/fuzz/fuzz_mmds_net: $(FUZZ_MMDS_NET_SRC) virtio/mmds_net.h \
		virtio/mmds_tcp.h tests/unit/mmds_guest.h vmm/mmds.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Itests/unit -o $@ $(filter %.c,$^) -ljansson -lm

# The configuration section's records are the device types' (vdev.h):
# the whole VMM library, as the unit tests link it.
$(BUILD)/fuzz/fuzz_snapfile: tests/fuzz/fuzz_snapfile.c $(VMM_LIB) \
		vmm/snapfile.h vmm/snapconfig.h vmm/vdev.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) -linih -luring -ljansson \
		-lseccomp -lpthread

# The seed corpus of target $$t in directory $$d (shell, in a recipe
# loop): the probe guests and what the target's seed script writes.
FUZZ_SEED = mkdir -p $$d; cp $(BUILD)/probe.elf $(BUILD)/probe64.elf $$d/; \
	case $$t in \
	fuzz_blk) tests/fuzz/blk_seeds.py $$d;; \
	fuzz_net) tests/fuzz/net_seeds.py $$d;; \
	fuzz_vsock) tests/fuzz/vsock_seeds.py $$d;; \
	fuzz_snapfile) tests/fuzz/snap_seeds.py $$d;; \
	fuzz_transport) tests/fuzz/transport_seeds.py $$d;; \
	fuzz_mmds_http) tests/fuzz/mmds_seeds.py $$d;; \
	fuzz_mmds_net) tests/fuzz/mmds_net_seeds.py $$d;; \
	esac

fuzz: deps $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%) $(BUILD)/probe.elf \
		$(BUILD)/probe64.elf
	@for t in $(FUZZ_TARGETS); do \
	  d=$(BUILD)/fuzz/$$t.corpus; $(FUZZ_SEED); \
	  $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	    $$([ ! -f tests/fuzz/$$t.dict ] || echo -dict=tests/fuzz/$$t.dict) \
	    -artifact_prefix=$(BUILD)/fuzz/ $$d || exit 1; \
	done

# Each target runs every seed and every committed reproducer
# (tests/fuzz/regress/<target>/) once, no fuzzing: a known crash that
# comes back fails here in seconds. When a target fails, each input runs
# alone to name every one that crashes (its output in <input>.log).
fuzz-regress: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%) $(BUILD)/probe.elf \
		$(BUILD)/probe64.elf
	@rc=0; for t in $(FUZZ_TARGETS); do \
	  d=$(BUILD)/fuzz/regress/$$t; rm -rf $$d $$d.logs; $(FUZZ_SEED); \
	  [ ! -d tests/fuzz/regress/$$t ] || cp tests/fuzz/regress/$$t/* $$d/; \
	  if $(BUILD)/fuzz/$$t $$d/* > $$d.log 2>&1; then \
	    echo "fuzz-regress: $$t: $$(ls $$d | wc -l) inputs, no crash"; \
	    continue; \
	  fi; \
	  rc=1; mkdir -p $$d.logs; \
	  for f in $$d/*; do \
	    l=$$d.logs/$${f##*/}.log; \
	    $(BUILD)/fuzz/$$t $$f > $$l 2>&1 || echo "fuzz-regress:" \
	      "$$t: $${f##*/}: $$(grep -m1 SUMMARY $$l || echo crash) ($$l)"; \
	  done; \
	done; exit $$rc

perf: deps all
	perf/run.sh

# Every C file of ours: the VMM, the jailer, their tests, the probe guest,
# the benchmarks and the guest-side tools.
FMT_SRC = $(VMM_SRC) $(wildcard vmm/*.h vmm/x86/*.h virtio/*.h api/*.h) \
	$(UNIT_SRC) $(wildcard tests/unit/*.h tests/guest/*.c tests/guest/*.h \
	tests/fuzz/*.c tests/fuzz/*.h tests/*.c perf/*.c perf/*.h \
	rootfs-tools/rootfs/*.c \
	tools/*.c) \
	$(JAILER_SRC) $(wildcard jailer/*.h)

fmt:
	clang-format -i $(FMT_SRC)

fmt-check:
	clang-format --dry-run -Werror $(FMT_SRC)

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binaries, the man
# pages and the documents; make uninstall removes exactly those.
PREFIX ?= /usr/local
BINDIR := $(DESTDIR)$(PREFIX)/bin
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
DOCDIR := $(DESTDIR)$(PREFIX)/share/doc/wisp
INSTALL_BIN := wisp wisp-jailer wisp-snap uffd-handler
INSTALL_MAN := wisp.1 wisp-jailer.1 wisp-snap.1
INSTALL_DOC := README.md CONTRIBUTING.md docs/api.md docs/architecture.md \
	docs/security.md docs/snapshots.md docs/perf.md

install: $(INSTALL_BIN:%=$(BUILD)/%)
	install -d -m 0755 $(BINDIR) $(MANDIR) $(DOCDIR)
	install -m 0755 $(INSTALL_BIN:%=$(BUILD)/%) $(BINDIR)/
	install -m 0644 $(INSTALL_MAN:%=man/%) $(MANDIR)/
	install -m 0644 $(INSTALL_DOC) $(DOCDIR)/

uninstall:
	rm -f $(INSTALL_BIN:%=$(BINDIR)/%) $(INSTALL_MAN:%=$(MANDIR)/%) \
		$(addprefix $(DOCDIR)/,$(notdir $(INSTALL_DOC)))
	-rmdir $(DOCDIR) 2>/dev/null

# The install into a scratch DESTDIR, what lands where with which mode,
# the man pages lint-clean, and uninstall leaving nothing (no KVM).
test-install: $(INSTALL_BIN:%=$(BUILD)/%)
	tests/integration/install.sh

clean:
	rm -rf $(BUILD)

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(JAILER_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)
