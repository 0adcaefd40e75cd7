/* rshare msg — the per-peer reply cache, indexed by the requester's slot
 * and grown on demand up to RS_MSG_SLOTS_MAX entries. */
#include "config.h"

#include <string.h>

#include "dedupe.h"

static struct rs_dedupe_entry *slot_entry(rshare_node *node, struct rs_msg_peer *mp, uint16_t slot)
{
    if (slot >= mp->cache_len) {
        uint32_t len = mp->cache_len ? mp->cache_len : 16;
        while (len <= slot)
            len *= 2;
        struct rs_dedupe_entry *grown = rs_realloc(node, mp->cache, len * sizeof(*grown));
        if (!grown)
            return NULL;
        memset(grown + mp->cache_len, 0, (len - mp->cache_len) * sizeof(*grown));
        mp->cache = grown;
        mp->cache_len = len;
    }
    return &mp->cache[slot];
}

int rs_dedupe_check(rshare_node *node, struct rs_peer *peer, uint16_t slot, uint32_t request_id,
                    struct rs_dedupe_entry **entry)
{
    struct rs_msg_peer *mp = rs_msg_peer(node, peer);
    struct rs_dedupe_entry *e = mp ? slot_entry(node, mp, slot) : NULL;
    *entry = e;
    if (!e)
        return RSHARE_ENOMEM;
    if (request_id == e->request_id)
        return e->answered ? RS_DEDUPE_ANSWERED : RS_DEDUPE_IN_PROGRESS;
    /* Serial-number order (RFC 1982): ids wrap after 2^32 requests. */
    if (e->request_id && (int32_t)(request_id - e->request_id) < 0)
        return RS_DEDUPE_STALE;
    /* A newer request in the slot: the requester has the older answer (or
     * gave up on it), so it can go. */
    rs_msg_discard(node, e->answer);
    memset(e, 0, sizeof(*e));
    e->request_id = request_id;
    return RS_DEDUPE_NEW;
}

void rs_dedupe_answer(rshare_node *node, uint32_t peer_id, uint16_t slot, uint32_t request_id,
                      uint8_t *answer, size_t len)
{
    struct rs_peer *peer = rs_peer_find(node, peer_id);
    struct rs_msg_peer *mp = peer ? peer->upper : NULL;
    if (!mp || slot >= mp->cache_len || mp->cache[slot].request_id != request_id) {
        rs_msg_discard(node, answer); /* the peer restarted meanwhile */
        return;
    }
    struct rs_dedupe_entry *e = &mp->cache[slot];
    rs_msg_discard(node, e->answer);
    e->answer = answer;
    e->answer_len = len;
    e->answered = true;
}

void rs_dedupe_clear(rshare_node *node, struct rs_msg_peer *mp)
{
    for (uint32_t i = 0; i < mp->cache_len; i++)
        rs_msg_discard(node, mp->cache[i].answer);
    rs_free(node, mp->cache);
    mp->cache = NULL;
    mp->cache_len = 0;
}
