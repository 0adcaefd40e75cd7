/* rshare msg — the fixed message header: protocol version, kind, type,
 * request id, sender, the sender's map epoch/version and the request slot.
 * 28 bytes, network byte order, then the CBOR body. */
#ifndef RSHARE_MSG_HEADER_H
#define RSHARE_MSG_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define RS_MSG_VERSION 1
#define RS_MSG_HDR_LEN 28
#define RS_MSG_SLOTS_MAX 1024 /* request slots per pair of nodes */

enum rs_msg_kind {
    RS_MSG_REQUEST = 1,  /* expects a RESPONSE or ERROR with the same id */
    RS_MSG_RESPONSE = 2,
    RS_MSG_ERROR = 3,    /* body: [code, text] */
    RS_MSG_NOTIFY = 4    /* no answer, no retry */
};

struct rs_msg_hdr {
    uint8_t kind;
    uint16_t type;
    uint32_t request_id;
    uint32_t sender;
    uint32_t map_epoch;
    uint64_t map_version;
    /* Requests: the sender's slot for this request (dedupe.c); 0 otherwise. */
    uint16_t slot;
};

void rs_msg_hdr_encode(const struct rs_msg_hdr *hdr, uint8_t *out);
/* 0, RSHARE_EVERSION or RSHARE_EPROTO. */
int rs_msg_hdr_decode(const uint8_t *buf, size_t len, struct rs_msg_hdr *hdr);
/* Set the slot of an encoded request (chosen when it is sent). */
void rs_msg_hdr_set_slot(uint8_t *wire, uint16_t slot);
/* Refresh the map epoch and version of an encoded message (resends carry
 * the sender's current ones). */
void rs_msg_hdr_set_map(uint8_t *wire, uint32_t epoch, uint64_t version);

#endif
