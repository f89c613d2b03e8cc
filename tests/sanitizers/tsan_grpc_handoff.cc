// ThreadSanitizer builds only (REBOUND_SANITIZE=thread; sanitizers.cmake links
// this file into every executable and exports it with -rdynamic).
//
// Why: gRPC's contract is that everything a thread does before it starts a
// batch of operations happens before the completion of that batch is handed
// to whoever receives its tag (a completion-queue Next or Pluck, or the
// callback API's reactor methods). Inside Debian's gRPC, which is not built
// with -fsanitize=thread, that hand-off goes through lock-free queues and
// atomics TSan cannot see, so every message a reactor starts reading on one
// thread and finishes on another, and every call object freed by a thread
// other than the one that used it last, is reported as a race: hundreds of
// reports per test, none of them real, and any real one lost among them.
//
// This file states the contract to TSan at gRPC's C API, which every layer
// above it (the sync, async and callback C++ APIs: the callback API's
// threads take callbacks off a completion queue with
// grpc_completion_queue_next) calls through the PLT:
//   - grpc_call_start_batch, the grpc_server_request_* calls,
//     grpc_server_shutdown_and_notify and
//     grpc_channel_watch_connectivity_state release on the tag they are
//     given;
//   - grpc_completion_queue_next and _pluck acquire on the tag they return.
// Races that do not cross such a hand-off (two of rebound's threads touching
// the same data without a lock) are still reported.
#include <dlfcn.h>
#include <grpc/grpc.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#ifndef __SANITIZE_THREAD__
#error "tsan_grpc_handoff.cc belongs in ThreadSanitizer builds only"
#endif

namespace {

// The real function, looked up on first use: executables that never load
// libgrpc never call these.
template <typename Fn>
Fn Real(const char* name) {
  void* fn = dlsym(RTLD_NEXT, name);
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_grpc_handoff: %s not found in the loaded gRPC\n", name);
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

grpc_event Acquired(grpc_event event) {
  if (event.type == GRPC_OP_COMPLETE && event.tag != nullptr) __tsan_acquire(event.tag);
  return event;
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static const auto real = Real<decltype(&grpc_call_start_batch)>("grpc_call_start_batch");
  if (tag != nullptr) __tsan_release(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  static const auto real =
      Real<decltype(&grpc_completion_queue_next)>("grpc_completion_queue_next");
  return Acquired(real(cq, deadline, reserved));
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag,
                                       gpr_timespec deadline, void* reserved) {
  static const auto real =
      Real<decltype(&grpc_completion_queue_pluck)>("grpc_completion_queue_pluck");
  return Acquired(real(cq, tag, deadline, reserved));
}

grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call,
                                         grpc_call_details* details,
                                         grpc_metadata_array* request_metadata,
                                         grpc_completion_queue* cq_bound_to_call,
                                         grpc_completion_queue* cq_for_notification,
                                         void* tag_new) {
  static const auto real = Real<decltype(&grpc_server_request_call)>("grpc_server_request_call");
  if (tag_new != nullptr) __tsan_release(tag_new);
  return real(server, call, details, request_metadata, cq_bound_to_call, cq_for_notification,
              tag_new);
}

grpc_call_error grpc_server_request_registered_call(
    grpc_server* server, void* registered_method, grpc_call** call, gpr_timespec* deadline,
    grpc_metadata_array* request_metadata, grpc_byte_buffer** optional_payload,
    grpc_completion_queue* cq_bound_to_call, grpc_completion_queue* cq_for_notification,
    void* tag_new) {
  static const auto real = Real<decltype(&grpc_server_request_registered_call)>(
      "grpc_server_request_registered_call");
  if (tag_new != nullptr) __tsan_release(tag_new);
  return real(server, registered_method, call, deadline, request_metadata, optional_payload,
              cq_bound_to_call, cq_for_notification, tag_new);
}

void grpc_server_shutdown_and_notify(grpc_server* server, grpc_completion_queue* cq, void* tag) {
  static const auto real =
      Real<decltype(&grpc_server_shutdown_and_notify)>("grpc_server_shutdown_and_notify");
  if (tag != nullptr) __tsan_release(tag);
  real(server, cq, tag);
}

void grpc_channel_watch_connectivity_state(grpc_channel* channel,
                                           grpc_connectivity_state last_observed_state,
                                           gpr_timespec deadline, grpc_completion_queue* cq,
                                           void* tag) {
  static const auto real = Real<decltype(&grpc_channel_watch_connectivity_state)>(
      "grpc_channel_watch_connectivity_state");
  if (tag != nullptr) __tsan_release(tag);
  real(channel, last_observed_state, deadline, cq, tag);
}

}  // extern "C"
