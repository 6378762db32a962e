#include "backend/fault/fault_injection.hpp"

#include <algorithm>

#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {
namespace {

class FaultInjectingBackend final : public Backend {
public:
    FaultInjectingBackend(std::unique_ptr<Backend> inner, FaultPlan plan)
        : inner_(std::move(inner)), plan_(plan), injected_(std::make_shared<std::size_t>(0)) {}

    std::shared_ptr<const std::size_t> injected() const { return injected_; }
    std::unique_ptr<Backend> release_inner() { return std::move(inner_); }

    const char* name() const noexcept override { return inner_->name(); }
    void cancel(IoOperation& op) noexcept override { inner_->cancel(op); }
    void forget_fd(int fd) noexcept override { inner_->forget_fd(fd); }
    std::size_t poll(Duration timeout) override { return inner_->poll(timeout); }
    void wakeup() noexcept override { inner_->wakeup(); }
    int wakeup_fd() const noexcept override { return inner_->wakeup_fd(); }
    std::size_t pending() const noexcept override { return inner_->pending(); }
    bool supports_file_io() const noexcept override { return inner_->supports_file_io(); }

    bool submit(IoOperation& op) override {
        if (counts(op) && is_faulty(++counted_)) {
            ++*injected_;
            if (plan_.error != 0) {
                op.result = -plan_.error;
                return true;
            }
            if (plan_.max_bytes != 0 && op.length > plan_.max_bytes) {
                op.length = plan_.max_bytes;  // the caller sees a short transfer
            }
        }
        return inner_->submit(op);
    }

private:
    bool counts(const IoOperation& op) const noexcept {
        if (plan_.opcode) return op.opcode == *plan_.opcode;
        return op.opcode != IoOpcode::poll_readable && op.opcode != IoOpcode::poll_writable;
    }
    bool is_faulty(std::size_t n) const noexcept {
        if (n < plan_.first) return false;
        if (n == plan_.first) return true;
        return plan_.every != 0 && (n - plan_.first) % plan_.every == 0;
    }

    std::unique_ptr<Backend> inner_;
    FaultPlan plan_;
    std::size_t counted_ = 0;
    std::shared_ptr<std::size_t> injected_;
};

}  // namespace

std::shared_ptr<const std::size_t> inject_faults(EventLoop& loop, FaultPlan plan) {
    auto& backend = loop.impl().backend;
    if (!backend) throw RuntimeError("inject_faults(): the loop is closed");
    if (backend->pending() != 0) throw RuntimeError("inject_faults(): operations in flight");
    if (auto* previous = dynamic_cast<FaultInjectingBackend*>(backend.get())) {
        backend = previous->release_inner();
    }
    auto wrapped = std::make_unique<FaultInjectingBackend>(std::move(backend), plan);
    auto counter = wrapped->injected();
    backend = std::move(wrapped);
    return counter;
}

}  // namespace asyncio::detail
