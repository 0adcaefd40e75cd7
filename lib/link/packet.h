/* rshare link — the packet format: a fixed 26-byte header (version, type,
 * flags, source and destination node, sender boot session, packet sequence)
 * followed by a type-specific part.  Pure encoding and decoding. */
#ifndef RSHARE_PACKET_H
#define RSHARE_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define RS_PKT_VERSION 1
#define RS_PKT_HDR_LEN 26
#define RS_PKT_DATA_LEN 12 /* xfer, total, index, count */
#define RS_PKT_ACK_LEN 14  /* xfer, next, bitmap */
#define RS_PKT_TAG_LEN 16  /* AEAD tag when protected */
#define RS_PKT_ACK_BITS 64

enum rs_pkt_type {
    RS_PKT_DATA = 1,
    RS_PKT_ACK = 2,
    RS_PKT_HELLO = 3 /* identity mode: a fragment of a HELLO (link/identity.h), data part */
};

#define RS_PKT_F_PROTECTED 0x01u
#define RS_PKT_F_URGENT 0x02u
#define RS_PKT_F_PAIR 0x04u /* sealed with the pair key of sender and receiver */
#define RS_PKT_F_KNOWN (RS_PKT_F_PROTECTED | RS_PKT_F_URGENT | RS_PKT_F_PAIR)

struct rs_pkt_hdr {
    uint8_t type;
    uint8_t flags;
    uint32_t src;
    uint32_t dst;
    uint64_t session;
    uint64_t seq;
};

/* A fragment of a message: bytes [index * F, ...) of a `total`-byte message
 * cut into `count` fragments of F = ceil(total / count) bytes (the last one
 * shorter or equal). */
struct rs_pkt_data {
    uint32_t xfer;
    uint32_t total;
    uint16_t index;
    uint16_t count;
};

/* Selective acknowledgement: every fragment below `next` arrived, and bit i
 * of `bitmap` tells whether fragment next + 1 + i arrived. */
struct rs_pkt_ack {
    uint32_t xfer;
    uint16_t next;
    uint64_t bitmap;
};

enum rs_pkt_status {
    RS_PKT_OK = 0,
    RS_PKT_TRUNCATED,
    RS_PKT_BAD_VERSION,
    RS_PKT_MALFORMED
};

void rs_pkt_hdr_encode(const struct rs_pkt_hdr *hdr, uint8_t *out);
enum rs_pkt_status rs_pkt_hdr_decode(const uint8_t *buf, size_t len, struct rs_pkt_hdr *hdr);

void rs_pkt_data_encode(const struct rs_pkt_data *data, uint8_t *out);
/* Checks the fields against each other and the fragment length. */
enum rs_pkt_status rs_pkt_data_decode(const uint8_t *buf, size_t len, struct rs_pkt_data *data);

void rs_pkt_ack_encode(const struct rs_pkt_ack *ack, uint8_t *out);
enum rs_pkt_status rs_pkt_ack_decode(const uint8_t *buf, size_t len, struct rs_pkt_ack *ack);

/* Fragment geometry. */
uint32_t rs_pkt_fragment_size(uint32_t total, uint16_t count);
uint32_t rs_pkt_fragment_len(uint32_t total, uint16_t count, uint16_t index);

#endif
