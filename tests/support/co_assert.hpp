#pragma once

// Fatal assertions for coroutine test bodies. gtest's ASSERT_* macros expand to `return`,
// which a coroutine cannot use; these report through EXPECT_* and then `co_return`.
// Only for coroutines returning Task<> (ASYNCIO_TEST bodies and void helpers).

#include <gtest/gtest.h>

#define CO_ASSERT_TRUE(condition)      \
    do {                               \
        if (!(condition)) {            \
            EXPECT_TRUE(condition);    \
            co_return;                 \
        }                              \
    } while (0)

#define CO_ASSERT_EQ(a, b)       \
    do {                         \
        if (!((a) == (b))) {     \
            EXPECT_EQ(a, b);     \
            co_return;           \
        }                        \
    } while (0)

#define CO_ASSERT_NE(a, b)       \
    do {                         \
        if (!((a) != (b))) {     \
            EXPECT_NE(a, b);     \
            co_return;           \
        }                        \
    } while (0)
