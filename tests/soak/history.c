/* The soak's history checker (history.h). */
#include "history.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct map_entry {
    uint64_t version, digest;
    uint32_t node;
};

struct lease_entry {
    uint64_t version, resource, lease, fence;
    uint32_t node;
    int exclusive;
};

struct write_entry {
    uint64_t off;
    uint32_t len;
    int status; /* 1: in flight */
};

struct history {
    uint64_t sectors;
    uint32_t *acked; /* per sector: id of the last write known to be there (0: zeros) */
    struct write_entry *writes; /* by id; writes[0] unused */
    size_t write_count, write_cap;
    struct map_entry *maps;
    size_t map_count, map_cap;
    struct lease_entry *leases;
    size_t lease_count, lease_cap;
    size_t violations;
    char first[512];
    struct history_counts counts;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t cap2 = *cap ? *cap * 2 : 256;
    while (cap2 < need)
        cap2 *= 2;
    void *q = realloc(p, cap2 * size);
    if (!q)
        abort(); /* a test program: out of memory ends it */
    *cap = cap2;
    return q;
}

static void violation(struct history *h, const char *fmt, va_list ap)
{
    if (h->violations++ == 0)
        vsnprintf(h->first, sizeof(h->first), fmt, ap);
}

void history_fail(struct history *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    violation(h, fmt, ap);
    va_end(ap);
}

struct history *history_create(uint64_t volume_bytes)
{
    struct history *h = calloc(1, sizeof(*h));
    if (!h)
        abort();
    h->sectors = volume_bytes / HISTORY_SECTOR;
    h->acked = calloc(h->sectors ? h->sectors : 1, sizeof(*h->acked));
    if (!h->acked)
        abort();
    h->writes = grow(NULL, &h->write_cap, 1, sizeof(*h->writes));
    h->write_count = 1;
    return h;
}

void history_free(struct history *h)
{
    if (!h)
        return;
    free(h->acked);
    free(h->writes);
    free(h->maps);
    free(h->leases);
    free(h);
}

void history_map(struct history *h, uint32_t node, uint64_t version, uint64_t digest)
{
    h->maps = grow(h->maps, &h->map_cap, h->map_count + 1, sizeof(*h->maps));
    h->maps[h->map_count++] = (struct map_entry){version, digest, node};
    h->counts.maps++;
}

void history_lease(struct history *h, uint32_t node, uint64_t version, uint64_t resource,
                   uint64_t lease, uint64_t fence, int exclusive)
{
    h->leases = grow(h->leases, &h->lease_cap, h->lease_count + 1, sizeof(*h->leases));
    h->leases[h->lease_count++] =
        (struct lease_entry){version, resource, lease, fence, node, exclusive != 0};
    h->counts.leases++;
}

/* --- self-describing sector data -------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void fill_sector(uint8_t *s, uint32_t id, uint64_t lba)
{
    put64(s, id);
    put64(s + 8, lba);
    uint64_t x = mix(((uint64_t)id << 40) ^ lba);
    for (size_t i = 16; i < HISTORY_SECTOR; i += 8) {
        x = mix(x + i);
        put64(s + i, x);
    }
}

/* The id of the write whose data `s` is, 0 for zeros, or -1: never written. */
static int64_t sector_id(const uint8_t *s, uint64_t lba)
{
    static const uint8_t zeros[HISTORY_SECTOR];
    if (memcmp(s, zeros, HISTORY_SECTOR) == 0)
        return 0;
    uint64_t id = get64(s);
    if (id == 0 || id > UINT32_MAX || get64(s + 8) != lba)
        return -1;
    uint8_t want[HISTORY_SECTOR];
    fill_sector(want, (uint32_t)id, lba);
    return memcmp(s, want, HISTORY_SECTOR) == 0 ? (int64_t)id : -1;
}

uint32_t history_write_begin(struct history *h, uint64_t off, void *buf, size_t len)
{
    h->writes = grow(h->writes, &h->write_cap, h->write_count + 1, sizeof(*h->writes));
    uint32_t id = (uint32_t)h->write_count++;
    h->writes[id] = (struct write_entry){off, (uint32_t)len, 1};
    for (size_t k = 0; k < len / HISTORY_SECTOR; k++)
        fill_sector((uint8_t *)buf + k * HISTORY_SECTOR, id, off / HISTORY_SECTOR + k);
    h->counts.writes++;
    return id;
}

void history_write_end(struct history *h, uint32_t id, int status)
{
    if (id == 0 || id >= h->write_count || h->writes[id].status != 1) {
        history_fail(h, "write %u completed twice or was never issued", id);
        return;
    }
    struct write_entry *w = &h->writes[id];
    w->status = status;
    if (status != 0) {
        h->counts.writes_failed++;
        return;
    }
    h->counts.writes_acked++;
    for (uint64_t s = w->off / HISTORY_SECTOR; s < (w->off + w->len) / HISTORY_SECTOR; s++)
        if (s < h->sectors && h->acked[s] < id)
            h->acked[s] = id;
}

static bool covers(const struct write_entry *w, uint64_t lba)
{
    return lba >= w->off / HISTORY_SECTOR && lba < (w->off + w->len) / HISTORY_SECTOR;
}

size_t history_read(struct history *h, uint64_t off, const void *buf, size_t len, int status)
{
    h->counts.reads++;
    if (status != 0) {
        h->counts.reads_failed++;
        return 0;
    }
    size_t bad = 0;
    for (size_t k = 0; k < len / HISTORY_SECTOR; k++) {
        uint64_t lba = off / HISTORY_SECTOR + k;
        if (lba >= h->sectors)
            break;
        h->counts.sectors_checked++;
        int64_t id = sector_id((const uint8_t *)buf + k * HISTORY_SECTOR, lba);
        uint32_t acked = h->acked[lba];
        if (id < 0) {
            bad++;
            history_fail(h, "sector %llu: read returned data never written",
                         (unsigned long long)lba);
        } else if ((uint32_t)id == acked) {
            continue;
        } else if ((uint32_t)id < acked) {
            bad++;
            history_fail(h, "sector %llu: acknowledged write %u lost (read returned %s %lld)",
                         (unsigned long long)lba, acked, id ? "older write" : "zeros",
                         (long long)id);
        } else if ((uint64_t)id >= h->write_count || !covers(&h->writes[id], lba) ||
                   h->writes[id].status == 0) {
            bad++;
            history_fail(h, "sector %llu: read returned write %lld, not one that may be there",
                         (unsigned long long)lba, (long long)id);
        } else if (h->writes[id].status == 1) {
            bad++;
            history_fail(h, "sector %llu: read overlapping write %lld in flight",
                         (unsigned long long)lba, (long long)id);
        } else {
            /* A failed write that did land: it is there from now on. */
            h->acked[lba] = (uint32_t)id;
        }
    }
    return bad;
}

void history_key_stuck(struct history *h, uint32_t target, uint16_t code)
{
    history_fail(h, "node %u: key %u stays pressed", target, code);
}

/* --- whole-history checks ------------------------------------------------------------ */

static int by_version(const void *a, const void *b)
{
    const struct map_entry *x = a, *y = b;
    return x->version < y->version ? -1 : x->version > y->version;
}

/* Leases sorted by resource, then by `key` (version, lease or fence), then
 * by lease id. */
enum lease_key { BY_VERSION, BY_LEASE, BY_FENCE };
static enum lease_key lease_key;

static uint64_t key_of(const struct lease_entry *e)
{
    return lease_key == BY_VERSION ? e->version : lease_key == BY_LEASE ? e->lease : e->fence;
}

static int by_lease(const void *a, const void *b)
{
    const struct lease_entry *x = a, *y = b;
    if (x->resource != y->resource)
        return x->resource < y->resource ? -1 : 1;
    if (key_of(x) != key_of(y))
        return key_of(x) < key_of(y) ? -1 : 1;
    if (x->lease != y->lease)
        return x->lease < y->lease ? -1 : 1;
    return 0;
}

static void sort_leases(struct history *h, enum lease_key key)
{
    lease_key = key;
    if (h->lease_count > 1)
        qsort(h->leases, h->lease_count, sizeof(*h->leases), by_lease);
}

static void check_maps(struct history *h)
{
    if (h->map_count > 1)
        qsort(h->maps, h->map_count, sizeof(*h->maps), by_version);
    for (size_t i = 1; i < h->map_count; i++)
        if (h->maps[i].version == h->maps[i - 1].version &&
            h->maps[i].digest != h->maps[i - 1].digest)
            history_fail(h, "map diverged: nodes %u and %u differ at version %llu",
                         h->maps[i - 1].node, h->maps[i].node,
                         (unsigned long long)h->maps[i].version);
}

/* Every node reports the leases of every map it installs: keep one entry
 * per (resource, version, lease) -- the maps are compared on their own. */
static void unique_leases(struct history *h)
{
    sort_leases(h, BY_VERSION);
    size_t n = 0;
    for (size_t i = 0; i < h->lease_count; i++)
        if (n == 0 || by_lease(&h->leases[n - 1], &h->leases[i]) != 0 ||
            h->leases[n - 1].fence != h->leases[i].fence)
            h->leases[n++] = h->leases[i];
    h->lease_count = n;
}

static void check_leases(struct history *h)
{
    unique_leases(h);
    /* Sorted by version: one version's leases of a resource are adjacent. */
    for (size_t i = 0; i < h->lease_count; i++) {
        const struct lease_entry *a = &h->leases[i];
        for (size_t k = i + 1; k < h->lease_count && h->leases[k].resource == a->resource &&
                               h->leases[k].version == a->version;
             k++) {
            const struct lease_entry *b = &h->leases[k];
            if (a->exclusive && b->exclusive && b->lease != a->lease) {
                history_fail(h, "two exclusive leases (%llu, %llu) on resource %llx at map "
                                "version %llu",
                             (unsigned long long)a->lease, (unsigned long long)b->lease,
                             (unsigned long long)a->resource, (unsigned long long)a->version);
                return;
            }
        }
    }
    sort_leases(h, BY_LEASE);
    for (size_t i = 1; i < h->lease_count; i++) {
        const struct lease_entry *a = &h->leases[i - 1], *b = &h->leases[i];
        if (a->resource == b->resource && a->lease == b->lease && a->fence != b->fence) {
            history_fail(h, "lease %llu changed its fencing token (%llu, then %llu)",
                         (unsigned long long)a->lease, (unsigned long long)a->fence,
                         (unsigned long long)b->fence);
            return;
        }
    }
    sort_leases(h, BY_FENCE);
    for (size_t i = 1; i < h->lease_count; i++) {
        const struct lease_entry *a = &h->leases[i - 1], *b = &h->leases[i];
        if (a->resource == b->resource && a->fence == b->fence && a->lease != b->lease) {
            history_fail(h, "leases %llu and %llu share fencing token %llu",
                         (unsigned long long)a->lease, (unsigned long long)b->lease,
                         (unsigned long long)a->fence);
            return;
        }
    }
}

size_t history_check(struct history *h, char *first, size_t first_len)
{
    check_maps(h);
    check_leases(h);
    for (size_t i = 1; i < h->write_count; i++)
        if (h->writes[i].status == 1) {
            history_fail(h, "write %zu never completed", i);
            break;
        }
    if (first && first_len)
        snprintf(first, first_len, "%s", h->violations ? h->first : "");
    return h->violations;
}

void history_counts(const struct history *h, struct history_counts *out)
{
    *out = h->counts;
}
