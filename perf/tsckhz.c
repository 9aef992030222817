/*
 * The TSC rate a new vCPU gets, in kHz: KVM_GET_TSC_KHZ on a fresh VM's
 * vCPU 0. wisp does not set the rate of a booted VM (only a snapshot's
 * restores its own), so this is the rate the probe guest's rdtsc counts
 * at. perf/mmdsbench.sh converts the guest's TSC deltas with it.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu, khz;

	if (kvm < 0) {
		perror("/dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	vcpu = vm < 0 ? -1 : ioctl(vm, KVM_CREATE_VCPU, 0);
	khz = vcpu < 0 ? -1 : ioctl(vcpu, KVM_GET_TSC_KHZ);
	if (khz <= 0) {
		perror("KVM_GET_TSC_KHZ");
		return 1;
	}
	printf("%d\n", khz);
	return 0;
}
