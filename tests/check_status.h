/* ck_assert_fails(call, status, text): the call returns `status` and
 * cerebro_last_error() contains `text`, the two things a caller sees when
 * something is refused. For Check tests that include cerebro/cerebro.h. */
#ifndef CEREBRO_TESTS_CHECK_STATUS_H
#define CEREBRO_TESTS_CHECK_STATUS_H

#include <check.h>
#include <string.h>

#define ck_assert_fails(call, status, text)                                                        \
    do {                                                                                           \
        cerebro_status st_ = (call);                                                               \
        ck_assert_msg(st_ == (status), "%s: %d, expected %d (%s)", #call, st_, status,             \
                      cerebro_last_error());                                                       \
        ck_assert_msg(strstr(cerebro_last_error(), text), "%s: '%s' lacks '%s'", #call,            \
                      cerebro_last_error(), text);                                                 \
    } while (0)

#endif
