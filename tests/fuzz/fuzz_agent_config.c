/* Fuzz target: the agent's configuration file (examples/agent/settings.c, INI read
 * with libinih).  The input is the file's contents; it is parsed from a
 * string and, the same bytes written to a memfd, loaded as a file: both
 * must agree.  A file the parser accepts must give a consistent
 * configuration (required keys present, counts within their arrays, every
 * text NUL-terminated in its field); a refusal always says why. */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../examples/agent/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_INPUT = 16384 };

static void check_text(const char *field, size_t size, int may_be_empty)
{
    size_t len = strnlen(field, size);
    if (len == size || (!may_be_empty && len == 0))
        abort();
}

static void check_accepted(const struct agent_config *c)
{
    if (c->id == 0 || c->id == UINT32_MAX || c->slot > 65535)
        abort();
    check_text(c->state_dir, sizeof(c->state_dir), 0);
    check_text(c->key_file, sizeof(c->key_file), 1);
    check_text(c->listen, sizeof(c->listen), 0);
    check_text(c->socket, sizeof(c->socket), 0);
    if (c->log_level < 0 || c->log_level > 4)
        abort();
    if (c->mtu != 0 && (c->mtu < 576 || c->mtu > 65507))
        abort();
    if (c->voter_count > AGENT_MAX_VOTERS || c->peer_count > AGENT_MAX_PEERS ||
        c->share_count > AGENT_MAX_SHARES)
        abort();
    for (uint32_t i = 0; i < c->voter_count; i++)
        if (c->voters[i] == 0 || c->voters[i] == UINT32_MAX)
            abort();
    for (uint32_t i = 0; i < c->peer_count; i++) {
        if (c->peers[i].id == 0 || c->peers[i].id == UINT32_MAX)
            abort();
        check_text(c->peers[i].addr, sizeof(c->peers[i].addr), 0);
    }
    /* The screen layout: within its array, only on a host, each display
     * one of the targets, sizes, positions and guards in the library's
     * bounds. */
    if (c->kvm_display_count > AGENT_MAX_KVM_TARGETS ||
        (c->kvm_display_count && c->kvm_roles != 1) || c->kvm_host_width > 32768 ||
        c->kvm_host_height > 32768 || c->kvm_edge_delay_ms > 10000 ||
        c->kvm_edge_double_tap_ms > 10000 || c->kvm_edge_corner_px > 32768 ||
        c->kvm_edge_mods & ~0xfu || c->kvm_edges < -1 || c->kvm_edges > 1)
        abort();
    for (uint32_t i = 0; i < c->kvm_display_count; i++) {
        const struct rshare_kvm_display *d = &c->kvm_displays[i];
        bool target = false;
        for (uint32_t j = 0; j < c->kvm_target_count; j++)
            target |= c->kvm_targets[j] == d->node;
        if (!target || d->width < 1 || d->width > 32768 || d->height < 1 || d->height > 32768 ||
            d->x < -(1 << 24) || d->x > (1 << 24) || d->y < -(1 << 24) || d->y > (1 << 24) ||
            d->scale_milli > 1000000 || d->flags & ~RSHARE_KVM_DISPLAY_ABSOLUTE || d->reserved_)
            abort();
    }
    for (uint32_t i = 0; i < c->share_count; i++) {
        check_text(c->shares[i].name, sizeof(c->shares[i].name), 0);
        check_text(c->shares[i].path, sizeof(c->shares[i].path), 0);
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(c->shares[i].name, c->shares[j].name))
                abort(); /* one entry per [share NAME] */
    }
}

/* The same bytes as a file, through agent_config_load(). */
static int load_as_file(const char *text, size_t len, struct agent_config *cfg, char *err,
                        size_t err_len)
{
    static int fd = -1;
    if (fd < 0)
        fd = memfd_create("rshared.conf", 0);
    if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, text, len, 0) != (ssize_t)len)
        return -2;
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return agent_config_load(path, cfg, err, err_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    char *text = malloc(size + 1);
    struct agent_config *a = malloc(sizeof(*a));
    struct agent_config *b = malloc(sizeof(*b));
    if (!text || !a || !b)
        goto out;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text); /* a string ends at its first NUL */

    char err[256];
    err[0] = '\0';
    int rc = agent_config_parse(text, "rshared.conf", a, err, sizeof(err));
    if (rc == 0)
        check_accepted(a);
    else if (rc != -1 || err[0] == '\0' || strncmp(err, "rshared.conf", 12))
        abort(); /* a refusal always names the file and says why */

    char err2[256];
    int rc2 = load_as_file(text, len, b, err2, sizeof(err2));
    if (rc2 != -2 && (rc2 != rc || (rc == 0 && memcmp(a, b, sizeof(*a)))))
        abort(); /* the file and the string are read alike */
out:
    free(b);
    free(a);
    free(text);
    return 0;
}
