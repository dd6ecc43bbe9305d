/* SPDX-License-Identifier: Apache-2.0 */
/* addr_owner.c — whether another process already listens on an address, and which. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr_owner.h"

/* The inode of a socket listening on port (any address) in /proc/net/FILE, or 0. */
static unsigned long listening_inode(const char *file, int port)
{
    char path[64], line[512];
    unsigned long inode = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/net/%s", file);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (inode == 0 && fgets(line, sizeof line, f) != NULL) {
        char local[80];
        unsigned st, lport;
        unsigned long ino;
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        if (sscanf(line, " %*d: %79s %*s %x %*s %*s %*s %*u %*u %lu", local, &st, &ino) != 3)
            continue;
        char *colon = strrchr(local, ':');
        if (colon == NULL || sscanf(colon + 1, "%x", &lport) != 1)
            continue;
        if (st == 0x0A && (int)lport == port)   /* TCP_LISTEN */
            inode = ino;
    }
    fclose(f);
    return inode;
}

/* The inode of the Unix socket listening at path, or 0. */
static unsigned long unix_inode(const char *sun_path)
{
    char line[1024];
    unsigned long inode = 0;
    FILE *f = fopen("/proc/net/unix", "r");

    if (f == NULL)
        return 0;
    while (inode == 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned long ino;
        char p[512];
        /* Num RefCount Protocol Flags Type St Inode Path */
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %511s", &ino, p) == 2 && strcmp(p, sun_path) == 0)
            inode = ino;
    }
    fclose(f);
    return inode;
}

/* "pid N (comm)" of the process holding socket inode, into who; 0 if found. */
static int inode_owner(unsigned long inode, char *who, size_t n)
{
    char want[48], path[600], link[64];
    struct dirent *p;
    DIR *procs = opendir("/proc");
    int found = 0;

    if (procs == NULL || inode == 0) {
        if (procs)
            closedir(procs);
        return -1;
    }
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    while (!found && (p = readdir(procs)) != NULL) {
        DIR *fds;
        struct dirent *fd;
        if (p->d_name[0] < '0' || p->d_name[0] > '9' || atoi(p->d_name) == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%s/fd", p->d_name);
        if ((fds = opendir(path)) == NULL)
            continue;
        while (!found && (fd = readdir(fds)) != NULL) {
            ssize_t k;
            snprintf(path, sizeof path, "/proc/%s/fd/%s", p->d_name, fd->d_name);
            if ((k = readlink(path, link, sizeof link - 1)) <= 0)
                continue;
            link[k] = '\0';
            if (strcmp(link, want) == 0)
                found = 1;
        }
        closedir(fds);
        if (found) {
            char comm[64] = "?";
            FILE *f;
            snprintf(path, sizeof path, "/proc/%s/comm", p->d_name);
            if ((f = fopen(path, "r")) != NULL) {
                if (fgets(comm, sizeof comm, f) != NULL)
                    comm[strcspn(comm, "\n")] = '\0';
                fclose(f);
            }
            snprintf(who, n, "pid %s (%s)", p->d_name, comm);
        }
    }
    closedir(procs);
    return found ? 0 : -1;
}

int addr_owner(const struct proxy_addr *a, char *who, size_t n)
{
    int fd, one = 1, taken;
    unsigned long inode;

    snprintf(who, n, "another process");
    if (a->family == AF_UNIX) {
        struct stat st;
        if (stat(a->un.sun_path, &st) != 0 || !S_ISSOCK(st.st_mode))
            return 0;
        if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            return 0;
        taken = connect(fd, &a->sa, a->len) == 0;   /* a stale socket refuses: ECONNREFUSED */
        close(fd);
        inode = taken ? unix_inode(a->un.sun_path) : 0;
    } else {
        if ((fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            return 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);   /* (TIME_WAIT is nobody's) */
        if (a->family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        taken = bind(fd, &a->sa, a->len) != 0 && errno == EADDRINUSE;
        close(fd);
        inode = taken ? listening_inode(a->family == AF_INET6 ? "tcp6" : "tcp", addr_port(a)) : 0;
        if (taken && inode == 0 && a->family == AF_INET)
            inode = listening_inode("tcp6", addr_port(a));   /* a dual-stack [::] listener */
    }
    if (taken)
        inode_owner(inode, who, n);
    return taken;
}
