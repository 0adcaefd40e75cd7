/* rsharectl — node identities offline (`rsharectl identity keygen|certify|
 * show ...`): key pairs, enrolment certificates signed by the cluster
 * authority, and checking a certificate, through the library's identity
 * functions (include/rshare/identity.h) and its key files.  No agent is
 * needed; `identity revoke` goes to the agent (ctl.c) and is only turned
 * into its request here. */
#ifndef RSHARECTL_IDENTITY_CMD_H
#define RSHARECTL_IDENTITY_CMD_H

#include <stdbool.h>

/* Exit codes of `rsharectl identity` (also in the usage text). */
enum identity_exit {
    IDENTITY_EXIT_OK = 0,
    IDENTITY_EXIT_INVALID = 1, /* show: the certificate is not the authority's */
    IDENTITY_EXIT_USAGE = 2,
    IDENTITY_EXIT_FILE = 4     /* a file missing, of the wrong size, loose, or existing */
};

/* Is argv[0] (the word after "identity") a command that needs no agent? */
bool identity_is_offline(const char *subcommand);

/* Runs `rsharectl identity SUBCOMMAND ...` (argv[0] = the subcommand, one
 * of the offline ones); errors on stderr prefixed with `prog`.  Returns an
 * exit code. */
int identity_run(int argc, char **argv, bool json, const char *prog);

/* `identity revoke NODE_ID [--public NODE.pub]` as the agent's request
 * words ("identity revoke ID [HEX]") in `words` (at least 4 entries, the
 * texts in `hex`, 65 bytes).  Returns the word count, or -1 with a message
 * on stderr and the exit code (IDENTITY_EXIT_USAGE or _FILE) in
 * `*exit_code`. */
int identity_revoke_request(int argc, char **argv, const char *prog, char **words, char *hex,
                            int *exit_code);

/* The usage text of `rsharectl identity`. */
const char *identity_usage(void);

#endif
