/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_resp_request.c — libFuzzer target: the RESP request parser, fed in pieces as clients send them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/*
 * The first byte chooses where the input is cut (the parser must give the
 * same answer whatever the pieces) and how tight the limits are; the rest
 * is a client's byte stream, parsed request after request.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resp_limits lim = { .max_multibulk = 64, .max_bulk = 4096, .max_inline = 256 };
    struct resp_request r = { 0 };
    size_t cut, off = 0, len;
    char *buf;

    if (size < 1)
        return 0;
    cut = data[0];
    if (cut & 1)
        lim = (struct resp_limits){ .max_multibulk = 4, .max_bulk = 16, .max_inline = 16 };
    data++;
    size--;
    if ((buf = malloc(size ? size : 1)) == NULL)
        return 0;
    memcpy(buf, data, size);
    len = cut % 8 < size ? cut % 8 : size;   /* first piece; the rest arrives whole */
    for (;;) {
        int st = resp_parse_request(&r, buf + off, len - off, &lim);
        if (st == RESP_AGAIN) {
            if (len == size)
                break;
            len = size;
            continue;
        }
        if (st == RESP_ERROR) {
            if (r.error == NULL)
                abort();   /* an error always says what */
            break;
        }
        /* a whole request: it lies within what was given, and so do its arguments */
        if (r.size == 0 || r.size > len - off)
            abort();
        for (uint32_t i = 0; i < r.argc; i++)
            if ((uint64_t)r.args[i].off + r.args[i].len > r.size)
                abort();
        off += r.size;
        resp_request_reset(&r);
        if (off == size)
            break;
        if (len < off)
            len = off;
    }
    resp_request_free(&r);
    free(buf);
    return 0;
}
