/* rshare transports — the Linux terminal behind the serial binding: termios
 * set-up (raw, 8N1, speed, optional RTS/CTS), non-blocking I/O, the output
 * queue and line status for knowing when the last stop bit left, and the
 * two ways of turning an RS-485 transceiver around: the kernel's RS-485
 * mode, or RTS toggled by us. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "core/core.h"
#include "serial_line.h"

struct tty_line {
    rshare_node *node;
    int fd;
    int epoll_fd; /* the tty, for input and (when wanted) output space */
    bool want_write;
};

static int tty_read(void *line, uint8_t *buf, size_t cap);
static int tty_write(void *line, const uint8_t *buf, size_t len);
static int tty_tx_pending(void *line);
static void tty_want_write(void *line, bool on);
static int tty_set_driver(void *line, bool on);
static int tty_fd(void *line);
static void tty_close(void *line);

static int open_fd(struct tty_line *l, const struct rshare_serial_config *cfg);
static int set_termios(struct tty_line *l, const struct rshare_serial_config *cfg);
static int set_turnaround(struct tty_line *l, const struct rshare_serial_config *cfg,
                          uint8_t *turnaround);
static speed_t speed_of(uint32_t baud);

const struct rs_serial_line_ops rs_serial_tty_ops = {
    .read = tty_read,
    .write = tty_write,
    .tx_pending = tty_tx_pending,
    .want_write = tty_want_write,
    .set_driver = tty_set_driver,
    .fd = tty_fd,
    .close = tty_close,
};

int rs_serial_tty_open(rshare_node *node, const struct rshare_serial_config *cfg,
                       uint8_t *turnaround, void **line_out)
{
    *line_out = NULL;
    if (!cfg->device == (cfg->fd < 0))
        return rs_errorf(node, RSHARE_EINVAL, "serial: set exactly one of device and fd");
    struct tty_line *l = rs_malloc(node, sizeof(*l));
    if (!l)
        return rs_errorf(node, RSHARE_ENOMEM, "no memory for a serial line");
    l->node = node;
    l->fd = l->epoll_fd = -1;
    l->want_write = false;
    int rc = open_fd(l, cfg);
    if (rc == 0)
        rc = set_termios(l, cfg);
    if (rc == 0)
        rc = set_turnaround(l, cfg, turnaround);
    if (rc == 0) {
        /* Bytes that reached the line before we owned it belong to nobody. */
        tcflush(l->fd, TCIOFLUSH);
        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        if (l->epoll_fd < 0 || epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
            rc = rs_syserr(node, "serial line epoll");
    }
    if (rc < 0) {
        tty_close(l);
        return rc;
    }
    *line_out = l;
    return 0;
}

/* --- set-up ------------------------------------------------------------------ */

static int open_fd(struct tty_line *l, const struct rshare_serial_config *cfg)
{
    const char *what = cfg->device ? cfg->device : "the given descriptor";
    if (cfg->device)
        l->fd = open(cfg->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    else
        l->fd = fcntl(cfg->fd, F_DUPFD_CLOEXEC, 0);
    if (l->fd < 0)
        return rs_syserr(l->node, "serial: open %.64s", what);
    if (!isatty(l->fd))
        return rs_errorf(l->node, RSHARE_EINVAL, "serial: %.64s is not a terminal", what);
    int flags = fcntl(l->fd, F_GETFL);
    if (flags < 0 || fcntl(l->fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return rs_syserr(l->node, "serial: non-blocking mode on %.64s", what);
    return 0;
}

/* Raw 8N1 at the configured speed, reads that never wait (VMIN = VTIME =
 * 0), the receiver on, modem control lines ignored, and RTS/CTS only when
 * asked.  Read back afterwards: drivers drop what they cannot do. */
static int set_termios(struct tty_line *l, const struct rshare_serial_config *cfg)
{
    speed_t speed = speed_of(cfg->baud);
    if (speed == B0)
        return rs_errorf(l->node, RSHARE_EINVAL, "serial: %u baud is not a standard rate",
                         cfg->baud);
    struct termios t;
    if (tcgetattr(l->fd, &t) < 0)
        return rs_syserr(l->node, "serial: tcgetattr");
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
    t.c_cflag |= CS8 | CREAD | CLOCAL | (cfg->rtscts ? CRTSCTS : 0);
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0)
        return rs_syserr(l->node, "serial: cfsetspeed %u", cfg->baud);
    if (tcsetattr(l->fd, TCSANOW, &t) < 0)
        return rs_syserr(l->node, "serial: tcsetattr");
    struct termios check;
    if (tcgetattr(l->fd, &check) < 0)
        return rs_syserr(l->node, "serial: tcgetattr");
    if (cfgetospeed(&check) != speed || (check.c_cflag & CSIZE) != CS8 ||
        (check.c_cflag & (PARENB | CSTOPB)) || !(check.c_cflag & CRTSCTS) != !cfg->rtscts)
        return rs_errorf(l->node, RSHARE_ENOTSUP,
                         "serial: the driver did not accept %u baud 8N1%s", cfg->baud,
                         cfg->rtscts ? " with RTS/CTS" : "");
    return 0;
}

static int set_rts(int fd, bool on)
{
    int bits = TIOCM_RTS;
    return ioctl(fd, on ? TIOCMBIS : TIOCMBIC, &bits);
}

/* The kernel's RS-485 mode switches the driver itself with the right
 * timing; RTS toggled from here works on any UART but depends on knowing
 * when the last byte left (tx_pending). */
static int set_turnaround(struct tty_line *l, const struct rshare_serial_config *cfg,
                          uint8_t *turnaround)
{
    uint8_t mode = cfg->turnaround;
    if (mode == RSHARE_SERIAL_TURNAROUND_AUTO && !cfg->multidrop)
        mode = RSHARE_SERIAL_TURNAROUND_NONE;
    *turnaround = mode;
    if (mode == RSHARE_SERIAL_TURNAROUND_NONE)
        return 0;
    if (mode == RSHARE_SERIAL_TURNAROUND_AUTO || mode == RSHARE_SERIAL_TURNAROUND_KERNEL) {
        struct serial_rs485 rs;
        memset(&rs, 0, sizeof(rs));
        rs.flags = SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND |
                   (cfg->echo ? SER_RS485_RX_DURING_TX : 0);
        if (ioctl(l->fd, TIOCSRS485, &rs) == 0) {
            *turnaround = RSHARE_SERIAL_TURNAROUND_KERNEL;
            return 0;
        }
        if (mode == RSHARE_SERIAL_TURNAROUND_KERNEL)
            return rs_syserr(l->node, "serial: TIOCSRS485 (the kernel's RS-485 mode)");
    }
    /* RTS toggling: the driver starts off, we assert RTS around our turns. */
    if (set_rts(l->fd, false) < 0)
        return rs_syserr(l->node, "serial: RS-485 needs TIOCSRS485 or RTS control, and "
                                  "this line has neither");
    *turnaround = RSHARE_SERIAL_TURNAROUND_RTS;
    return 0;
}

static speed_t speed_of(uint32_t baud)
{
    static const struct {
        uint32_t baud;
        speed_t speed;
    } rates[] = {
        {1200, B1200},       {2400, B2400},       {4800, B4800},       {9600, B9600},
        {19200, B19200},     {38400, B38400},     {57600, B57600},     {115200, B115200},
        {230400, B230400},   {460800, B460800},   {500000, B500000},   {576000, B576000},
        {921600, B921600},   {1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
        {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000},
        {4000000, B4000000},
    };
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
        if (rates[i].baud == baud)
            return rates[i].speed;
    return B0;
}

/* --- the line operations --------------------------------------------------------- */

static int tty_read(void *line, uint8_t *buf, size_t cap)
{
    struct tty_line *l = line;
    ssize_t n;
    do
        n = read(l->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    return (int)n;
}

static int tty_write(void *line, const uint8_t *buf, size_t len)
{
    struct tty_line *l = line;
    ssize_t n;
    do
        n = write(l->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    return (int)n;
}

/* TIOCOUTQ counts the kernel's buffer; the line status register says
 * whether the UART's shift register is empty too.  Pseudo-terminals and
 * USB adapters have no LSR: their queue count is all there is. */
static int tty_tx_pending(void *line)
{
    struct tty_line *l = line;
    int queued = 0;
    if (ioctl(l->fd, TIOCOUTQ, &queued) < 0)
        return -errno;
    unsigned lsr = 0;
    if (queued == 0 && ioctl(l->fd, TIOCSERGETLSR, &lsr) == 0 && !(lsr & TIOCSER_TEMT))
        return 1;
    return queued;
}

static void tty_want_write(void *line, bool on)
{
    struct tty_line *l = line;
    if (on == l->want_write)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0)};
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, l->fd, &ev) == 0)
        l->want_write = on;
}

static int tty_set_driver(void *line, bool on)
{
    struct tty_line *l = line;
    return set_rts(l->fd, on) < 0 ? -errno : 0;
}

static int tty_fd(void *line)
{
    return ((struct tty_line *)line)->epoll_fd;
}

static void tty_close(void *line)
{
    struct tty_line *l = line;
    if (!l)
        return;
    if (l->epoll_fd >= 0)
        close(l->epoll_fd);
    if (l->fd >= 0)
        close(l->fd);
    rs_free(l->node, l);
}
