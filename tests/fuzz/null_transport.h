/* A transport for the fuzz targets: packets sent go nowhere, every address
 * parses to the one peer. */
#ifndef RSHARE_NULL_TRANSPORT_H
#define RSHARE_NULL_TRANSPORT_H

#include <rshare/rshare.h>

static size_t null_mtu(void *impl)
{
    (void)impl;
    return RSHARE_TRANSPORT_MTU_MAX;
}

static int null_send(void *impl, const struct rshare_link_addr *dst, const void *p, size_t n,
                     unsigned flags)
{
    (void)impl; (void)dst; (void)p; (void)n; (void)flags;
    return 0;
}

static int null_parse(void *impl, const char *text, struct rshare_link_addr *a)
{
    (void)impl; (void)text;
    a->len = 1;
    a->bytes[0] = 1;
    return 0;
}

static const struct rshare_transport_ops null_transport_ops = {
    .struct_size = sizeof(struct rshare_transport_ops), .version = RSHARE_TRANSPORT_OPS_VERSION,
    .name = "null", .mtu = null_mtu, .send = null_send, .addr_parse = null_parse};

static void null_log(void *u, enum rshare_log_level l, const char *m)
{
    (void)u; (void)l; (void)m;
}

#endif
