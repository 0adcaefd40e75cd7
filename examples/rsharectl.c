/* rsharectl — rshare's command-line tool.  For now it has the offline image
 * commands (`rsharectl image ...`), which need no cluster: they read and
 * write the member images of a volume directly, a user's recovery tool
 * when the cluster is gone. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "image.h"
#include "image_options.h"
#include "rshare/version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: rsharectl COMMAND ...\n"
                 "\n"
                 "commands:\n"
                 "  image write|read|check|map ...   offline member images of a volume\n"
                 "                                   (rsharectl image --help for details)\n"
                 "  --version                        print the version\n"
                 "  --help                           this text\n");
}

int main(int argc, char **argv)
{
    const char *prog = "rsharectl";
    if (argc < 2) {
        usage(stderr);
        return IMAGE_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return IMAGE_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("rsharectl %s\n", RSHARE_VERSION_STRING);
        return IMAGE_EXIT_OK;
    }
    if (strcmp(argv[1], "image") != 0) {
        fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
        usage(stderr);
        return IMAGE_EXIT_USAGE;
    }
    struct image_options options;
    char err[256];
    if (image_options_parse(&options, argc - 2, argv + 2, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s image: %s\n(rsharectl image --help for the usage)\n", prog, err);
        return IMAGE_EXIT_USAGE;
    }
    if (options.help) {
        fputs(image_usage(), stdout);
        return IMAGE_EXIT_OK;
    }
    return image_run(&options, prog);
}
