/* two_hosts — the smallest complete rshare program: host 1 shares a disk
 * and routes its keyboard to host 2; host 2 writes and reads the disk and
 * receives the keys.  Both processes on loopback by default:
 *
 *   two_hosts                                  # forks host 1, runs host 2
 *   two_hosts 1 10.0.0.1:7219 10.0.0.2:7219    # host 1 here, host 2 there
 *   two_hosts 2 10.0.0.2:7219 10.0.0.1:7219    # and the other one
 */
#include <rshare/rshare.h>

#include <linux/input-event-codes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int keys_seen;

static void on_keys(void *user, uint32_t host, const struct rshare_kvm_event *ev, size_t n)
{
    (void)user;
    for (size_t i = 0; i < n; i++)
        if (ev[i].type == EV_KEY && ev[i].value == 1) {
            printf("host 2: key %u pressed on host %u\n", ev[i].code, host);
            keys_seen++;
        }
}

static void fail(rshare_node *node, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, node ? rshare_node_errmsg(node) : "");
    exit(1);
}

static int run(uint32_t id, const char *listen, const char *peer)
{
    struct rshare_node_config cfg;
    rshare_node_config_init(&cfg, sizeof(cfg));
    cfg.node_id = id;
    char dir[] = "/tmp/two-hosts-XXXXXX"; /* a voter keeps its vote on disk */
    cfg.state_dir = mkdtemp(dir);
    rshare_node *node;
    if (rshare_node_create(&cfg, &node) < 0)
        fail(NULL, "node");
    struct rshare_udp_config udp;
    rshare_udp_config_init(&udp, sizeof(udp));
    udp.bind_address = listen;
    int t = rshare_node_add_udp(node, &udp);
    if (t < 0 || rshare_node_add_peer(node, 3 - id, t, peer) < 0)
        fail(node, "udp");
    static const uint32_t voters[] = {1, 2};
    struct rshare_cluster_config cc;
    rshare_cluster_config_init(&cc, sizeof(cc));
    cc.manager_eligible = 1;
    cc.initial_voters = voters;
    cc.initial_voter_count = 2;
    if (rshare_cluster_join(node, &cc) < 0)
        fail(node, "join");

    /* Keyboard: host 1 owns it, host 2 receives what host 1 types. */
    struct rshare_kvm_config kc;
    rshare_kvm_config_init(&kc, sizeof(kc));
    uint32_t target = 2;
    kc.roles = id == 1 ? RSHARE_KVM_ROLE_HOST : RSHARE_KVM_ROLE_TARGET;
    kc.targets = &target;
    kc.target_count = 1;
    kc.host = 1;
    kc.sink = on_keys;
    rshare_kvm *kvm;
    if (rshare_kvm_create(node, &kc, &kvm) < 0)
        fail(node, "kvm");

    if (id == 1) { /* share a disk, type "hi" once host 2 is there, serve */
        rshare_block *disk;
        struct rshare_resource_desc d;
        rshare_resource_desc_init(&d, sizeof(d));
        d.kind = RSHARE_RESOURCE_BLOCK;
        snprintf(d.path, sizeof(d.path), "host1-ramdisk");
        if (rshare_block_open_memory(node, 1 << 20, 512, &disk) < 0 ||
            rshare_resource_register_block(node, &d, disk, &d.id) < 0)
            fail(node, "share");
        for (int typed = 0, i = 0; i < 600; i++) {
            rshare_node_run(node, 50);
            if (!typed && rshare_kvm_target_up(kvm, 2) > 0) {
                static const uint16_t word[] = {KEY_H, KEY_I};
                for (int k = 0; k < 2; k++)
                    for (int v = 1; v >= 0; v--) {
                        rshare_kvm_input(kvm, EV_KEY, word[k], v);
                        rshare_kvm_input(kvm, EV_SYN, SYN_REPORT, 0);
                    }
                typed = 1;
            }
        }
    } else { /* wait for host 1's disk in the map, write it, read it back */
        uint64_t id_disk = (uint64_t)1 << 32 | 1; /* host 1's first resource */
        size_t n = 0;
        while (n == 0 || rshare_cluster_manager(node) == 0) {
            rshare_node_run(node, 50);
            struct rshare_resource_desc d;
            rshare_resource_list(node, 0, &d, 1, sizeof(d), &n);
        }
        rshare_block *disk;
        char buf[512] = "hello from host 2", back[512];
        if (rshare_block_open_resource(node, id_disk, &disk) < 0 ||
            rshare_block_write_sync(disk, 0, buf, sizeof(buf)) < 0 ||
            rshare_block_read_sync(disk, 0, back, sizeof(back)) < 0)
            fail(node, "disk");
        printf("host 2: read back \"%s\" from host 1's disk\n", back);
        rshare_block_close(disk);
        for (int i = 0; keys_seen < 2 && i < 400; i++)
            rshare_node_run(node, 50);
    }
    int ok = id == 1 || keys_seen == 2;
    rshare_kvm_destroy(kvm);
    rshare_node_destroy(node);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4)
        return run((uint32_t)atoi(argv[1]), argv[2], argv[3]);
    int port = 20000 + getpid() % 20000;
    char a[32], b[32];
    snprintf(a, sizeof(a), "127.0.0.1:%d", port);
    snprintf(b, sizeof(b), "127.0.0.1:%d", port + 1);
    pid_t host1 = fork();
    if (host1 == 0)
        return run(1, a, b);
    int rc = run(2, b, a);
    kill(host1, SIGTERM);
    waitpid(host1, NULL, 0);
    printf(rc == 0 ? "two hosts: done\n" : "two hosts: FAILED\n");
    return rc;
}
