/* rsharectl — the command line of the offline image commands
 * (`rsharectl image write|read|check|map ...`): parsing only, no I/O, so
 * that it can be fuzzed and unit-tested on its own. */
#ifndef RSHARECTL_IMAGE_OPTIONS_H
#define RSHARECTL_IMAGE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block/layout.h"

enum image_command {
    IMAGE_WRITE = 1, /* logical data on stdin -> member images */
    IMAGE_READ = 2,  /* member images -> logical data on stdout */
    IMAGE_CHECK = 3, /* count inconsistent stripes */
    IMAGE_MAP = 4    /* where a logical sector lives */
};

#define IMAGE_DEFAULT_CHUNK_BYTES (64u * 1024) /* md's default without metadata */
#define IMAGE_DEFAULT_COPIES 2

struct image_options {
    enum image_command command;
    /* Level, chunk, algorithm, zones, copies and member count; the member
     * sizes are left 0 for the tool to fill in. */
    struct rs_layout_desc layout;
    /* --member-size: bytes per member (0: the file's size). */
    uint64_t member_bytes[RS_LAYOUT_MAX_MEMBERS];
    bool member_size_given;
    uint64_t sector; /* map: the logical sector */
    /* Member image paths in member order; NULL for a member given as
     * "missing".  Point into argv. */
    const char *members[RS_LAYOUT_MAX_MEMBERS];
    bool help;
};

/* Parses the arguments after `rsharectl image`: argv[0] is the subcommand.
 * Returns 0, or -1 with a one-line message in `err`.  With --help, returns
 * 0 with o->help set and nothing else checked. */
int image_options_parse(struct image_options *o, int argc, char *const *argv, char *err,
                        size_t err_len);

/* A byte count: decimal digits with an optional binary suffix K, M, G or T
 * (either case): "512", "64K", "1M".  Returns 0, or -1 on anything else or
 * on overflow. */
int image_parse_size(const char *text, uint64_t *bytes);

/* The usage text of `rsharectl image`, with the exit codes. */
const char *image_usage(void);

#endif
