/* A private tgtd for tests and benchmarks: started on 127.0.0.1 on a port
 * of its own (the port number also names its control socket, so a system
 * tgtd is never touched), one target with one file-backed LUN, killed at
 * the end (and by PR_SET_PDEATHSIG when its parent dies).  Used by
 * tests/integration/test_iscsi.c and tests/bench/bench_iscsi.c. */
#ifndef RSHARE_TESTS_TGTD_H
#define RSHARE_TESTS_TGTD_H

#include <stdbool.h>
#include <sys/types.h>

#include "rshare/common.h"

struct tgtd {
    pid_t pid;
    int port;
    char iqn[96];
    char dir[128];
    char lun_path[160];
    char log_path[160];
};

/* Are tgtd and tgtadm on the PATH? */
bool tgtd_installed(void);

/* A fresh directory under `parent` (e.g. "/tmp") holding the LUN file
 * (t->lun_path, not created here) and tgtd's log, a port away from 3260
 * and the usual ephemeral range, and the target name `iqn`.  False (errno
 * set) when the directory cannot be made. */
bool tgtd_prepare(struct tgtd *t, const char *parent, const char *iqn);

/* Run tgtadm against this tgtd (`tgtadm -C PORT --lld iscsi ARGS`, output
 * appended to the log); its exit status, -1 when it could not run. */
int tgtd_adm(struct tgtd *t, const char *fmt, ...) RSHARE_PRINTF(2, 3);

/* Start tgtd and export t->lun_path as LUN 1 of target t->iqn to every
 * initiator, with CHAP when `chap_user` is given; false (and nothing left
 * running) when it does not come up within 5 s. */
bool tgtd_start(struct tgtd *t, const char *chap_user, const char *chap_password);

/* SIGKILL (also when stopped) and reap; the control socket it leaves
 * behind is removed.  Nothing when it is not running. */
void tgtd_kill(struct tgtd *t);

/* tgtd_kill() and remove the directory with everything in it. */
void tgtd_cleanup(struct tgtd *t);

#endif
