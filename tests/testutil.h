/* Shared by the Check test programs: running a suite, and a log sink that
 * keeps expected warnings out of the test logs. */
#ifndef RSHARE_TESTUTIL_H
#define RSHARE_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

#include <rshare/common.h>

static inline int rs_test_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline void rs_test_quiet_log(void *user_data, enum rshare_log_level level,
                                     const char *message)
{
    (void)user_data;
    (void)level;
    (void)message;
}

#endif
