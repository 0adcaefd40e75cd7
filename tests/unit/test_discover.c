/* Unit tests: the Linux discovery helper on this machine's /sys, on a fake
 * sysfs tree built under a temporary directory (exact expectations), with a
 * short output array and odd struct sizes, with bad arguments, and with
 * random bytes written over the fake tree's attributes. */
#include "config.h"

#include "testutil.h"

#include <check.h>
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

#define DESC_SIZE sizeof(struct rshare_resource_desc)
#define DESC_MIN_SIZE (offsetof(struct rshare_resource_desc, serial) + RSHARE_RESOURCE_TEXT_MAX)
#define LIST_MAX 128

/* ---- building a fake sysfs tree ------------------------------------------- */

struct tree {
    char root[PATH_MAX];
};

/* A path into a PATH_MAX buffer; the test's paths never need truncating. */
static void format_path(char *dst, const char *fmt, ...) RSHARE_PRINTF(2, 3);
static void format_path(char *dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, PATH_MAX, fmt, ap);
    va_end(ap);
    ck_assert(n > 0 && n < PATH_MAX);
}

static void make_parents(const struct tree *t, const char *rel)
{
    char path[PATH_MAX];
    format_path(path, "%s/%s", t->root, rel);
    for (char *c = path + strlen(t->root) + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(path, 0755) < 0)
            ck_assert_int_eq(errno, EEXIST);
        *c = '/';
    }
}

static void make_dir(const struct tree *t, const char *rel)
{
    char path[PATH_MAX];
    make_parents(t, rel);
    format_path(path, "%s/%s", t->root, rel);
    if (mkdir(path, 0755) < 0)
        ck_assert_int_eq(errno, EEXIST);
}

static void put_bytes(const struct tree *t, const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];
    make_parents(t, rel);
    format_path(path, "%s/%s", t->root, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put(const struct tree *t, const char *rel, const char *text)
{
    put_bytes(t, rel, text, strlen(text));
}

/* put() with a printf-formatted relative path. */
static void putf(const struct tree *t, const char *text, const char *fmt, ...)
    RSHARE_PRINTF(3, 4);
static void putf(const struct tree *t, const char *text, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    put(t, rel, text);
}

static void put_link(const struct tree *t, const char *rel, const char *target)
{
    char path[PATH_MAX];
    make_parents(t, rel);
    format_path(path, "%s/%s", t->root, rel);
    ck_assert_int_eq(symlink(target, path), 0);
}

/* A capability bitmap as the kernel prints it: words of the reader's long,
 * most significant first, leading zero words left out. */
static void put_bitmap(const struct tree *t, const char *rel, const unsigned *bits, size_t n)
{
    enum { WORDS = 16 };
    const unsigned word_bits = sizeof(unsigned long) * CHAR_BIT;
    unsigned long words[WORDS] = {0};
    for (size_t i = 0; i < n; i++)
        words[bits[i] / word_bits] |= 1UL << (bits[i] % word_bits);
    char text[WORDS * 20 + 2] = "";
    size_t len = 0;
    for (int w = WORDS - 1; w >= 0; w--) {
        if (!len && !words[w] && w > 0)
            continue;
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%lx", len ? " " : "",
                                words[w]);
    }
    snprintf(text + len, sizeof(text) - len, "\n");
    put(t, rel, text);
}

struct block_spec {
    const char *size, *ro, *removable, *block_size, *rotational;
};

static void put_block(const struct tree *t, const char *dir, const struct block_spec *s)
{
    char rel[PATH_MAX];
    const char *names[] = {"size", "ro", "removable", "queue/logical_block_size",
                           "queue/rotational"};
    const char *values[] = {s->size, s->ro, s->removable, s->block_size, s->rotational};
    for (size_t i = 0; i < 5; i++) {
        if (!values[i])
            continue;
        format_path(rel, "%s/%s", dir, names[i]);
        put(t, rel, values[i]);
    }
    format_path(rel, "%s/holders", dir);
    make_dir(t, rel);
}

/* A class/block entry pointing at a device directory, as sysfs has them. */
static void class_block(const struct tree *t, const char *name, const char *device_dir)
{
    char rel[PATH_MAX], target[PATH_MAX];
    format_path(rel, "class/block/%s", name);
    format_path(target, "../../%s", device_dir);
    put_link(t, rel, target);
}

struct input_spec {
    int input, event;
    const char *name, *bustype, *uniq;
    const unsigned *ev, *key, *rel, *abs;
    size_t n_ev, n_key, n_rel, n_abs;
};

static void put_input(const struct tree *t, const struct input_spec *s)
{
    char dir[PATH_MAX], rel[PATH_MAX], target[PATH_MAX];
    format_path(dir, "devices/virtual/input/input%d", s->input);
    putf(t, s->name, "%s/name", dir);
    putf(t, s->bustype, "%s/id/bustype", dir);
    putf(t, s->uniq, "%s/uniq", dir);
    const char *caps[] = {"ev", "key", "rel", "abs"};
    const unsigned *bits[] = {s->ev, s->key, s->rel, s->abs};
    size_t counts[] = {s->n_ev, s->n_key, s->n_rel, s->n_abs};
    for (size_t i = 0; i < 4; i++) {
        format_path(rel, "%s/capabilities/%s", dir, caps[i]);
        put_bitmap(t, rel, bits[i], counts[i]);
    }
    format_path(rel, "%s/event%d/device", dir, s->event);
    format_path(target, "../../input%d", s->input);
    put_link(t, rel, target);
    format_path(rel, "class/input/event%d", s->event);
    format_path(target, "../../%s/event%d", dir, s->event);
    put_link(t, rel, target);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct block_spec plain_disk = {"2048\n", "0\n", "0\n", "512\n", "0\n"};

#define PCI "devices/pci0000:00"
#define NVME PCI "/0000:00:04.0/nvme/nvme0"
#define VDB PCI "/0000:00:1c.0/0000:01:00.0/virtio3/block/vdb"
#define SATA PCI "/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0"
#define HELD PCI "/0000:00:1f.2/ata4/host3/target3:0:0/3:0:0:0"
#define USB PCI "/0000:00:14.0/usb1/1-2/1-2:1.0/host5/target5:0:0/5:0:0:0"
#define SCSI PCI "/0000:00:03.0/virtio0/host0/target0:0:1/0:0:1:2"
#define VDC "devices/pci0000:40/0000:40:01.0/virtio5/block/vdc"
#define LVM_UUID "LVM-Xy3wV1d2Yc2Hw3Qe9FhK8vLqP0aZbRtE5sU7mN1oJkD4gQ6pC8iT0rY2uW4eA9bF"

static void build_block_devices(const struct tree *t)
{
    put(t, PCI "/firmware_node/uid", "0\n");

    /* NVMe namespace with a partition and a hidden multipath node. */
    put(t, NVME "/model", "Samsung SSD 970 EVO Plus 1TB            \n");
    put(t, NVME "/serial", "  S4EWNX0N123456     \n");
    put_block(t, NVME "/nvme0n1",
              &(struct block_spec){"1953525168\n", "0\n", "0\n", "512\n", "0\n"});
    put(t, NVME "/nvme0n1/nsid", "1\n");
    put(t, NVME "/nvme0n1/eui", "00 25 38 5b 71 b0 4a 2f\n");
    put(t, NVME "/nvme0n1/wwid", "eui.0025385b71b04a2f\n");
    put_link(t, NVME "/nvme0n1/device", "../../nvme0");
    put(t, NVME "/nvme0n1/nvme0n1p1/partition", "1\n");
    put(t, NVME "/nvme0n1/nvme0n1p1/size", "1048576\n");
    class_block(t, "nvme0n1", NVME "/nvme0n1");
    class_block(t, "nvme0n1p1", NVME "/nvme0n1/nvme0n1p1");
    put_block(t, NVME "/nvme0c0n1", &plain_disk);
    put(t, NVME "/nvme0c0n1/hidden", "1\n");
    class_block(t, "nvme0c0n1", NVME "/nvme0c0n1");

    /* virtio-blk behind a PCIe bridge: read-only, rotational, 4 KiB blocks. */
    put_block(t, VDB, &(struct block_spec){"8388608\n", "1\n", "0\n", "4096\n", "1\n"});
    put(t, VDB "/serial", "VB-7\n");
    put(t, PCI "/0000:00:1c.0/0000:01:00.0/virtio3/vendor", "0x1af4\n");
    put_link(t, VDB "/device", "../../../virtio3");
    class_block(t, "vdb", VDB);

    /* SATA disk on AHCI port 3 (1-based), with two partitions. */
    put(t, PCI "/0000:00:1f.2/ata3/ata_port/ata3/port_no", "3\n");
    put(t, SATA "/model", "QEMU HARDDISK   \n");
    put(t, SATA "/wwid", "naa.5000c500a1b2c3d4\n");
    put_block(t, SATA "/block/sda",
              &(struct block_spec){"2097152\n", "0\n", "0\n", "512\n", "1\n"});
    put_link(t, SATA "/block/sda/device", "../../../2:0:0:0");
    put(t, SATA "/block/sda/sda1/partition", "1\n");
    put(t, SATA "/block/sda/sda2/partition", "2\n");
    class_block(t, "sda", SATA "/block/sda");
    class_block(t, "sda1", SATA "/block/sda/sda1");
    class_block(t, "sda2", SATA "/block/sda/sda2");

    /* A disk held by device-mapper: the dm device is proposed instead. */
    put(t, PCI "/0000:00:1f.2/ata4/ata_port/ata4/port_no", "4\n");
    put_block(t, HELD "/block/sdb", &plain_disk);
    put(t, HELD "/block/sdb/holders/dm-0", "");
    class_block(t, "sdb", HELD "/block/sdb");

    /* USB stick: no UEFI path derived, removable. */
    put(t, USB "/model", "Cruzer Blade    \n");
    put_block(t, USB "/block/sdc",
              &(struct block_spec){"60063744\n", "0\n", "1\n", "512\n", "0\n"});
    put_link(t, USB "/block/sdc/device", "../../../5:0:0:0");
    class_block(t, "sdc", USB "/block/sdc");

    /* virtio-scsi target 1, LUN 2; a virtio disk on a second root bridge. */
    put_block(t, SCSI "/block/sdd", &plain_disk);
    class_block(t, "sdd", SCSI "/block/sdd");
    put(t, "devices/pci0000:40/firmware_node/uid", "1\n");
    put_block(t, VDC, &plain_disk);
    class_block(t, "vdc", VDC);

    /* device-mapper: a user-visible LV, an LVM-private layer, and a device
     * whose dm name is unusable as a path. */
    put_block(t, "devices/virtual/block/dm-0",
              &(struct block_spec){"8192\n", "0\n", "0\n", "512\n", "0\n"});
    put(t, "devices/virtual/block/dm-0/dm/name", "vg-data\n");
    put(t, "devices/virtual/block/dm-0/dm/uuid", LVM_UUID "\n");
    class_block(t, "dm-0", "devices/virtual/block/dm-0");
    put_block(t, "devices/virtual/block/dm-1", &plain_disk);
    put(t, "devices/virtual/block/dm-1/dm/name", "vg-snap-real\n");
    put(t, "devices/virtual/block/dm-1/dm/uuid", LVM_UUID "-real\n");
    class_block(t, "dm-1", "devices/virtual/block/dm-1");
    put_block(t, "devices/virtual/block/dm-2", &plain_disk);
    put(t, "devices/virtual/block/dm-2/dm/name", "../etc\n");
    put(t, "devices/virtual/block/dm-2/dm/uuid", "CRYPT-LUKS2-0123-x\n");
    class_block(t, "dm-2", "devices/virtual/block/dm-2");

    /* loop0 unbound, loop1 bound; RAM disks never proposed. */
    put_block(t, "devices/virtual/block/loop0",
              &(struct block_spec){"0\n", "0\n", "0\n", "512\n", "0\n"});
    class_block(t, "loop0", "devices/virtual/block/loop0");
    put_block(t, "devices/virtual/block/loop1", &plain_disk);
    class_block(t, "loop1", "devices/virtual/block/loop1");
    put_block(t, "devices/virtual/block/zram0",
              &(struct block_spec){"1048576\n", "0\n", "0\n", "4096\n", "0\n"});
    class_block(t, "zram0", "devices/virtual/block/zram0");
    put_block(t, "devices/virtual/block/ram0", &plain_disk);
    class_block(t, "ram0", "devices/virtual/block/ram0");

    /* Garbage. */
    put_block(t, "devices/virtual/block/sdv",
              &(struct block_spec){"-5\n", "0\n", "0\n", "512\n", "0\n"});
    class_block(t, "sdv", "devices/virtual/block/sdv");
    put_link(t, "class/block/sdw", "../../devices/nowhere/sdw");
    put_block(t, "devices/virtual/block/sdx",
              &(struct block_spec){"99999999999999999999999\n", "0\n", "0\n", "512\n", "0\n"});
    class_block(t, "sdx", "devices/virtual/block/sdx");
    put_block(t, "devices/virtual/block/sdy",
              &(struct block_spec){"banana\n", "0\n", "0\n", "512\n", "0\n"});
    class_block(t, "sdy", "devices/virtual/block/sdy");
    put_block(t, "devices/virtual/block/sdz",
              &(struct block_spec){"2048\n", "0\n", "0\n", "1000\n", "0\n"});
    class_block(t, "sdz", "devices/virtual/block/sdz");
    put(t, "class/block/notadir", "\x01\x02garbage\xff");
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    put_bytes(t, "devices/virtual/block/sdu/size", junk, sizeof(junk));
    put_bytes(t, "devices/virtual/block/sdu/queue/logical_block_size", junk, sizeof(junk));
    class_block(t, "sdu", "devices/virtual/block/sdu");
}

static const unsigned kbd_ev[] = {0, 1, 4, 17, 20}; /* SYN KEY MSC LED REP */
static const unsigned kbd_keys[] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
    23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
    45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 116, 240};
static const unsigned mouse_ev[] = {0, 1, 2, 4};
static const unsigned mouse_keys[] = {0x110, 0x111, 0x112};
static const unsigned mouse_rel[] = {0, 1, 8};
static const unsigned touch_ev[] = {0, 1, 3};
static const unsigned touch_keys[] = {0x14a};
static const unsigned touch_abs[] = {0, 1, 0x2f, 0x35, 0x36, 0x39};
static const unsigned power_ev[] = {0, 1};
static const unsigned power_keys[] = {116};
static const unsigned joy_keys[] = {0x120, 0x121, 0x122, 0x123};
static const unsigned joy_abs[] = {0, 1, 2, 5};
static const unsigned combo_ev[] = {0, 1, 2, 4, 17, 20};
static const unsigned combo_keys[] = {16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 30, 31, 32,
                                      33, 34, 35, 36, 37, 38, 44, 45, 46, 47, 48, 49, 50,
                                      0x110, 0x111};
static const unsigned none[] = {0};

static void build_input_devices(const struct tree *t)
{
    const struct input_spec inputs[] = {
        {0, 0, "AT Translated Set 2 keyboard\n", "0011\n", "\n", kbd_ev, kbd_keys, none, none,
         N(kbd_ev), N(kbd_keys), 0, 0},
        {1, 1, "Logitech USB Optical Mouse\n", "0003\n", "\n", mouse_ev, mouse_keys, mouse_rel,
         none, N(mouse_ev), N(mouse_keys), N(mouse_rel), 0},
        {2, 2, "  Goodix Capacitive TouchScreen\t\n", "0018\n", "TS-42\n", touch_ev, touch_keys,
         none, touch_abs, N(touch_ev), N(touch_keys), 0, N(touch_abs)},
        {3, 3, "Power Button\n", "0019\n", "\n", power_ev, power_keys, none, none, N(power_ev),
         N(power_keys), 0, 0},
        {4, 4, "Joystick\n", "0003\n", "\n", touch_ev, joy_keys, none, joy_abs, N(touch_ev),
         N(joy_keys), 0, N(joy_abs)},
        {5, 10, "Garbage\n", "zz\n", "\n", none, none, none, none, 0, 0, 0, 0},
        {6, 11, "Keyboard\x01 with \xc3\xa9 touchpad\n", "0005\n", "aa:bb:cc\n", combo_ev,
         combo_keys, mouse_rel, none, N(combo_ev), N(combo_keys), N(mouse_rel), 0},
    };
    for (size_t i = 0; i < N(inputs); i++)
        put_input(t, &inputs[i]);
    put(t, "devices/virtual/input/input5/capabilities/ev", "zz top\n");
    put(t, "devices/virtual/input/input5/capabilities/key", "1 2 3 4 5 6 7 8 9 0 a b c d e f\n");
    put_link(t, "class/input/mouse0", "../../devices/virtual/input/input1/mouse0");
    make_dir(t, "class/input/event");
    make_dir(t, "class/input/input0");
}

static void build_tree(struct tree *t)
{
    format_path(t->root, "%s/rshare-discover-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(t->root));
    build_block_devices(t);
    build_input_devices(t);
}

static void remove_at(int parent, const char *name)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        ck_assert_ptr_nonnull(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                remove_at(dirfd(d), e->d_name);
        closedir(d);
        ck_assert_int_eq(unlinkat(parent, name, AT_REMOVEDIR), 0);
    } else {
        ck_assert_int_eq(unlinkat(parent, name, 0), 0);
    }
}

static void remove_tree(struct tree *t)
{
    remove_at(AT_FDCWD, t->root);
}

/* ---- checks ------------------------------------------------------------------ */

static bool text_ok(const char *s, size_t cap)
{
    size_t len = strnlen(s, cap);
    if (len == cap)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* What every proposed descriptor must satisfy, whatever sysfs said. */
static void check_sane(const struct rshare_resource_desc *d)
{
    ck_assert_uint_eq(d->struct_size, DESC_SIZE);
    ck_assert(d->kind >= RSHARE_RESOURCE_BLOCK && d->kind <= RSHARE_RESOURCE_POINTER);
    ck_assert_uint_eq(d->id, 0);
    ck_assert_uint_eq(d->host, 0);
    ck_assert(text_ok(d->path, sizeof(d->path)) && d->path[0]);
    ck_assert(text_ok(d->model, sizeof(d->model)));
    ck_assert(text_ok(d->serial, sizeof(d->serial)));
    ck_assert(d->rights & RSHARE_RIGHT_READ);
    ck_assert_uint_eq(d->rights & ~(RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE), 0);
    ck_assert_uint_eq(
        d->flags & ~(RSHARE_RESOURCE_FLAG_REMOVABLE | RSHARE_RESOURCE_FLAG_ROTATIONAL), 0);
    ck_assert_uint_eq(d->width | d->height | d->pixel_format, 0);
    if (d->kind == RSHARE_RESOURCE_BLOCK) {
        ck_assert_uint_ge(d->block_size, 512);
        ck_assert_uint_le(d->block_size, 65536);
        ck_assert_uint_eq(d->block_size & (d->block_size - 1), 0);
        ck_assert_uint_gt(d->block_count, 0);
    } else {
        ck_assert_uint_eq(d->block_size, 0);
        ck_assert_uint_eq(d->block_count, 0);
        ck_assert_uint_eq(d->rights, RSHARE_RIGHT_READ);
    }
}

struct expect {
    uint32_t kind;
    const char *path;
    uint32_t block_size;
    uint64_t block_count;
    uint32_t rights, flags;
    const char *model, *serial;
};

#define RW (RSHARE_RIGHT_READ | RSHARE_RIGHT_WRITE)
#define RO RSHARE_RIGHT_READ
#define ROT RSHARE_RESOURCE_FLAG_ROTATIONAL
#define REM RSHARE_RESOURCE_FLAG_REMOVABLE

static const struct expect fake_expect[] = {
    {RSHARE_RESOURCE_BLOCK, "/dev/mapper/vg-data", 512, 8192, RW, 0, "", ""},
    {RSHARE_RESOURCE_BLOCK, "/dev/dm-2", 512, 2048, RW, 0, "", ""},
    {RSHARE_RESOURCE_BLOCK, "/dev/loop1", 512, 2048, RW, 0, "", ""},
    {RSHARE_RESOURCE_BLOCK, "PciRoot(0x0)/Pci(0x4,0x0)/NVMe(0x1,2F-4A-B0-71-5B-38-25-00)", 512,
     1953525168, RW, 0, "Samsung SSD 970 EVO Plus 1TB", "S4EWNX0N123456"},
    {RSHARE_RESOURCE_BLOCK, "PciRoot(0x0)/Pci(0x1F,0x2)/Sata(0x2,0xFFFF,0x0)", 512, 2097152, RW,
     ROT, "QEMU HARDDISK", "naa.5000c500a1b2c3d4"},
    {RSHARE_RESOURCE_BLOCK, "/dev/sdc", 512, 60063744, RW, REM, "Cruzer Blade", ""},
    {RSHARE_RESOURCE_BLOCK, "PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x2)", 512, 2048, RW, 0, "", ""},
    {RSHARE_RESOURCE_BLOCK, "PciRoot(0x0)/Pci(0x1C,0x0)/Pci(0x0,0x0)", 4096, 1048576, RO, ROT,
     "", "VB-7"},
    {RSHARE_RESOURCE_BLOCK, "PciRoot(0x1)/Pci(0x1,0x0)", 512, 2048, RW, 0, "", ""},
    {RSHARE_RESOURCE_KEYBOARD, "/dev/input/event0", 0, 0, RO, 0, "AT Translated Set 2 keyboard",
     ""},
    {RSHARE_RESOURCE_POINTER, "/dev/input/event1", 0, 0, RO, REM, "Logitech USB Optical Mouse",
     ""},
    {RSHARE_RESOURCE_POINTER, "/dev/input/event2", 0, 0, RO, 0, "Goodix Capacitive TouchScreen",
     "TS-42"},
    {RSHARE_RESOURCE_KEYBOARD, "/dev/input/event11", 0, 0, RO, REM,
     "Keyboard? with ?? touchpad", "aa:bb:cc"},
};
#define FAKE_COUNT N(fake_expect)

static void check_expected(const struct rshare_resource_desc *d, const struct expect *e)
{
    check_sane(d);
    ck_assert_str_eq(d->path, e->path);
    ck_assert_uint_eq(d->kind, e->kind);
    ck_assert_uint_eq(d->block_size, e->block_size);
    ck_assert_uint_eq(d->block_count, e->block_count);
    ck_assert_uint_eq(d->rights, e->rights);
    ck_assert_uint_eq(d->flags, e->flags);
    ck_assert_str_eq(d->model, e->model);
    ck_assert_str_eq(d->serial, e->serial);
}

/* Open descriptors of this process: discovery must leave none behind. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* ---- this machine ------------------------------------------------------------- */

static bool read_sys(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return true;
}

START_TEST(test_real_sysfs)
{
    static struct rshare_resource_desc found[LIST_MAX];
    size_t count = 0;
    ck_assert_int_eq(rshare_discover_linux("/sys", found, LIST_MAX, DESC_SIZE, &count), 0);
    size_t n = count < LIST_MAX ? count : LIST_MAX;
    size_t blocks = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rshare_resource_desc *d = &found[i];
        check_sane(d);
        if (d->kind == RSHARE_RESOURCE_BLOCK)
            blocks++;
        printf("discovered: kind %u path '%s' block %u x %llu rights %#x flags %#x model '%s' "
               "serial '%s'\n",
               d->kind, d->path, d->block_size, (unsigned long long)d->block_count, d->rights,
               d->flags, d->model, d->serial);
        /* Nothing size 0, no RAM disks. */
        ck_assert(strncmp(d->path, "/dev/zram", 9) != 0 && strncmp(d->path, "/dev/ram", 8) != 0);
    }
    ck_assert_uint_ge(blocks, 1);

    /* The VM's disk, cross-checked against sysfs read independently. */
    char size_text[64], serial[128] = "", link[PATH_MAX];
    if (!read_sys("/sys/class/block/vda/size", size_text, sizeof(size_text)))
        return;
    unsigned long long bytes = strtoull(size_text, NULL, 10) * 512ull;
    bool have_serial = read_sys("/sys/class/block/vda/serial", serial, sizeof(serial));
    const struct rshare_resource_desc *vda = NULL;
    for (size_t i = 0; i < n && !vda; i++)
        if (found[i].kind == RSHARE_RESOURCE_BLOCK &&
            found[i].block_count * found[i].block_size == bytes &&
            (!have_serial || !strcmp(found[i].serial, serial)))
            vda = &found[i];
    ck_assert_msg(vda != NULL, "no descriptor for vda (%llu bytes)", bytes);
    char lbs[32];
    ck_assert(read_sys("/sys/class/block/vda/queue/logical_block_size", lbs, sizeof(lbs)));
    ck_assert_uint_eq(vda->block_size, strtoul(lbs, NULL, 10));

    /* A virtio-blk disk right under the first root bridge is PciRoot(0x0)/Pci(d,f). */
    ssize_t len = readlink("/sys/class/block/vda", link, sizeof(link) - 1);
    ck_assert_int_gt(len, 0);
    link[len] = '\0';
    unsigned dev, fn, virtio;
    char tail[16];
    if (sscanf(link, "../../devices/pci0000:00/0000:00:%2x.%1x/virtio%u/block/%15s", &dev, &fn,
               &virtio, tail) == 4 &&
        !strcmp(tail, "vda")) {
        char want[64];
        snprintf(want, sizeof(want), "PciRoot(0x0)/Pci(0x%X,0x%X)", dev, fn);
        ck_assert_str_eq(vda->path, want);
    } else {
        ck_assert(!strcmp(vda->path, "/dev/vda") || !strncmp(vda->path, "PciRoot(", 8));
    }
}
END_TEST

/* ---- the fake tree ------------------------------------------------------------ */

START_TEST(test_fake_sysfs)
{
    struct tree t;
    build_tree(&t);
    struct rshare_resource_desc found[LIST_MAX];
    size_t count = 99;
    int fds = open_fds();
    ck_assert_int_eq(rshare_discover_linux(t.root, found, LIST_MAX, DESC_SIZE, &count), 0);
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_uint_eq(count, FAKE_COUNT);
    for (size_t i = 0; i < FAKE_COUNT; i++)
        check_expected(&found[i], &fake_expect[i]);

    /* The same through the older /sys/block layout, one level higher. */
    char old[PATH_MAX];
    format_path(old, "%s/class/block", t.root);
    remove_at(AT_FDCWD, old);
    put_link(&t, "block/vdb", "../" VDB);
    put_link(&t, "block/sda", "../" SATA "/block/sda");
    put_link(&t, "block/sda1", "../" SATA "/block/sda/sda1");
    ck_assert_int_eq(rshare_discover_linux(t.root, found, LIST_MAX, DESC_SIZE, &count), 0);
    ck_assert_uint_eq(count, 2 + 4);
    check_expected(&found[0], &fake_expect[4]); /* sda */
    check_expected(&found[1], &fake_expect[7]); /* vdb */
    check_expected(&found[2], &fake_expect[9]); /* event0 */

    /* A root with neither class: nothing, and no error. */
    char empty[PATH_MAX];
    format_path(empty, "%s/devices", t.root);
    ck_assert_int_eq(rshare_discover_linux(empty, found, LIST_MAX, DESC_SIZE, &count), 0);
    ck_assert_uint_eq(count, 0);
    remove_tree(&t);
}
END_TEST

START_TEST(test_short_array)
{
    struct tree t;
    build_tree(&t);
    size_t count = 0;

    /* Counting only. */
    ck_assert_int_eq(rshare_discover_linux(t.root, NULL, 0, DESC_SIZE, &count), 0);
    ck_assert_uint_eq(count, FAKE_COUNT);

    /* max below the count: the first max are filled, nothing past them. */
    struct rshare_resource_desc few[4];
    memset(few, 0xa5, sizeof(few));
    ck_assert_int_eq(rshare_discover_linux(t.root, few, 3, DESC_SIZE, &count), 0);
    ck_assert_uint_eq(count, FAKE_COUNT);
    for (size_t i = 0; i < 3; i++)
        check_expected(&few[i], &fake_expect[i]);
    const unsigned char *tail = (const unsigned char *)&few[3];
    for (size_t i = 0; i < sizeof(few[3]); i++)
        ck_assert_uint_eq(tail[i], 0xa5);

    /* A caller from the future (bigger struct): strided, extra bytes left
     * alone.  A caller whose struct just reaches `serial`: strided too. */
    const size_t sizes[] = {DESC_SIZE + 24, DESC_MIN_SIZE};
    for (size_t s = 0; s < N(sizes); s++) {
        size_t stride = sizes[s];
        unsigned char *buf = malloc(stride * (FAKE_COUNT + 1));
        ck_assert_ptr_nonnull(buf);
        memset(buf, 0x5a, stride * (FAKE_COUNT + 1));
        ck_assert_int_eq(rshare_discover_linux(t.root, (struct rshare_resource_desc *)buf,
                                               FAKE_COUNT, stride, &count),
                         0);
        ck_assert_uint_eq(count, FAKE_COUNT);
        size_t copied = stride < DESC_SIZE ? stride : DESC_SIZE;
        for (size_t i = 0; i < FAKE_COUNT; i++) {
            struct rshare_resource_desc d;
            memset(&d, 0, sizeof(d));
            memcpy(&d, buf + i * stride, copied);
            ck_assert_uint_eq(d.struct_size, copied);
            d.struct_size = DESC_SIZE;
            check_expected(&d, &fake_expect[i]);
            for (size_t b = copied; b < stride; b++)
                ck_assert_uint_eq(buf[i * stride + b], 0x5a);
        }
        for (size_t b = 0; b < stride; b++)
            ck_assert_uint_eq(buf[FAKE_COUNT * stride + b], 0x5a);
        free(buf);
    }
    remove_tree(&t);
}
END_TEST

START_TEST(test_bad_arguments)
{
    struct rshare_resource_desc d[2];
    size_t count = 77;
    ck_assert_int_eq(rshare_discover_linux("/sys", d, 2, DESC_SIZE, NULL), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_discover_linux(NULL, d, 2, DESC_SIZE, &count), RSHARE_EINVAL);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(rshare_discover_linux("", d, 2, DESC_SIZE, &count), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_discover_linux("/sys", NULL, 2, DESC_SIZE, &count), RSHARE_EINVAL);
    ck_assert_int_eq(rshare_discover_linux("/sys", d, 2, 0, &count), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_discover_linux("/sys", d, 2, 8, &count), RSHARE_EVERSION);
    ck_assert_int_eq(rshare_discover_linux("/sys", d, 2, DESC_MIN_SIZE - 1, &count),
                     RSHARE_EVERSION);
    ck_assert_int_eq(rshare_discover_linux("/sys", d, SIZE_MAX / 2, DESC_SIZE, &count),
                     RSHARE_EINVAL);
    ck_assert_int_eq(rshare_discover_linux("/nonexistent/rshare-sysfs", d, 2, DESC_SIZE, &count),
                     RSHARE_ENOENT);
    ck_assert_int_eq(rshare_discover_linux("/etc/hostname", d, 2, DESC_SIZE, &count),
                     RSHARE_ENOENT);
    ck_assert_uint_eq(count, 0);
}
END_TEST

/* ---- random bytes ------------------------------------------------------------- */

struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    r->state ^= r->state << 13;
    r->state ^= r->state >> 7;
    r->state ^= r->state << 17;
    return r->state;
}

struct file_list {
    char paths[512][PATH_MAX / 8];
    size_t count;
};

/* Every regular file and symlink of the tree, relative to its root. */
static void collect(const char *root, const char *rel, struct file_list *list)
{
    char path[PATH_MAX];
    format_path(path, "%s/%s", root, rel);
    DIR *d = opendir(path);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char child[PATH_MAX / 8];
        int n = snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        ck_assert(n > 0 && (size_t)n < sizeof(child));
        struct stat st;
        format_path(path, "%s/%s", root, child);
        ck_assert_int_eq(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            collect(root, child, list);
        } else if (list->count < N(list->paths)) {
            strcpy(list->paths[list->count++], child);
        }
    }
    closedir(d);
}

static void scramble(const struct tree *t, const char *rel, struct rng *r)
{
    char path[PATH_MAX];
    format_path(path, "%s/%s", t->root, rel);
    unlink(path);
    rmdir(path);
    static char data[3 * 4096];
    size_t len = rng_next(r) % 300;
    switch (rng_next(r) % 8) {
    case 0: /* raw bytes */
        for (size_t i = 0; i < len; i++)
            data[i] = (char)rng_next(r);
        break;
    case 1: /* hex words and spaces, kernel-bitmap-like */
        for (size_t i = 0; i < len; i++)
            data[i] = "0123456789abcdef  \n"[rng_next(r) % 19];
        break;
    case 2: /* a long number, past any read bound */
        len = sizeof(data);
        for (size_t i = 0; i < len; i++)
            data[i] = (char)('0' + rng_next(r) % 10);
        break;
    case 3: /* a plausible number */
        len = (size_t)snprintf(data, sizeof(data), "%llu\n",
                               (unsigned long long)(rng_next(r) >> (rng_next(r) % 64)));
        break;
    case 4: /* a symlink to a random place, maybe out of the tree */
        for (size_t i = 0; i < len; i++)
            data[i] = "./.:0123abcdefpci-nvmeatahost/"[rng_next(r) % 30];
        data[len] = '\0';
        if (len == 0 || symlink(data, path) < 0)
            put(t, rel, "");
        return;
    case 5: /* a FIFO: opening it for reading would block a careless reader */
        ck_assert_int_eq(mkfifo(path, 0644), 0);
        return;
    case 6: /* a directory where a file was */
        ck_assert_int_eq(mkdir(path, 0755), 0);
        return;
    default: /* empty */
        len = 0;
        break;
    }
    put_bytes(t, rel, data, len);
}

/* Ten fresh trees, each worn down by a hundred rounds of random edits, so
 * that both lightly and heavily damaged trees are read. */
START_TEST(test_random_bytes)
{
    static struct file_list files;
    static struct rshare_resource_desc found[LIST_MAX];
    struct rng r = {.state = 0x9e3779b97f4a7c15ull};
    size_t proposed = 0;
    int fds = open_fds();
    for (int epoch = 0; epoch < 10; epoch++) {
        struct tree t;
        build_tree(&t);
        files.count = 0;
        collect(t.root, "", &files);
        ck_assert_uint_gt(files.count, 100);
        for (int round = 0; round < 100; round++) {
            size_t changes = 1 + rng_next(&r) % 4;
            for (size_t c = 0; c < changes; c++)
                scramble(&t, files.paths[rng_next(&r) % files.count], &r);
            size_t count = 0;
            size_t max = rng_next(&r) % 4 ? LIST_MAX : rng_next(&r) % 4;
            int rc = rshare_discover_linux(t.root, found, max, DESC_SIZE, &count);
            ck_assert_msg(rc == 0, "epoch %d round %d: %s", epoch, round, rshare_strerror(rc));
            ck_assert_uint_le(count, files.count);
            for (size_t i = 0; i < count && i < max; i++)
                check_sane(&found[i]);
            proposed += count;
        }
        remove_tree(&t);
    }
    ck_assert_int_eq(open_fds(), fds);
    ck_assert_uint_gt(proposed, 1000); /* the damage did not just empty the trees */
}
END_TEST

static Suite *discover_suite(void)
{
    Suite *s = suite_create("discover");
    TCase *tc = tcase_create("discover");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_real_sysfs);
    tcase_add_test(tc, test_fake_sysfs);
    tcase_add_test(tc, test_short_array);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_random_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    Suite *s = discover_suite();
    return rs_test_run(s);
}
