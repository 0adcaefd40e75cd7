/* rsharectl — rshare's command-line tool.  Most commands go to the local
 * agent (rshared) over its Unix socket (ctl.c); the offline image commands
 * (`rsharectl image ...`) need no cluster: they read and write the member
 * images of a volume directly, a user's recovery tool when the cluster is
 * gone.  `rsharectl identity keygen|certify|show` (identity_cmd.c) make and
 * check node keys and enrolment certificates offline too; `identity
 * revoke` asks the agent. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "identity_cmd.h"
#include "image.h"
#include "image_options.h"
#include "rshare/identity.h"
#include "rshare/version.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: rsharectl [--json] [--socket PATH] COMMAND ...\n"
                 "\n"
                 "commands to the local agent (rshared):\n"
                 "  status | nodes | resources | volumes | map\n"
                 "  volume create NAME LAYOUT MEMBERS [chunk=64K] [spares=R,..] [algorithm=A]\n"
                 "  volume destroy NAME | volume status NAME | volume add-spare NAME RESOURCE\n"
                 "  volume fail NAME INDEX | volume readd NAME INDEX\n"
                 "  volume rebuild NAME        (waits, with a progress bar)\n"
                 "  volume scrub NAME [repair]\n"
                 "  kvm focus [NODE] | kvm next | kvm lock on|off\n"
                 "  identity revoke NODE_ID [--public NODE.pub]\n"
                 "  LAYOUT: linear raid0 raid1 raid5 raid10; resources as HOST.N or 16 hex digits\n"
                 "\n"
                 "offline:\n"
                 "  image write|read|check|map ...   member images of a volume, no cluster\n"
                 "                                   (rsharectl image --help for details)\n"
                 "  identity keygen|certify|show ... node keys and enrolment certificates\n"
                 "                                   (rsharectl identity --help for details)\n"
                 "  --version                        print the version\n"
                 "  --help                           this text\n"
                 "\n"
                 "exit status: 0 done, 1 refused by the agent, 2 bad usage, 3 no agent\n");
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
        bool json = false;
        const char *socket_path = getenv("RSHARE_SOCKET");
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
            if (!strcmp(argv[i], "--json")) {
                json = true;
            } else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
                socket_path = argv[++i];
            } else {
                fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[i]);
                usage(stderr);
                return CTL_EXIT_USAGE;
            }
        }
        if (i + 1 < argc && !strcmp(argv[i], "identity")) {
            if (identity_is_offline(argv[i + 1]))
                return identity_run(argc - i - 1, argv + i + 1, json, prog);
            if (!strcmp(argv[i + 1], "revoke")) {
                char *words[4], hex[2 * RSHARE_IDENTITY_PUBLIC_KEY_BYTES + 1];
                int code, n = identity_revoke_request(argc - i - 1, argv + i + 1, prog, words,
                                                      hex, &code);
                if (n < 0)
                    return code;
                return ctl_run(n, words, socket_path ? socket_path : CTL_DEFAULT_SOCKET, json);
            }
        }
        if (i < argc && !strcmp(argv[i], "identity")) {
            fputs(identity_usage(), stderr);
            return CTL_EXIT_USAGE;
        }
        static const char *const commands[] = {"status", "nodes", "resources", "volumes",
                                               "map",    "volume", "kvm"};
        bool known = false;
        for (size_t k = 0; i < argc && k < sizeof(commands) / sizeof(commands[0]); k++)
            known |= !strcmp(argv[i], commands[k]);
        if (!known) {
            if (i < argc)
                fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[i]);
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
        return ctl_run(argc - i, argv + i, socket_path ? socket_path : CTL_DEFAULT_SOCKET, json);
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
