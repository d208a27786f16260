/*
 * src/core/name.h — naming coroutines and tasks (internal).
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
    /* Two digits per division, written from the end backwards, straight
     * into dst (a copy from a scratch buffer becomes a memcpy call). */
    static const char pairs[] = "00010203040506070809101112131415161718192"
                                "02122232425262728293031323334353637383940"
                                "41424344454647484950515253545556575859606"
                                "16263646566676869707172737475767778798081"
                                "8283848586878889909192939495969798990";
    char *p = dst;
    while (*prefix)
        *p++ = *prefix++;
    size_t n = 1;
    for (unsigned long rest = id; rest >= 10; rest /= 10)
        n++;
    p[n] = '\0';
    char *d = p + n;
    while (id >= 100) {
        d -= 2;
        d[0] = pairs[2 * (id % 100)];
        d[1] = pairs[2 * (id % 100) + 1];
        id /= 100;
    }
    if (id >= 10) {
        d[-2] = pairs[2 * id];
        d[-1] = pairs[2 * id + 1];
    } else {
        d[-1] = (char)('0' + id);
    }
}

#endif
