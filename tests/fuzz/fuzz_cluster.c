/* Fuzz target: the cluster layer's parsers — map commands (with their
 * descriptors), map snapshots and consensus messages.  The first byte
 * chooses the parser. */
#include <stdint.h>
#include <string.h>

#include "cluster/map.h"
#include "cluster/raftwire.h"
#include "null_transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = 1;
    cfg.log = (struct rshare_log){null_log, NULL, RSHARE_LOG_ERROR};
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) != 0)
        return 0;
    struct rs_map map;
    rs_map_init(&map);
    uint32_t subject;
    switch (data[0] % 3) {
    case 0: {
        /* Two commands in a row on a map that has members 1 and 2. */
        static const uint8_t members[][6] = {{0x85, 0x01, 0x01, 0x00, 0x00, 0x01},
                                             {0x85, 0x01, 0x02, 0x01, 0x00, 0x00}};
        for (int i = 0; i < 2; i++)
            rs_map_apply(node, &map, members[i], sizeof(members[i]), &subject);
        size_t half = (size - 1) / 2;
        rs_map_apply(node, &map, data + 1, half, &subject);
        rs_map_apply(node, &map, data + 1 + half, size - 1 - half, &subject);
        break;
    }
    case 1:
        rs_map_restore(node, &map, data + 1, size - 1);
        break;
    case 2: {
        struct raft_message m;
        if (rs_raft_message_decode(node, data + 1, size - 1, &m) == 0)
            rs_raft_message_release(&m);
        break;
    }
    }
    rs_map_clear(node, &map);
    rshare_node_destroy(node);
    return 0;
}
