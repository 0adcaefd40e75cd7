/* Integration test: a two-node cluster and a RAID-1 volume over a real
 * serial line — two processes on the two ends of a pseudo-terminal
 * (MCTP over DSP0253 framing at 115200 baud), public API only.  They form
 * a two-node chassis (both voters), share a memory disk each, and the
 * parent defines a RAID-1 volume over both, writes it and reads it back;
 * the child then checks that its own disk holds the same bytes and tells
 * the parent through a pipe.  Children die with the parent and after a
 * deadline. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rshare/rshare.h>

#define DISK_BYTES (64u << 10)
#define DATA_BYTES (16u << 10)
#define DATA_OFFSET 4096u
#define DEADLINE_S 120

static const uint8_t key[RSHARE_CLUSTER_KEY_BYTES] = "serial cluster integration key!";

static void quiet_log(void *user_data, enum rshare_log_level level, const char *message)
{
    (void)user_data;
    (void)level;
    (void)message;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pattern(uint8_t *buf)
{
    for (size_t i = 0; i < DATA_BYTES; i++)
        buf[i] = (uint8_t)(i * 151 + 13);
}

struct side {
    rshare_node *node;
    rshare_block *disk;
    uint64_t disk_id;
};

static int make_side(struct side *s, uint32_t id, const char *device, int fd, char *state_dir)
{
    struct rshare_node_config config;
    rshare_node_config_init(&config, sizeof(config));
    config.node_id = id;
    config.slot = (uint16_t)(id - 1);
    config.cluster_key = key;
    config.state_dir = state_dir; /* voters keep their votes */
    config.request_timeout_ms = 30000;
    config.log.write = quiet_log;
    config.log.max_level = RSHARE_LOG_ERROR;
    if (rshare_node_create(&config, &s->node) < 0)
        return -1;
    struct rshare_mctp_config mctp;
    rshare_mctp_config_init(&mctp, sizeof(mctp));
    mctp.eid = (uint8_t)(8 + id);
    struct rshare_serial_config serial;
    rshare_serial_config_init(&serial, sizeof(serial));
    serial.device = device;
    serial.fd = fd;
    serial.baud = 115200;
    serial.mctp = &mctp;
    int index = rshare_node_add_serial(s->node, &serial);
    if (index < 0)
        return -1;
    char peer[16];
    snprintf(peer, sizeof(peer), "%u", 8 + (3 - id)); /* the other end's EID */
    if (rshare_node_add_peer(s->node, 3 - id, index, peer) < 0)
        return -1;
    static const uint32_t voters[] = {1, 2};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = 1;
    cc.initial_voters = voters;
    cc.initial_voter_count = 2;
    cc.hello_interval_ms = 500;
    cc.member_timeout_ms = 5000;
    cc.election_timeout_ms = 1500;
    cc.heartbeat_ms = 250;
    cc.capabilities = RSHARE_CAP_BLOCK;
    if (rshare_cluster_join(s->node, &cc) < 0)
        return -1;
    if (rshare_block_open_memory(s->node, DISK_BYTES, 512, &s->disk) < 0)
        return -1;
    struct rshare_resource_desc d;
    rshare_resource_desc_init(&d, sizeof(d));
    d.kind = RSHARE_RESOURCE_BLOCK;
    snprintf(d.path, sizeof(d.path), "bmc%u-disk", id);
    return rshare_resource_register_block(s->node, &d, s->disk, &s->disk_id);
}

/* The child: serve until the parent says "check", then compare its own
 * disk with the pattern and answer '1' (same) or '0'. */
static void child(int fd, int ctl_fd, int report_fd, char *state_dir) __attribute__((noreturn));
static void child(int fd, int ctl_fd, int report_fd, char *state_dir)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(DEADLINE_S);
    struct side s;
    if (make_side(&s, 2, NULL, fd, state_dir) < 0)
        _exit(2);
    fcntl(ctl_fd, F_SETFL, O_NONBLOCK);
    for (;;) {
        rshare_node_run(s.node, 20);
        char c;
        if (read(ctl_fd, &c, 1) == 1) {
            uint8_t want[DATA_BYTES], got[DATA_BYTES];
            pattern(want);
            char same = rshare_block_read_sync(s.disk, DATA_OFFSET, got, sizeof(got)) == 0 &&
                                memcmp(got, want, sizeof(got)) == 0
                            ? '1'
                            : '0';
            if (write(report_fd, &same, 1) != 1)
                _exit(3);
            rshare_node_destroy(s.node);
            _exit(0);
        }
    }
}

static bool run_until(rshare_node *node, bool (*cond)(rshare_node *, void *), void *ud)
{
    uint64_t end = now_ms() + (DEADLINE_S - 10) * 1000u;
    while (!cond(node, ud)) {
        if (now_ms() > end)
            return false;
        rshare_node_run(node, 20);
    }
    return true;
}

static bool two_disks(rshare_node *node, void *ud)
{
    (void)ud;
    size_t n = 0;
    rshare_resource_list(node, 0, NULL, 0, sizeof(struct rshare_resource_desc), &n);
    return n == 2 && rshare_cluster_manager(node) != 0;
}

struct done {
    bool done;
    int status;
};

static void changed(rshare_node *node, int status, void *ud)
{
    (void)node;
    struct done *d = ud;
    d->done = true;
    d->status = status;
}

static bool is_done(rshare_node *node, void *ud)
{
    (void)node;
    return ((struct done *)ud)->done;
}

START_TEST(test_raid1_over_a_pty)
{
    int master, slave;
    char name[64];
    ck_assert_int_eq(openpty(&master, &slave, name, NULL, NULL), 0);
    close(slave);
    char dir1[] = "/tmp/rshare-serial-cluster-1-XXXXXX", dir2[] = "/tmp/rshare-serial-cluster-2-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir1));
    ck_assert_ptr_nonnull(mkdtemp(dir2));
    int ctl[2], report[2];
    ck_assert_int_eq(pipe(ctl), 0);
    ck_assert_int_eq(pipe(report), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        child(master, ctl[0], report[1], dir2);
    close(master);

    struct side s;
    ck_assert_int_eq(make_side(&s, 1, name, -1, dir1), 0);
    ck_assert_msg(run_until(s.node, two_disks, NULL), "no cluster over the serial line");

    struct rshare_volume_desc v;
    rshare_volume_desc_init(&v, sizeof(v));
    snprintf(v.name, sizeof(v.name), "serial-mirror");
    v.layout = RSHARE_LAYOUT_RAID1;
    v.member_count = 2;
    v.members[0] = s.disk_id;
    v.members[1] = ((uint64_t)2 << 32) | 1; /* the child's disk */
    struct done d = {0};
    ck_assert_int_eq(rshare_volume_define(s.node, &v, changed, &d), 0);
    ck_assert(run_until(s.node, is_done, &d));
    ck_assert_int_eq(d.status, 0);

    rshare_volume *vol;
    ck_assert_int_eq(rshare_volume_open(s.node, "serial-mirror", NULL, &vol), 0);
    static uint8_t data[DATA_BYTES], back[DATA_BYTES];
    pattern(data);
    ck_assert_int_eq(rshare_volume_write_sync(vol, DATA_OFFSET, data, sizeof(data)), 0);
    ck_assert_int_eq(rshare_volume_flush_sync(vol), 0);
    ck_assert_int_eq(rshare_volume_read_sync(vol, DATA_OFFSET, back, sizeof(back)), 0);
    ck_assert(memcmp(back, data, sizeof(data)) == 0);
    ck_assert_int_eq(rshare_block_read_sync(s.disk, DATA_OFFSET, back, sizeof(back)), 0);
    ck_assert(memcmp(back, data, sizeof(data)) == 0);
    rshare_volume_close(vol);

    /* The child's mirror, checked by the child. */
    char c = 'x';
    ck_assert_int_eq(write(ctl[1], "c", 1), 1);
    uint64_t end = now_ms() + 20000;
    fcntl(report[0], F_SETFL, O_NONBLOCK);
    while (read(report[0], &c, 1) != 1 && now_ms() < end)
        rshare_node_run(s.node, 20);
    ck_assert_int_eq(c, '1');
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    rshare_node_destroy(s.node);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s %s", dir1, dir2);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("serial_cluster");
    TCase *tc = tcase_create("serial_cluster");
    tcase_set_timeout(tc, DEADLINE_S + 30);
    tcase_add_test(tc, test_raid1_over_a_pty);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
