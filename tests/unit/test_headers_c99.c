/* The public headers compile as strict C99 (-std=c99 -pedantic -Werror)
 * with no private include paths, and the runtime version matches them. */
#include <rshare/rshare.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    struct rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    if (config.struct_size != sizeof(config)) {
        fprintf(stderr, "config_init did not set struct_size\n");
        return 1;
    }
    if (strcmp(rshare_version_string(), RSHARE_VERSION_STRING) != 0 ||
        rshare_version_num() != RSHARE_VERSION_NUM) {
        fprintf(stderr, "library %s does not match headers %s\n", rshare_version_string(),
                RSHARE_VERSION_STRING);
        return 1;
    }
    printf("1 passed, 0 failed\n");
    return 0;
}
