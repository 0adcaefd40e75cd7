/* A private tgtd for tests and benchmarks (tgtd.h). */
#define _GNU_SOURCE
#include "tgtd.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

bool tgtd_installed(void)
{
    return system("command -v tgtd >/dev/null 2>&1 && command -v tgtadm >/dev/null 2>&1") == 0;
}

bool tgtd_prepare(struct tgtd *t, const char *parent, const char *iqn)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->iqn, sizeof(t->iqn), "%s", iqn);
    snprintf(t->dir, sizeof(t->dir), "%s/rshare-iscsi-XXXXXX", parent);
    if (!mkdtemp(t->dir))
        return false;
    snprintf(t->lun_path, sizeof(t->lun_path), "%s/lun.img", t->dir);
    snprintf(t->log_path, sizeof(t->log_path), "%s/tgtd.log", t->dir);
    /* A port (and control port: the socket name) per process, away from
     * 3260 and the usual ephemeral range. */
    t->port = 20000 + (int)(getpid() % 12000);
    return true;
}

int tgtd_adm(struct tgtd *t, const char *fmt, ...)
{
    char args[512], cmd[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "tgtadm -C %d --lld iscsi %s >>%s 2>&1", t->port, args,
             t->log_path);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void tgtd_kill(struct tgtd *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGKILL); /* also when stopped, and without a last word */
        waitpid(t->pid, NULL, 0);
        /* A killed tgtd leaves its control socket behind. */
        char path[64];
        snprintf(path, sizeof(path), "/run/tgtd/socket.%d", t->port);
        unlink(path);
        snprintf(path, sizeof(path), "/run/tgtd/socket.%d.lock", t->port);
        unlink(path);
    }
    t->pid = 0;
}

bool tgtd_start(struct tgtd *t, const char *chap_user, const char *chap_password)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(t->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        char ctl[16], portal[64];
        snprintf(ctl, sizeof(ctl), "%d", t->port);
        snprintf(portal, sizeof(portal), "portal=127.0.0.1:%d", t->port);
        execlp("tgtd", "tgtd", "-f", "-C", ctl, "--iscsi", portal, (char *)NULL);
        _exit(127);
    }
    t->pid = pid;
    /* Ready once its control socket answers. */
    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            t->pid = 0;
            return false;
        }
        up = tgtd_adm(t, "--mode target --op show") == 0;
        if (!up)
            usleep(50000);
    }
    if (!up || tgtd_adm(t, "--mode target --op new --tid 1 --targetname %s", t->iqn) != 0 ||
        tgtd_adm(t, "--mode logicalunit --op new --tid 1 --lun 1 --backing-store %s",
                 t->lun_path) != 0 ||
        tgtd_adm(t, "--mode target --op bind --tid 1 --initiator-address ALL") != 0) {
        tgtd_kill(t);
        return false;
    }
    if (chap_user && (tgtd_adm(t, "--mode account --op new --user %s --password %s", chap_user,
                               chap_password) != 0 ||
                      tgtd_adm(t, "--mode account --op bind --tid 1 --user %s", chap_user) != 0)) {
        tgtd_kill(t);
        return false;
    }
    return true;
}

void tgtd_cleanup(struct tgtd *t)
{
    tgtd_kill(t);
    if (!t->dir[0])
        return;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t->dir);
    t->dir[0] = '\0';
}
