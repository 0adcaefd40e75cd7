/* Fuzz target: grant cookies — the bounded parser and signature check
 * (lib/access/token.c), the body parser on its own (reached otherwise only
 * with a valid signature), and the host's cookie check against a map
 * holding one grant (lib/access/access.c).  The input is one cookie.  A
 * cookie that opens must carry a signature of the test key, and must
 * re-seal to the same bytes (Ed25519 is deterministic). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "access/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rs_token_key key;
    if (!key.valid) {
        uint8_t cluster_key[32];
        memset(cluster_key, 0x42, sizeof(cluster_key)); /* as the corpus was made */
        rs_token_key_derive(cluster_key, &key);
    }
    struct rs_token t;
    rs_token_body_decode(data, size, &t);
    if (rs_token_open(key.pk, data, size, &t) == RS_TOKEN_OK) {
        uint8_t again[RS_TOKEN_MAX];
        size_t n = rs_token_seal(&key, &t, again, sizeof(again));
        if (n != size || memcmp(again, data, n) != 0)
            abort();
    }
    /* The host's check, against a map with grant 10 (node 2, resource
     * 0x100000001, read and write) and a delegation 20 of it to node 3. */
    struct rs_map_grant grants[2] = {
        {10, 0, (uint64_t)1 << 32 | 1, 2, 1, 3, 0},
        {20, 10, (uint64_t)1 << 32 | 1, 3, 2, 1, 0},
    };
    struct rs_map map;
    memset(&map, 0, sizeof(map));
    map.grants = grants;
    map.grant_count = 2;
    for (uint32_t sender = 2; sender <= 3; sender++)
        if (rs_access_check_cookie(&map, key.pk, data, size, sender, (uint64_t)1 << 32 | 1, 1) ==
                RS_ACCESS_OK &&
            rs_token_open(key.pk, data, size, &t) != RS_TOKEN_OK)
            abort();
    return 0;
}
