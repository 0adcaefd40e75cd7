/* rshare — iSCSI LUNs as block backends.
 *
 * rshare_block_open_iscsi() logs in to an iSCSI target (libiscsi, its
 * asynchronous API driven by the node's loop) and returns an ordinary
 * rshare_block: it can be read and written directly, shared with
 * rshare_resource_register_block() and used as a volume member like any
 * local disk.  The connection is re-established when the target goes away;
 * I/O in flight is sent again on the new connection.  See doc/BACKENDS.md,
 * "iSCSI".
 *
 * This header is always installed; in a library built --without-iscsi the
 * function returns RSHARE_ENOTSUP. */
#ifndef RSHARE_ISCSI_H
#define RSHARE_ISCSI_H

#include <rshare/block.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of struct rshare_iscsi_config. */
#define RSHARE_ISCSI_READONLY 0x1u /* never write or unmap (the block gets CAP_READONLY) */

struct rshare_iscsi_config {
    uint32_t struct_size;
    uint32_t flags;            /* RSHARE_ISCSI_* */
    const char *portal;        /* "host[:port]" (port 3260 when left out), e.g. "127.0.0.1:3260" */
    const char *target_iqn;    /* e.g. "iqn.2003-01.org.example:disk1" */
    const char *initiator_iqn; /* NULL: "iqn.2024-01.org.rshare:initiator" */
    const char *chap_user;     /* NULL: no CHAP */
    const char *chap_password; /* with chap_user */
    uint32_t lun;
    /* TCP connect plus login plus the first commands, on open and on every
     * reconnect; default 5000. */
    uint32_t connect_timeout_ms;
    /* How long the target may stay silent while I/O is outstanding.  rshare
     * sends NOP-Outs while it waits: a target that answers them is slow,
     * not dead, and its I/O keeps waiting; one that answers nothing for
     * this long is declared dead and the connection is re-established.
     * Default 10000. */
    uint32_t io_timeout_ms;
    /* Reconnect policy: attempts in a row (each up to connect_timeout_ms,
     * `reconnect_delay_ms` apart) before the I/O waiting for the
     * connection fails with RSHARE_EUNREACH; default 3.  A later I/O starts
     * a new round, so the LUN comes back when the target does. */
    uint32_t reconnect_attempts;
    uint32_t reconnect_delay_ms; /* default 500 */
    /* Times one I/O is sent again after its connection was lost before it
     * fails with RSHARE_EUNREACH (RSHARE_ETIMEDOUT when the target fell
     * silent); default 2. */
    uint32_t io_retries;
    uint32_t reserved_;
};

/* Zero `config` and set its struct_size (pass sizeof(*config)): every field
 * not set afterwards takes its default. */
RSHARE_API void rshare_iscsi_config_init(struct rshare_iscsi_config *config, size_t struct_size);

/* Log in to `cfg->target_iqn` at `cfg->portal` (with CHAP when a user is
 * given), read the LUN's geometry (READ CAPACITY(16)) and whether it can
 * unmap, and bind it to `node`.  Runs until logged in or
 * connect_timeout_ms: RSHARE_EAUTH when the target refuses the login
 * (wrong CHAP credentials, initiator not allowed), RSHARE_ENOENT for an
 * unknown target or LUN, RSHARE_EUNREACH when the portal does not answer,
 * RSHARE_ETIMEDOUT when it does not finish in time, RSHARE_ENOTSUP when
 * the library was built without iSCSI; the detail is in
 * rshare_node_errmsg(). */
RSHARE_API int rshare_block_open_iscsi(rshare_node *node, const struct rshare_iscsi_config *cfg,
                                       rshare_block **out);

#ifdef __cplusplus
}
#endif
#endif
