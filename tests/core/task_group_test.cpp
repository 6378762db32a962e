#include <asyncio/task_group.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {
asyncio::Task<int> value_after(int value, asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    co_return value;
}
asyncio::Task<> fail_after(asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    throw std::runtime_error("child failed");
}
}  // namespace

ASYNCIO_TEST(TaskGroup, WaitsForEveryChild) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    asyncio::TaskHandle<int> a, b;
    co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        a = tg.create_task(value_after(1, 1s));
        b = tg.create_task(value_after(2, 2s));
        co_return;
    });
    EXPECT_EQ(a.result() + b.result(), 3);
    EXPECT_EQ(loop.time() - start, 2s);
}

ASYNCIO_TEST(TaskGroup, ChildFailureCancelsSiblingsAndBody) {
    asyncio::TaskHandle<int> sibling;
    bool body_cancelled = false;
    try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            sibling = tg.create_task(value_after(1, 1h));
            tg.create_task(fail_after(1s));
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                body_cancelled = true;
                throw;
            }
        });
        ADD_FAILURE() << "no ExceptionGroup";
    } catch (const asyncio::ExceptionGroup& group) {
        EXPECT_EQ(group.size(), 1u);
        EXPECT_EQ(group.count<std::runtime_error>(), 1u);
    }
    EXPECT_TRUE(sibling.cancelled());
    EXPECT_TRUE(body_cancelled);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

namespace {

asyncio::Task<> nothing_after(asyncio::Duration delay) { co_await asyncio::sleep(delay); }

template <class E>
asyncio::Task<> throw_after(asyncio::Duration delay, std::string what) {
    co_await asyncio::sleep(delay);
    throw E(what);
}

// Waits forever; when cancelled, fails with `what` instead of acknowledging.
asyncio::Task<> fail_when_cancelled(std::string what) {
    bool cancelled = false;
    try {
        co_await asyncio::sleep(1h);
    } catch (const asyncio::CancelledError&) {
        cancelled = true;
    }
    if (cancelled) throw std::logic_error(what);
}

std::vector<std::string> messages_of(const asyncio::ExceptionGroup& group) {
    std::vector<std::string> messages;
    for (const auto& error : group.exceptions()) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            messages.emplace_back(e.what());
        } catch (const asyncio::BaseException& e) {
            messages.emplace_back(e.what());
        }
    }
    return messages;
}

}  // namespace

ASYNCIO_TEST(TaskGroup, GivesTheBodysValue) {
    int v = co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<int> {
        auto a = tg.create_task(value_after(20, 1s));
        auto b = tg.create_task(value_after(22, 2s));
        co_return co_await a + co_await b;
    });
    EXPECT_EQ(v, 42);
}

ASYNCIO_TEST(TaskGroup, EmptyGroupEndsAtOnce) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        EXPECT_EQ(tg.size(), 0u);
        co_return;
    });
    EXPECT_EQ(loop.time(), start);
}

ASYNCIO_TEST(TaskGroup, SizeCountsChildrenNotDoneYet) {
    co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        tg.create_task(nothing_after(1s));
        tg.create_task(nothing_after(3s));
        EXPECT_EQ(tg.size(), 2u);
        co_await asyncio::sleep(2s);
        EXPECT_EQ(tg.size(), 1u);
    });
}

ASYNCIO_TEST(TaskGroup, ChildCanAddTasksWhileTheGroupJoins) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool late_child_ran = false;
    co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        tg.create_task([](asyncio::TaskGroup& group, bool& ran) -> asyncio::Task<> {
            co_await asyncio::sleep(1s);
            group.create_task([](bool& flag) -> asyncio::Task<> {
                co_await asyncio::sleep(2s);
                flag = true;
            }(ran));
        }(tg, late_child_ran));
        co_return;  // the body ends at once: the group is joining when the child adds one
    });
    EXPECT_TRUE(late_child_ran);
    EXPECT_EQ(loop.time() - start, 3s);
}

ASYNCIO_TEST(TaskGroup, EveryFailedChildIsInTheExceptionGroup) {
    // One child fails; the two others fail while being cancelled: all three errors are kept.
    bool caught = false;
    try {
        co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            tg.create_task(fail_when_cancelled("cleanup one"));
            tg.create_task(fail_when_cancelled("cleanup two"));
            tg.create_task(throw_after<std::runtime_error>(1s, "first"));
            co_return;
        });
    } catch (const asyncio::ExceptionGroup& group) {
        caught = true;
        EXPECT_EQ(group.size(), 3u);
        EXPECT_EQ(group.count<std::runtime_error>(), 1u);
        EXPECT_EQ(group.count<std::logic_error>(), 2u);
        EXPECT_EQ(group.count<asyncio::CancelledError>(), 0u);
        auto messages = messages_of(group);
        CO_ASSERT_EQ(messages.size(), 3u);
        EXPECT_EQ(messages[0], "first");  // in the order they happened
    }
    EXPECT_TRUE(caught);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(TaskGroup, ChildrenFailingInTheSameIterationAreAllReported) {
    // CPython runs a TaskGroup's _on_task_done as a done callback, i.e. in the iteration
    // after the child finished: three children whose sleeps end together all raise before
    // the group cancels anyone, and the ExceptionGroup holds three errors.
    std::size_t size = 0;
    try {
        co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            for (int i = 0; i < 3; ++i) {
                tg.create_task(throw_after<std::runtime_error>(1s, "child " + std::to_string(i)));
            }
            co_return;
        });
    } catch (const asyncio::ExceptionGroup& group) {
        size = group.size();
    }
    EXPECT_EQ(size, 3u);
}

ASYNCIO_TEST(TaskGroup, ErrorsAreInspectableWithRethrowException) {
    try {
        co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            tg.create_task(throw_after<std::invalid_argument>(1s, "bad argument"));
            co_return;
        });
        ADD_FAILURE() << "no ExceptionGroup";
    } catch (const asyncio::ExceptionGroup& group) {
        CO_ASSERT_EQ(group.exceptions().size(), 1u);
        std::string what;
        try {
            std::rethrow_exception(group.exceptions()[0]);
        } catch (const std::invalid_argument& e) {
            what = e.what();
        } catch (...) {
            what = "wrong type";
        }
        EXPECT_EQ(what, "bad argument");
        EXPECT_NE(std::string(group.what()), "");
    }
}

ASYNCIO_TEST(TaskGroup, BodyErrorAloneIsWrappedInTheGroup) {
    // CPython: an error raised by the body itself also comes out inside the ExceptionGroup.
    asyncio::TaskHandle<> child;
    bool caught = false;
    try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            child = tg.create_task(nothing_after(1h));
            co_await asyncio::sleep(1s);
            throw std::runtime_error("body failed");
        });
    } catch (const asyncio::ExceptionGroup& group) {
        caught = true;
        EXPECT_EQ(group.size(), 1u);
        EXPECT_EQ(messages_of(group), std::vector<std::string>{"body failed"});
    }
    EXPECT_TRUE(caught);
    EXPECT_TRUE(child.cancelled());
}

ASYNCIO_TEST(TaskGroup, BodyErrorAfterAChildFailureIsIncludedToo) {
    bool caught = false;
    try {
        co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            tg.create_task(throw_after<std::runtime_error>(1s, "child"));
            bool cancelled = false;
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                cancelled = true;
            }
            if (cancelled) throw std::logic_error("body");
        });
    } catch (const asyncio::ExceptionGroup& group) {
        caught = true;
        EXPECT_EQ(messages_of(group), (std::vector<std::string>{"child", "body"}));
    }
    EXPECT_TRUE(caught);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(TaskGroup, CreateTaskAfterAFailureThrowsShuttingDown) {
    std::string message;
    bool started = false;
    try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            tg.create_task(throw_after<std::runtime_error>(1s, "child"));
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                try {
                    tg.create_task([](bool& flag) -> asyncio::Task<> {
                        flag = true;
                        co_return;
                    }(started));
                } catch (const asyncio::RuntimeError& e) {
                    message = e.what();
                }
                throw;
            }
        });
    } catch (const asyncio::ExceptionGroup&) {
    }
    EXPECT_NE(message.find("shutting down"), std::string::npos) << message;
    co_await asyncio::sleep(1s);
    EXPECT_FALSE(started);
}

ASYNCIO_TEST(TaskGroup, ExternalCancelCancelsChildrenAndPropagatesCancelledError) {
    auto& loop = asyncio::get_running_loop();
    int children_cancelled = 0;
    bool body_cancelled = false;
    auto counted = [](int& count) -> asyncio::Task<> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            ++count;
            throw;
        }
    };
    // A named closure: it must outlive the coroutine that uses its captures.
    auto parent_body = [&]() -> asyncio::Task<> {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            for (int i = 0; i < 5; ++i) tg.create_task(counted(children_cancelled));
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                body_cancelled = true;
                throw;
            }
        });
    };
    auto parent = asyncio::create_task(parent_body());
    co_await asyncio::sleep(1s);
    const auto cancelled_at = loop.time();
    parent.cancel("from outside");
    std::string message;
    bool group_error = false;
    try {
        co_await parent;
    } catch (const asyncio::CancelledError& e) {
        message = e.message();
    } catch (const asyncio::ExceptionGroup&) {
        group_error = true;
    }
    EXPECT_FALSE(group_error);
    EXPECT_EQ(message, "from outside");
    EXPECT_TRUE(parent.cancelled());
    EXPECT_EQ(children_cancelled, 5);
    EXPECT_TRUE(body_cancelled);
    EXPECT_EQ(loop.time(), cancelled_at);
}

ASYNCIO_TEST(TaskGroup, ExternalCancelWhileJoiningPropagatesCancelledError) {
    // The body has ended; the group waits for its children when the cancel arrives.
    int children_cancelled = 0;
    auto parent = asyncio::create_task([](int& count) -> asyncio::Task<> {
        co_await asyncio::task_group([&count](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            for (int i = 0; i < 3; ++i) {
                tg.create_task([](int& n) -> asyncio::Task<> {
                    try {
                        co_await asyncio::sleep(1h);
                    } catch (const asyncio::CancelledError&) {
                        ++n;
                        throw;
                    }
                }(count));
            }
            co_return;
        });
    }(children_cancelled));
    co_await asyncio::sleep(1s);
    parent.cancel();
    EXPECT_THROW(co_await parent, asyncio::CancelledError);
    EXPECT_EQ(children_cancelled, 3);
}

ASYNCIO_TEST(TaskGroup, ChildCancelledDirectlyIsNotAnError) {
    asyncio::TaskHandle<> doomed;
    int v = co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<int> {
        doomed = tg.create_task(nothing_after(1h));
        auto other = tg.create_task(value_after(3, 2s));
        co_await asyncio::sleep(1s);
        doomed.cancel();
        co_return co_await other;
    });
    EXPECT_EQ(v, 3);
    EXPECT_TRUE(doomed.cancelled());
}

// ---- regressions of CPython TaskGroup bugs ----

ASYNCIO_TEST(TaskGroup, TaskGroupKeepsCancellingCountZero_gh95289) {
    bool swallowed = false;
    unsigned cancelling_in_body = 99;
    try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            tg.create_task(throw_after<std::runtime_error>(1s, "child"));
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                swallowed = true;  // the body swallows the group's cancellation
            }
            cancelling_in_body = asyncio::current_task().cancelling();
        });
    } catch (const asyncio::ExceptionGroup& group) {
        EXPECT_EQ(group.size(), 1u);
    }
    EXPECT_TRUE(swallowed);
    EXPECT_EQ(cancelling_in_body, 1u);  // the group's own request, taken back in join()
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
    // Nothing left pending: the task can await again without a stray CancelledError.
    co_await asyncio::sleep(1s);
}

ASYNCIO_TEST(TaskGroup, TaskGroupKeepsCancellingCountOfAnOuterCancel_gh95289) {
    // A parent that was cancelled from outside keeps that request after the group.
    unsigned after_group = 99;
    auto parent = asyncio::create_task([](unsigned& count) -> asyncio::Task<> {
        try {
            co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
                tg.create_task(nothing_after(1h));
                co_await asyncio::sleep(1h);
            });
        } catch (const asyncio::CancelledError&) {
        }
        count = asyncio::current_task().cancelling();
    }(after_group));
    co_await asyncio::sleep(1s);
    parent.cancel();
    co_await parent;
    EXPECT_EQ(after_group, 1u);
}

ASYNCIO_TEST(TaskGroup, ChildErrorsKeptWhenParentCancelledToo_gh95704) {
    // The parent is cancelled from outside; a child fails while being cancelled. CPython
    // (gh-95704 fix): the group raises the ExceptionGroup with that error, not a bare
    // CancelledError that would lose it.
    bool group_error = false;
    std::vector<std::string> messages;
    unsigned cancelling = 0;
    // A named closure: it must outlive the coroutine that uses its captures.
    auto parent_body = [&]() -> asyncio::Task<> {
        try {
            co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
                tg.create_task(fail_when_cancelled("child cleanup failed"));
                tg.create_task(nothing_after(1h));
                co_await asyncio::sleep(1h);
            });
        } catch (const asyncio::ExceptionGroup& group) {
            group_error = true;
            messages = messages_of(group);
            cancelling = asyncio::current_task().cancelling();
        }
    };
    auto parent = asyncio::create_task(parent_body());
    co_await asyncio::sleep(1s);
    parent.cancel();
    try {
        co_await parent;
    } catch (const asyncio::CancelledError&) {
        // Allowed: the outer cancel may still be delivered after the group (CPython 3.13).
    }
    EXPECT_TRUE(group_error);
    EXPECT_EQ(messages, std::vector<std::string>{"child cleanup failed"});
    EXPECT_EQ(cancelling, 1u);  // the outside request is still counted
}

ASYNCIO_TEST(TaskGroup, ChildErrorKeptWhenParentCancelledWhileJoining_gh95704) {
    // A child has failed and the group is joining a slow sibling when the parent is
    // cancelled from outside: the child error is still reported.
    bool group_error = false;
    std::size_t size = 0;
    auto slow_to_cancel = []() -> asyncio::Task<> {
        bool cancelled = false;
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            cancelled = true;
        }
        if (cancelled) co_await asyncio::sleep(5s);
    };
    // A named closure: it must outlive the coroutine that uses its captures.
    auto parent_body = [&]() -> asyncio::Task<> {
        try {
            co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
                tg.create_task(slow_to_cancel());
                tg.create_task(throw_after<std::runtime_error>(1s, "child"));
                co_return;
            });
        } catch (const asyncio::ExceptionGroup& group) {
            group_error = true;
            size = group.size();
        }
    };
    auto parent = asyncio::create_task(parent_body());
    co_await asyncio::sleep(2s);  // the child failed; the sibling is still cleaning up
    parent.cancel();
    try {
        co_await parent;
    } catch (const asyncio::CancelledError&) {
    }
    EXPECT_TRUE(group_error);
    EXPECT_EQ(size, 1u);
}

ASYNCIO_TEST(TaskGroup, NestedTaskGroupInsideTimeoutPropagatesTimeout_gh116720) {
    // timeout() cancels the task; the group's body gets the CancelledError, but a child
    // fails while being cancelled, so the group raises ExceptionGroup and the CancelledError
    // is gone. CPython 3.13 (gh-116720 fix): the group re-cancels its parent when it
    // raises errors while cancelled from outside, so the next await in the timeout's scope
    // is cancelled and the scope ends in TimeoutError at the deadline.
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool group_error = false;
    auto body = [&](asyncio::Timeout&) -> asyncio::Task<> {
        try {
            co_await asyncio::task_group([](asyncio::TaskGroup& tg) -> asyncio::Task<> {
                tg.create_task(fail_when_cancelled("child cleanup failed"));
                co_await asyncio::sleep(1h);
            });
        } catch (const asyncio::ExceptionGroup&) {
            group_error = true;
        }
        co_await asyncio::sleep(1h);  // must not wait: the timeout's cancel is still due
    };
    bool timed_out = false;
    try {
        co_await asyncio::timeout(1s, body);
    } catch (const asyncio::TimeoutError&) {
        timed_out = true;
    }
    EXPECT_TRUE(group_error);
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(loop.time() - start, 1s);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(TaskGroup, GroupInsideTimeoutRaisesTimeoutError_gh116720) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    asyncio::TaskHandle<> child;
    auto body = [&](asyncio::Timeout&) -> asyncio::Task<> {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            child = tg.create_task(nothing_after(1h));
            co_await asyncio::sleep(1h);
        });
    };
    EXPECT_THROW(co_await asyncio::timeout(1s, body), asyncio::TimeoutError);
    EXPECT_EQ(loop.time() - start, 1s);
    EXPECT_TRUE(child.cancelled());
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(TaskGroup, OuterGroupCancelSurvivesInnerGroupErrors_gh116720) {
    // The gh-116720 report: two nested groups whose children fail at the same time. The
    // outer group's cancellation of the task must not be swallowed by the inner group: the
    // outer body, having caught the inner ExceptionGroup, is cancelled at its next await.
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool inner_group_error = false;
    std::size_t outer_errors = 0;
    try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& outer) -> asyncio::Task<> {
            outer.create_task(throw_after<std::runtime_error>(1s, "outer child"));
            try {
                co_await asyncio::task_group([](asyncio::TaskGroup& inner) -> asyncio::Task<> {
                    inner.create_task(throw_after<std::runtime_error>(1s, "inner child"));
                    co_await asyncio::sleep(1h);
                });
            } catch (const asyncio::ExceptionGroup&) {
                inner_group_error = true;
            }
            co_await asyncio::sleep(1h);  // must be cancelled by the outer group
        });
    } catch (const asyncio::ExceptionGroup& group) {
        outer_errors = group.size();
    }
    EXPECT_TRUE(inner_group_error);
    EXPECT_EQ(outer_errors, 1u);
    EXPECT_EQ(loop.time() - start, 1s);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}
