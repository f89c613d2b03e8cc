// What a handler wants sent back, as a list of steps the event loop runs in
// order: write bytes, wait (a loop timer, never a sleep), stall, close or
// reset. Handlers build the whole plan up front, so they stay free of I/O and
// timing, and the loop needs no callbacks into handler state.
#ifndef REBOUND_TESTS_FAKEPROVIDER_RESPONSE_PLAN_H_
#define REBOUND_TESTS_FAKEPROVIDER_RESPONSE_PLAN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rebound::fake {

struct ResponseStep {
  enum class Kind : uint8_t {
    kWrite,  // queue `data` for sending
    kWait,   // pause `wait_ms` before the next step
    kStall,  // send nothing more; close only when the client does
    kClose,  // flush, then close (FIN) without finishing the response
    kReset,  // close at once with RST (SO_LINGER 0), discarding unsent bytes
  };
  Kind kind = Kind::kWrite;
  int64_t wait_ms = 0;
  std::string data;
};

class ResponsePlan {
 public:
  // Consecutive writes merge into one step, so the loop sends them together.
  void Write(std::string data) {
    if (!steps_.empty() && steps_.back().kind == ResponseStep::Kind::kWrite) {
      steps_.back().data.append(data);
    } else {
      steps_.push_back({ResponseStep::Kind::kWrite, 0, std::move(data)});
    }
  }
  void Wait(int64_t ms) {
    if (ms > 0) steps_.push_back({ResponseStep::Kind::kWait, ms, {}});
  }
  void Stall() { steps_.push_back({ResponseStep::Kind::kStall, 0, {}}); }
  void Close() { steps_.push_back({ResponseStep::Kind::kClose, 0, {}}); }
  void Reset() { steps_.push_back({ResponseStep::Kind::kReset, 0, {}}); }

  // Close the connection after the last step even if the client wanted
  // keep-alive.
  void set_close_after(bool close) { close_after_ = close; }
  bool close_after() const { return close_after_; }

  const std::vector<ResponseStep>& steps() const { return steps_; }
  std::vector<ResponseStep>& mutable_steps() { return steps_; }
  void Clear() {
    steps_.clear();  // keeps capacity: plans are reused per connection
    close_after_ = false;
  }

 private:
  std::vector<ResponseStep> steps_;
  bool close_after_ = false;
};

// The standard reason phrase for `status`, or "Unknown".
std::string_view ReasonPhrase(int status);

// Builds a response head ending in the blank line. `headers` are written in
// order; Content-Length or Transfer-Encoding must be among them.
std::string FormatHead(int status,
                       const std::vector<std::pair<std::string_view, std::string_view>>& headers);

// Appends `data` framed as one chunk of a chunked body (no-op for empty data,
// which would read as the last chunk).
void AppendChunk(std::string& out, std::string_view data);

// The terminating chunk of a chunked body (no trailers).
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// A complete Content-Length response with a short text body, used for
// protocol errors and control-API answers.
std::string SimpleResponse(int status, std::string_view content_type, std::string_view body,
                           bool close);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_RESPONSE_PLAN_H_
