/* SPDX-License-Identifier: Apache-2.0 */
/* test_conf_pins.c — which configuration generations a worker holds: held while referenced, and when that changed. */
#include "conf_pins.h"
#include "unit.h"

static void test_nothing_held(void)
{
    struct conf_pins p = { 0 };

    CHECK(!conf_pins_held(&p, 0));
    conf_pins_drop(&p, 3);   /* not held: ignored */
    CHECK(!conf_pins_held(&p, 3) && !p.changed);
    conf_pins_free(&p);
}

static void test_held_until_its_last_reference_goes(void)
{
    struct conf_pins p = { 0 };

    conf_pins_hold(&p, 3);
    conf_pins_hold(&p, 5);
    CHECK(p.changed);
    p.changed = 0;
    conf_pins_hold(&p, 3);
    CHECK(!p.changed);   /* one more reference: the set is the same */
    CHECK(conf_pins_held(&p, 3) && conf_pins_held(&p, 5) && !conf_pins_held(&p, 4));
    conf_pins_drop(&p, 3);
    CHECK(conf_pins_held(&p, 3) && !p.changed);
    conf_pins_drop(&p, 3);
    CHECK(!conf_pins_held(&p, 3) && conf_pins_held(&p, 5) && p.changed);
    conf_pins_drop(&p, 5);
    CHECK_EQ(p.n, 0);
    conf_pins_free(&p);
}

/* An old generation held by one long-lived reference does not keep the
 * newer ones: each is held or not on its own. */
static void test_generations_are_held_each_on_its_own(void)
{
    struct conf_pins p = { 0 };

    conf_pins_hold(&p, 1);
    for (unsigned g = 2; g <= 1000; g++) {
        conf_pins_hold(&p, g);
        conf_pins_hold(&p, g);
    }
    for (unsigned g = 2; g <= 1000; g++) {
        conf_pins_drop(&p, g);
        conf_pins_drop(&p, g);
        CHECK(!conf_pins_held(&p, g));
    }
    CHECK(conf_pins_held(&p, 1));
    CHECK_EQ(p.n, 1);
    conf_pins_free(&p);
}

int main(void)
{
    RUN(test_nothing_held);
    RUN(test_held_until_its_last_reference_goes);
    RUN(test_generations_are_held_each_on_its_own);
    return 0;
}
