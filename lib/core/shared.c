/* rshare core — reference-counted byte buffers (shared.h). */
#include "config.h"

#include <stdalign.h>
#include <stddef.h>

#include "shared.h"

/* The count sits in front of the data, padded to malloc's alignment. */
struct shared_head {
    alignas(max_align_t) size_t refs;
};

static struct shared_head *head_of(uint8_t *buf)
{
    return (struct shared_head *)(void *)(buf - sizeof(struct shared_head));
}

uint8_t *rs_shared_alloc(rshare_node *node, size_t len)
{
    if (len > SIZE_MAX - sizeof(struct shared_head))
        return NULL;
    struct shared_head *h = rs_malloc(node, sizeof(*h) + len);
    if (!h)
        return NULL;
    h->refs = 1;
    return (uint8_t *)(h + 1);
}

uint8_t *rs_shared_ref(uint8_t *buf)
{
    head_of(buf)->refs++;
    return buf;
}

void rs_shared_unref(rshare_node *node, uint8_t *buf)
{
    if (!buf)
        return;
    struct shared_head *h = head_of(buf);
    if (--h->refs == 0)
        rs_free(node, h);
}
