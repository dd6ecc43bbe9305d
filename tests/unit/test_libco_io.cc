/* SPDX-License-Identifier: Apache-2.0 */
// test_libco_io.cc — libco-style C++ programs using the loop: echo, producer/consumer, poll.
#include "co_routine.h"
#include "costack.h"   // co_free_sharestack: cleanup for LeakSanitizer only

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <queue>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "unit.h"   // CHECK

static int g_active = 0;
static std::vector<stCoRoutine_t *> g_all;   // released after each loop

static stCoRoutine_t *Spawn(const stCoRoutineAttr_t *attr, void *(*fn)(void *), void *arg)
{
    stCoRoutine_t *co = NULL;
    CHECK(co_create(&co, attr, fn, arg) == 0);
    g_all.push_back(co);
    g_active++;
    co_resume(co);
    return co;
}

static void ReleaseAll()
{
    for (size_t i = 0; i < g_all.size(); i++)
        co_release(g_all[i]);
    g_all.clear();
}

static int TickFunc(void *)
{
    return g_active == 0 ? -1 : 0;
}

// ---- echo server and clients, written as libco's examples write them ----

struct ServerArgs { int listen_fd; int to_serve; stShareStack_t *share; };
struct ClientArgs { int port; int id; bool ok; };

static void *EchoConn(void *arg)
{
    co_enable_hook_sys();
    int fd = (int)(long)arg;
    char buf[512];
    for (;;) {
        int n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        CHECK(write(fd, buf, n) == n);
    }
    close(fd);
    g_active--;
    return NULL;
}

static void *Acceptor(void *arg)
{
    co_enable_hook_sys();
    ServerArgs *s = static_cast<ServerArgs *>(arg);
    static stCoRoutineAttr_t attr;
    attr.share_stack = co_alloc_sharestack(4, 128 * 1024);
    for (int i = 0; i < s->to_serve; i++) {
        int fd = accept(s->listen_fd, NULL, NULL);
        CHECK(fd >= 0);
        Spawn(&attr, EchoConn, (void *)(long)fd);
    }
    s->share = attr.share_stack;
    g_active--;
    return NULL;
}

static void *Client(void *arg)
{
    co_enable_hook_sys();
    ClientArgs *c = static_cast<ClientArgs *>(arg);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    std::memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(c->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    for (int i = 0; i < 10; i++) {
        std::string msg = "client " + std::to_string(c->id) + " message " + std::to_string(i);
        CHECK(write(fd, msg.data(), msg.size()) == (ssize_t)msg.size());
        std::string back(msg.size(), '\0');
        size_t got = 0;
        while (got < msg.size()) {
            int n = read(fd, &back[got], msg.size() - got);
            CHECK(n > 0);
            got += n;
        }
        CHECK(back == msg);
    }
    close(fd);
    c->ok = true;
    g_active--;
    return NULL;
}

static void TestEcho()
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    std::memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
    CHECK(listen(lfd, 128) == 0);
    CHECK(getsockname(lfd, (struct sockaddr *)&addr, &len) == 0);

    const int kClients = 20;
    ServerArgs server = { lfd, kClients, NULL };
    std::vector<ClientArgs> clients(kClients);
    Spawn(NULL, Acceptor, &server);
    for (int i = 0; i < kClients; i++) {
        clients[i] = ClientArgs{ ntohs(addr.sin_port), i, false };
        Spawn(NULL, Client, &clients[i]);
    }
    co_eventloop(co_get_epoll_ct(), TickFunc, NULL);
    for (int i = 0; i < kClients; i++)
        CHECK(clients[i].ok);
    close(lfd);
    ReleaseAll();
    CHECK(co_free_sharestack(server.share) == 0);
}

// ---- producer / consumer with a condition variable (libco's example_cond) ----

struct Queue {
    stCoCond_t *cond;
    std::queue<int> items;
    int consumed;
    long sum;
};

static void *Producer(void *arg)
{
    co_enable_hook_sys();
    Queue *q = static_cast<Queue *>(arg);
    for (int i = 1; i <= 100; i++) {
        q->items.push(i);
        co_cond_signal(q->cond);
        if (i % 10 == 0)
            poll(NULL, 0, 1);   // libco's idiom for "sleep 1 ms"
    }
    g_active--;
    return NULL;
}

static void *Consumer(void *arg)
{
    co_enable_hook_sys();
    Queue *q = static_cast<Queue *>(arg);
    while (q->consumed < 100) {
        if (q->items.empty()) {
            co_cond_timedwait(q->cond, -1);
            continue;
        }
        q->sum += q->items.front();
        q->items.pop();
        q->consumed++;
    }
    g_active--;
    return NULL;
}

static void TestProducerConsumer()
{
    Queue q;
    q.cond = co_cond_alloc();
    q.consumed = 0;
    q.sum = 0;
    Spawn(NULL, Consumer, &q);
    Spawn(NULL, Producer, &q);
    co_eventloop(co_get_epoll_ct(), TickFunc, NULL);
    CHECK(q.consumed == 100);
    CHECK(q.sum == 5050);
    CHECK(co_cond_free(q.cond) == 0);
    ReleaseAll();
}

// ---- poll with timeouts on shared-stack coroutines ----

static int g_pipe[2];
static int g_poll_results[2];

static void *PollTimeout(void *)
{
    co_enable_hook_sys();
    struct pollfd pf = { g_pipe[0], POLLIN, 0 };
    g_poll_results[0] = poll(&pf, 1, 30);       // nothing to read: 0 after 30 ms
    g_poll_results[1] = poll(&pf, 1, 5000);     // the writer comes first
    CHECK(pf.revents & POLLIN);
    g_active--;
    return NULL;
}

static void *LateWriter(void *)
{
    co_enable_hook_sys();
    poll(NULL, 0, 60);
    CHECK(write(g_pipe[1], "z", 1) == 1);
    g_active--;
    return NULL;
}

static void TestPollTimeouts()
{
    CHECK(pipe(g_pipe) == 0);
    stCoRoutineAttr_t attr;
    attr.share_stack = co_alloc_sharestack(1, 128 * 1024);
    Spawn(&attr, PollTimeout, NULL);
    Spawn(&attr, LateWriter, NULL);
    co_eventloop(co_get_epoll_ct(), TickFunc, NULL);
    ReleaseAll();
    CHECK(co_free_sharestack(attr.share_stack) == 0);
    CHECK(g_poll_results[0] == 0);
    CHECK(g_poll_results[1] == 1);
    close(g_pipe[0]);
    close(g_pipe[1]);
}

int main()
{
    TestEcho();
    TestProducerConsumer();
    TestPollTimeouts();
    std::printf("libco-style echo, producer/consumer and poll programs ran\n");
    return 0;
}
