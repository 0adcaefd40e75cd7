/* rshare kvm — the Linux adapters' system calls behind a small table, so
 * that the tests' recording fakes run the same code as real devices: open,
 * ioctl, read, write and close, nothing else. */
#ifndef RSHARE_KVM_LINUX_H
#define RSHARE_KVM_LINUX_H

#include <sys/types.h>

#include "rshare/kvm.h"
#include "keystate.h"

struct rs_kvm_sys {
    int (*open)(void *ctx, const char *path, int flags);
    int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
    ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
    ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
    int (*close)(void *ctx, int fd);
    void *ctx;
};

/* The real system calls. */
extern const struct rs_kvm_sys rs_kvm_sys_linux;

int rs_kvm_uinput_open_sys(const struct rs_kvm_sys *sys, const char *path, const char *name,
                           rshare_kvm_uinput **out);
int rs_kvm_evdev_open_sys(const struct rs_kvm_sys *sys, const char *path, int grab,
                          rshare_kvm_evdev **out);

/* kvm.c: the host's devices say which keys are held (after SYN_DROPPED). */
int rs_kvm_host_resync(rshare_kvm *kvm, const struct rs_kvm_keyset *held);

#endif
