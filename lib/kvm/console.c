/* rshare kvm — focus as a lease (console.h). */
#include "config.h"

#include "cluster/cluster.h"
#include "console.h"
#include "rshare/access.h"

#define DEFAULT_LEASE_MS 3000

enum ticket_op { TICKET_ACQUIRE, TICKET_RENEW, TICKET_RELEASE };

/* One access request in flight.  Its callback may come after the console
 * is gone: fini sets `c` to NULL and the callback only frees the ticket. */
struct rs_kvm_console_ticket {
    struct rs_kvm_console_ticket *next;
    struct rs_kvm_console *c;
    rshare_node *node;
    uint32_t index;
    enum ticket_op op;
};

static void unlink_ticket(struct rs_kvm_console_ticket *t)
{
    if (!t->c)
        return;
    struct rs_kvm_console_ticket **pp = &t->c->tickets;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
}

static void done(rshare_node *node, const struct rshare_access_result *r, void *user_data)
{
    struct rs_kvm_console_ticket *t = user_data;
    struct rs_kvm_console *c = t->c;
    unlink_ticket(t);
    uint32_t index = t->index;
    enum ticket_op op = t->op;
    rs_free(node, t);
    if (!c)
        return;
    struct rs_kvm_console_slot *s = &c->slot[index];
    s->asking = false;
    uint64_t now = rs_now_us(node);
    switch (op) {
    case TICKET_ACQUIRE:
        if (r->status == 0) {
            s->lease = r->id;
            s->next_us = now + c->lease_us / 3;
        } else {
            /* Another host has it (or the manager is away): try again. */
            c->refused++;
            rs_log_info(node, "KVM console %016llx: lease refused (%s), trying again",
                        (unsigned long long)s->resource, rshare_strerror(r->status));
            s->next_us = now + c->lease_us / 3;
        }
        break;
    case TICKET_RENEW:
        if (r->status == 0) {
            s->next_us = now + c->lease_us / 3;
        } else {
            /* Lost (expired while we were cut off): take it again. */
            rs_log_warn(node, "KVM console %016llx: lease lost (%s)",
                        (unsigned long long)s->resource, rshare_strerror(r->status));
            s->lease = 0;
            s->next_us = now;
        }
        break;
    case TICKET_RELEASE:
        break;
    }
    if (c->changed)
        c->changed(c->user_data);
}

/* Start `op` on slot `index`; false when it could not be sent (retried at
 * the next tick). */
static bool ask(struct rs_kvm_console *c, uint32_t index, enum ticket_op op)
{
    struct rs_kvm_console_slot *s = &c->slot[index];
    struct rs_kvm_console_ticket *t = rs_calloc(c->node, 1, sizeof(*t));
    if (!t)
        return false;
    /* Linked and marked before the call, so that a callback coming at once
     * finds the ticket and its result is not overwritten. */
    *t = (struct rs_kvm_console_ticket){c->tickets, c, c->node, index, op};
    c->tickets = t;
    s->asking = op != TICKET_RELEASE;
    uint32_t ms = (uint32_t)(c->lease_us / 1000u);
    int rc;
    if (op == TICKET_ACQUIRE)
        rc = rshare_access_lease_acquire(c->node, s->resource, RSHARE_LEASE_EXCLUSIVE, ms, done, t);
    else if (op == TICKET_RENEW)
        rc = rshare_access_lease_renew(c->node, s->lease, done, t);
    else
        rc = rshare_access_lease_release(c->node, s->lease, done, t);
    if (rc < 0) {
        unlink_ticket(t);
        rs_free(c->node, t);
        s->asking = false;
        return false;
    }
    return true;
}

void rs_kvm_console_init(struct rs_kvm_console *c, rshare_node *node, const uint64_t *resources,
                         uint32_t count, uint32_t lease_ms)
{
    c->node = node;
    c->lease_us = (uint64_t)(lease_ms ? lease_ms : DEFAULT_LEASE_MS) * 1000u;
    c->count = count;
    for (uint32_t i = 0; i < count; i++)
        c->slot[i].resource = resources ? resources[i] : 0;
}

void rs_kvm_console_focus(struct rs_kvm_console *c, uint32_t index)
{
    uint64_t now = rs_now_us(c->node);
    for (uint32_t i = 0; i < c->count; i++) {
        struct rs_kvm_console_slot *s = &c->slot[i];
        if (!s->resource)
            continue;
        s->wanted = i == index;
        if (!s->wanted && s->lease) {
            /* Focus left: give it back (the target releases what we held
             * there when it sees the lease go, if our release-all did not
             * arrive first). */
            ask(c, i, TICKET_RELEASE);
            s->lease = 0;
        } else if (s->wanted && !s->lease && !s->asking) {
            s->next_us = now;
        }
    }
    rs_kvm_console_tick(c, now);
}

uint64_t rs_kvm_console_tick(struct rs_kvm_console *c, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < c->count; i++) {
        struct rs_kvm_console_slot *s = &c->slot[i];
        if (!s->resource || !s->wanted)
            continue;
        if (!s->asking && now >= s->next_us) {
            if (!ask(c, i, s->lease ? TICKET_RENEW : TICKET_ACQUIRE))
                s->next_us = now + c->lease_us / 10;
        }
        if (!s->asking && s->next_us < next)
            next = s->next_us;
    }
    return next;
}

void rs_kvm_console_fini(struct rs_kvm_console *c)
{
    for (uint32_t i = 0; i < c->count; i++)
        if (c->slot[i].lease)
            ask(c, i, TICKET_RELEASE);
    for (struct rs_kvm_console_ticket *t = c->tickets; t; t = t->next)
        t->c = NULL;
    c->tickets = NULL;
}

uint32_t rs_kvm_console_holder(rshare_node *node, uint64_t resource)
{
    const struct rs_map_lease *l = rs_map_exclusive_lease(&rs_cluster(node)->map, resource);
    return l ? l->holder : 0;
}
