/*
 * src/core/symbolize.c — names and source lines for code addresses.
 *
 * dladdr() names only what an object exports: a program's own functions
 * are in its .dynsym only when it is linked with -rdynamic, and static
 * functions never are.  elfutils' libdw reads .symtab and DWARF line
 * tables, and Debian installs it with gdb and perf, so when it is there
 * (libdw.so.1) a report uses it, loaded with dlopen() at the first report:
 * no link-time dependency, nothing loaded by a program that never asks
 * for a report.  The few libdw types used are declared here, as the
 * library's stable ABI has them (libdwfl.h), so no -dev package is
 * needed to build either.
 */
#include <dlfcn.h>
#include <elf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backtrace.h"

typedef struct Dwfl Dwfl;
typedef struct Dwfl_Module Dwfl_Module;
typedef struct Dwfl_Line Dwfl_Line;
typedef struct {
    void *find_elf, *find_debuginfo, *section_address;
    char **debuginfo_path;
} dwfl_callbacks;

typedef struct libdw {
    Dwfl *(*begin)(const dwfl_callbacks *);
    void (*end)(Dwfl *);
    int (*proc_report)(Dwfl *, pid_t);
    int (*report_end)(Dwfl *, void *, void *);
    Dwfl_Module *(*addrmodule)(Dwfl *, uint64_t);
    const char *(*addrinfo)(Dwfl_Module *, uint64_t, uint64_t *, Elf64_Sym *,
                            uint32_t *, void **, uint64_t *);
    Dwfl_Line *(*getsrc)(Dwfl_Module *, uint64_t);
    const char *(*lineinfo)(Dwfl_Line *, uint64_t *, int *, int *,
                            uint64_t *, uint64_t *);
    dwfl_callbacks callbacks;
} libdw;

enum { CACHE = 4096, NAME = 160 };

typedef struct cached {
    void *pc;
    char text[NAME];
} cached;

struct coil__symbolizer {
    Dwfl *dwfl;
    cached *cache;            /* CACHE slots, open addressing; NULL: none */
};

static int load(libdw *dw)
{
    void *h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return -1;
    void **fns[] = {(void **)&dw->begin, (void **)&dw->end,
                    (void **)&dw->proc_report, (void **)&dw->report_end,
                    (void **)&dw->addrmodule, (void **)&dw->addrinfo,
                    (void **)&dw->getsrc, (void **)&dw->lineinfo,
                    &dw->callbacks.find_elf, &dw->callbacks.find_debuginfo};
    static const char *const names[] = {
        "dwfl_begin", "dwfl_end", "dwfl_linux_proc_report", "dwfl_report_end",
        "dwfl_addrmodule", "dwfl_module_addrinfo", "dwfl_module_getsrc",
        "dwfl_lineinfo", "dwfl_linux_proc_find_elf",
        "dwfl_standard_find_debuginfo"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!(*fns[i] = dlsym(h, names[i])))
            return -1;               /* h stays loaded: harmless */
    return 0;
}

static libdw the_libdw;
static int have_libdw;

static void load_once(void)
{
    have_libdw = load(&the_libdw) == 0;
}

/* libdw, loaded once per process (NULL when it is not installed).  Two
 * loops may report at once: pthread_once. */
static const libdw *get_libdw(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, load_once);
    return have_libdw ? &the_libdw : NULL;
}

coil__symbolizer *coil__symbolizer_open(int with_lines)
{
    coil__symbolizer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cache = calloc(CACHE, sizeof *s->cache);
    const libdw *dw = with_lines ? get_libdw() : NULL;
    if (dw && (s->dwfl = dw->begin(&dw->callbacks))) {
        if (dw->proc_report(s->dwfl, getpid()) != 0 ||
            dw->report_end(s->dwfl, NULL, NULL) != 0) {
            dw->end(s->dwfl);
            s->dwfl = NULL;
        }
    }
    return s;
}

void coil__symbolizer_close(coil__symbolizer *s)
{
    if (!s)
        return;
    if (s->dwfl)
        get_libdw()->end(s->dwfl);
    free(s->cache);
    free(s);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* With libdw: "fn+0x1f (file.c:42)"; 0 when it knows nothing of pc. */
static int name_with_libdw(coil__symbolizer *s, void *pc, char *buf,
                           size_t size)
{
    const libdw *dw = get_libdw();
    uint64_t call = (uint64_t)(uintptr_t)pc - 1;
    Dwfl_Module *m = dw->addrmodule(s->dwfl, call);
    uint64_t off = 0;
    Elf64_Sym sym;
    const char *fn =
        m ? dw->addrinfo(m, call, &off, &sym, NULL, NULL, NULL) : NULL;
    if (!fn)
        return 0;
    Dwfl_Line *line = dw->getsrc(m, call);
    int lineno = 0;
    const char *file =
        line ? dw->lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    int n = snprintf(buf, size, "%s+%#lx", fn, (unsigned long)off + 1);
    if (file && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " (%s:%d)", base_name(file),
                 lineno);
    return 1;
}

/* With dladdr: "fn+0x1f (object)", or "object+0x1234" without a name. */
static void name_with_dladdr(void *pc, char *buf, size_t size)
{
    Dl_info at;
    if (!dladdr((char *)pc - 1, &at) || !at.dli_fname) {
        snprintf(buf, size, "%p", pc);
        return;
    }
    const char *obj = base_name(at.dli_fname);
    if (at.dli_sname && at.dli_saddr)
        snprintf(buf, size, "%s+%#lx (%s)", at.dli_sname,
                 (unsigned long)((char *)pc - (char *)at.dli_saddr), obj);
    else
        snprintf(buf, size, "%s+%#lx", obj,
                 (unsigned long)((char *)pc - (char *)at.dli_fbase));
}

const char *coil__symbolize(coil__symbolizer *s, void *pc, char *buf,
                            size_t size)
{
    cached *slot = NULL;
    if (s && s->cache) {
        size_t h = ((uintptr_t)pc >> 2) * 0x9e3779b97f4a7c15ull % CACHE;
        for (size_t i = 0; i < 8; i++) {
            cached *c = &s->cache[(h + i) % CACHE];
            if (c->pc == pc) {
                snprintf(buf, size, "%s", c->text);
                return buf;
            }
            if (!c->pc) {
                slot = c;
                break;
            }
        }
    }
    if (!(s && s->dwfl && name_with_libdw(s, pc, buf, size)))
        name_with_dladdr(pc, buf, size);
    if (slot) {
        slot->pc = pc;
        snprintf(slot->text, sizeof slot->text, "%s", buf);
    }
    return buf;
}
