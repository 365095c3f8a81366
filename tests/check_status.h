/* Assertions on what a caller of libcerebro sees, for Check tests that
 * include cerebro/cerebro.h:
 *   OK(call)                       the call returns CEREBRO_OK;
 *   ck_assert_fails(call, st, txt) it returns `st` and cerebro_last_error()
 *                                  contains `txt`, as when something is refused;
 *   open_test_model(path)          a model fixture, fp32 on two threads. */
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

#define OK(call)                                                                                   \
    do {                                                                                           \
        cerebro_status st_ = (call);                                                               \
        ck_assert_msg(st_ == CEREBRO_OK, "%s: %s (%s)", #call, cerebro_status_string(st_),         \
                      cerebro_last_error());                                                       \
    } while (0)

static inline cerebro_model *open_test_model(const char *path)
{
    cerebro_model_options o;
    cerebro_model *m = NULL;
    cerebro_model_options_init(&o);
    o.n_threads = 2;
    o.precision = CEREBRO_PRECISION_FP32;
    cerebro_status st = cerebro_model_open(&m, path, &o);
    ck_assert_msg(st == CEREBRO_OK, "%s: %s (run the model fixture first)", path, cerebro_last_error());
    return m;
}

#endif
