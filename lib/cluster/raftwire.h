/* rshare cluster — libraft's messages, configurations and snapshots in
 * rshare's CBOR, for the RS_MSG_RAFT message and for persistence.  Decoding
 * allocates what libraft will own with libraft's allocator. */
#ifndef RSHARE_RAFTWIRE_H
#define RSHARE_RAFTWIRE_H

#include <raft.h>

#include "msg/body.h"

typedef struct rshare_node rshare_node;

#define RS_RAFT_CONF_MAX 256 /* servers in one configuration */

/* A configuration in plain form: ids and roles (addresses are the ids). */
struct rs_raft_conf {
    unsigned n;
    struct {
        uint32_t id;
        uint8_t role;
    } servers[RS_RAFT_CONF_MAX];
};

int rs_raft_conf_from(struct rs_raft_conf *out, const struct raft_configuration *c);
void rs_raft_conf_encode(struct rs_cbor_writer *w, const struct rs_raft_conf *c);
int rs_raft_conf_decode(struct rs_cbor_reader *r, struct rs_raft_conf *c);
size_t rs_raft_conf_encoded_max(const struct rs_raft_conf *c);
/* Build a libraft configuration (allocated by libraft). */
int rs_raft_conf_to(const struct rs_raft_conf *c, struct raft_configuration *out);

/* Fill a libraft snapshot (buffers from libraft's allocator). */
int rs_raft_snapshot_fill(rshare_node *node, struct raft_snapshot *s, raft_index index,
                          raft_term term, const struct rs_raft_conf *conf,
                          raft_index conf_index, const uint8_t *data, size_t len);

/* libraft 0.15 leaves bytes of two entry kinds unwritten: the 8 bytes of
 * a RAFT_BARRIER entry and the padding after a RAFT_CHANGE entry's encoded
 * configuration (to a multiple of 8).  rshare's copies of an entry (the
 * stored log, append-entries on the wire) get zeros there, so that no
 * uninitialised heap bytes are stored, sent or encrypted.  `bytes` is the
 * copy of an entry of type `type`, `len` long. */
void rs_raft_entry_zero_unwritten(unsigned short type, uint8_t *bytes, size_t len);

/* A message to a fresh buffer from the node's allocator. */
int rs_raft_message_encode(rshare_node *node, const struct raft_message *m, uint8_t **out,
                           size_t *len);
/* A message from the wire; on success the buffers it points to belong to
 * the caller (libraft, once handed to its receive callback). */
int rs_raft_message_decode(rshare_node *node, const uint8_t *buf, size_t len,
                           struct raft_message *m);
/* Free what a decoded message points to (when it is not handed over). */
void rs_raft_message_release(struct raft_message *m);

#endif
