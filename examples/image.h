/* rsharectl — offline volume images: reads, writes, checks and maps the
 * member images of a volume with no cluster, through the library's layout
 * and XOR code and pread/pwrite on the member files. */
#ifndef RSHARECTL_IMAGE_H
#define RSHARECTL_IMAGE_H

#include "image_options.h"

/* Exit codes of `rsharectl image` (also in the usage text). */
enum image_exit {
    IMAGE_EXIT_OK = 0,
    IMAGE_EXIT_INCONSISTENT = 1, /* check found inconsistent stripes */
    IMAGE_EXIT_USAGE = 2,
    IMAGE_EXIT_VOLUME = 3, /* members do not make the volume, or outside it */
    IMAGE_EXIT_IO = 4      /* I/O error, out of memory */
};

/* Runs one parsed command; reports errors on stderr prefixed with `prog`.
 * Returns an exit code. */
int image_run(const struct image_options *options, const char *prog);

#endif
