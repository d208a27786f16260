/*
 * tests/hook_tls_test.c — OpenSSL's plain blocking API (SSL_connect,
 * SSL_write, SSL_read over a connected socket) from 20 tasks, through the
 * hook layer, against a local TLS server that answers each line after
 * 0.1 s (tests/hook_libs_test.sh; its certificate is made there and
 * verified here).  No TLS code in coil: the hooks make OpenSSL's reads and
 * writes on the socket yield.
 *
 *     hook_tls_test PORT CERT.pem
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "coil.h"
#include "hook_libs.h"

static int port;
static SSL_CTX *ctx;

static void exchange(int i)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    SSL *s = SSL_new(ctx);
    CHECK(s);
    SSL_set_fd(s, fd);
    SSL_set_tlsext_host_name(s, "localhost");
    CHECK(SSL_set1_host(s, "localhost") == 1);
    if (SSL_connect(s) != 1) {
        ERR_print_errors_fp(stderr);
        CHECK(!"SSL_connect");
    }
    char line[32], back[64];
    int n = snprintf(line, sizeof line, "ping %d\n", i);
    CHECK(SSL_write(s, line, n) == n);
    int got = 0, r;
    while ((r = SSL_read(s, back + got, (int)sizeof back - 1 - got)) > 0)
        got += r;
    back[got] = '\0';
    CHECK(strncmp(back, "pong:", 5) == 0 && strcmp(back + 5, line) == 0);
    SSL_shutdown(s);
    SSL_free(s);
    close(fd);
}

TEST(openssl_blocking_clients_in_twenty_tasks_overlap)
{
    lib_overlap(exchange, 20, 0.4, "OpenSSL handshake + 0.1 s answer");
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    port = atoi(argv[1]);
    ctx = SSL_CTX_new(TLS_client_method());
    CHECK(ctx);
    CHECK(SSL_CTX_load_verify_locations(ctx, argv[2], NULL) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    static const test_case tests[] = {T(openssl_blocking_clients_in_twenty_tasks_overlap)};
    int r = run_tests(tests, 1, 1, argv);
    SSL_CTX_free(ctx);
    return r;
}
