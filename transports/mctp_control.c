/* rshare transports — the MCTP control messages an endpoint must answer
 * (DSP0236 §12): Set/Get Endpoint ID, Get MCTP Version Support, Get Message
 * Type Support and Get Vendor Defined Message Support, so that a bus owner
 * can assign our EID and discover that we speak rshare's vendor type.
 * Everything else, and every control response, goes to the application. */
#include "config.h"

#include <string.h>

#include "core/endian.h"
#include "mctp.h"

/* Control message header: type, Rq | D | instance id, command code. */
#define CTL_HDR_LEN 3
#define CTL_RQ 0x80
#define CTL_DATAGRAM 0x40
#define CTL_IID_MASK 0x1F

#define CMD_SET_ENDPOINT_ID 0x01
#define CMD_GET_ENDPOINT_ID 0x02
#define CMD_GET_VERSION_SUPPORT 0x04
#define CMD_GET_MESSAGE_TYPE_SUPPORT 0x05
#define CMD_GET_VENDOR_MESSAGE_SUPPORT 0x06

#define CC_SUCCESS 0x00
#define CC_ERROR_INVALID_DATA 0x02
#define CC_ERROR_INVALID_LENGTH 0x03
#define CC_ERROR_UNSUPPORTED_CMD 0x05
#define CC_MESSAGE_TYPE_NOT_SUPPORTED 0x80

/* Set Endpoint ID operations (request byte 3, bits 1:0). */
#define SET_EID_SET 0x0
#define SET_EID_FORCE 0x1
#define SET_EID_RESET 0x2
#define SET_EID_DISCOVERED 0x3
#define SET_EID_STATUS_REJECTED 0x10 /* bits 5:4 = 01b */

/* Get Endpoint ID, byte "endpoint type": simple endpoint (bits 5:4 = 00b)
 * with a static EID that matches (10b) or not (11b) the present one. */
#define EID_TYPE_STATIC_MATCHES 0x02
#define EID_TYPE_STATIC_DIFFERS 0x03

/* Version 1.3.1 in the spec's encoding: 0xF<digit> per field, no alpha. */
static const uint8_t VERSION_1_3_1[4] = {0xF1, 0xF3, 0xF1, 0x00};
#define BASE_SPEC_TYPE 0xFF

/* rshare's vendor command set: the wire protocol version. */
#define VENDOR_COMMAND_SET 0x0001
#define VENDOR_ID_FORMAT_IANA 0x01

#define RESPONSE_MAX 16

static size_t set_endpoint_id(struct rs_mctp *m, const uint8_t *req, size_t len, uint8_t *resp);
static size_t get_endpoint_id(const struct rs_mctp *m, uint8_t *resp);
static size_t get_version_support(const uint8_t *req, size_t len, uint8_t *resp);
static size_t get_message_type_support(uint8_t *resp);
static size_t get_vendor_message_support(const struct rs_mctp *m, const uint8_t *req, size_t len,
                                         uint8_t *resp);

bool rs_mctp_control_answer(struct rs_mctp *m, const struct rshare_mctp_message *msg,
                            uint8_t phys)
{
    const uint8_t *req = msg->data;
    /* Only requests that expect an answer: responses and datagrams are the
     * application's business. */
    if (msg->len < CTL_HDR_LEN || !(req[1] & CTL_RQ) || (req[1] & CTL_DATAGRAM) ||
        !msg->tag_owner)
        return false;
    uint8_t resp[RESPONSE_MAX];
    resp[0] = RSHARE_MCTP_TYPE_CONTROL;
    resp[1] = req[1] & CTL_IID_MASK; /* Rq = 0, same instance id */
    resp[2] = req[2];
    size_t n;
    switch (req[2]) {
    case CMD_SET_ENDPOINT_ID:
        n = set_endpoint_id(m, req, msg->len, resp);
        break;
    case CMD_GET_ENDPOINT_ID:
        n = get_endpoint_id(m, resp);
        break;
    case CMD_GET_VERSION_SUPPORT:
        n = get_version_support(req, msg->len, resp);
        break;
    case CMD_GET_MESSAGE_TYPE_SUPPORT:
        n = get_message_type_support(resp);
        break;
    case CMD_GET_VENDOR_MESSAGE_SUPPORT:
        n = get_vendor_message_support(m, req, msg->len, resp);
        break;
    default:
        /* An application that registered a handler may implement more. */
        if (m->handler)
            return false;
        resp[3] = CC_ERROR_UNSUPPORTED_CMD;
        n = 4;
        break;
    }
    int rc = rs_mctp_queue(m, msg->src_eid, phys, 0, msg->tag, NULL, 0, resp, n, false);
    if (rc < 0)
        rs_log_warn(m->node, "%s: cannot answer MCTP control command 0x%02x from EID %u: %s",
                    m->binding->name, req[2], msg->src_eid, rshare_strerror(rc));
    return true;
}

/* --- the commands ------------------------------------------------------------- */

static size_t set_endpoint_id(struct rs_mctp *m, const uint8_t *req, size_t len, uint8_t *resp)
{
    if (len < CTL_HDR_LEN + 2) {
        resp[3] = CC_ERROR_INVALID_LENGTH;
        return 4;
    }
    uint8_t op = req[3] & 0x03, eid = req[4];
    if (op == SET_EID_RESET || ((op == SET_EID_SET || op == SET_EID_FORCE) &&
                                (eid < RSHARE_MCTP_EID_FIRST || eid > RSHARE_MCTP_EID_LAST))) {
        /* Our id is configured, there is no static one to go back to. */
        resp[3] = CC_ERROR_INVALID_DATA;
        return 4;
    }
    uint8_t status = 0;
    if (op == SET_EID_SET || op == SET_EID_FORCE) {
        if (m->allow_set_eid) {
            if (eid != m->eid)
                rs_log_info(m->node, "%s: bus owner assigned MCTP EID %u (was %u)",
                            m->binding->name, eid, m->eid);
            m->eid_assigned = m->eid_assigned || eid != m->eid;
            m->eid = eid;
        } else {
            status = SET_EID_STATUS_REJECTED;
        }
    }
    resp[3] = CC_SUCCESS;
    resp[4] = status; /* bits 1:0 = 00b: no EID pool */
    resp[5] = m->eid;
    resp[6] = 0;      /* pool size */
    return 7;
}

static size_t get_endpoint_id(const struct rs_mctp *m, uint8_t *resp)
{
    resp[3] = CC_SUCCESS;
    resp[4] = m->eid;
    resp[5] = m->eid_assigned ? EID_TYPE_STATIC_DIFFERS : EID_TYPE_STATIC_MATCHES;
    resp[6] = 0; /* medium-specific */
    return 7;
}

static size_t get_version_support(const uint8_t *req, size_t len, uint8_t *resp)
{
    if (len < CTL_HDR_LEN + 1) {
        resp[3] = CC_ERROR_INVALID_LENGTH;
        return 4;
    }
    /* The base specification and the control protocol; vendor types have
     * no MCTP version (their support is Get Vendor Defined Message Support). */
    if (req[3] != BASE_SPEC_TYPE && req[3] != RSHARE_MCTP_TYPE_CONTROL) {
        resp[3] = CC_MESSAGE_TYPE_NOT_SUPPORTED;
        return 4;
    }
    resp[3] = CC_SUCCESS;
    resp[4] = 1;
    memcpy(resp + 5, VERSION_1_3_1, sizeof(VERSION_1_3_1));
    return 9;
}

static size_t get_message_type_support(uint8_t *resp)
{
    resp[3] = CC_SUCCESS;
    resp[4] = 1;
    resp[5] = RSHARE_MCTP_TYPE_VENDOR_IANA;
    return 6;
}

static size_t get_vendor_message_support(const struct rs_mctp *m, const uint8_t *req, size_t len,
                                         uint8_t *resp)
{
    if (len < CTL_HDR_LEN + 1) {
        resp[3] = CC_ERROR_INVALID_LENGTH;
        return 4;
    }
    if (req[3] != 0) { /* one vendor id set only */
        resp[3] = CC_ERROR_INVALID_DATA;
        return 4;
    }
    resp[3] = CC_SUCCESS;
    resp[4] = 0xFF; /* no further set */
    resp[5] = VENDOR_ID_FORMAT_IANA;
    rs_put32(resp + 6, m->iana);
    rs_put16(resp + 10, VENDOR_COMMAND_SET);
    return 12;
}
