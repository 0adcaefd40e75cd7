// The public headers compile as C++ (extern "C", no C-only constructs) and
// link against the C library.
#include <rshare/rshare.h>

#include <cstdio>
#include <cstring>

int main()
{
    rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    config.node_id = 1;
    rshare_node *node = nullptr;
    if (rshare_node_create(&config, &node) != 0 || rshare_node_id(node) != 1) {
        std::fprintf(stderr, "node from C++ failed\n");
        return 1;
    }
    rshare_node_destroy(node);
    if (std::strcmp(rshare_err_name(RSHARE_EINVAL), "RSHARE_EINVAL") != 0)
        return 1;
    std::printf("1 passed, 0 failed\n");
    return 0;
}
