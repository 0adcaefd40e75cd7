/* rshare block — the partial parity log (see ppl.h for what it guarantees).
 *
 * Record "volume-<id>-ppl-<slot>": "RSPL", format 1 (u16), reserved (u16),
 * entry count (u32), then per entry: row (u64), window lo and hi (u32
 * each, sectors in the chunk), data chunk count (u8), three reserved bytes,
 * per data chunk the changed range ws, we (u32 each; ws == we: unchanged),
 * then (hi - lo) * 512 bytes of partial parity.  Big-endian.  An emptied
 * record has 0 entries. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/endian.h"
#include "engine.h"
#include "ppl.h"
#include "xor.h"

#define HEADER 12
#define ENTRY_FIXED 20

static void slot_key(const rshare_volume *vol, uint32_t slot, char *key, size_t len)
{
    snprintf(key, len, "volume-%u-ppl-%u", (unsigned)vol->desc.id, (unsigned)slot);
}

static int store(rshare_volume *vol, uint32_t slot, const uint8_t *rec, size_t len)
{
    char key[48];
    slot_key(vol, slot, key, sizeof(key));
    return rs_persist_store(vol->node, key, rec, len);
}

static void header(uint8_t *rec, uint32_t entries)
{
    memcpy(rec, "RSPL", 4);
    rs_put16(rec + 4, 1);
    rs_put16(rec + 6, 0);
    rs_put32(rec + 8, entries);
}

static size_t entry_size(uint32_t data_count, uint64_t window)
{
    return ENTRY_FIXED + (size_t)data_count * 8 + (size_t)window * 512u;
}

/* --- at open -------------------------------------------------------------------- */

/* Is `rec` a well-formed record for this volume's geometry?  Returns the
 * entry count, or -1. */
static int64_t check_record(const rshare_volume *vol, const uint8_t *rec, size_t len)
{
    if (len < HEADER || memcmp(rec, "RSPL", 4) || rs_get16(rec + 4) != 1)
        return -1;
    uint32_t entries = rs_get32(rec + 8);
    size_t off = HEADER;
    uint64_t chunk = vol->layout.desc.chunk_sectors;
    for (uint32_t e = 0; e < entries; e++) {
        if (len - off < ENTRY_FIXED)
            return -1;
        uint64_t row = rs_get64(rec + off);
        uint32_t lo = rs_get32(rec + off + 8), hi = rs_get32(rec + off + 12);
        uint32_t dc = rec[off + 16];
        if (row >= vol->keys || lo >= hi || hi > chunk || dc != vol->layout.data_members)
            return -1;
        size_t need = entry_size(dc, hi - lo);
        if (len - off < need)
            return -1;
        for (uint32_t k = 0; k < dc; k++) {
            uint32_t ws = rs_get32(rec + off + ENTRY_FIXED + 8 * k);
            uint32_t we = rs_get32(rec + off + ENTRY_FIXED + 8 * k + 4);
            if (ws > we || (ws < we && (ws < lo || we > hi)))
                return -1;
        }
        off += need;
    }
    return off == len ? (int64_t)entries : -1;
}

int rs_ppl_init(rshare_volume *vol)
{
    struct rs_ppl *ppl = &vol->ppl;
    memset(ppl, 0, sizeof(*ppl));
    ppl->enabled = vol->parity && rs_persist_available(vol->node);
    if (!ppl->enabled)
        return 0;
    size_t cap = HEADER + 64u * entry_size(vol->layout.data_members,
                                           vol->layout.desc.chunk_sectors);
    for (uint32_t slot = 0; slot < RS_PPL_SLOTS; slot++) {
        char key[48];
        slot_key(vol, slot, key, sizeof(key));
        uint8_t *rec = rs_malloc(vol->node, cap);
        if (!rec)
            return RSHARE_ENOMEM;
        int got = rs_persist_load(vol->node, key, rec, cap);
        int64_t entries = got > 0 ? check_record(vol, rec, (size_t)got) : 0;
        if (entries < 0) {
            rs_log_error(vol->node, "volume %s: %s unreadable: its rows cannot be recovered",
                         vol->desc.name, key);
            ppl->unrecoverable++;
        }
        if (entries > 0) {
            ppl->recover[slot] = rec;
            ppl->recover_len[slot] = (size_t)got;
        } else {
            rs_free(vol->node, rec);
        }
    }
    return 0;
}

bool rs_ppl_has_records(const rshare_volume *vol)
{
    for (uint32_t slot = 0; slot < RS_PPL_SLOTS; slot++)
        if (vol->ppl.recover[slot])
            return true;
    return false;
}

void rs_ppl_fini(rshare_volume *vol)
{
    struct rs_ppl *ppl = &vol->ppl;
    for (uint32_t slot = 0; slot < RS_PPL_SLOTS; slot++) {
        rs_free(vol->node, ppl->recover[slot]);
        ppl->recover[slot] = NULL;
        if (ppl->slots[slot]) {
            rs_free(vol->node, ppl->slots[slot]->record);
            rs_free(vol->node, ppl->slots[slot]);
            ppl->slots[slot] = NULL;
        }
    }
}

/* --- logging rows ----------------------------------------------------------------- */

static struct rs_ppl_batch *open_batch(rshare_volume *vol)
{
    struct rs_ppl *ppl = &vol->ppl;
    if (ppl->open)
        return ppl->open;
    for (uint32_t slot = 0; slot < RS_PPL_SLOTS; slot++) {
        if (ppl->slots[slot] || ppl->recover[slot])
            continue;
        struct rs_ppl_batch *b = rs_calloc(vol->node, 1, sizeof(*b));
        if (!b)
            return NULL;
        b->slot = slot;
        b->cap = HEADER + 4 * entry_size(vol->layout.data_members,
                                         vol->layout.desc.chunk_sectors);
        b->record = rs_malloc(vol->node, b->cap);
        if (!b->record) {
            rs_free(vol->node, b);
            return NULL;
        }
        b->len = HEADER;
        ppl->slots[slot] = b;
        ppl->open = b;
        return b;
    }
    return NULL; /* every slot busy: wait for one */
}

bool rs_ppl_log_row(rshare_volume *vol, struct rs_rowop *op, const uint8_t *partial,
                    uint64_t row, uint64_t lo, uint64_t hi, uint32_t data_count,
                    const uint64_t *ws, const uint64_t *we)
{
    struct rs_ppl *ppl = &vol->ppl;
    if (!ppl->enabled)
        return false;
    struct rs_ppl_batch *b = open_batch(vol);
    if (!b) {
        rs_stripe_row_block(vol, op);
        return true;
    }
    size_t need = entry_size(data_count, hi - lo);
    if (b->len + need > b->cap) {
        size_t cap = b->cap * 2 > b->len + need ? b->cap * 2 : b->len + need;
        uint8_t *bigger = rs_realloc(vol->node, b->record, cap);
        if (!bigger) {
            rs_stripe_row_failed(op, RSHARE_ENOMEM);
            return true;
        }
        b->record = bigger;
        b->cap = cap;
    }
    uint8_t *e = b->record + b->len;
    rs_put64(e, row);
    rs_put32(e + 8, (uint32_t)lo);
    rs_put32(e + 12, (uint32_t)hi);
    e[16] = (uint8_t)data_count;
    e[17] = e[18] = e[19] = 0;
    for (uint32_t k = 0; k < data_count; k++) {
        rs_put32(e + ENTRY_FIXED + 8 * k, (uint32_t)ws[k]);
        rs_put32(e + ENTRY_FIXED + 8 * k + 4, (uint32_t)we[k]);
    }
    memcpy(e + ENTRY_FIXED + 8 * data_count, partial, (size_t)(hi - lo) * 512u);
    b->len += need;
    b->rows++;
    rs_stripe_row_wait(vol, op, b);
    rs_vol_defer_rows(vol);
    return true;
}

void rs_ppl_commit(rshare_volume *vol)
{
    struct rs_ppl *ppl = &vol->ppl;
    struct rs_ppl_batch *b = ppl->open;
    if (!b)
        return;
    ppl->open = NULL;
    header(b->record, b->rows);
    int rc = store(vol, b->slot, b->record, b->len);
    if (rc < 0)
        rs_log_error(vol->node, "volume %s: partial parity log not stored: %s", vol->desc.name,
                     rshare_strerror(rc));
    b->durable = rc == 0;
    rs_stripe_rows_logged(vol, b, rc);
}

void rs_ppl_row_done(rshare_volume *vol, struct rs_ppl_batch *b)
{
    struct rs_ppl *ppl = &vol->ppl;
    if (--b->rows)
        return;
    if (b->durable) {
        uint8_t empty[HEADER];
        header(empty, 0);
        if (store(vol, b->slot, empty, sizeof(empty)) < 0)
            rs_log_warn(vol->node, "volume %s: partial parity log not emptied",
                        vol->desc.name);
    }
    ppl->slots[b->slot] = NULL;
    rs_free(vol->node, b->record);
    rs_free(vol->node, b);
    /* Rows that found every slot busy go on now. */
    struct rs_rowop *blocked = ppl->blocked;
    ppl->blocked = NULL;
    rs_stripe_rows_unblocked(vol, blocked);
}

/* --- recovery ---------------------------------------------------------------------- */

struct recovery {
    rshare_volume *vol;
    const uint8_t *entry;
    uint64_t row, lo, hi;
    uint32_t data_count;
    struct rs_stripe st;
    struct rs_range_lock lock;
    uint8_t *mem, *partial, *buf[RS_LAYOUT_MAX_MEMBERS];
    uint32_t outstanding;
    int status;
    struct rs_mio mio[RS_LAYOUT_MAX_MEMBERS];
};

static void slot_recovered(rshare_volume *vol, uint32_t slot)
{
    struct rs_ppl *ppl = &vol->ppl;
    uint8_t empty[HEADER];
    header(empty, 0);
    if (store(vol, slot, empty, sizeof(empty)) < 0)
        rs_log_warn(vol->node, "volume %s: recovered partial parity log not emptied",
                    vol->desc.name);
    rs_free(vol->node, ppl->recover[slot]);
    ppl->recover[slot] = NULL;
}

static void recovery_end(struct recovery *r, bool repaired)
{
    rshare_volume *vol = r->vol;
    struct rs_ppl *ppl = &vol->ppl;
    if (repaired)
        ppl->recovered++;
    else
        ppl->unrecoverable++;
    rs_range_unlock(&vol->locks, &r->lock);
    rs_free(vol->node, r->mem);
    rs_free(vol->node, r);
    /* The records are emptied once every entry is done (a crash meanwhile
     * recovers them again: recovery can be repeated). */
    if (--ppl->recover_pending == 0) {
        for (uint32_t s = 0; s < RS_PPL_SLOTS; s++)
            if (ppl->recover[s])
                slot_recovered(vol, s);
        rs_log_info(vol->node, "volume %s: %llu torn rows recovered from the partial parity log%s",
                    vol->desc.name, (unsigned long long)ppl->recovered,
                    ppl->unrecoverable ? ", some could not be" : "");
    }
}

static void parity_written(struct rs_mio *mio, int status)
{
    struct recovery *r = mio->owner;
    recovery_end(r, status == 0);
}

/* parity = partial ^ what the written chunks hold now */
static void reads_done(struct recovery *r)
{
    if (r->status < 0) {
        recovery_end(r, false);
        return;
    }
    for (uint32_t k = 0; k < r->data_count; k++) {
        uint32_t ws = rs_get32(r->entry + ENTRY_FIXED + 8 * k);
        uint32_t we = rs_get32(r->entry + ENTRY_FIXED + 8 * k + 4);
        if (ws == we)
            continue;
        size_t off = (size_t)(ws - r->lo) * 512u;
        const void *src[1] = {r->buf[k] + off};
        rs_xor_acc(r->partial + off, src, 1, (size_t)(we - ws) * 512u);
    }
    rs_mio_start(r->vol, &r->mio[r->st.parity_member], r->st.parity_member, RSHARE_BLOCK_WRITE,
                 r->st.member_sector + r->lo, r->hi - r->lo, r->partial, parity_written, r);
}

static void data_read(struct rs_mio *mio, int status)
{
    struct recovery *r = mio->owner;
    if (status < 0)
        r->status = status;
    if (--r->outstanding == 0)
        reads_done(r);
}

static void recovery_granted(struct rs_range_lock *lock)
{
    struct recovery *r = (struct recovery *)((char *)lock - offsetof(struct recovery, lock));
    rshare_volume *vol = r->vol;
    /* Every written chunk must be readable and the parity writable. */
    bool possible = rs_vol_writable(vol, r->st.parity_member);
    for (uint32_t k = 0; k < r->data_count && possible; k++) {
        uint32_t ws = rs_get32(r->entry + ENTRY_FIXED + 8 * k);
        uint32_t we = rs_get32(r->entry + ENTRY_FIXED + 8 * k + 4);
        if (ws < we && !rs_vol_readable(vol, r->st.data_member[k], r->row))
            possible = false;
    }
    if (!possible) {
        rs_log_warn(vol->node, "volume %s: row %llu was being written when the node stopped "
                               "and a member it wrote is missing: that write's data there is "
                               "lost (it was never acknowledged)",
                    vol->desc.name, (unsigned long long)r->row);
        recovery_end(r, false);
        return;
    }
    r->outstanding = 1;
    for (uint32_t k = 0; k < r->data_count; k++) {
        uint32_t ws = rs_get32(r->entry + ENTRY_FIXED + 8 * k);
        uint32_t we = rs_get32(r->entry + ENTRY_FIXED + 8 * k + 4);
        if (ws == we)
            continue;
        r->outstanding++;
        rs_mio_start(vol, &r->mio[r->st.data_member[k]], r->st.data_member[k], RSHARE_BLOCK_READ,
                     r->st.member_sector + ws, we - ws, r->buf[k] + (size_t)(ws - r->lo) * 512u,
                     data_read, r);
    }
    if (--r->outstanding == 0) /* drop the guard; reads complete from the loop */
        reads_done(r);
}

void rs_ppl_recover(rshare_volume *vol)
{
    struct rs_ppl *ppl = &vol->ppl;
    for (uint32_t slot = 0; slot < RS_PPL_SLOTS; slot++) {
        const uint8_t *rec = ppl->recover[slot];
        if (!rec)
            continue;
        uint32_t entries = rs_get32(rec + 8);
        size_t off = HEADER;
        for (uint32_t e = 0; e < entries; e++) {
            const uint8_t *entry = rec + off;
            uint32_t dc = entry[16];
            uint64_t lo = rs_get32(entry + 8), hi = rs_get32(entry + 12);
            off += entry_size(dc, hi - lo);
            struct recovery *r = rs_calloc(vol->node, 1, sizeof(*r));
            size_t bytes = (size_t)(hi - lo) * 512u;
            if (r)
                r->mem = rs_malloc(vol->node, (dc + 1) * bytes + RS_XOR_ALIGN);
            if (!r || !r->mem) {
                if (r)
                    rs_free(vol->node, r);
                ppl->unrecoverable++;
                continue;
            }
            r->vol = vol;
            r->entry = entry;
            r->row = rs_get64(entry);
            r->lo = lo;
            r->hi = hi;
            r->data_count = dc;
            rs_layout_stripe(&vol->layout, r->row, &r->st);
            uint8_t *p = r->mem + (RS_XOR_ALIGN - ((uintptr_t)r->mem & (RS_XOR_ALIGN - 1)));
            r->partial = p;
            memcpy(r->partial, entry + ENTRY_FIXED + 8 * dc, bytes);
            for (uint32_t k = 0; k < dc; k++)
                r->buf[k] = p + (k + 1) * bytes;
            ppl->recover_pending++;
            /* Locked now, before any new request can reach the row. */
            if (rs_range_lock(&vol->locks, &r->lock, r->row, r->row + 1, recovery_granted))
                recovery_granted(&r->lock);
        }
    }
    if (ppl->recover_pending == 0)
        for (uint32_t s = 0; s < RS_PPL_SLOTS; s++)
            if (ppl->recover[s])
                slot_recovered(vol, s);
}
