/*
 * src/hook/dns.c — getaddrinfo, getnameinfo and the gethostby* family
 * (gethostbyname, gethostbyname2, gethostbyaddr, and their _r forms),
 * hooked: in a task they run on coil's executor
 * (coil_to_thread), since glibc's resolver blocks inside libc where no
 * hook can reach.
 *
 * A task may be cancelled while the lookup runs on a pool thread, and
 * unwind: the job then must own everything the pool thread touches.  So
 * each job copies its arguments and has a buffer of its own, and what the
 * caller gets is copied back (gethostbyname_r: into the caller's buffer,
 * its pointers moved with it); an abandoned job frees itself once the
 * lookup ends.
 */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"

/* ---------------------------------------------------------- getaddrinfo */

typedef struct gai_job {
    char *node, *service;
    struct addrinfo hints;
    int has_hints;
    struct addrinfo *res;
    int rc, err;
} gai_job;

static void *gai_run(void *arg)
{
    gai_job *j = arg;
    j->rc = LIBC(getaddrinfo)(j->node, j->service, j->has_hints ? &j->hints : NULL,
                              &j->res);
    j->err = errno;
    return NULL;
}

static void gai_free(gai_job *j)
{
    free(j->node);
    free(j->service);
    free(j);
}

static void gai_abandon(void *arg, void *result)
{
    (void)result;
    gai_job *j = arg;
    if (j->rc == 0 && j->res)
        freeaddrinfo(j->res);
    gai_free(j);
}

static char *dup_or_null(const char *s, int *failed)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *failed = 1;
    return d;
}

int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
    if (!coil__hook_in_task())
        return LIBC(getaddrinfo)(node, service, hints, res);
    int failed = 0;
    gai_job *j = calloc(1, sizeof *j);
    if (!j)
        return EAI_MEMORY;
    j->node = dup_or_null(node, &failed);
    j->service = dup_or_null(service, &failed);
    if (hints) {
        j->hints = *hints;
        j->hints.ai_addr = NULL;          /* only flags/family/type/protocol */
        j->hints.ai_canonname = NULL;
        j->hints.ai_next = NULL;
        j->has_hints = 1;
    }
    if (failed) {
        gai_free(j);
        return EAI_MEMORY;
    }
    if (coil_to_thread_ex(gai_run, j, NULL, gai_abandon) != 0)
        return EAI_SYSTEM;                /* errno: ECANCELED, ENOMEM, ... */
    int rc = j->rc;
    *res = j->res;
    if (rc == EAI_SYSTEM)
        errno = j->err;
    gai_free(j);
    return rc;
}

/* ---------------------------------------------------- gethostby* family */

/* One lookup of the family: by name (af 0: gethostbyname's, else
 * gethostbyname2's) or, with name NULL, by address. */
typedef struct host_job {
    char *name;
    int af;
    socklen_t alen;
    unsigned char addr[16];               /* in6_addr at most */
    struct hostent he;
    struct hostent *result;
    int herr, rc;
    size_t len;
    char buf[];                           /* len bytes */
} host_job;

static void *host_run(void *arg)
{
    host_job *j = arg;
    if (!j->name)
        j->rc = LIBC(gethostbyaddr_r)(j->addr, j->alen, j->af, &j->he, j->buf,
                                      j->len, &j->result, &j->herr);
    else if (j->af)
        j->rc = LIBC(gethostbyname2_r)(j->name, j->af, &j->he, j->buf, j->len,
                                       &j->result, &j->herr);
    else
        j->rc = LIBC(gethostbyname_r)(j->name, &j->he, j->buf, j->len,
                                      &j->result, &j->herr);
    return NULL;
}

static void host_abandon(void *arg, void *result)
{
    (void)result;
    host_job *j = arg;
    free(j->name);
    free(j);
}

/* A pointer into j->buf, moved to the same place in to. */
static void *moved(const host_job *j, void *p, char *to)
{
    return p ? to + ((char *)p - j->buf) : NULL;
}

/* Copy j's answer into he and buf (j->len bytes), pointers moved along. */
static void host_copy_out(const host_job *j, struct hostent *he, char *buf)
{
    memcpy(buf, j->buf, j->len);
    he->h_addrtype = j->he.h_addrtype;
    he->h_length = j->he.h_length;
    he->h_name = moved(j, j->he.h_name, buf);
    he->h_aliases = moved(j, j->he.h_aliases, buf);
    he->h_addr_list = moved(j, j->he.h_addr_list, buf);
    for (char **a = he->h_aliases; a && *a; a++)
        *a = moved(j, *a, buf);
    for (char **a = he->h_addr_list; a && *a; a++)
        *a = moved(j, *a, buf);
}

/* Run the lookup `want` (its name, af and address; buffer not yet made)
 * on the executor with a buffer of len bytes: 0 and the job (the caller
 * frees it), or an errno value. */
static int host_lookup(const host_job *want, size_t len, host_job **out)
{
    host_job *j = calloc(1, sizeof *j + len);
    if (!j || (want->name && !(j->name = strdup(want->name)))) {
        free(j);
        return ENOMEM;
    }
    j->af = want->af;
    j->alen = want->alen;
    memcpy(j->addr, want->addr, sizeof j->addr);
    j->len = len;
    if (coil_to_thread_ex(host_run, j, NULL, host_abandon) != 0)
        return errno;
    *out = j;
    return 0;
}

/* The _r forms' common part: run `want`, copy its answer out. */
static int host_r(const host_job *want, struct hostent *ret, char *buf,
                  size_t buflen, struct hostent **result, int *h_errnop)
{
    host_job *j = NULL;
    int err = host_lookup(want, buflen, &j);
    *result = NULL;
    if (err) {
        *h_errnop = NETDB_INTERNAL;
        return err;
    }
    int rc = j->rc;
    *h_errnop = j->herr;
    if (rc == 0 && j->result) {
        host_copy_out(j, ret, buf);
        *result = ret;
    }
    host_abandon(j, NULL);
    return rc;
}

/* The non-_r forms' common part: the answer in this thread's static
 * hostent (libc's is static too), h_errno set on failure. */
static struct hostent *host_static(const host_job *want)
{
    enum { LEN = 8192 };
    static __thread struct hostent he;
    static __thread char *buf;
    if (!buf && !(buf = malloc(LEN))) {
        h_errno = NETDB_INTERNAL;
        return NULL;
    }
    struct hostent *result;
    int herr;
    if (host_r(want, &he, buf, LEN, &result, &herr) != 0 || !result) {
        h_errno = herr;
        return NULL;
    }
    return result;
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf,
                    size_t buflen, struct hostent **result, int *h_errnop)
{
    if (!coil__hook_in_task() || !name)
        return LIBC(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
    host_job want = {.name = (char *)name};
    return host_r(&want, ret, buf, buflen, result, h_errnop);
}

struct hostent *gethostbyname(const char *name)
{
    if (!coil__hook_in_task() || !name)
        return LIBC(gethostbyname)(name);
    host_job want = {.name = (char *)name};
    return host_static(&want);
}

int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
                     size_t buflen, struct hostent **result, int *h_errnop)
{
    if (!coil__hook_in_task() || !name || !af)
        return LIBC(gethostbyname2_r)(name, af, ret, buf, buflen, result,
                                      h_errnop);
    host_job want = {.name = (char *)name, .af = af};
    return host_r(&want, ret, buf, buflen, result, h_errnop);
}

struct hostent *gethostbyname2(const char *name, int af)
{
    if (!coil__hook_in_task() || !name || !af)
        return LIBC(gethostbyname2)(name, af);
    host_job want = {.name = (char *)name, .af = af};
    return host_static(&want);
}

/* An address the job can hold (up to an in6_addr), else libc's call. */
static int addr_fits(const void *addr, socklen_t len)
{
    return addr && len <= sizeof(((host_job *)0)->addr);
}

int gethostbyaddr_r(const void *addr, socklen_t len, int type,
                    struct hostent *ret, char *buf, size_t buflen,
                    struct hostent **result, int *h_errnop)
{
    if (!coil__hook_in_task() || !addr_fits(addr, len))
        return LIBC(gethostbyaddr_r)(addr, len, type, ret, buf, buflen,
                                     result, h_errnop);
    host_job want = {.af = type, .alen = len};
    memcpy(want.addr, addr, len);
    return host_r(&want, ret, buf, buflen, result, h_errnop);
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
    if (!coil__hook_in_task() || !addr_fits(addr, len))
        return LIBC(gethostbyaddr)(addr, len, type);
    host_job want = {.af = type, .alen = len};
    memcpy(want.addr, addr, len);
    return host_static(&want);
}

/* --------------------------------------------------------- getnameinfo */

typedef struct name_job {
    struct sockaddr_storage sa;
    socklen_t salen, hostlen, servlen;
    int flags, rc, err;
    char *host, *serv;                    /* in names, or NULL */
    char names[];                         /* hostlen + servlen bytes */
} name_job;

static void *name_run(void *arg)
{
    name_job *j = arg;
    j->rc = LIBC(getnameinfo)((struct sockaddr *)&j->sa, j->salen, j->host,
                              j->hostlen, j->serv, j->servlen, j->flags);
    j->err = errno;
    return NULL;
}

static void name_abandon(void *arg, void *result)
{
    (void)result;
    free(arg);
}

/* A lookup that never asks a name server runs at once: numeric hosts, or
 * no host asked for (a service name is /etc/services, a file). */
static int name_is_local(const char *host, socklen_t hostlen, int flags)
{
    return !host || hostlen == 0 || (flags & NI_NUMERICHOST);
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                socklen_t hostlen, char *serv, socklen_t servlen, int flags)
{
    if (!coil__hook_in_task() || name_is_local(host, hostlen, flags) ||
        !sa || salen > sizeof(struct sockaddr_storage))
        return LIBC(getnameinfo)(sa, salen, host, hostlen, serv, servlen,
                                 flags);
    servlen = serv ? servlen : 0;
    name_job *j = calloc(1, sizeof *j + (size_t)hostlen + servlen);
    if (!j)
        return EAI_MEMORY;
    memcpy(&j->sa, sa, salen);
    j->salen = salen;
    j->host = j->names;
    j->hostlen = hostlen;
    j->serv = servlen ? j->names + hostlen : NULL;
    j->servlen = servlen;
    j->flags = flags;
    if (coil_to_thread_ex(name_run, j, NULL, name_abandon) != 0)
        return EAI_SYSTEM;                /* errno: ECANCELED, ENOMEM, ... */
    int rc = j->rc;
    if (rc == 0) {
        memcpy(host, j->host, hostlen);
        if (servlen)
            memcpy(serv, j->serv, servlen);
    } else if (rc == EAI_SYSTEM) {
        errno = j->err;
    }
    free(j);
    return rc;
}
