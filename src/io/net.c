/*
 * src/io/net.c — socket helpers (layer 5): TCP and Unix listeners and dialers,
 * UDP, recvfrom/sendto.
 *
 * Everything here is a thin layer over io.c: a helper makes the socket
 * with plain syscalls (none of which block: bind and listen are local,
 * addresses are numeric; a host name given to coil_tcp_dial is resolved
 * on the executor), and whatever may wait — connect, recvfrom,
 * sendto — goes through io.c's wait machinery, so deadlines, cancellation
 * and coil_close wake-ups behave exactly as for the other IO calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "coil.h"
#include "io/io.h"

/* A socket address of any family we handle. */
typedef union net_addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
} net_addr;

/* Parse a numeric IPv4 or IPv6 address and a port into *a.  NULL or ""
 * means 0.0.0.0 when any_ok.  Returns the address length, or -1 with errno
 * EINVAL. */
static int parse_inet(const char *addr, int port, int port_min, int any_ok,
                      net_addr *a)
{
    memset(a, 0, sizeof *a);
    if (port < port_min || port > 65535)
        goto bad;
    if (!addr || !*addr) {
        if (!any_ok)
            goto bad;
        addr = "0.0.0.0";
    }
    if (inet_pton(AF_INET, addr, &a->in4.sin_addr) == 1) {
        a->in4.sin_family = AF_INET;
        a->in4.sin_port = htons((uint16_t)port);
        return (int)sizeof a->in4;
    }
    if (inet_pton(AF_INET6, addr, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons((uint16_t)port);
        return (int)sizeof a->in6;
    }
bad:
    errno = EINVAL;
    return -1;
}

/* Fill a Unix address from path ('@' prefix: abstract namespace).
 * Returns the address length, or -1 with errno EINVAL. */
static int parse_unix(const char *path, net_addr *a)
{
    memset(a, 0, sizeof *a);
    size_t len = path ? strlen(path) : 0;
    if (len == 0 || len >= sizeof a->un.sun_path ||
        (path[0] == '@' && len == 1)) {
        errno = EINVAL;
        return -1;
    }
    a->un.sun_family = AF_UNIX;
    memcpy(a->un.sun_path, path, len);
    if (path[0] == '@') {
        /* Abstract names are length-delimited, not NUL-terminated: the
         * length must not count a trailing NUL, or the name differs. */
        a->un.sun_path[0] = '\0';
        return (int)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return (int)sizeof a->un;
}

/* close(2) keeping errno: for sockets no task has used yet (coil has no
 * record of them, so coil_close is not needed). */
static void close_keep_errno(int fd)
{
    int e = errno;
    close(fd);
    errno = e;
}

static int set_int(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof v);
}

/* socket + options + bind (+ listen when backlog >= 0). */
static int bound_socket(const net_addr *a, int alen, int type,
                        unsigned flags, int backlog)
{
    int fd = socket(a->sa.sa_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    coil__io_fresh(fd);
    if (type == SOCK_STREAM && a->sa.sa_family != AF_UNIX &&
        set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
        goto fail;
    if ((flags & COIL_REUSEPORT) &&
        set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
        goto fail;
    if (bind(fd, &a->sa, (socklen_t)alen) < 0)
        goto fail;
    if (backlog >= 0 && listen(fd, backlog) < 0)
        goto fail;
    return fd;
fail:
    close_keep_errno(fd);
    return -1;
}

int coil_tcp_listen(const char *addr, int port, int backlog, unsigned flags)
{
    net_addr a;
    int alen = parse_inet(addr, port, 0, 1, &a);
    if (alen < 0)
        return -1;
    if (backlog < 0 || (flags & ~COIL_REUSEPORT)) {
        errno = EINVAL;
        return -1;
    }
    return bound_socket(&a, alen, SOCK_STREAM, flags, backlog);
}

int coil_unix_listen(const char *path, int backlog)
{
    net_addr a;
    int alen = parse_unix(path, &a);
    if (alen < 0)
        return -1;
    if (backlog < 0) {
        errno = EINVAL;
        return -1;
    }
    return bound_socket(&a, alen, SOCK_STREAM, 0, backlog);
}

int coil_udp_bind(const char *addr, int port)
{
    net_addr a;
    int alen = parse_inet(addr, port, 0, 1, &a);
    if (alen < 0)
        return -1;
    return bound_socket(&a, alen, SOCK_DGRAM, 0, -1);
}

/* Cleanup handler: a dial unwound by cancellation must not leak its fd. */
static void close_unfinished(void *arg)
{
    coil_close(*(int *)arg);
}

/* Make a stream socket for a's family and connect it by the deadline.  The
 * socket passes through coil_connect, so coil has a record of it: failure
 * closes it with coil_close, and so does unwinding. */
static int dial(const net_addr *a, int alen, coil_time deadline)
{
    if (!coil_task_current()) {
        /* Say so the way the IO calls do (debug report, EPERM), before
         * making a socket. */
        return coil_connect(-1, &a->sa, (socklen_t)alen);
    }
    int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    0);
    if (fd < 0)
        return -1;
    coil__io_fresh(fd);
    if (a->sa.sa_family != AF_UNIX)
        (void)set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);  /* best effort */
    int r;
    coil_cleanup_push(close_unfinished, &fd);
    r = coil_connect_until(fd, &a->sa, (socklen_t)alen, deadline);
    coil_cleanup_pop(0);
    if (r != 0) {
        int e = errno;
        coil_close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A host name, resolved on the executor.  The record belongs to the pool
 * job once submitted: if the caller gives up (deadline, cancellation),
 * resolve_free frees it and the late answer when the lookup ends. */
typedef struct resolve {
    char *host;
    char port[8];
    struct addrinfo *res;
    int rc, err;
} resolve;

static void *resolve_run(void *arg)
{
    resolve *r = arg;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    errno = 0;                    /* what it leaves is the reason, or 0 */
    r->rc = getaddrinfo(r->host, r->port, &hints, &r->res);
    r->err = errno;
    return NULL;
}

static void resolve_free(void *arg, void *result)
{
    resolve *r = arg;
    (void)result;
    if (r->res)
        freeaddrinfo(r->res);
    free(r->host);
    free(r);
}

static void free_addrinfo(void *arg)
{
    freeaddrinfo(arg);
}

/* The EAI_* code of this thread's last name lookup (coil_gai_error). */
static __thread int last_gai;

int coil_gai_error(void)
{
    return last_gai;
}

/* glibc answers EAI_NONAME when it cannot open /etc/hosts or a socket
 * for want of fds, with errno saying so: that is EMFILE, not "no such
 * name". */
static int gai_errno(const resolve *r)
{
    if (r->err == EMFILE || r->err == ENFILE)
        return r->err;
    switch (r->rc) {
    case EAI_NONAME: case EAI_NODATA: case EAI_FAIL: return ENOENT;
    case EAI_AGAIN: return EAGAIN;
    case EAI_MEMORY: return ENOMEM;
    case EAI_SYSTEM: return r->err ? r->err : EIO;
    default: return EINVAL;
    }
}

/* Resolve host by the deadline: *out gets the list (freeaddrinfo). */
static int resolve_host(const char *host, int port, coil_time deadline,
                        struct addrinfo **out)
{
    resolve *r = calloc(1, sizeof *r);
    if (!r || !(r->host = strdup(host))) {
        free(r);
        errno = ENOMEM;
        return -1;
    }
    snprintf(r->port, sizeof r->port, "%d", port);
    int rc, err;
    if (deadline < 0) {
        rc = coil_to_thread_ex(resolve_run, r, NULL, resolve_free);
        err = errno;
    } else {
        volatile int vrc = -1, verr = ECANCELED;
        coil_time delay = deadline - coil_loop_time(coil_loop_current());
        coil_timeout scope;
        int began = coil_timeout_begin(&scope, delay < 0 ? 0 : delay);
        if (began < 0) {
            resolve_free(r, NULL);
            return -1;
        }
        if (began == 0) {
            vrc = coil_to_thread_ex(resolve_run, r, NULL, resolve_free);
            verr = errno;
        }
        if (coil_timeout_end(&scope) != 0 && errno == ETIMEDOUT) {
            if (vrc == 0)
                resolve_free(r, NULL);
            errno = ETIMEDOUT;
            return -1;
        }
        rc = vrc;
        err = verr;
    }
    if (rc != 0) {            /* r went to resolve_free */
        errno = err;
        return -1;
    }
    last_gai = r->rc;
    if (r->rc != 0) {
        err = gai_errno(r);
        resolve_free(r, NULL);
        errno = err;
        return -1;
    }
    *out = r->res;
    r->res = NULL;
    resolve_free(r, NULL);
    return 0;
}

/* Whether s may be a host name: letters, digits, '-' and '.', at most
 * 253 of them, and not only digits and dots (that is a malformed numeric
 * address such as "127.0.0" or "256.0.0.1", which getaddrinfo would
 * otherwise read in inet_aton's forms or send to DNS). */
static int is_host_name(const char *s)
{
    size_t n = 0;
    int letter = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-')
            letter = 1;
        else if (!((c >= '0' && c <= '9') || c == '.'))
            return 0;
    }
    return n > 0 && n <= 253 && letter;
}

/* Dial a host name: resolve it, then try its addresses in order. */
static int dial_host(const char *host, int port, coil_time deadline)
{
    struct addrinfo *res = NULL;
    if (resolve_host(host, port, deadline, &res) != 0)
        return -1;
    int fd = -1, err = ENOENT;
    coil_cleanup_push(free_addrinfo, res);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(net_addr))
            continue;
        net_addr a;
        memset(&a, 0, sizeof a);
        memcpy(&a, ai->ai_addr, ai->ai_addrlen);
        fd = dial(&a, (int)ai->ai_addrlen, deadline);
        if (fd >= 0)
            break;
        err = errno;
        if (err == ETIMEDOUT || err == ECANCELED || err == EMFILE ||
            err == ENFILE || err == EPERM)
            break;
    }
    coil_cleanup_pop(1);
    if (fd < 0)
        errno = err;
    return fd;
}

int coil_tcp_dial(const char *addr, int port, coil_time deadline)
{
    net_addr a;
    int alen = parse_inet(addr, port, 1, 0, &a);
    if (alen >= 0)
        return dial(&a, alen, deadline);
    if (!addr || !is_host_name(addr) || port < 1 || port > 65535)
        return -1;            /* EINVAL */
    return dial_host(addr, port, deadline);
}

int coil_unix_dial(const char *path, coil_time deadline)
{
    net_addr a;
    int alen = parse_unix(path, &a);
    if (alen < 0)
        return -1;
    return dial(&a, alen, deadline);
}

int coil_socket_port(int fd)
{
    net_addr a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if (getsockname(fd, &a.sa, &len) < 0)
        return -1;
    if (a.sa.sa_family == AF_INET)
        return ntohs(a.in4.sin_port);
    if (a.sa.sa_family == AF_INET6)
        return ntohs(a.in6.sin6_port);
    errno = EINVAL;
    return -1;
}

/* ------------------------------------------------------ recvfrom, sendto */

static ssize_t op_recvfrom(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return recvfrom(fd, op->buf, op->len, op->flags | MSG_DONTWAIT, op->addr,
                    op->addrlen);
}

static ssize_t op_sendto(coil__io_op *op, int fd, int kind)
{
    (void)kind;
    return sendto(fd, op->cbuf, op->len,
                  op->flags | MSG_NOSIGNAL | MSG_DONTWAIT, op->caddr,
                  op->caddrlen);
}

ssize_t coil_recvfrom_until(int fd, void *buf, size_t n, int flags,
                            struct sockaddr *addr, socklen_t *addrlen,
                            coil_time deadline)
{
    coil__io_op op = {.fn = op_recvfrom, .buf = buf, .len = n, .flags = flags,
                      .addr = addr, .addrlen = addrlen};
    return coil__io_run("coil_recvfrom", fd, COIL__IO_RD, deadline, &op);
}

ssize_t coil_recvfrom(int fd, void *buf, size_t n, int flags,
                      struct sockaddr *addr, socklen_t *addrlen)
{
    return coil_recvfrom_until(fd, buf, n, flags, addr, addrlen, -1);
}

ssize_t coil_sendto_until(int fd, const void *buf, size_t n, int flags,
                          const struct sockaddr *addr, socklen_t addrlen,
                          coil_time deadline)
{
    coil__io_op op = {.fn = op_sendto, .cbuf = buf, .len = n, .flags = flags,
                      .caddr = addr, .caddrlen = addrlen};
    return coil__io_run("coil_sendto", fd, COIL__IO_WR, deadline, &op);
}

ssize_t coil_sendto(int fd, const void *buf, size_t n, int flags,
                    const struct sockaddr *addr, socklen_t addrlen)
{
    return coil_sendto_until(fd, buf, n, flags, addr, addrlen, -1);
}
