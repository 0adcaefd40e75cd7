/* rshare kvm — the public KVM handle (include/rshare/kvm.h): the router of
 * router.c on the host, injection on the target, and between them the
 * messages of wire.h, sent urgent so that input never waits behind bulk
 * data.
 *
 * Delivery (doc/KVM.md, "Delivery"): input frames are one-way
 * notifications numbered per target; a target applies a frame only if its
 * number is above the last one applied, so frames are applied in order and
 * a late or duplicated one is dropped.  Nothing is retransmitted: instead
 * the host follows every burst of frames with key-state SYNCs (the set of
 * keys that target should hold) every sync_ms, for a while after the last
 * frame and for as long as the target holds anything, and the target
 * releases what it holds beyond that set.  A lost release is thus repaired
 * within one sync interval, and a target that hears nothing from its host
 * for release_timeout_ms while holding keys releases them all by itself. */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "rshare/kvm.h"
#include "cluster/cluster.h"
#include "console.h"
#include "msg/body.h"
#include "msg/msg.h"

#include "linux.h"
#include "router.h"
#include "wire.h"

#define DEFAULT_SYNC_MS 20
#define DEFAULT_TARGET_TIMEOUT_MS 1000
#define DEFAULT_REPORT_MS 200
#define DEFAULT_RELEASE_TIMEOUT_MS 500
#define DEFAULT_WINDOW_MS 500
/* Syncs continue for this many intervals after a target's last frame. */
#define SYNC_TAIL 4

_Static_assert(sizeof(struct rshare_kvm_event) == sizeof(struct rs_kvm_event) &&
                   RSHARE_KVM_MAX_TARGETS == RS_KVM_MAX_TARGETS &&
                   RSHARE_KVM_MAX_HOTKEYS == RS_KVM_HOTKEY_MAX_CHORDS &&
                   RSHARE_KVM_LED_NUM == RS_KVM_LED_NUM && RSHARE_KVM_LED_CAPS == RS_KVM_LED_CAPS &&
                   RSHARE_KVM_LED_SCROLL == RS_KVM_LED_SCROLL,
               "public and internal KVM definitions agree");

/* What the host knows of one target. */
struct host_target {
    uint32_t node;
    uint64_t session;        /* of its reports; 0 until the first */
    uint64_t seq;            /* last INPUT sent to it */
    uint64_t last_report_us;
    uint64_t sync_until_us;  /* keep syncing until then */
    uint64_t next_sync_us;   /* 0: none scheduled */
};

struct rshare_kvm {
    rshare_node *node;
    uint32_t roles;
    uint64_t session; /* random, per handle: a new one tells peers we restarted */
    struct rs_member_observer observer;
    struct rshare_kvm_stats stats;

    /* host */
    struct rs_kvm_router router;
    struct host_target targets[RS_KVM_MAX_TARGETS];
    uint32_t target_count;
    uint64_t sync_us, target_timeout_us;
    rshare_kvm_focus_fn on_focus;
    void *focus_data;
    uint32_t shown_focus; /* as last told to on_focus */
    uint32_t leased_focus; /* the target the console leases follow (index) */
    struct rs_kvm_console console;
    bool shown_locked;
    struct rs_timer host_timer;

    /* target */
    uint64_t console_res;  /* 0, or the resource whose lease holder is the host */
    uint32_t host;         /* with console_res: the holder last seen, 0 for none */
    uint64_t report_us, release_timeout_us;
    rshare_kvm_sink_fn sink;
    void *sink_data;
    uint64_t host_session; /* of the host's messages, 0 before the first */
    uint64_t last_seq;     /* last frame applied */
    uint64_t last_heard_us;
    uint64_t next_report_us;
    struct rs_kvm_keyset held; /* injected as pressed, not yet released */
    uint32_t leds;
    struct rs_timer target_timer;

    struct rshare_kvm_event scratch[RS_KVM_KEY_COUNT + 1];
};

static void host_timer_fire(rshare_node *node, struct rs_timer *timer);
static void target_timer_fire(rshare_node *node, struct rs_timer *timer);
static void on_member(rshare_node *node, uint32_t id, bool up, void *user_data);
static void on_input(rshare_node *node, rshare_request *req, void *user_data);
static void on_sync(rshare_node *node, rshare_request *req, void *user_data);
static void on_report(rshare_node *node, rshare_request *req, void *user_data);
static void host_send(void *user_data, uint32_t target, const struct rs_kvm_event *events,
                      size_t count);
static void host_after(struct rshare_kvm *kvm);
static void console_changed(void *user_data);
static void target_rearm(struct rshare_kvm *kvm);
static void target_release(struct rshare_kvm *kvm, const struct rs_kvm_keyset *keep);
static void follow_holder(struct rshare_kvm *kvm);
static void send_report(struct rshare_kvm *kvm);

RSHARE_API void rshare_kvm_config_init(struct rshare_kvm_config *config, size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
}

static bool handler_taken(rshare_node *node, uint16_t type)
{
    const struct rs_msg *msg = rs_msg(node);
    for (size_t i = 0; i < msg->handler_count; i++)
        if (msg->handlers[i].type == type)
            return true;
    return false;
}

static int target_index(const struct rshare_kvm *kvm, uint32_t node_id)
{
    for (uint32_t i = 0; i < kvm->target_count; i++)
        if (kvm->targets[i].node == node_id)
            return (int)i;
    return -1;
}

static uint64_t ms_or(uint32_t ms, uint32_t fallback)
{
    return (uint64_t)(ms ? ms : fallback) * 1000u;
}

static int host_init(struct rshare_kvm *kvm, const struct rshare_kvm_config *cfg)
{
    rshare_node *node = kvm->node;
    if (!cfg->targets || cfg->target_count < 1 || cfg->target_count > RS_KVM_MAX_TARGETS)
        return rs_errorf(node, RSHARE_EINVAL, "a KVM host needs 1..%u targets",
                         RS_KVM_MAX_TARGETS);
    if (cfg->hotkey_count > RS_KVM_HOTKEY_MAX_CHORDS || (cfg->hotkey_count && !cfg->hotkeys))
        return rs_errorf(node, RSHARE_EINVAL, "at most %u hotkeys", RS_KVM_HOTKEY_MAX_CHORDS);
    uint32_t self = rshare_node_id(node);
    for (uint32_t i = 0; i < cfg->target_count; i++) {
        uint32_t id = cfg->targets[i];
        if (id == RSHARE_NODE_ID_NONE || id == RSHARE_NODE_ID_BROADCAST || id == self ||
            target_index(kvm, id) >= 0)
            return rs_errorf(node, RSHARE_EINVAL, "KVM target %u: not a distinct other node", id);
        kvm->targets[i].node = id;
        kvm->target_count = i + 1;
    }
    struct rs_kvm_chord chords[RS_KVM_HOTKEY_MAX_CHORDS];
    for (uint32_t i = 0; i < cfg->hotkey_count; i++) {
        const struct rshare_kvm_hotkey *h = &cfg->hotkeys[i];
        int t = h->action == RSHARE_KVM_ACTION_JUMP ? target_index(kvm, h->target) : 0;
        if (t < 0 || h->key > UINT16_MAX)
            return rs_errorf(node, RSHARE_EINVAL, "hotkey %u: unknown target %u or key %u", i,
                             h->target, h->key);
        chords[i] = (struct rs_kvm_chord){
            .kind = (enum rs_kvm_chord_kind)h->kind,
            .mods = h->mods,
            .key = (uint16_t)h->key,
            .window_us = ms_or(h->window_ms, DEFAULT_WINDOW_MS),
            .action = (enum rs_kvm_action)h->action,
            .target = (uint32_t)t,
        };
    }
    struct rs_kvm_router_config rc = {
        .target_count = kvm->target_count,
        .chords = chords,
        .chord_count = cfg->hotkey_count,
        .send = host_send,
        .user_data = kvm,
    };
    if (rs_kvm_router_init(&kvm->router, &rc) < 0)
        return rs_errorf(node, RSHARE_EINVAL, "bad KVM hotkey configuration");
    kvm->sync_us = ms_or(cfg->sync_ms, DEFAULT_SYNC_MS);
    kvm->target_timeout_us = ms_or(cfg->target_timeout_ms, DEFAULT_TARGET_TIMEOUT_MS);
    kvm->on_focus = cfg->on_focus;
    kvm->focus_data = cfg->focus_data;
    kvm->shown_focus = kvm->targets[0].node;
    rs_timer_init(&kvm->host_timer, host_timer_fire);
    rs_kvm_console_init(&kvm->console, node, cfg->consoles, kvm->target_count, cfg->lease_ms);
    kvm->console.changed = console_changed;
    kvm->console.user_data = kvm;
    return 0;
}

static int target_init(struct rshare_kvm *kvm, const struct rshare_kvm_config *cfg)
{
    rshare_node *node = kvm->node;
    if (!cfg->sink)
        return rs_errorf(node, RSHARE_EINVAL, "a KVM target needs a sink");
    if (!cfg->console && (cfg->host == RSHARE_NODE_ID_NONE ||
                          cfg->host == RSHARE_NODE_ID_BROADCAST || cfg->host == rshare_node_id(node)))
        return rs_errorf(node, RSHARE_EINVAL, "KVM host %u: not another node", cfg->host);
    kvm->console_res = cfg->console;
    kvm->host = cfg->console ? rs_kvm_console_holder(node, cfg->console) : cfg->host;
    kvm->sink = cfg->sink;
    kvm->sink_data = cfg->sink_data;
    kvm->report_us = ms_or(cfg->report_ms, DEFAULT_REPORT_MS);
    kvm->release_timeout_us = ms_or(cfg->release_timeout_ms, DEFAULT_RELEASE_TIMEOUT_MS);
    rs_timer_init(&kvm->target_timer, target_timer_fire);
    return 0;
}

static void unregister(struct rshare_kvm *kvm)
{
    rshare_node *node = kvm->node;
    if (kvm->roles & RSHARE_KVM_ROLE_HOST) {
        rs_msg_set_handler(node, RS_MSG_KVM_REPORT, NULL, NULL);
        rs_timer_cancel(node, &kvm->host_timer);
    }
    if (kvm->roles & RSHARE_KVM_ROLE_TARGET) {
        rs_msg_set_handler(node, RS_MSG_KVM_INPUT, NULL, NULL);
        rs_msg_set_handler(node, RS_MSG_KVM_SYNC, NULL, NULL);
        rs_timer_cancel(node, &kvm->target_timer);
    }
    rs_membership_unobserve(node, &kvm->observer);
}

RSHARE_API int rshare_kvm_create(rshare_node *node, const struct rshare_kvm_config *config,
                                 rshare_kvm **kvm_out)
{
    if (!node || !config || !kvm_out)
        return RSHARE_EINVAL;
    *kvm_out = NULL;
    if (config->struct_size < offsetof(struct rshare_kvm_config, sink_data) + sizeof(void *))
        return rs_errorf(node, RSHARE_EVERSION, "KVM config struct_size %u too small",
                         config->struct_size);
    struct rshare_kvm_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    memcpy(&cfg, config, config->struct_size < sizeof(cfg) ? config->struct_size : sizeof(cfg));
    uint32_t roles = cfg.roles;
    if (!roles || roles & ~(RSHARE_KVM_ROLE_HOST | RSHARE_KVM_ROLE_TARGET))
        return rs_errorf(node, RSHARE_EINVAL, "KVM roles 0x%x", roles);
    if ((roles & RSHARE_KVM_ROLE_HOST && handler_taken(node, RS_MSG_KVM_REPORT)) ||
        (roles & RSHARE_KVM_ROLE_TARGET && handler_taken(node, RS_MSG_KVM_INPUT)))
        return rs_errorf(node, RSHARE_EBUSY, "this node already has a KVM handle in that role");
    struct rshare_kvm *kvm = rs_calloc(node, 1, sizeof(*kvm));
    if (!kvm)
        return RSHARE_ENOMEM;
    kvm->node = node;
    do
        randombytes_buf(&kvm->session, sizeof(kvm->session));
    while (!kvm->session);
    int rc = 0;
    if (roles & RSHARE_KVM_ROLE_HOST)
        rc = host_init(kvm, &cfg);
    if (rc == 0 && roles & RSHARE_KVM_ROLE_TARGET)
        rc = target_init(kvm, &cfg);
    if (rc < 0) {
        rs_free(node, kvm);
        return rc;
    }
    kvm->roles = roles;
    if (roles & RSHARE_KVM_ROLE_HOST)
        rc = rs_msg_set_handler(node, RS_MSG_KVM_REPORT, on_report, kvm);
    if (rc == 0 && roles & RSHARE_KVM_ROLE_TARGET) {
        rc = rs_msg_set_handler(node, RS_MSG_KVM_INPUT, on_input, kvm);
        if (rc == 0)
            rc = rs_msg_set_handler(node, RS_MSG_KVM_SYNC, on_sync, kvm);
    }
    if (rc < 0) {
        unregister(kvm);
        rs_free(node, kvm);
        return rc;
    }
    kvm->observer = (struct rs_member_observer){.fn = on_member, .user_data = kvm};
    rs_membership_observe(node, &kvm->observer);
    if (roles & RSHARE_KVM_ROLE_HOST) {
        rs_kvm_console_focus(&kvm->console, 0); /* focus starts on targets[0] */
        host_after(kvm);
    }
    if (roles & RSHARE_KVM_ROLE_TARGET) {
        /* Say hello at once: the host starts sending when it hears us. */
        kvm->next_report_us = rs_now_us(node);
        target_rearm(kvm);
    }
    *kvm_out = kvm;
    return 0;
}

RSHARE_API void rshare_kvm_destroy(rshare_kvm *kvm)
{
    if (!kvm)
        return;
    rshare_node *node = kvm->node;
    if (kvm->roles & RSHARE_KVM_ROLE_HOST) {
        rs_kvm_router_shutdown(&kvm->router); /* release-all to every target */
        rs_kvm_console_fini(&kvm->console);
    }
    if (kvm->roles & RSHARE_KVM_ROLE_TARGET)
        target_release(kvm, NULL);
    unregister(kvm);
    rs_free(node, kvm);
}

/* --- host ------------------------------------------------------------------ */

static void send_sync(struct rshare_kvm *kvm, uint32_t i)
{
    struct host_target *t = &kvm->targets[i];
    struct rs_kvm_sync s = {.session = kvm->session, .seq = t->seq};
    s.pressed = kvm->router.keys.target[i];
    uint8_t buf[RS_KVM_WIRE_BODY_MAX];
    size_t len = rs_kvm_wire_sync_encode(&s, buf, sizeof(buf));
    if (len && rs_msg_notify(kvm->node, t->node, RS_MSG_KVM_SYNC, buf, len,
                             RSHARE_SEND_URGENT) == 0)
        kvm->stats.syncs_sent++;
    else
        kvm->stats.send_failed++;
}

/* The router's output: one frame for target `target`, cut into messages
 * of at most RS_KVM_WIRE_EVENTS_MAX events, each ending with SYN_REPORT. */
static void host_send(void *user_data, uint32_t target, const struct rs_kvm_event *events,
                      size_t count)
{
    struct rshare_kvm *kvm = user_data;
    struct host_target *t = &kvm->targets[target];
    static const struct rs_kvm_event syn = {EV_SYN, SYN_REPORT, 0};
    struct rs_kvm_input in;
    in.session = kvm->session;
    size_t done = 0;
    while (done < count) {
        size_t n = count - done;
        if (n > RS_KVM_WIRE_EVENTS_MAX)
            n = RS_KVM_WIRE_EVENTS_MAX - 1;
        memcpy(in.events, events + done, n * sizeof(*events));
        in.count = (uint32_t)n;
        if (in.events[n - 1].type != EV_SYN)
            in.events[in.count++] = syn;
        done += n;
        in.seq = ++t->seq;
        uint8_t buf[RS_KVM_WIRE_BODY_MAX];
        size_t len = rs_kvm_wire_input_encode(&in, buf, sizeof(buf));
        if (len && rs_msg_notify(kvm->node, t->node, RS_MSG_KVM_INPUT, buf, len,
                                 RSHARE_SEND_URGENT) == 0)
            kvm->stats.frames_sent++;
        else
            kvm->stats.send_failed++;
    }
    uint64_t now = rs_now_us(kvm->node);
    t->sync_until_us = now + SYNC_TAIL * kvm->sync_us;
    if (!t->next_sync_us)
        t->next_sync_us = now + kvm->sync_us;
}

static void host_lost(struct rshare_kvm *kvm, uint32_t i)
{
    rs_kvm_router_target_lost(&kvm->router, i);
    kvm->targets[i].session = 0;
    kvm->targets[i].next_sync_us = 0;
    kvm->stats.targets_lost++;
}

/* After every host operation: tell the application about focus, and set
 * the timer to the earliest of the hotkey deadline, the next sync and the
 * next liveness check. */
static void host_after(struct rshare_kvm *kvm)
{
    uint32_t index = rs_kvm_router_focus(&kvm->router);
    if (index != kvm->leased_focus) {
        kvm->leased_focus = index;
        rs_kvm_console_focus(&kvm->console, index);
    }
    uint32_t focus = kvm->targets[index].node;
    bool locked = rs_kvm_router_locked(&kvm->router);
    if (focus != kvm->shown_focus || locked != kvm->shown_locked) {
        kvm->shown_focus = focus;
        kvm->shown_locked = locked;
        if (kvm->on_focus)
            kvm->on_focus(kvm->focus_data, focus, locked);
    }
    uint64_t at = rs_kvm_console_tick(&kvm->console, rs_now_us(kvm->node));
    if (kvm->router.hotkey.pending_count && kvm->router.hotkey.deadline + 1 < at)
        at = kvm->router.hotkey.deadline + 1;
    for (uint32_t i = 0; i < kvm->target_count; i++) {
        const struct host_target *t = &kvm->targets[i];
        if (!kvm->router.targets[i].up)
            continue;
        if (t->last_report_us + kvm->target_timeout_us < at)
            at = t->last_report_us + kvm->target_timeout_us;
        if (t->next_sync_us && t->next_sync_us < at)
            at = t->next_sync_us;
    }
    if (at == UINT64_MAX)
        rs_timer_cancel(kvm->node, &kvm->host_timer);
    else
        rs_timer_schedule(kvm->node, &kvm->host_timer, at);
}

/* A focus lease came or went: its renewal joins the host's timer. */
static void console_changed(void *user_data)
{
    host_after(user_data);
}

static void host_timer_fire(rshare_node *node, struct rs_timer *timer)
{
    struct rshare_kvm *kvm =
        (struct rshare_kvm *)((char *)timer - offsetof(struct rshare_kvm, host_timer));
    uint64_t now = rs_now_us(node);
    if (kvm->router.hotkey.pending_count && now > kvm->router.hotkey.deadline)
        rs_kvm_router_tick(&kvm->router, now);
    for (uint32_t i = 0; i < kvm->target_count; i++) {
        struct host_target *t = &kvm->targets[i];
        if (!kvm->router.targets[i].up)
            continue;
        if (now - t->last_report_us >= kvm->target_timeout_us) {
            rs_log_info(node, "KVM target %u is silent: releasing its keys", t->node);
            host_lost(kvm, i);
            continue;
        }
        if (!t->next_sync_us || now < t->next_sync_us)
            continue;
        send_sync(kvm, i);
        bool holds = rs_kvm_keystate_count(&kvm->router.keys, i) > 0;
        t->next_sync_us = holds || now < t->sync_until_us ? now + kvm->sync_us : 0;
    }
    host_after(kvm);
}

static void on_report(rshare_node *node, rshare_request *req, void *user_data)
{
    struct rshare_kvm *kvm = user_data;
    int i = target_index(kvm, rshare_request_peer(req));
    struct rs_kvm_report rep;
    if (i < 0 || rs_kvm_wire_report_decode(rshare_request_data(req), rshare_request_len(req),
                                           &rep) < 0) {
        kvm->stats.bad_messages++;
        return;
    }
    struct host_target *t = &kvm->targets[i];
    bool up = kvm->router.targets[i].up;
    if (up && rep.session != t->session) {
        /* A restart: whatever it held went with its old boot. */
        rs_log_info(node, "KVM target %u restarted", t->node);
        kvm->stats.targets_lost++;
    }
    if (!up || rep.session != t->session) {
        rs_kvm_router_target_up(&kvm->router, (uint32_t)i);
        t->session = rep.session;
        /* Tell it at once what it should hold (nothing, usually): this
         * repairs anything a partition left behind before it is used. */
        send_sync(kvm, (uint32_t)i);
    }
    t->last_report_us = rs_now_us(node);
    rs_kvm_router_target_leds(&kvm->router, (uint32_t)i, (uint8_t)rep.leds);
    host_after(kvm);
}

static void on_member(rshare_node *node, uint32_t id, bool up, void *user_data)
{
    (void)node;
    struct rshare_kvm *kvm = user_data;
    if (up)
        return; /* a target counts as up once its own report arrives */
    if (kvm->roles & RSHARE_KVM_ROLE_HOST) {
        int i = target_index(kvm, id);
        if (i >= 0 && kvm->router.targets[i].up) {
            host_lost(kvm, (uint32_t)i);
            host_after(kvm);
        }
    }
    if (kvm->roles & RSHARE_KVM_ROLE_TARGET && id == kvm->host) {
        target_release(kvm, NULL);
        target_rearm(kvm);
    }
}

static int need_host(const rshare_kvm *kvm)
{
    return kvm && kvm->roles & RSHARE_KVM_ROLE_HOST ? 0 : RSHARE_EINVAL;
}

RSHARE_API int rshare_kvm_input(rshare_kvm *kvm, uint16_t type, uint16_t code, int32_t value)
{
    if (need_host(kvm))
        return RSHARE_EINVAL;
    int rc = rs_kvm_router_feed(&kvm->router, type, code, value, rs_now_us(kvm->node));
    if (rc < 0)
        rs_errorf(kvm->node, rc, "KVM input event (%u, %u, %d) refused", type, code, value);
    else
        kvm->stats.events_in++;
    host_after(kvm);
    return rc;
}

RSHARE_API int rshare_kvm_input_events(rshare_kvm *kvm, const struct rshare_kvm_event *events,
                                       size_t count)
{
    if (need_host(kvm) || (!events && count))
        return RSHARE_EINVAL;
    for (size_t i = 0; i < count; i++) {
        int rc = rshare_kvm_input(kvm, events[i].type, events[i].code, events[i].value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

RSHARE_API int rshare_kvm_focus_set(rshare_kvm *kvm, uint32_t target)
{
    if (need_host(kvm))
        return RSHARE_EINVAL;
    int i = target_index(kvm, target);
    if (i < 0)
        return rs_errorf(kvm->node, RSHARE_ENOENT, "node %u is not a KVM target", target);
    int rc = rs_kvm_router_set_focus(&kvm->router, (uint32_t)i);
    if (rc == RSHARE_EBUSY)
        rs_errorf(kvm->node, rc, "KVM focus is locked");
    host_after(kvm);
    return rc;
}

RSHARE_API int rshare_kvm_focus_next(rshare_kvm *kvm)
{
    if (need_host(kvm))
        return RSHARE_EINVAL;
    int rc = rs_kvm_router_focus_next(&kvm->router);
    if (rc == RSHARE_EBUSY)
        rs_errorf(kvm->node, rc, "KVM focus is locked");
    else if (rc == RSHARE_ENOENT)
        rs_errorf(kvm->node, rc, "no other KVM target is up");
    host_after(kvm);
    return rc;
}

RSHARE_API uint32_t rshare_kvm_focus(const rshare_kvm *kvm)
{
    if (need_host(kvm))
        return 0;
    return kvm->targets[rs_kvm_router_focus(&kvm->router)].node;
}

RSHARE_API int rshare_kvm_lock(rshare_kvm *kvm, int locked)
{
    if (need_host(kvm))
        return RSHARE_EINVAL;
    rs_kvm_router_set_locked(&kvm->router, locked != 0);
    host_after(kvm);
    return 0;
}

RSHARE_API int rshare_kvm_locked(const rshare_kvm *kvm)
{
    return need_host(kvm) ? 0 : rs_kvm_router_locked(&kvm->router);
}

RSHARE_API int rshare_kvm_target_up(const rshare_kvm *kvm, uint32_t target)
{
    if (need_host(kvm))
        return 0;
    int i = target_index(kvm, target);
    return i >= 0 && kvm->router.targets[i].up;
}

RSHARE_API void rshare_kvm_layout_config_init(struct rshare_kvm_layout_config *config,
                                              size_t struct_size)
{
    if (!config || struct_size < sizeof(uint32_t))
        return;
    memset(config, 0, struct_size);
    config->struct_size = (uint32_t)struct_size;
}

/* Relative motion factor of one axis: the configured one, else the
 * display's size over the host's, else 1:1. */
static void axis_scale(uint32_t scale_milli, uint32_t size, uint32_t host_size, uint32_t *num,
                       uint32_t *den)
{
    if (scale_milli) {
        *num = scale_milli;
        *den = 1000;
    } else if (host_size) {
        *num = size;
        *den = host_size;
    } else {
        *num = *den = 1;
    }
}

RSHARE_API int rshare_kvm_set_layout(rshare_kvm *kvm, const struct rshare_kvm_layout_config *config)
{
    if (need_host(kvm))
        return RSHARE_EINVAL;
    struct rshare_kvm_layout_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    if (config) {
        size_t first = offsetof(struct rshare_kvm_layout_config, mods) + sizeof(uint32_t);
        if (config->struct_size < first)
            return rs_errorf(kvm->node, RSHARE_EVERSION, "KVM layout struct_size %u too small",
                             config->struct_size);
        memcpy(&cfg, config, config->struct_size < sizeof(cfg) ? config->struct_size : sizeof(cfg));
    }
    if (cfg.display_count > kvm->target_count || (cfg.display_count && !cfg.displays))
        return rs_errorf(kvm->node, RSHARE_EINVAL, "at most one display per KVM target (%u)",
                         kvm->target_count);
    if (cfg.host_width > RS_KVM_DISPLAY_MAX_SIDE || cfg.host_height > RS_KVM_DISPLAY_MAX_SIDE ||
        cfg.delay_ms > 10000 || cfg.double_tap_ms > 10000 ||
        cfg.corner_px > RS_KVM_DISPLAY_MAX_SIDE || cfg.mods & ~0xfu)
        return rs_errorf(kvm->node, RSHARE_EINVAL,
                         "KVM layout: host size, delay, double tap, corner or modifiers "
                         "out of range");
    struct rs_kvm_display displays[RS_KVM_MAX_TARGETS];
    memset(displays, 0, sizeof(displays));
    for (uint32_t i = 0; i < cfg.display_count; i++) {
        const struct rshare_kvm_display *d = &cfg.displays[i];
        int t = target_index(kvm, d->node);
        if (t < 0 || displays[t].width)
            return rs_errorf(kvm->node, RSHARE_EINVAL,
                             "KVM display %u: node %u is not a target or appears twice", i,
                             d->node);
        if (!d->width || !d->height || d->scale_milli > RS_KVM_SCALE_MAX ||
            d->flags & ~RSHARE_KVM_DISPLAY_ABSOLUTE || d->reserved_)
            return rs_errorf(kvm->node, RSHARE_EINVAL,
                             "KVM display of node %u: size %ux%u, scale or flags", d->node,
                             d->width, d->height);
        struct rs_kvm_display *o = &displays[t];
        *o = (struct rs_kvm_display){.x = d->x,
                                     .y = d->y,
                                     .width = d->width,
                                     .height = d->height,
                                     .absolute = d->flags & RSHARE_KVM_DISPLAY_ABSOLUTE};
        axis_scale(d->scale_milli, d->width, cfg.host_width, &o->num_x, &o->den_x);
        axis_scale(d->scale_milli, d->height, cfg.host_height, &o->num_y, &o->den_y);
    }
    struct rs_kvm_edge_guards guards = {
        .delay_us = (uint64_t)cfg.delay_ms * 1000u,
        .tap_us = (uint64_t)cfg.double_tap_ms * 1000u,
        .corner = cfg.corner_px,
        .mods = cfg.mods,
    };
    uint32_t count = cfg.display_count ? kvm->target_count : 0;
    if (rs_kvm_router_set_layout(&kvm->router, displays, count, cfg.edges ? &guards : NULL) < 0)
        return rs_errorf(kvm->node, RSHARE_EINVAL,
                         "KVM layout: a display out of bounds, or two that overlap");
    return 0;
}

RSHARE_API int rshare_kvm_pointer(const rshare_kvm *kvm, uint32_t *x, uint32_t *y)
{
    if (need_host(kvm) || !x || !y)
        return RSHARE_EINVAL;
    int32_t px, py;
    if (!rs_kvm_router_pointer(&kvm->router, &px, &py))
        return RSHARE_ENOENT;
    *x = (uint32_t)px;
    *y = (uint32_t)py;
    return 0;
}

int rs_kvm_host_resync(rshare_kvm *kvm, const struct rs_kvm_keyset *held)
{
    if (need_host(kvm))
        return RSHARE_EINVAL;
    rs_kvm_router_sync_host(&kvm->router, held);
    host_after(kvm);
    return 0;
}

RSHARE_API int rshare_kvm_set_host_leds(rshare_kvm *kvm, uint32_t leds)
{
    if (need_host(kvm))
        return RSHARE_EINVAL;
    rs_kvm_router_set_host_leds(&kvm->router, (uint8_t)(leds & RS_KVM_LED_LOCKS));
    return 0;
}

RSHARE_API uint32_t rshare_kvm_host_leds(const rshare_kvm *kvm)
{
    return need_host(kvm) ? 0 : rs_kvm_router_host_leds(&kvm->router);
}

/* --- target ---------------------------------------------------------------- */

static void send_report(struct rshare_kvm *kvm)
{
    if (!kvm->host)
        return; /* a leased console nobody holds */
    struct rs_kvm_report rep = {.session = kvm->session, .leds = kvm->leds};
    uint8_t buf[64];
    size_t len = rs_kvm_wire_report_encode(&rep, buf, sizeof(buf));
    if (!len || rs_msg_notify(kvm->node, kvm->host, RS_MSG_KVM_REPORT, buf, len,
                              RSHARE_SEND_URGENT) < 0)
        kvm->stats.send_failed++;
}

static bool holds_any(const struct rshare_kvm *kvm)
{
    for (size_t w = 0; w < RS_KVM_KEY_WORDS; w++)
        if (kvm->held.bits[w])
            return true;
    return false;
}

static void target_rearm(struct rshare_kvm *kvm)
{
    uint64_t at = kvm->next_report_us;
    if (holds_any(kvm) && kvm->last_heard_us + kvm->release_timeout_us < at)
        at = kvm->last_heard_us + kvm->release_timeout_us;
    rs_timer_schedule(kvm->node, &kvm->target_timer, at);
}

static void target_timer_fire(rshare_node *node, struct rs_timer *timer)
{
    struct rshare_kvm *kvm =
        (struct rshare_kvm *)((char *)timer - offsetof(struct rshare_kvm, target_timer));
    follow_holder(kvm);
    uint64_t now = rs_now_us(node);
    if (now >= kvm->next_report_us) {
        send_report(kvm);
        kvm->next_report_us = now + kvm->report_us;
    }
    if (holds_any(kvm) && now - kvm->last_heard_us >= kvm->release_timeout_us) {
        rs_log_info(node, "KVM host %u is silent: releasing every key", kvm->host);
        target_release(kvm, NULL);
    }
    target_rearm(kvm);
}

/* Releases every held key not in `keep` (all of them for NULL) through the
 * sink, in one frame, ascending codes. */
static void target_release(struct rshare_kvm *kvm, const struct rs_kvm_keyset *keep)
{
    size_t n = 0;
    for (uint32_t code = 0; code < RS_KVM_KEY_COUNT; code++) {
        if (!rs_kvm_keyset_has(&kvm->held, (uint16_t)code) ||
            (keep && rs_kvm_keyset_has(keep, (uint16_t)code)))
            continue;
        rs_kvm_keyset_put(&kvm->held, (uint16_t)code, false);
        kvm->scratch[n++] = (struct rshare_kvm_event){EV_KEY, (uint16_t)code, 0};
    }
    if (!n)
        return;
    if (keep)
        kvm->stats.sync_releases += n;
    else
        kvm->stats.release_alls++;
    kvm->scratch[n++] = (struct rshare_kvm_event){EV_SYN, SYN_REPORT, 0};
    kvm->sink(kvm->sink_data, kvm->host, kvm->scratch, n);
}

/* A leased console: the host is whoever holds the lease in this node's map
 * now.  When that changes, what the previous holder pressed here is
 * released at once, and the new holder hears from us at once. */
static void follow_holder(struct rshare_kvm *kvm)
{
    if (!kvm->console_res)
        return;
    uint32_t holder = rs_kvm_console_holder(kvm->node, kvm->console_res);
    if (holder == kvm->host)
        return;
    if (kvm->host) {
        rs_log_info(kvm->node, "KVM console lease moved from node %u to %u: releasing every key",
                    kvm->host, holder);
        target_release(kvm, NULL);
    }
    kvm->stats.holder_changes++;
    kvm->host = holder;
    kvm->host_session = 0;
    kvm->last_seq = 0;
    kvm->next_report_us = rs_now_us(kvm->node);
}

/* Common checks of a message from the host: its sender, and its session
 * (a new one means the host restarted: what it had pressed here is gone). */
static bool from_host(struct rshare_kvm *kvm, rshare_request *req, int decoded, uint64_t session)
{
    follow_holder(kvm);
    if (decoded >= 0 && kvm->console_res && rshare_request_peer(req) != kvm->host) {
        kvm->stats.not_holder++;
        return false;
    }
    if (decoded < 0 || rshare_request_peer(req) != kvm->host) {
        kvm->stats.bad_messages++;
        return false;
    }
    if (session != kvm->host_session) {
        if (kvm->host_session) {
            rs_log_info(kvm->node, "KVM host %u restarted: releasing every key", kvm->host);
            target_release(kvm, NULL);
        }
        kvm->host_session = session;
        kvm->last_seq = 0;
    }
    kvm->last_heard_us = rs_now_us(kvm->node);
    return true;
}

static void on_input(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    struct rshare_kvm *kvm = user_data;
    struct rs_kvm_input in;
    int rc = rs_kvm_wire_input_decode(rshare_request_data(req), rshare_request_len(req), &in);
    if (!from_host(kvm, req, rc, in.session))
        return;
    if (in.seq <= kvm->last_seq) {
        kvm->stats.frames_stale++; /* late or duplicated: a newer frame was applied */
        target_rearm(kvm);
        return;
    }
    if (kvm->last_seq && in.seq != kvm->last_seq + 1)
        kvm->stats.frames_gap++;
    kvm->last_seq = in.seq;
    for (uint32_t i = 0; i < in.count; i++) {
        if (in.events[i].type == EV_KEY)
            rs_kvm_keyset_put(&kvm->held, in.events[i].code, in.events[i].value != 0);
        kvm->scratch[i] = (struct rshare_kvm_event){in.events[i].type, in.events[i].code,
                                                    in.events[i].value};
    }
    kvm->stats.frames_received++;
    kvm->sink(kvm->sink_data, kvm->host, kvm->scratch, in.count);
    target_rearm(kvm);
}

static void on_sync(rshare_node *node, rshare_request *req, void *user_data)
{
    (void)node;
    struct rshare_kvm *kvm = user_data;
    struct rs_kvm_sync s;
    int rc = rs_kvm_wire_sync_decode(rshare_request_data(req), rshare_request_len(req), &s);
    if (!from_host(kvm, req, rc, s.session))
        return;
    /* A sync older than the last frame applied describes the past. */
    if (s.seq >= kvm->last_seq) {
        kvm->last_seq = s.seq;
        target_release(kvm, &s.pressed);
    }
    target_rearm(kvm);
}

static int need_target(const rshare_kvm *kvm)
{
    return kvm && kvm->roles & RSHARE_KVM_ROLE_TARGET ? 0 : RSHARE_EINVAL;
}

RSHARE_API int rshare_kvm_report_leds(rshare_kvm *kvm, uint32_t leds)
{
    if (need_target(kvm))
        return RSHARE_EINVAL;
    kvm->leds = leds & RS_KVM_WIRE_LEDS;
    send_report(kvm);
    return 0;
}

RSHARE_API int rshare_kvm_pressed(const rshare_kvm *kvm, uint16_t code)
{
    return need_target(kvm) ? 0 : rs_kvm_keyset_has(&kvm->held, code);
}

RSHARE_API size_t rshare_kvm_pressed_count(const rshare_kvm *kvm)
{
    if (need_target(kvm))
        return 0;
    size_t n = 0;
    for (size_t w = 0; w < RS_KVM_KEY_WORDS; w++)
        n += (size_t)__builtin_popcountll(kvm->held.bits[w]);
    return n;
}

RSHARE_API int rshare_kvm_release_all(rshare_kvm *kvm)
{
    if (need_target(kvm))
        return RSHARE_EINVAL;
    target_release(kvm, NULL);
    target_rearm(kvm);
    return 0;
}

RSHARE_API int rshare_kvm_stats(const rshare_kvm *kvm, struct rshare_kvm_stats *stats,
                                size_t struct_size)
{
    if (!kvm || !stats || struct_size < sizeof(uint32_t) * 2)
        return RSHARE_EINVAL;
    struct rshare_kvm_stats copy = kvm->stats;
    if (kvm->roles & RSHARE_KVM_ROLE_HOST) {
        const struct rs_kvm_router_stats *r = &kvm->router.stats;
        copy.refused = r->refused;
        copy.repeats_dropped = r->repeats_dropped;
        copy.hotkeys = r->hotkeys;
        copy.switches = r->switches;
        copy.edge_switches = r->edge_switches;
        copy.leases_refused = kvm->console.refused;
    }
    size_t n = struct_size < sizeof(copy) ? struct_size : sizeof(copy);
    copy.struct_size = (uint32_t)n;
    memcpy(stats, &copy, n);
    return 0;
}
