/* rshare core — persistence of small named records.  The default store is
 * one file per key in the configured state directory, replaced atomically
 * (write to a temporary file, fsync, rename, fsync the directory) so that a
 * crash leaves either the old or the new record, never a torn one. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

#define PATH_LIMIT 4096

int rs_persist_init(rshare_node *node, const struct rshare_node_config *config)
{
    struct rs_core *core = rs_core(node);
    if (core->config.persist.load || core->config.persist.store) {
        if (!core->config.persist.load || !core->config.persist.store)
            return rs_errorf(node, RSHARE_EINVAL, "persist hook needs load and store");
        return 0;
    }
    if (!config->state_dir)
        return 0;
    size_t len = strlen(config->state_dir);
    if (len == 0 || len > PATH_LIMIT - 64)
        return rs_errorf(node, RSHARE_EINVAL, "state_dir length %zu out of range", len);
    core->state_dir = rs_malloc(node, len + 1);
    if (!core->state_dir)
        return RSHARE_ENOMEM;
    memcpy(core->state_dir, config->state_dir, len + 1);
    return 0;
}

void rs_persist_fini(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    rs_free(node, core->state_dir);
    core->state_dir = NULL;
}

bool rs_persist_available(rshare_node *node)
{
    struct rs_core *core = rs_core(node);
    return core->config.persist.load || core->state_dir;
}

static int key_path(rshare_node *node, const char *key, const char *suffix, char *path)
{
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return rs_errorf(node, RSHARE_EINVAL, "bad persistence key '%s'", key);
    int n = snprintf(path, PATH_LIMIT, "%s/%s%s", rs_core(node)->state_dir, key, suffix);
    if (n < 0 || n >= PATH_LIMIT)
        return rs_errorf(node, RSHARE_EINVAL, "persistence path too long");
    return 0;
}

int rs_persist_load(rshare_node *node, const char *key, void *buf, size_t buf_len)
{
    struct rs_core *core = rs_core(node);
    if (core->config.persist.load)
        return core->config.persist.load(core->config.persist.user_data, key, buf, buf_len);
    if (!core->state_dir)
        return rs_errorf(node, RSHARE_ENOENT, "no persistence configured");
    char path[PATH_LIMIT];
    int rc = key_path(node, key, "", path);
    if (rc < 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RSHARE_ENOENT : rs_syserr(node, "open %s", path);
    size_t got = 0;
    while (got < buf_len) {
        ssize_t n = read(fd, (char *)buf + got, buf_len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = rs_syserr(node, "read %s", path);
            close(fd);
            return rc;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    char extra;
    ssize_t more = read(fd, &extra, 1);
    close(fd);
    if (more > 0)
        return rs_errorf(node, RSHARE_EMSGSIZE, "record %s larger than %zu bytes", path, buf_len);
    return (int)got;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rs_persist_store(rshare_node *node, const char *key, const void *buf, size_t len)
{
    struct rs_core *core = rs_core(node);
    if (core->config.persist.store)
        return core->config.persist.store(core->config.persist.user_data, key, buf, len);
    if (!core->state_dir)
        return rs_errorf(node, RSHARE_ENOENT, "no persistence configured");
    char path[PATH_LIMIT], tmp[PATH_LIMIT];
    int rc = key_path(node, key, "", path);
    if (rc == 0)
        rc = key_path(node, key, ".tmp", tmp);
    if (rc < 0)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return rs_syserr(node, "create %s", tmp);
    if (write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
        rc = rs_syserr(node, "write %s", tmp);
        close(fd);
        unlink(tmp);
        return rc;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        rc = rs_syserr(node, "rename %s", tmp);
        unlink(tmp);
        return rc;
    }
    int dir = open(core->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        fsync(dir);
        close(dir);
    }
    return 0;
}
