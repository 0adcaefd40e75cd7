/* rshare kvm — the initialisers of the video configurations, built with
 * and without KVM video (video.c or video_none.c), so that an application
 * fills its configuration the same way whichever build it runs on. */
#include "config.h"

#include <string.h>

#include "core/core.h"
#include "rshare/kvm.h"

RSHARE_API void rshare_video_source_config_init(struct rshare_video_source_config *config,
                                                size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
}

RSHARE_API void rshare_video_sink_config_init(struct rshare_video_sink_config *config,
                                              size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
}
