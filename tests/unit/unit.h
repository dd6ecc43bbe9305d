/* SPDX-License-Identifier: Apache-2.0 */
/* unit.h — the few helpers the C unit tests share: checks and death tests. */
#ifndef COSTACK_TEST_UNIT_H
#define COSTACK_TEST_UNIT_H

#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_) {                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n",\
                    __FILE__, __LINE__, #a, a_, #b, b_);                      \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

/* xorshift64: reproducible "random" sequences for tests (state nonzero). */
static inline uint64_t unit_xorshift(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#define RUN(test)                                                             \
    do {                                                                      \
        fprintf(stderr, "  %s ...\n", #test);                                 \
        test();                                                               \
        fprintf(stderr, "  %s ok\n", #test);                                  \
    } while (0)

/*
 * Runs fn() in a child process and checks that it dies abnormally (killed
 * by a signal, or a non-zero exit under a sanitizer) and that its stderr
 * contains `expect` (NULL: must not contain "costack:").
 */
static inline void expect_death_on(void (*fn)(void), const char *expect, int use_socket)
{
    int pipefd[2], status;
    char buf[8192];
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    if (use_socket)   /* stderr a socket, as under journald */
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pipefd) == 0);
    else
        CHECK(pipe(pipefd) == 0);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], STDERR_FILENO);
        if (use_socket == 2) {   /* full: the report's write must wait for the reader */
            char junk[4096];
            int fl = fcntl(STDERR_FILENO, F_GETFL);
            memset(junk, '.', sizeof junk);
            fcntl(STDERR_FILENO, F_SETFL, fl | O_NONBLOCK);
            while (write(STDERR_FILENO, junk, sizeof junk) > 0)
                ;
            fcntl(STDERR_FILENO, F_SETFL, fl);
        }
        fn();
        _exit(0);   /* surviving is a test failure */
    }
    close(pipefd[1]);
    if (use_socket == 2)
        usleep(300 * 1000);   /* the child is in its report's write by now */
    while ((n = read(pipefd[0], buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t)n;
        if (len > sizeof buf / 2) {   /* keep the last half: the message comes last */
            memmove(buf, buf + len - sizeof buf / 4, sizeof buf / 4);
            len = sizeof buf / 4;
        }
    }
    buf[len] = '\0';
    close(pipefd[0]);
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0))) {
        fprintf(stderr, "child survived; its stderr:\n%s\n", buf);
        CHECK(!"the child should have died");
    }
    if (expect != NULL && strstr(buf, expect) == NULL) {
        fprintf(stderr, "child's stderr lacks \"%s\":\n%s\n", expect, buf);
        CHECK(!"expected message");
    }
    if (expect == NULL && strstr(buf, "costack:") != NULL) {
        fprintf(stderr, "child's stderr has an unexpected costack message:\n%s\n", buf);
        CHECK(!"no costack message expected");
    }
}

static inline void expect_death(void (*fn)(void), const char *expect)
{
    expect_death_on(fn, expect, 0);
}

#endif
