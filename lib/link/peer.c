/* rshare link — the peer table, a small chained hash keyed by node id. */
#include "config.h"

#include <sodium.h>

#include "link.h"
#include "reassembly.h"
#include "transfer.h"

static unsigned bucket_of(uint32_t id)
{
    return (id * 2654435761u) >> 26; /* 64 buckets */
}

struct rs_peer *rs_peer_find(rshare_node *node, uint32_t id)
{
    struct rs_peer *p = rs_link(node)->peers.buckets[bucket_of(id)];
    while (p && p->id != id)
        p = p->hash_next;
    return p;
}

struct rs_peer *rs_peer_get(rshare_node *node, uint32_t id)
{
    struct rs_peer *p = rs_peer_find(node, id);
    if (p)
        return p;
    struct rs_peer_table *table = &rs_link(node)->peers;
    if (table->count >= rs_core(node)->config.max_peers) {
        RS_STAT_INC(node, rx_peer_limit);
        return NULL;
    }
    p = rs_calloc(node, 1, sizeof(*p));
    if (!p)
        return NULL;
    p->id = id;
    p->transport = -1;
    unsigned b = bucket_of(id);
    p->hash_next = table->buckets[b];
    table->buckets[b] = p;
    table->count++;
    return p;
}

void rs_peer_table_clear(rshare_node *node)
{
    struct rs_link *link = rs_link(node);
    for (unsigned b = 0; b < RS_PEER_BUCKETS; b++) {
        struct rs_peer *p = link->peers.buckets[b];
        while (p) {
            struct rs_peer *next = p->hash_next;
            rs_transfers_drop(node, p);
            rs_reassembly_drop_all(node, p);
            if (link->peer_free)
                link->peer_free(node, p);
            sodium_memzero(p->session_key, sizeof(p->session_key));
            sodium_memzero(p->pair_tx, sizeof(p->pair_tx));
            sodium_memzero(p->pair_rx, sizeof(p->pair_rx));
            rs_free(node, p);
            p = next;
        }
        link->peers.buckets[b] = NULL;
    }
    link->peers.count = 0;
}

void rs_peer_remember_completed(struct rs_peer *peer, uint32_t xfer)
{
    peer->completed[peer->completed_next] = xfer;
    peer->completed_next = (peer->completed_next + 1) % RS_PEER_COMPLETED;
}

bool rs_peer_recently_completed(const struct rs_peer *peer, uint32_t xfer)
{
    for (unsigned i = 0; i < RS_PEER_COMPLETED; i++)
        if (peer->completed[i] == xfer)
            return xfer != 0;
    return false;
}
