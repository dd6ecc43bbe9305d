/* SPDX-License-Identifier: Apache-2.0 */
/* co_routine_specific.h — libco's CO_ROUTINE_SPECIFIC(type, name): a `type`
 * of each coroutine's own, reached as name->field (C++). */
#ifndef CO_ROUTINE_SPECIFIC_H
#define CO_ROUTINE_SPECIFIC_H

#include <pthread.h>
#include <stdlib.h>

#include "co_routine.h"

#ifdef __cplusplus
namespace costack {

/* One pthread key per declaration (Tag tells them apart), made on first
 * use; each coroutine's T is allocated zeroed on its first access (outside
 * coroutines, the thread's).  operator-> is NULL if out of memory.  As in
 * libco, the T are not freed when their coroutine ends. */
template <class T, class Tag>
class routine_specific {
public:
    T *operator->() const
    {
        pthread_key_t k = key();
        T *p = static_cast<T *>(co_getspecific(k));
        if (p == NULL && (p = static_cast<T *>(calloc(1, sizeof(T)))) != NULL && co_setspecific(k, p) != 0) {
            free(p);
            p = NULL;
        }
        return p;
    }

private:
    static pthread_key_t key()
    {
        static const pthread_key_t k = make_key();   /* (made once, by whichever thread comes first) */
        return k;
    }
    static pthread_key_t make_key()
    {
        pthread_key_t k;
        if (pthread_key_create(&k, NULL) != 0)
            abort();   /* no key left in the process: nothing sensible to return */
        return k;
    }
};

}   /* namespace costack */

#define CO_ROUTINE_SPECIFIC(type, name)                  \
    struct costack_specific_tag_##name {};               \
    static costack::routine_specific<type, costack_specific_tag_##name> name
#endif

#endif
