#pragma once

// asyncio-cpp: Python's asyncio, native in C++20. Include this one header.

#include "asyncio/clock.hpp"
#include "asyncio/errors.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/future.hpp"
#include "asyncio/gather.hpp"
#include "asyncio/graph.hpp"
#include "asyncio/log.hpp"
#include "asyncio/result.hpp"
#include "asyncio/run.hpp"
#include "asyncio/shield.hpp"
#include "asyncio/sleep.hpp"
#include "asyncio/task.hpp"
#include "asyncio/task_group.hpp"
#include "asyncio/timeout.hpp"
#include "asyncio/to_thread.hpp"
#include "asyncio/wait.hpp"
