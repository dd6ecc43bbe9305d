/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_admin.c — libFuzzer target: what an admin client sends: RESP/inline commands, or an HTTP scrape. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin_http.h"
#include "rbuf.h"
#include "resp.h"

#define ADMIN_MAX_REQUEST 4096   /* as stats/admin.c */

static int metrics(struct rbuf *out)
{
    return rbuf_printf(out, "# TYPE x gauge\nx 1\n");
}

/* The HTTP side reads the rest of its head from the socket: the input's
 * tail waits there, then EOF.  What it answers goes to the other end. */
static void http(const uint8_t *data, size_t size)
{
    char buf[ADMIN_MAX_REQUEST + 1];
    size_t first = size < 16 ? size : 16;
    int sv[2];

    if (size > ADMIN_MAX_REQUEST || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return;
    memcpy(buf, data, first);
    if (size > first && write(sv[1], data + first, size - first) != (ssize_t)(size - first)) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    shutdown(sv[1], SHUT_WR);
    admin_http_serve(sv[0], buf, first, sizeof buf, (data[0] & 1) ? "secret" : "", UINT64_MAX, metrics);
    close(sv[0]);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_limits lim = { .max_multibulk = 8, .max_bulk = 256, .max_inline = ADMIN_MAX_REQUEST };
    struct resp_request r = { 0 };
    char buf[ADMIN_MAX_REQUEST];
    size_t off = 0, len = size < sizeof buf ? size : sizeof buf;

    if (size > 0 && admin_http_sniff((const char *)data, size) > 0) {
        http(data, size);
        return 0;
    }
    memcpy(buf, data, len);
    while (off < len) {
        int st = resp_parse_request(&r, buf + off, len - off, &lim);
        if (st != RESP_OK)
            break;
        if (!r.inline_cmd && r.argc > 8)
            abort();   /* the limit holds (inline lines are bounded by their length instead) */
        for (uint32_t i = 0; i < r.argc; i++)
            (void)admin_password_equal(buf + off + r.args[i].off, r.args[i].len, "secret");
        off += r.size;
        resp_request_reset(&r);
    }
    resp_request_free(&r);
    return 0;
}

/* admin_http.c's clock (the deadline here is never reached). */
uint64_t worker_now_ms(void)
{
    return 0;
}
