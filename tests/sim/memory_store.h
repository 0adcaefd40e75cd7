/* A node's persistence in memory (struct rshare_persist), surviving the
 * node's destruction and re-creation: how simulations crash and restart
 * nodes with their state.  Shared by the cluster simulations and the
 * cluster benchmark. */
#ifndef RSHARE_MEMORY_STORE_H
#define RSHARE_MEMORY_STORE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rshare/rshare.h>

#define MEMORY_STORE_RECORDS 16

struct memory_store {
    struct {
        char key[32];
        uint8_t *data;
        size_t len;
    } records[MEMORY_STORE_RECORDS];
};

static inline int memory_store_load(void *user_data, const char *key, void *buf, size_t buf_len)
{
    struct memory_store *s = user_data;
    for (int i = 0; i < MEMORY_STORE_RECORDS; i++) {
        if (s->records[i].data && strcmp(s->records[i].key, key) == 0) {
            if (s->records[i].len > buf_len)
                return RSHARE_EMSGSIZE;
            memcpy(buf, s->records[i].data, s->records[i].len);
            return (int)s->records[i].len;
        }
    }
    return RSHARE_ENOENT;
}

static inline int memory_store_store(void *user_data, const char *key, const void *buf,
                                     size_t len)
{
    struct memory_store *s = user_data;
    int slot = -1;
    for (int i = 0; i < MEMORY_STORE_RECORDS && slot < 0; i++)
        if (s->records[i].data && strcmp(s->records[i].key, key) == 0)
            slot = i;
    for (int i = 0; i < MEMORY_STORE_RECORDS && slot < 0; i++)
        if (!s->records[i].data)
            slot = i;
    if (slot < 0 || strlen(key) >= sizeof(s->records[0].key))
        return RSHARE_EBUSY;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return RSHARE_ENOMEM;
    memcpy(copy, buf, len);
    free(s->records[slot].data);
    snprintf(s->records[slot].key, sizeof(s->records[slot].key), "%s", key);
    s->records[slot].data = copy;
    s->records[slot].len = len;
    return 0;
}

static inline struct rshare_persist memory_store_hook(struct memory_store *s)
{
    return (struct rshare_persist){memory_store_load, memory_store_store, s};
}

static inline void memory_store_free(struct memory_store *s)
{
    for (int i = 0; i < MEMORY_STORE_RECORDS; i++)
        free(s->records[i].data);
    memset(s, 0, sizeof(*s));
}

#endif
