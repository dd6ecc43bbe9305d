/* SPDX-License-Identifier: Apache-2.0 */
/* redis_acl.h — redis mode: users at the proxy: AUTH and its lockout, NOPERM before anything reaches a server, the ACL command. */
#ifndef COPROXY_REDIS_ACL_H
#define COPROXY_REDIS_ACL_H

#include "redis.h"
#include "redis_cmd.h"

/* Who a new (or RESET) connection is: the default user when it is on and
 * needs no password, else nobody (it must AUTH first). */
const struct acl_user *acl_new_client_user(const struct redis_pool *p);

/*
 * AUTH [user] pass, and HELLO's AUTH: user NULL is "default".  0 once c is
 * that user; -1 with the error replied (WRONGPASS; or, from an address
 * past auth_max_failures with auth_lockout "close", a refusal and c
 * closing).  Past auth_max_failures with "delay", the attempt waits
 * auth_delay first, and a connection whose delayed attempt fails is closed.
 * A failure is counted and logged, never its password.
 */
int acl_auth(struct redis_client *c, const char *req, const struct resp_arg *user, const struct resp_arg *pass);

/* Whether c's user may not run the request: 1 with Redis's NOPERM (or
 * SORT's) error replied and counted, else 0. */
int acl_refuse(struct redis_client *c, const struct redis_cmd *cmd, const char *req, const struct resp_request *r);

/* ACL WHOAMI, CAT, LIST, USERS, GETUSER (no passwords), DRYRUN, GENPASS,
 * HELP; SETUSER and the other writers are refused (users live in the
 * configuration). */
void acl_command(struct redis_client *c, const char *req, const struct resp_request *r);

/* After a reload gave p new users (the old ones still readable): each
 * client moves to its user's new rules; one whose user was removed or
 * turned off, or whose subscriptions the new rules deny, is closed. */
void acl_users_changed(struct redis_pool *p);

#endif
