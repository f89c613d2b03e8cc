// ThreadSanitizer builds only (REBOUND_SANITIZE=thread; sanitizers.cmake links
// this file into every executable and exports it with -rdynamic).
//
// Why: Debian's Abseil is not built with -fsanitize=thread, so absl::Mutex and
// absl::CondVar (futexes and atomics inside libabsl_synchronization.so) are
// invisible to TSan. rebound's own locks are absl::Mutex, and so are gRPC's
// (GPR_ABSEIL_SYNC: grpc_core::Mutex, gpr_mu and grpc::internal::Mutex are
// all absl::Mutex), so every access our code makes under such a lock would be
// reported as a race. Suppressing those reports would hide the real races
// too. Instead this file does what an instrumented Abseil does (its mutex.cc
// calls the same __tsan_mutex_* hooks): it defines the out-of-line
// absl::Mutex / absl::CondVar entry points in the executable, which takes
// precedence over the shared library for every caller (our code, gRPC,
// Abseil itself: they all call through the PLT), tells TSan about the lock
// operation and forwards to the real function found with dlsym(RTLD_NEXT).
//
// Waits that release the lock internally (Await*, CondVar::Wait*) are
// reported as an unlock followed by a lock, as Abseil's own annotations do.
// CondVar waits are assumed to hold the lock exclusively (rebound and gRPC
// never wait on a CondVar under a reader lock).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#ifndef __SANITIZE_THREAD__
#error "tsan_absl_mutex.cc belongs in ThreadSanitizer builds only"
#endif

namespace {

#define REBOUND_STRINGIFY2(x) #x
#define REBOUND_STRINGIFY(x) REBOUND_STRINGIFY2(x)

// The mangled name of absl::<inline namespace>::<rest>: `rest` is the part of
// the mangled name after the inline namespace (its back-references do not
// depend on the namespace's spelling).
std::string AbslSymbol(const char* rest) {
#ifdef ABSL_OPTION_INLINE_NAMESPACE_NAME
  const std::string ns = REBOUND_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return "_ZN4absl" + std::to_string(ns.size()) + ns + rest;
#else
  return std::string("_ZN4absl") + rest;
#endif
}

template <typename Fn>
Fn Resolve(const char* rest) {
  const std::string name = AbslSymbol(rest);
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found in the loaded Abseil\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Time;

struct Real {
  void (*lock)(Mutex*) = Resolve<void (*)(Mutex*)>("5Mutex4LockEv");
  void (*unlock)(Mutex*) = Resolve<void (*)(Mutex*)>("5Mutex6UnlockEv");
  bool (*try_lock)(Mutex*) = Resolve<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  void (*reader_lock)(Mutex*) = Resolve<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  void (*reader_unlock)(Mutex*) = Resolve<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  bool (*reader_try_lock)(Mutex*) = Resolve<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  void (*lock_when)(Mutex*, const Condition&) =
      Resolve<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  void (*reader_lock_when)(Mutex*, const Condition&) =
      Resolve<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  bool (*lock_when_timeout)(Mutex*, const Condition&, Duration) =
      Resolve<bool (*)(Mutex*, const Condition&, Duration)>(
          "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool (*lock_when_deadline)(Mutex*, const Condition&, Time) =
      Resolve<bool (*)(Mutex*, const Condition&, Time)>(
          "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool (*reader_lock_when_timeout)(Mutex*, const Condition&, Duration) =
      Resolve<bool (*)(Mutex*, const Condition&, Duration)>(
          "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool (*reader_lock_when_deadline)(Mutex*, const Condition&, Time) =
      Resolve<bool (*)(Mutex*, const Condition&, Time)>(
          "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  void (*await)(Mutex*, const Condition&) =
      Resolve<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  bool (*await_timeout)(Mutex*, const Condition&, Duration) =
      Resolve<bool (*)(Mutex*, const Condition&, Duration)>(
          "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool (*await_deadline)(Mutex*, const Condition&, Time) =
      Resolve<bool (*)(Mutex*, const Condition&, Time)>(
          "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  void (*wait)(CondVar*, Mutex*) = Resolve<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  bool (*wait_timeout)(CondVar*, Mutex*, Duration) =
      Resolve<bool (*)(CondVar*, Mutex*, Duration)>(
          "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  bool (*wait_deadline)(CondVar*, Mutex*, Time) =
      Resolve<bool (*)(CondVar*, Mutex*, Time)>(
          "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
};

const Real& R() {
  static const Real real;
  return real;
}

// Abseil's own entry points call each other through the PLT, so they land
// here again (WaitWithTimeout tail-calls WaitWithDeadline, for one): only the
// outermost call on a thread is reported to TSan.
thread_local int nesting = 0;

struct Nested {
  Nested() { ++nesting; }
  ~Nested() { --nesting; }
  Nested(const Nested&) = delete;
  Nested& operator=(const Nested&) = delete;
};

// Lock and unlock as TSan's annotation API wants them: what happens between
// pre and post (Abseil's own code, a Condition evaluated while acquiring) is
// not tracked, exactly as with an instrumented Abseil.
template <typename F>
auto Locking(void* mu, unsigned flags, F&& acquire) {
  if (nesting > 0) return acquire();
  Nested nested;
  __tsan_mutex_pre_lock(mu, flags);
  auto result = acquire();
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

template <typename F>
bool TryLocking(void* mu, unsigned flags, F&& try_acquire) {
  if (nesting > 0) return try_acquire();
  Nested nested;
  __tsan_mutex_pre_lock(mu, flags | __tsan_mutex_try_lock);
  const bool locked = try_acquire();
  __tsan_mutex_post_lock(
      mu, flags | __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

template <typename F>
void Unlocking(void* mu, unsigned flags, F&& release) {
  if (nesting > 0) return release();
  Nested nested;
  __tsan_mutex_pre_unlock(mu, flags);
  release();
  __tsan_mutex_post_unlock(mu, flags);
}

// A wait that may give the lock up and take it back (held exclusively).
template <typename F>
auto Waiting(void* mu, F&& wait) {
  if (nesting > 0) return wait();
  Nested nested;
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  auto result = wait();
  __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

constexpr unsigned kRead = __tsan_mutex_read_lock;

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  Locking(this, 0, [&] { return R().lock(this), 0; });
}
void Mutex::Unlock() {
  Unlocking(this, 0, [&] { R().unlock(this); });
}
bool Mutex::TryLock() {
  return TryLocking(this, 0, [&] { return R().try_lock(this); });
}
void Mutex::ReaderLock() {
  Locking(this, kRead, [&] { return R().reader_lock(this), 0; });
}
void Mutex::ReaderUnlock() {
  Unlocking(this, kRead, [&] { R().reader_unlock(this); });
}
bool Mutex::ReaderTryLock() {
  return TryLocking(this, kRead, [&] { return R().reader_try_lock(this); });
}
void Mutex::LockWhen(const Condition& cond) {
  Locking(this, 0, [&] { return R().lock_when(this, cond), 0; });
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  Locking(this, kRead, [&] { return R().reader_lock_when(this, cond), 0; });
}
// The timed forms return with the lock held whether or not the condition
// became true.
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  return Locking(this, 0, [&] { return R().lock_when_timeout(this, cond, timeout); });
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  return Locking(this, 0, [&] { return R().lock_when_deadline(this, cond, deadline); });
}
bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  return Locking(this, kRead,
                 [&] { return R().reader_lock_when_timeout(this, cond, timeout); });
}
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  return Locking(this, kRead,
                 [&] { return R().reader_lock_when_deadline(this, cond, deadline); });
}
void Mutex::Await(const Condition& cond) {
  Waiting(this, [&] { return R().await(this, cond), 0; });
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  return Waiting(this, [&] { return R().await_timeout(this, cond, timeout); });
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  return Waiting(this, [&] { return R().await_deadline(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  Waiting(mu, [&] { return R().wait(this, mu), 0; });
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  return Waiting(mu, [&] { return R().wait_timeout(this, mu, timeout); });
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  return Waiting(mu, [&] { return R().wait_deadline(this, mu, deadline); });
}

ABSL_NAMESPACE_END
}  // namespace absl
