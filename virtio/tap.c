#include "tap.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned tap_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned mtu = 1500;

	if (s < 0)
		return mtu;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 68 &&
	    ifr.ifr_mtu <= 65535)
		mtu = (unsigned)ifr.ifr_mtu;
	close(s);
	return mtu;
}

int tap_open(const char *name, unsigned *mtu, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int hdr = (int)sizeof(struct virtio_net_hdr_v1);
	int fd;

	/*
	 * TUNSETIFF would create a missing interface when we may; the host
	 * owns its network setup, so a missing tap is an error instead.
	 */
	if (!if_nametoindex(name)) {
		snprintf(err, errlen,
		         "tap '%s': no such interface (create it first, e.g. "
		         "rootfs-tools/net-setup.sh)",
		         name);
		return -1;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "tap '%s': /dev/net/tun: %s", name,
		         strerror(errno));
		return -1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		snprintf(err, errlen, "tap '%s': %s", name,
		         errno == EINVAL  ? "not a tap interface"
		         : errno == EBUSY ? "busy (another process has it open)"
		                          : strerror(errno));
		close(fd);
		return -1;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || tap_set_offload(fd, 0)) {
		snprintf(err, errlen,
		         "tap '%s': cannot set the vnet header: %s", name,
		         strerror(errno));
		close(fd);
		return -1;
	}
	*mtu = tap_mtu(name);
	return fd;
}

int tap_set_offload(int fd, unsigned tun_flags)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0) {
		log_err("tap: TUNSETOFFLOAD 0x%x: %s", tun_flags,
		        strerror(errno));
		return -1;
	}
	return 0;
}
