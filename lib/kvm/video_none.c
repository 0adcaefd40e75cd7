/* rshare kvm — KVM video left out of the build (configure --disable-video,
 * a firmware-style build): the same exported functions, which refuse with
 * RSHARE_ENOTSUP, so that applications and bindings link unchanged and
 * learn at run time that this library shows no screens.  The two
 * configuration initialisers are in video_config.c, built either way. */
#include "config.h"

#include "core/core.h"
#include "rshare/kvm.h"

RSHARE_API int rshare_video_source_create(rshare_node *node,
                                          const struct rshare_video_source_config *config,
                                          rshare_video_source **out)
{
    (void)config;
    if (out)
        *out = NULL;
    return node ? rs_errorf(node, RSHARE_ENOTSUP, "this build has no KVM video (--disable-video)")
                : RSHARE_EINVAL;
}

RSHARE_API int rshare_video_source_push(rshare_video_source *src, const void *pixels,
                                        size_t stride)
{
    (void)src;
    (void)pixels;
    (void)stride;
    return RSHARE_ENOTSUP;
}

RSHARE_API void rshare_video_source_destroy(rshare_video_source *src)
{
    (void)src;
}

RSHARE_API int rshare_video_sink_create(rshare_node *node,
                                        const struct rshare_video_sink_config *config,
                                        rshare_video_sink **out)
{
    (void)config;
    if (out)
        *out = NULL;
    return node ? rs_errorf(node, RSHARE_ENOTSUP, "this build has no KVM video (--disable-video)")
                : RSHARE_EINVAL;
}

RSHARE_API int rshare_video_sink_next(rshare_video_sink *sink)
{
    (void)sink;
    return RSHARE_ENOTSUP;
}

RSHARE_API void rshare_video_sink_destroy(rshare_video_sink *sink)
{
    (void)sink;
}

RSHARE_API int rshare_video_source_stats(const rshare_video_source *src,
                                         struct rshare_video_stats *stats, size_t struct_size)
{
    (void)src;
    (void)stats;
    (void)struct_size;
    return RSHARE_ENOTSUP;
}

RSHARE_API int rshare_video_sink_stats(const rshare_video_sink *sink,
                                       struct rshare_video_stats *stats, size_t struct_size)
{
    (void)sink;
    (void)stats;
    (void)struct_size;
    return RSHARE_ENOTSUP;
}
