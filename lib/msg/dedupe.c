/* rshare msg — dedupe cache: a FIFO ring per peer of dedupe_entries
 * entries.  Entries leave the ring oldest first; the highest request id that
 * left becomes the stale watermark, since request ids of one boot session
 * only grow.  A peer's new boot session clears its cache. */
#include "config.h"

#include <string.h>

#include "dedupe.h"

struct rs_dedupe {
    struct rs_dedupe_entry *ring;
    uint32_t cap, head, count; /* entries [head, head + count) mod cap */
    uint32_t watermark;        /* ids <= watermark are forgotten */
};

static struct rs_dedupe *cache_of(rshare_node *node, struct rs_peer *peer)
{
    struct rs_dedupe *d = peer->upper;
    if (d)
        return d;
    d = rs_calloc(node, 1, sizeof(*d));
    if (!d)
        return NULL;
    d->cap = rs_core(node)->config.dedupe_entries;
    d->ring = rs_calloc(node, d->cap, sizeof(*d->ring));
    if (!d->ring) {
        rs_free(node, d);
        return NULL;
    }
    peer->upper = d;
    return d;
}

static void evict_oldest(rshare_node *node, struct rs_dedupe *d)
{
    struct rs_dedupe_entry *e = &d->ring[d->head];
    if (e->request_id > d->watermark)
        d->watermark = e->request_id;
    rs_free(node, e->answer);
    memset(e, 0, sizeof(*e));
    d->head = (d->head + 1) % d->cap;
    d->count--;
}

static struct rs_dedupe_entry *find(struct rs_dedupe *d, uint32_t request_id)
{
    for (uint32_t i = 0; i < d->count; i++) {
        struct rs_dedupe_entry *e = &d->ring[(d->head + i) % d->cap];
        if (e->request_id == request_id)
            return e;
    }
    return NULL;
}

int rs_dedupe_check(rshare_node *node, struct rs_peer *peer, uint32_t request_id,
                    struct rs_dedupe_entry **entry)
{
    struct rs_dedupe *d = cache_of(node, peer);
    if (!d)
        return RSHARE_ENOMEM;
    struct rs_dedupe_entry *e = find(d, request_id);
    *entry = e;
    if (e)
        return e->answered ? RS_DEDUPE_ANSWERED : RS_DEDUPE_IN_PROGRESS;
    if (request_id <= d->watermark)
        return RS_DEDUPE_STALE;
    /* Entries older than twice the request timeout can no longer be asked
     * for again: let them go before the ring overflows. */
    uint64_t now = rs_now_us(node);
    uint64_t ttl = 2000u * (uint64_t)rs_core(node)->config.request_timeout_ms;
    while (d->count && now - d->ring[d->head].at_us > ttl && d->ring[d->head].answered)
        evict_oldest(node, d);
    if (d->count == d->cap)
        evict_oldest(node, d);
    e = &d->ring[(d->head + d->count) % d->cap];
    d->count++;
    memset(e, 0, sizeof(*e));
    e->request_id = request_id;
    e->at_us = now;
    *entry = e;
    return RS_DEDUPE_NEW;
}

void rs_dedupe_answer(rshare_node *node, uint32_t peer_id, uint32_t request_id, uint8_t *answer,
                      size_t len)
{
    struct rs_peer *peer = rs_peer_find(node, peer_id);
    struct rs_dedupe *d = peer ? peer->upper : NULL;
    struct rs_dedupe_entry *e = d ? find(d, request_id) : NULL;
    if (!e) {
        rs_free(node, answer); /* the peer restarted meanwhile */
        return;
    }
    rs_free(node, e->answer);
    e->answer = answer;
    e->answer_len = len;
    e->answered = true;
}

void rs_dedupe_clear(rshare_node *node, struct rs_peer *peer)
{
    struct rs_dedupe *d = peer->upper;
    if (!d)
        return;
    while (d->count)
        evict_oldest(node, d);
    d->head = 0;
    d->watermark = 0;
}

void rs_dedupe_free(rshare_node *node, struct rs_peer *peer)
{
    struct rs_dedupe *d = peer->upper;
    if (!d)
        return;
    rs_dedupe_clear(node, peer);
    rs_free(node, d->ring);
    rs_free(node, d);
    peer->upper = NULL;
}
