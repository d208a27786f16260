/* Seed: download_with_aiofiles — `async with aiofiles.open(name, 'wb') as
 * f: async for chunk in response: await f.write(chunk)`, several downloads
 * at once, each under async_timeout.timeout().  The file writes go to the
 * executor (coil_file_*), so a slow disk holds up only the task writing,
 * never the loop: a ticker task keeps ticking throughout.
 *
 * The "responses" are simulated (a chunk of 64 KiB every 0.1 unit) so the
 * example needs no server; the files go to a mkdtemp directory that is
 * removed at the end, after each file is read back whole (read_all) and
 * checked.  Each download has 3 units; test4.bin is too big for that: the scope cancels it in
 * the middle of a write and the partial file is reported. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "example.h"

enum { CHUNK = 64 * 1024, FILES = 4 };

typedef struct download {
    char name[16];
    int chunks;                     /* how long the "response" is */
    int fd;                         /* open while saving, else -1 */
    int saved;
} download;

static char dir[] = "/tmp/coil_aiofiles_XXXXXX";
static int saving = FILES;          /* downloads not yet ended */

static const char *path_of(const download *d)
{
    static char path[FILES][192];
    int i = d->name[4] - '1';
    snprintf(path[i], sizeof path[i], "%s/%s", dir, d->name);
    return path[i];
}

/* The byte that fills chunk i of d (checked when read back). */
static unsigned char fill_of(const download *d, size_t i)
{
    return (unsigned char)(d->name[4] * 31 + i * 7);
}

/* The i-th chunk of d's response: arrives after 0.1 unit. */
static void receive_chunk(const download *d, int i, unsigned char *chunk)
{
    coil_sleep(unit() / 10);
    memset(chunk, fill_of(d, (size_t)i), CHUNK);
}

/* aiofiles.open + the write loop, one chunk at a time as it arrives. */
static int save(download *d, unsigned char *chunk)
{
    d->fd = coil_file_open(path_of(d), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (d->fd < 0)
        return -1;
    for (int i = 0; i < d->chunks; i++) {
        receive_chunk(d, i, chunk);
        size_t done = 0;
        while (done < CHUNK) {               /* POSIX short writes */
            ssize_t w = coil_file_write(d->fd, chunk + done, CHUNK - done);
            if (w < 0)
                return -1;
            done += (size_t)w;
        }
    }
    int fd = d->fd;
    d->fd = -1;
    return coil_file_close(fd);
}

/* An unwound download closes its file (async with's __aexit__).  Through
 * coil_file_close, which waits for a write the cancellation left running
 * before it lets the fd number go. */
static void close_file(void *arg)
{
    download *d = arg;
    if (d->fd >= 0)
        coil_file_close(d->fd);
    d->fd = -1;
}

static void *download_task(void *arg)
{
    download *d = arg;
    unsigned char *chunk = malloc(CHUNK);
    coil_cleanup_push(free, chunk);
    coil_cleanup_push(close_file, d);
    coil_timeout scope;
    if (coil_timeout_begin(&scope, 3 * unit()) == 0)
        d->saved = chunk && save(d, chunk) == 0;
    if (coil_timeout_end(&scope) != 0 && errno == ETIMEDOUT)
        printf("Timed out %s at %.2f\n", d->name, elapsed());
    else if (d->saved)
        printf("Saved %s at %.2f\n", d->name, elapsed());
    else
        printf("Error %s: %s\n", d->name, strerror(errno));
    fflush(stdout);
    coil_cleanup_pop(1);
    coil_cleanup_pop(1);
    saving--;
    return NULL;
}

/* The loop stays live while files are written: count its ticks. */
static void *ticker(void *arg)
{
    int *ticks = arg;
    while (saving > 0) {
        coil_sleep(unit() / 20);
        ++*ticks;
    }
    return NULL;
}

/* Read a file back in one call and check every byte. */
static void verify(const download *d)
{
    void *data;
    size_t len;
    if (coil_file_read_all(path_of(d), &data, &len, (size_t)64 << 20) != 0) {
        printf("Read %s: %s\n", d->name, strerror(errno));
        return;
    }
    static unsigned char want[CHUNK];
    int bad = 0;
    for (size_t at = 0; at < len; at += CHUNK) {
        size_t n = len - at < CHUNK ? len - at : CHUNK;
        memset(want, fill_of(d, at / CHUNK), n);
        bad |= memcmp((unsigned char *)data + at, want, n) != 0;
    }
    printf("%s: %zu bytes on disk, %s%s\n", d->name, len,
           bad ? "CORRUPT" : "verified",
           d->saved ? "" : " (partial: the download timed out)");
    free(data);
}

static void *main_task(void *arg)
{
    (void)arg;
    /* Start the executor's threads before the clock (a slow start under
     * an emulator is not what the times below are about). */
    char warm[sizeof dir + 8];
    snprintf(warm, sizeof warm, "%s/warm", dir);
    if (coil_file_write_all(warm, "", 0, 0) == 0)
        unlink(warm);
    start_clock();
    static download ds[FILES] = {
        {.name = "test1.bin", .chunks = 4}, {.name = "test2.bin", .chunks = 8},
        {.name = "test3.bin", .chunks = 12}, {.name = "test4.bin", .chunks = 40},
    };
    int ticks = 0;
    coil_task *tick = coil_spawn(ticker, &ticks);
    coil_task *t[FILES];
    for (int i = 0; i < FILES; i++) {
        ds[i].fd = -1;
        t[i] = coil_spawn(download_task, &ds[i]);
    }
    for (int i = 0; i < FILES; i++) {
        coil_await(coil_task_future(t[i]), NULL);
        coil_task_release(t[i]);
    }
    coil_await(coil_task_future(tick), NULL);
    coil_task_release(tick);
    printf("All ended at %.2f\n", elapsed());
    printf("Ticks while saving: %d\n", ticks);
    for (int i = 0; i < FILES; i++)
        verify(&ds[i]);
    for (int i = 0; i < FILES; i++)
        unlink(path_of(&ds[i]));
    return NULL;
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int r = run_timed(main_task);
    if (rmdir(dir) != 0)
        perror("rmdir");
    return r == 0 ? 0 : 1;
}
