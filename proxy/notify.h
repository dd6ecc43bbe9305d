/* SPDX-License-Identifier: Apache-2.0 */
/* notify.h — telling systemd (Type=notify) that the daemon is ready, reloading or stopping. */
#ifndef COPROXY_NOTIFY_H
#define COPROXY_NOTIFY_H

/* Sends state lines such as "READY=1\nSTATUS=..." to $NOTIFY_SOCKET; does
 * nothing when the daemon was not started by systemd. */
void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
