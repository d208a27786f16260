/*
 * src/name.h — naming coroutines and tasks (internal).
 */
#ifndef COIL_NAME_H
#define COIL_NAME_H

#include <stddef.h>
#include <string.h>

/* Copy name into dst (truncated to size - 1 bytes), or, if name is NULL or
 * empty, write "<prefix><id>".  By hand rather than with snprintf: making
 * coroutines and tasks is a hot path, and snprintf cost as much as the
 * rest of it.  prefix must be shorter than size - 21. */
static inline void coil__set_name(char *dst, size_t size, const char *name,
                                  const char *prefix, unsigned long id)
{
    if (name && *name) {
        size_t n = strnlen(name, size - 1);
        memcpy(dst, name, n);
        dst[n] = '\0';
        return;
    }
    char digits[24];
    int n = 0;
    do
        digits[n++] = (char)('0' + id % 10);
    while ((id /= 10) != 0);
    size_t plen = strlen(prefix);
    memcpy(dst, prefix, plen);
    char *p = dst + plen;
    while (n)
        *p++ = digits[--n];
    *p = '\0';
}

#endif
