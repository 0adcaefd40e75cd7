/* rshare cluster — the Linux discovery helper: reads sysfs and proposes the
 * block and input devices a node could share, as resource descriptors an
 * agent picks from.  It reads, never opens a device node, never writes.
 *
 * Block devices come from <root>/class/block (or <root>/block).  Skipped:
 *   - partitions (a `partition` attribute) and hidden devices (`hidden` = 1,
 *     e.g. the per-path nodes of NVMe multipath): the whole disk is shared;
 *   - devices with an empty medium or no backing (size 0: unbound loop and
 *     nbd devices, empty card readers and optical drives, inactive md);
 *   - ram* and zram* devices: volatile memory, in practice swap or scratch;
 *   - devices held by a stacked driver (a non-empty `holders`: LVM, dm-crypt,
 *     multipath, md members), since the stacked device is the one to share;
 *   - device-mapper layers LVM keeps for itself (a dm uuid "LVM-<64 chars>"
 *     followed by a layer suffix such as -real, -cow, -pool, -tpool);
 *   - anything whose size or logical block size is unreadable or implausible.
 * The path is the UEFI device-path text when sysfs shows the whole chain
 * from a PCI root bridge to the disk: PciRoot(uid)/Pci(dev,fn)... and then
 * nothing for virtio-blk, NVMe(nsid,eui) for NVMe, Scsi(target,lun) for a
 * SCSI host on a PCI function (virtio-scsi, most RAID HBAs), and
 * Sata(port,0xFFFF,lun) for libata (no port multiplier).  Hex digits are
 * upper case and the EUI-64 bytes reversed, as EDK2 prints them.  Anything
 * else (USB, SAS expanders, virtual devices) gets /dev/<name>, or
 * /dev/mapper/<name> for device-mapper; the serial field then carries the
 * stable identifier (device/serial, serial, wwid or device/wwid).
 *
 * Input devices come from <root>/class/input/event*: a keyboard has EV_KEY
 * and every letter key; a pointer has REL_X+REL_Y or ABS_X+ABS_Y and
 * BTN_LEFT or BTN_TOUCH.  A node that is both is proposed as a keyboard.
 * The kernel prints capability bitmaps in words of the reader's `long`.
 *
 * Rights are READ|WRITE only when `ro` reads exactly 0; input is READ.
 * Every attribute read is bounded (ATTR_MAX bytes), only regular files are
 * opened, text is trimmed and reduced to printable ASCII, and entry names
 * longer than NAME_LEN - 1 are ignored.  Results come block devices first,
 * each class in natural name order (event2 before event10). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rshare/error.h"
#include "rshare/resource.h"

#define ATTR_MAX 4096       /* bytes read from one attribute */
#define NAME_LEN 64         /* longest directory entry name considered, with NUL */
#define MAX_ENTRIES 4096    /* directory entries considered per class */
#define LINK_LEN 1024       /* longest sysfs symlink target followed */
#define MAX_COMPONENTS 64   /* path components of such a target */
#define BITMAP_WORDS 16     /* capability bits kept: 1024 (KEY_MAX is 0x2ff) */
#define MIN_BLOCK_SIZE 512u
#define MAX_BLOCK_SIZE 65536u
#define SECTOR 512u

/* The descriptor fields this file fills end with `serial`: a caller's
 * struct must reach that far. */
#define DESC_MIN_SIZE \
    (offsetof(struct rshare_resource_desc, serial) + RSHARE_RESOURCE_TEXT_MAX)

/* Linux input event codes (linux/input-event-codes.h; stable ABI). */
enum {
    EV_KEY_BIT = 0x01, EV_REL_BIT = 0x02, EV_ABS_BIT = 0x03,
    REL_X_BIT = 0x00, REL_Y_BIT = 0x01, ABS_X_BIT = 0x00, ABS_Y_BIT = 0x01,
    BTN_LEFT_BIT = 0x110, BTN_TOUCH_BIT = 0x14a,
    BUS_USB_ID = 0x03, BUS_BLUETOOTH_ID = 0x05
};
/* The letter keys, by row of a PC keyboard: Q..P, A..L, Z..M. */
static const struct { unsigned first, last; } letter_rows[] = {{16, 25}, {30, 38}, {44, 50}};

struct scan {
    unsigned char *out;
    size_t max;
    size_t struct_size;
    size_t found;
};

struct name_list {
    char (*names)[NAME_LEN];
    size_t count;
};

struct bitmap {
    uint64_t words[BITMAP_WORDS];
};

struct text {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
};

static int scan_class(int root, const char *const *dirs, bool (*accept)(const char *),
                      bool (*describe)(int dir, const char *name,
                                       struct rshare_resource_desc *desc),
                      struct scan *scan);
static bool accept_block_name(const char *name);
static bool accept_event_name(const char *name);
static bool describe_block(int dir, const char *name, struct rshare_resource_desc *desc);
static bool describe_input(int dir, const char *name, struct rshare_resource_desc *desc);

RSHARE_API int rshare_discover_linux(const char *sysfs_root, struct rshare_resource_desc *out,
                                     size_t max, size_t struct_size, size_t *count)
{
    if (!count)
        return RSHARE_EINVAL;
    *count = 0;
    if (!sysfs_root || !*sysfs_root)
        return RSHARE_EINVAL;
    if (struct_size < DESC_MIN_SIZE)
        return RSHARE_EVERSION;
    if ((max && !out) || max > SIZE_MAX / struct_size)
        return RSHARE_EINVAL;

    int root = open(sysfs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return errno == ENOENT || errno == ENOTDIR ? RSHARE_ENOENT : RSHARE_ESYS;

    struct scan scan = {.out = (unsigned char *)out, .max = max, .struct_size = struct_size};
    static const char *const block_dirs[] = {"class/block", "block", NULL};
    static const char *const input_dirs[] = {"class/input", NULL};
    int rc = scan_class(root, block_dirs, accept_block_name, describe_block, &scan);
    if (rc == 0)
        rc = scan_class(root, input_dirs, accept_event_name, describe_input, &scan);
    close(root);
    if (rc < 0)
        return rc;
    *count = scan.found;
    return 0;
}

/* ---- output --------------------------------------------------------------- */

static void emit(struct scan *scan, const struct rshare_resource_desc *desc)
{
    if (scan->found < scan->max) {
        struct rshare_resource_desc copy = *desc;
        size_t n = scan->struct_size < sizeof(copy) ? scan->struct_size : sizeof(copy);
        copy.struct_size = (uint32_t)n;
        memcpy(scan->out + scan->found * scan->struct_size, &copy, n);
    }
    scan->found++;
}

/* ---- directory listing ---------------------------------------------------- */

/* Natural order: runs of digits compare by value, so event2 sorts before
 * event10 and nvme2n1 before nvme10n1; ties (leading zeros) fall back to
 * plain byte order so that the order is total. */
static int natural_compare(const void *a, const void *b)
{
    const char *x = a, *y = b;
    while (*x && *y) {
        if (*x >= '0' && *x <= '9' && *y >= '0' && *y <= '9') {
            while (*x == '0')
                x++;
            while (*y == '0')
                y++;
            size_t nx = strspn(x, "0123456789"), ny = strspn(y, "0123456789");
            if (nx != ny)
                return nx < ny ? -1 : 1;
            int c = strncmp(x, y, nx);
            if (c)
                return c;
            x += nx;
            y += nx;
            continue;
        }
        if (*x != *y)
            return (unsigned char)*x < (unsigned char)*y ? -1 : 1;
        x++;
        y++;
    }
    if (*x != *y)
        return (unsigned char)*x < (unsigned char)*y ? -1 : 1;
    return strcmp(a, b);
}

/* The accepted names in directory `dir`, sorted; the list is the caller's to
 * free.  An unreadable directory is an empty one. */
static int list_names(int dir, bool (*accept)(const char *), struct name_list *list)
{
    list->names = NULL;
    list->count = 0;
    int fd = dup(dir);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && list->count < MAX_ENTRIES) {
        if (strlen(e->d_name) >= NAME_LEN || !accept(e->d_name))
            continue;
        if (list->count == cap) {
            size_t grown = cap ? cap * 2 : 32;
            void *p = realloc(list->names, grown * sizeof(*list->names));
            if (!p) {
                rc = RSHARE_ENOMEM;
                break;
            }
            list->names = p;
            cap = grown;
        }
        strcpy(list->names[list->count++], e->d_name);
    }
    closedir(d);
    if (rc < 0) {
        free(list->names);
        list->names = NULL;
        list->count = 0;
        return rc;
    }
    if (list->count)
        qsort(list->names, list->count, sizeof(*list->names), natural_compare);
    return 0;
}

/* Describes every accepted entry of the first of `dirs` that opens. */
static int scan_class(int root, const char *const *dirs, bool (*accept)(const char *),
                      bool (*describe)(int dir, const char *name,
                                       struct rshare_resource_desc *desc),
                      struct scan *scan)
{
    int dir = -1;
    for (; *dirs && dir < 0; dirs++)
        dir = openat(root, *dirs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return 0;
    struct name_list list;
    int rc = list_names(dir, accept, &list);
    for (size_t i = 0; rc == 0 && i < list.count; i++) {
        struct rshare_resource_desc desc;
        memset(&desc, 0, sizeof(desc));
        desc.struct_size = sizeof(desc);
        if (describe(dir, list.names[i], &desc))
            emit(scan, &desc);
    }
    free(list.names);
    close(dir);
    return rc;
}

/* ---- attribute reading ---------------------------------------------------- */

/* Reads at most ATTR_MAX bytes of the regular file `rel` under `dir` into
 * buf (ATTR_MAX + 1 bytes), NUL-terminated at the first NUL read.  Returns
 * the length, or -1 when the file is missing or not a regular file. */
static int read_attr(int dir, const char *rel, char *buf)
{
    struct stat st;
    buf[0] = '\0';
    if (fstatat(dir, rel, &st, 0) < 0 || !S_ISREG(st.st_mode))
        return -1;
    int fd = openat(dir, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < ATTR_MAX) {
        ssize_t n = read(fd, buf + got, ATTR_MAX - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (int)strlen(buf);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* An unsigned number in `base` (10 or 16) at *p, at most `limit`; advances *p. */
static bool parse_number(const char **p, unsigned base, uint64_t limit, uint64_t *value)
{
    const char *s = *p;
    uint64_t v = 0;
    int d;
    while ((d = hex_digit(*s)) >= 0 && (unsigned)d < base) {
        if (v > (limit - (uint64_t)d) / base)
            return false;
        v = v * base + (uint64_t)d;
        s++;
    }
    if (s == *p)
        return false;
    *p = s;
    *value = v;
    return true;
}

/* A whole string that is one number, optionally followed by whitespace. */
static bool parse_whole(const char *s, unsigned base, uint64_t limit, uint64_t *value)
{
    if (!parse_number(&s, base, limit, value))
        return false;
    while (is_space(*s))
        s++;
    return *s == '\0';
}

static bool read_number(int dir, const char *rel, unsigned base, uint64_t *value)
{
    char buf[ATTR_MAX + 1];
    return read_attr(dir, rel, buf) >= 0 && parse_whole(buf, base, UINT64_MAX, value);
}

/* An attribute that reads exactly 1 (missing or garbage is not 1). */
static bool read_flag(int dir, const char *rel)
{
    uint64_t v;
    return read_number(dir, rel, 10, &v) && v == 1;
}

/* Trimmed, printable-ASCII text of `src` into dst[cap]; non-printable bytes
 * become '?' so that the result is always a valid UTF-8 text string. */
static void clean_text(char *dst, size_t cap, const char *src)
{
    while (is_space(*src))
        src++;
    size_t len = strlen(src);
    while (len && is_space(src[len - 1]))
        len--;
    if (len > cap - 1)
        len = cap - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    while (len && dst[len - 1] == ' ')
        len--;
    dst[len] = '\0';
}

/* The first of `rels` with non-blank text, cleaned into dst[cap]. */
static void read_text(int dir, const char *const *rels, char *dst, size_t cap)
{
    char buf[ATTR_MAX + 1];
    dst[0] = '\0';
    for (; *rels && !dst[0]; rels++)
        if (read_attr(dir, *rels, buf) > 0)
            clean_text(dst, cap, buf);
}

static void text_add(struct text *t, const char *fmt, ...) RSHARE_PRINTF(2, 3);
static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->overflow = true;
        t->buf[t->len] = '\0';
        return;
    }
    t->len += (size_t)n;
}

/* ---- block devices -------------------------------------------------------- */

static bool accept_block_name(const char *name)
{
    if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (const char *c = name; *c; c++)
        if (*c <= ' ' || *c >= 0x7f)
            return false;
    return true;
}

/* `name` is `prefix` followed by one or more digits and nothing else. */
static bool is_numbered(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || !name[n])
        return false;
    return strspn(name + n, "0123456789") == strlen(name + n);
}

static bool is_volatile_memory(const char *name)
{
    return is_numbered(name, "ram") || is_numbered(name, "zram");
}

static bool has_holders(int dev)
{
    int fd = openat(dev, "holders", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return false;
    }
    bool held = false;
    struct dirent *e;
    while (!held && (e = readdir(d)) != NULL)
        held = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return held;
}

/* LVM names its private device-mapper layers "LVM-" + VG and LV uuids (64
 * characters) + "-" + layer; the LVs a user sees have no suffix. */
static bool is_lvm_layer(int dev)
{
    char uuid[ATTR_MAX + 1];
    if (read_attr(dev, "dm/uuid", uuid) < 0 || strncmp(uuid, "LVM-", 4) != 0)
        return false;
    size_t len = strlen(uuid);
    while (len && is_space(uuid[len - 1]))
        len--;
    return len > 4 + 64 && uuid[4 + 64] == '-';
}

static bool clean_component(const char *s)
{
    if (!s[0] || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (*s <= ' ' || *s >= 0x7f || *s == '/')
            return false;
    return true;
}

/* /dev/mapper/<dm name> for device-mapper, else /dev/<kernel name> with the
 * kernel's '!' standing for '/' (cciss!c0d0 is /dev/cciss/c0d0). */
static void stable_name(int dev, const char *name, char *path)
{
    char dm[ATTR_MAX + 1];
    int len = is_numbered(name, "dm-") ? read_attr(dev, "dm/name", dm) : -1;
    while (len > 0 && is_space(dm[len - 1]))
        dm[--len] = '\0';
    static const char mapper[] = "/dev/mapper/";
    if (len > 0 && (size_t)len < RSHARE_RESOURCE_PATH_MAX - sizeof(mapper) &&
        clean_component(dm)) {
        memcpy(path, mapper, sizeof(mapper) - 1);
        memcpy(path + sizeof(mapper) - 1, dm, (size_t)len + 1);
        return;
    }
    int n = snprintf(path, RSHARE_RESOURCE_PATH_MAX, "/dev/%s", name);
    for (char *c = path + 5; n > 5 && *c; c++)
        if (*c == '!')
            *c = '/';
}

/* ---- UEFI device paths ---------------------------------------------------- */

struct link_path {
    char target[LINK_LEN];
    char copy[LINK_LEN];
    const char *comp[MAX_COMPONENTS];
    size_t end[MAX_COMPONENTS]; /* offset in target just after component i */
    size_t count;
};

static bool split_link(int dir, const char *name, struct link_path *lp)
{
    ssize_t n = readlinkat(dir, name, lp->target, sizeof(lp->target) - 1);
    if (n <= 0 || (size_t)n >= sizeof(lp->target) - 1)
        return false;
    lp->target[n] = '\0';
    if (lp->target[0] == '/') /* absolute: outside a relocated root */
        return false;
    memcpy(lp->copy, lp->target, (size_t)n + 1);
    lp->count = 0;
    char *s = lp->copy;
    while (*s) {
        if (*s == '/') {
            s++;
            continue;
        }
        if (lp->count == MAX_COMPONENTS)
            return false;
        lp->comp[lp->count] = s;
        char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        lp->end[lp->count++] = (size_t)(s - lp->copy) + len;
        s += len;
        if (*s)
            *s++ = '\0';
    }
    return true;
}

/* "pci<domain>:<bus>", the directory of a PCI host bridge. */
static bool parse_pci_root(const char *s, uint64_t *domain, uint64_t *bus)
{
    if (strncmp(s, "pci", 3) != 0)
        return false;
    const char *p = s + 3;
    if (!parse_number(&p, 16, 0xffffffffu, domain) || *p++ != ':' ||
        !parse_number(&p, 16, 0xff, bus))
        return false;
    return *p == '\0';
}

/* "<domain>:<bus>:<device>.<function>", a PCI function's directory. */
static bool parse_pci_function(const char *s, uint64_t *device, uint64_t *function)
{
    uint64_t domain, bus;
    const char *p = s;
    if (!parse_number(&p, 16, 0xffffffffu, &domain) || *p++ != ':' ||
        !parse_number(&p, 16, 0xff, &bus) || *p++ != ':' ||
        !parse_number(&p, 16, 0x1f, device) || *p++ != '.' ||
        !parse_number(&p, 16, 7, function))
        return false;
    return *p == '\0';
}

/* "<prefix><a>:<b>:<c>[:<d>]", a SCSI target or device directory. */
static bool parse_scsi_address(const char *s, const char *prefix, uint64_t *v, size_t parts)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    const char *p = s + n;
    for (size_t i = 0; i < parts; i++) {
        if (i && *p++ != ':')
            return false;
        if (!parse_number(&p, 10, UINT32_MAX, &v[i]))
            return false;
    }
    return *p == '\0';
}

/* Reads attribute `rel` under the directory of link component `i`, like
 * read_attr. */
static int read_near(int dir, const struct link_path *lp, size_t i, const char *rel, char *buf)
{
    char path[2 * LINK_LEN];
    int n = snprintf(path, sizeof(path), "%.*s/%s", (int)lp->end[i], lp->target, rel);
    buf[0] = '\0';
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    return read_attr(dir, path, buf);
}

static bool nvme_node(int dev, struct text *t)
{
    uint64_t nsid;
    if (!read_number(dev, "nsid", 10, &nsid) || nsid == 0 || nsid >= 0xffffffffu)
        return false;
    unsigned char eui[8] = {0};
    char buf[ATTR_MAX + 1];
    if (read_attr(dev, "eui", buf) >= 0) {
        size_t digits = 0;
        for (const char *c = buf; *c; c++) {
            int d = hex_digit(*c);
            if (d >= 0 && digits < 16)
                eui[digits / 2] = (unsigned char)(eui[digits / 2] << 4 | d);
            if (d >= 0)
                digits++;
            else if (!is_space(*c) && *c != '-' && *c != ':')
                return false;
        }
        if (digits != 16)
            return false;
    }
    text_add(t, "/NVMe(0x%X,%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X)", (unsigned)nsid, eui[7],
             eui[6], eui[5], eui[4], eui[3], eui[2], eui[1], eui[0]);
    return true;
}

/* The nodes after the PCI function for a disk behind a SCSI host:
 * [virtioN | ataN] hostH targetH:C:T H:C:T:L block <name>. */
static bool scsi_node(int dir, const struct link_path *lp, size_t first, struct text *t)
{
    size_t k = first, ata = first;
    bool libata = false;
    if (k < lp->count && is_numbered(lp->comp[k], "virtio")) {
        k++;
    } else if (k < lp->count && is_numbered(lp->comp[k], "ata")) {
        libata = true;
        k++;
    }
    uint64_t target[3], lun[4];
    if (lp->count - k != 5 || !is_numbered(lp->comp[k], "host") ||
        !parse_scsi_address(lp->comp[k + 1], "target", target, 3) ||
        !parse_scsi_address(lp->comp[k + 2], "", lun, 4) || strcmp(lp->comp[k + 3], "block") ||
        lun[0] != target[0] || lun[1] != target[1] || lun[2] != target[2] || lun[3] > 0xffff)
        return false;
    if (!libata) {
        if (target[2] > 0xffff)
            return false;
        text_add(t, "/Scsi(0x%X,0x%X)", (unsigned)target[2], (unsigned)lun[3]);
        return true;
    }
    /* libata numbers ports globally (ataN); the HBA's own 1-based port
     * number is in the ata_port class device.  A port multiplier shows as
     * a non-zero target; it is not described. */
    char rel[LINK_LEN], buf[ATTR_MAX + 1];
    uint64_t port;
    int n = snprintf(rel, sizeof(rel), "ata_port/%s/port_no", lp->comp[ata]);
    if (n < 0 || (size_t)n >= sizeof(rel) || target[1] != 0 || target[2] != 0 ||
        read_near(dir, lp, ata, rel, buf) < 0 || !parse_whole(buf, 10, 0x10000, &port) ||
        port == 0)
        return false;
    text_add(t, "/Sata(0x%X,0xFFFF,0x%X)", (unsigned)(port - 1), (unsigned)lun[3]);
    return true;
}

/* Writes the UEFI device-path text of a PCI-attached disk into path when
 * sysfs shows the whole chain; false leaves path unspecified. */
static bool uefi_path(int dir, const char *name, int dev, char *path)
{
    struct link_path lp;
    if (!split_link(dir, name, &lp) || lp.count < 3 || strcmp(lp.comp[lp.count - 1], name))
        return false;
    size_t i = 0;
    uint64_t domain, bus, uid;
    while (i < lp.count && !parse_pci_root(lp.comp[i], &domain, &bus))
        i++;
    if (i == lp.count)
        return false;
    /* The ACPI _UID of the host bridge; without ACPI only the first root
     * bridge has a known one. */
    char uid_text[ATTR_MAX + 1];
    if (read_near(dir, &lp, i, "firmware_node/uid", uid_text) >= 0) {
        if (!parse_whole(uid_text, 10, UINT32_MAX, &uid))
            return false;
    } else if (domain == 0 && bus == 0) {
        uid = 0;
    } else {
        return false;
    }
    struct text t = {.buf = path, .cap = RSHARE_RESOURCE_PATH_MAX};
    text_add(&t, "PciRoot(0x%X)", (unsigned)uid);
    size_t functions = 0;
    uint64_t device, function;
    for (i++; i < lp.count && parse_pci_function(lp.comp[i], &device, &function); i++) {
        text_add(&t, "/Pci(0x%X,0x%X)", (unsigned)device, (unsigned)function);
        functions++;
    }
    if (!functions)
        return false;
    size_t tail = lp.count - i;
    bool ok;
    if (tail == 3 && is_numbered(lp.comp[i], "virtio") && !strcmp(lp.comp[i + 1], "block"))
        ok = true; /* virtio-blk: the PCI function is the disk */
    else if (tail == 3 && !strcmp(lp.comp[i], "nvme") && is_numbered(lp.comp[i + 1], "nvme"))
        ok = nvme_node(dev, &t);
    else
        ok = scsi_node(dir, &lp, i, &t);
    return ok && !t.overflow;
}

static bool describe_block(int dir, const char *name, struct rshare_resource_desc *desc)
{
    if (is_volatile_memory(name))
        return false;
    int dev = openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dev < 0)
        return false;
    struct stat st;
    uint64_t sectors, block_size, ro;
    bool ok = fstatat(dev, "partition", &st, 0) < 0 && !read_flag(dev, "hidden") &&
              !has_holders(dev) && !is_lvm_layer(dev) &&
              read_number(dev, "size", 10, &sectors) && sectors > 0 &&
              sectors <= UINT64_MAX / SECTOR &&
              read_number(dev, "queue/logical_block_size", 10, &block_size) &&
              block_size >= MIN_BLOCK_SIZE && block_size <= MAX_BLOCK_SIZE &&
              (block_size & (block_size - 1)) == 0 && sectors * SECTOR / block_size > 0;
    if (ok) {
        desc->kind = RSHARE_RESOURCE_BLOCK;
        desc->block_size = (uint32_t)block_size;
        desc->block_count = sectors * SECTOR / block_size;
        /* Writable only when the kernel says so plainly. */
        desc->rights = read_number(dev, "ro", 10, &ro) && ro == 0
                           ? RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE
                           : RSHARE_RIGHT_READ;
        if (read_flag(dev, "queue/rotational"))
            desc->flags |= RSHARE_RESOURCE_FLAG_ROTATIONAL;
        if (read_flag(dev, "removable"))
            desc->flags |= RSHARE_RESOURCE_FLAG_REMOVABLE;
        static const char *const model[] = {"device/model", NULL};
        static const char *const serial[] = {"device/serial", "serial", "wwid", "device/wwid",
                                             NULL};
        read_text(dev, model, desc->model, sizeof(desc->model));
        read_text(dev, serial, desc->serial, sizeof(desc->serial));
        if (!uefi_path(dir, name, dev, desc->path)) {
            memset(desc->path, 0, sizeof(desc->path)); /* no half-built tail left */
            stable_name(dev, name, desc->path);
        }
    }
    close(dev);
    return ok;
}

/* ---- input devices -------------------------------------------------------- */

static bool accept_event_name(const char *name)
{
    return is_numbered(name, "event") && strlen(name) <= 5 + 9;
}

/* A capability bitmap as the kernel prints it: hex words of the reader's
 * `long`, most significant first, separated by single spaces.  Bits past
 * the kept range are dropped; any malformed text yields false. */
static bool read_bitmap(int dir, const char *rel, struct bitmap *map)
{
    char buf[ATTR_MAX + 1];
    memset(map, 0, sizeof(*map));
    int len = read_attr(dir, rel, buf);
    while (len > 0 && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (len <= 0)
        return false;
    const unsigned word_bits = sizeof(unsigned long) * CHAR_BIT;
    const uint64_t word_max = word_bits >= 64 ? UINT64_MAX : (UINT64_C(1) << word_bits) - 1;
    size_t words = 0;
    uint64_t v;
    for (const char *p = buf;; p++) {
        if (!parse_number(&p, 16, word_max, &v))
            return false;
        words++;
        if (*p == '\0')
            break;
        if (*p != ' ')
            return false;
    }
    const char *p = buf;
    for (size_t w = words; w-- > 0; p++) {
        parse_number(&p, 16, word_max, &v);
        for (unsigned bit = 0; v && bit < word_bits; bit++) {
            uint64_t index = (uint64_t)w * word_bits + bit;
            if (index < BITMAP_WORDS * 64u && (v >> bit & 1))
                map->words[index / 64] |= UINT64_C(1) << (index % 64);
        }
    }
    return true;
}

static bool test_bit(const struct bitmap *map, unsigned bit)
{
    return bit < BITMAP_WORDS * 64u && (map->words[bit / 64] >> (bit % 64) & 1);
}

static bool is_keyboard(const struct bitmap *ev, const struct bitmap *key)
{
    if (!test_bit(ev, EV_KEY_BIT))
        return false;
    for (size_t r = 0; r < sizeof(letter_rows) / sizeof(letter_rows[0]); r++)
        for (unsigned k = letter_rows[r].first; k <= letter_rows[r].last; k++)
            if (!test_bit(key, k))
                return false;
    return true;
}

static bool is_pointer(const struct bitmap *ev, const struct bitmap *key, const struct bitmap *rel,
                       const struct bitmap *abs)
{
    bool relative = test_bit(ev, EV_REL_BIT) && test_bit(rel, REL_X_BIT) && test_bit(rel, REL_Y_BIT);
    bool absolute = test_bit(ev, EV_ABS_BIT) && test_bit(abs, ABS_X_BIT) && test_bit(abs, ABS_Y_BIT);
    bool button = test_bit(ev, EV_KEY_BIT) &&
                  (test_bit(key, BTN_LEFT_BIT) || test_bit(key, BTN_TOUCH_BIT));
    return (relative || absolute) && button;
}

static bool describe_input(int dir, const char *name, struct rshare_resource_desc *desc)
{
    int dev = openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dev < 0)
        return false;
    struct bitmap ev, key, rel, abs;
    bool ok = read_bitmap(dev, "device/capabilities/ev", &ev);
    if (ok) {
        read_bitmap(dev, "device/capabilities/key", &key);
        read_bitmap(dev, "device/capabilities/rel", &rel);
        read_bitmap(dev, "device/capabilities/abs", &abs);
        if (is_keyboard(&ev, &key))
            desc->kind = RSHARE_RESOURCE_KEYBOARD;
        else if (is_pointer(&ev, &key, &rel, &abs))
            desc->kind = RSHARE_RESOURCE_POINTER;
        else
            ok = false;
    }
    if (ok) {
        snprintf(desc->path, sizeof(desc->path), "/dev/input/%s", name);
        desc->rights = RSHARE_RIGHT_READ;
        uint64_t bus;
        if (read_number(dev, "device/id/bustype", 16, &bus) &&
            (bus == BUS_USB_ID || bus == BUS_BLUETOOTH_ID))
            desc->flags |= RSHARE_RESOURCE_FLAG_REMOVABLE;
        static const char *const model[] = {"device/name", NULL};
        static const char *const serial[] = {"device/uniq", NULL};
        read_text(dev, model, desc->model, sizeof(desc->model));
        read_text(dev, serial, desc->serial, sizeof(desc->serial));
    }
    close(dev);
    return ok;
}
