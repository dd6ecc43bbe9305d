/* SPDX-License-Identifier: Apache-2.0 */
// test_libco_examples.cc — the shapes of libco's example programs that use only
// its public headers, built as they are written: an echo server that declares
// co_accept itself (C++ linkage) and accepts on a non-blocking socket with
// co_poll, and coroutine-specific data through CO_ROUTINE_SPECIFIC.
#include "co_routine.h"
#include "co_routine_specific.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "unit.h"   // CHECK

int co_accept(int fd, struct sockaddr *addr, socklen_t *len);   // as libco's programs declare it

static int g_active = 0;
static std::vector<stCoRoutine_t *> g_all;

static void Spawn(void *(*fn)(void *), void *arg)
{
    stCoRoutine_t *co = NULL;
    CHECK(co_create(&co, NULL, fn, arg) == 0);
    g_all.push_back(co);
    g_active++;
    co_resume(co);
}

static int Tick(void *)
{
    return g_active == 0 ? -1 : 0;
}

// ---- the echo server's shape ----

static const int kClients = 8;
static int g_listen = -1;

static void *Reply(void *arg)
{
    co_enable_hook_sys();
    int fd = (int)(long)arg;
    char buf[256];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        CHECK(write(fd, buf, n) == n);
    }
    close(fd);
    g_active--;
    return NULL;
}

static void *Accept(void *)
{
    co_enable_hook_sys();
    for (int served = 0; served < kClients;) {
        struct sockaddr_in addr;
        socklen_t len = sizeof addr;
        int fd = co_accept(g_listen, (struct sockaddr *)&addr, &len);
        if (fd < 0) {   // nothing yet: wait for the listening socket
            CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
            struct pollfd pf = { g_listen, POLLIN | POLLERR | POLLHUP, 0 };
            co_poll(co_get_epoll_ct(), &pf, 1, 1000);
            continue;
        }
        CHECK(len == sizeof addr && addr.sin_family == AF_INET);
        Spawn(Reply, (void *)(long)fd);
        served++;
    }
    g_active--;
    return NULL;
}

static void *Client(void *arg)
{
    co_enable_hook_sys();
    int port = (int)(long)arg, fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    for (int i = 0; i < 5; i++) {
        char msg[32], back[32];
        int n = std::snprintf(msg, sizeof msg, "ping %d from %d", i, fd);
        CHECK(write(fd, msg, n) == n);
        int got = 0;
        while (got < n) {
            ssize_t k = read(fd, back + got, n - got);
            CHECK(k > 0);
            got += (int)k;
        }
        CHECK(std::memcmp(msg, back, n) == 0);
    }
    close(fd);
    g_active--;
    return NULL;
}

static void EchoServer()
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    g_listen = socket(AF_INET, SOCK_STREAM, 0);
    std::memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(g_listen, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(g_listen, 128) == 0);
    CHECK(getsockname(g_listen, (struct sockaddr *)&addr, &len) == 0);
    CHECK(fcntl(g_listen, F_SETFL, fcntl(g_listen, F_GETFL) | O_NONBLOCK) == 0);   // as the example sets it
    Spawn(Accept, NULL);
    for (int i = 0; i < kClients; i++)
        Spawn(Client, (void *)(long)ntohs(addr.sin_port));
    co_eventloop(co_get_epoll_ct(), Tick, NULL);
    close(g_listen);
}

// ---- the specific-data example's shape ----

struct RoutineData { int idx; };
CO_ROUTINE_SPECIFIC(RoutineData, __routine);

static int g_seen_own = 0;

static void *Specific(void *arg)
{
    co_enable_hook_sys();
    int id = (int)(long)arg;
    CHECK(__routine->idx == 0);   // zeroed for each coroutine
    __routine->idx = id;
    for (int i = 0; i < 3; i++) {
        poll(NULL, 0, 2);   // the others run meanwhile
        CHECK(__routine->idx == id);
    }
    g_seen_own++;
    free(__routine.operator->());   // (libco leaves them; the leak checker would not)
    g_active--;
    return NULL;
}

static void SpecificData()
{
    for (int i = 1; i <= 10; i++)
        Spawn(Specific, (void *)(long)i);
    co_eventloop(co_get_epoll_ct(), Tick, NULL);
    CHECK(g_seen_own == 10);
    __routine->idx = 99;   // outside coroutines: the thread's own
    CHECK(__routine->idx == 99);
    free(__routine.operator->());
}

int main()
{
    EchoServer();
    SpecificData();
    for (size_t i = 0; i < g_all.size(); i++)
        co_release(g_all[i]);
    std::printf("libco's echo server and specific-data shapes ran\n");
    return 0;
}
