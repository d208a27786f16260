/*
 * src/io/file_cache.h — reads the page cache serves without waiting
 * (layer 6, src/io/file_cache.c): what file.c tries in a task before it
 * sends a read to the loop's io_uring or the executor.
 */
#ifndef COIL_FILE_CACHE_H
#define COIL_FILE_CACHE_H

#include <sys/types.h>

#pragma GCC visibility push(hidden)

/* coil__file_read_cached's answer when the cache cannot serve the read
 * now: nothing was read, send it on. */
#define COIL__NOT_CACHED (-2)

/* Whether reads try the page cache first: yes, unless
 * COIL_FILE_BACKEND=executor asks for every call on the pool, or the
 * kernel has no preadv2. */
int coil__file_cache_first(void);

/* read(2) (off -1: at the file position) or pread(2) of up to n bytes into
 * buf, as far as the page cache serves it without waiting: the bytes read
 * (0 at the end of the file), -1 with errno for a failure the read itself
 * would report (ESPIPE for a pipe's pread, EBADF, EISDIR, ...), or
 * COIL__NOT_CACHED when it would have to wait (the pages are not in
 * memory, an empty pipe) or cannot tell (an fd without non-blocking
 * reads, a tty; an old kernel).  Never blocks on the disk. */
ssize_t coil__file_read_cached(int fd, void *buf, size_t n, off_t off);

/* After such a read came back r bytes short: whether fd has more where it
 * stopped, which a blocking read would have returned.  Only a regular
 * file does (short of its end); a pipe, a socket or a tty gives what it
 * has, as read(2) does.  Two syscalls: for short reads only. */
int coil__file_has_more(int fd, off_t off, ssize_t r);

#pragma GCC visibility pop

#endif
