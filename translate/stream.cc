#include "translate/stream.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "translate/json.h"
#include "translate/shapes.h"

namespace rebound::translate {
namespace {

using rapidjson::kArrayType;
using rapidjson::kObjectType;

absl::Status BadEvent(const char* what) {
  return absl::DataLossError(absl::StrCat("untranslatable stream event: ", what));
}

// Anthropic events in, OpenAI chat.completion.chunk objects out.
class AnthropicToOpenAi final : public StreamTranslator {
 public:
  explicit AnthropicToOpenAi(StreamOptions options) : options_(std::move(options)) {}

  absl::Status Translate(std::string_view event, std::string_view data,
                         std::vector<CallerEvent>* out) override {
    Document in;
    if (!ParseBounded(data, &in) || !in.IsObject()) return BadEvent("not a JSON object");
    std::string_view type = StringOr(in, "type", event);
    if (type == "message_start") {
      const Value* message = Find(in, "message");
      id_ = message ? std::string(StringOr(*message, "id")) : "";
      const Value* usage = message ? Find(*message, "usage") : nullptr;
      cached_tokens_ = IntOr(usage, "cache_read_input_tokens");
      prompt_tokens_ = IntOr(usage, "input_tokens") + cached_tokens_ +
                       IntOr(usage, "cache_creation_input_tokens");
      Chunk chunk(*this);
      Add(chunk.delta, "role", Str("assistant", chunk.a()), chunk.a());
      Add(chunk.delta, "content", Str("", chunk.a()), chunk.a());
      out->push_back(chunk.Done());
    } else if (type == "content_block_start") {
      const Value* block = Find(in, "content_block");
      if (block == nullptr) return BadEvent("content_block_start without a block");
      if (StringOr(*block, "type") != "tool_use") return absl::OkStatus();
      const int tool = next_tool_++;
      tool_of_block_[IntOr(&in, "index")] = tool;
      Chunk chunk(*this);
      Allocator& a = chunk.a();
      Value function(kObjectType);
      Add(function, "name", Str(StringOr(*block, "name"), a), a);
      Add(function, "arguments", Str("", a), a);
      Value call(kObjectType);
      Add(call, "index", Value(tool), a);
      Add(call, "id", Str(StringOr(*block, "id"), a), a);
      Add(call, "type", Str("function", a), a);
      Add(call, "function", function, a);
      out->push_back(chunk.WithToolCall(call));
    } else if (type == "content_block_delta") {
      const Value* delta = Find(in, "delta");
      if (delta == nullptr) return BadEvent("content_block_delta without a delta");
      std::string_view delta_type = StringOr(*delta, "type");
      if (delta_type == "text_delta") {
        Chunk chunk(*this);
        Add(chunk.delta, "content", Str(StringOr(*delta, "text"), chunk.a()), chunk.a());
        out->push_back(chunk.Done());
      } else if (delta_type == "input_json_delta") {
        auto it = tool_of_block_.find(IntOr(&in, "index"));
        if (it == tool_of_block_.end()) return BadEvent("input_json_delta outside a tool_use block");
        Chunk chunk(*this);
        Allocator& a = chunk.a();
        Value function(kObjectType);
        Add(function, "arguments", Str(StringOr(*delta, "partial_json"), a), a);
        Value call(kObjectType);
        Add(call, "index", Value(it->second), a);
        Add(call, "function", function, a);
        out->push_back(chunk.WithToolCall(call));
      }
      // thinking_delta, signature_delta: a chat completion has no place.
    } else if (type == "message_delta") {
      const Value* delta = Find(in, "delta");
      std::string_view stop = delta ? StringOr(*delta, "stop_reason") : "";
      completion_tokens_ = IntOr(Find(in, "usage"), "output_tokens");
      Chunk chunk(*this);
      chunk.finish_reason = FinishReasonFor(stop);
      out->push_back(chunk.Done());
      if (options_.include_usage) out->push_back(UsageChunk());
    } else if (type == "message_stop") {
      out->push_back({"", "[DONE]"});
    }
    // ping, content_block_stop: nothing; error: the tracker's.
    return absl::OkStatus();
  }

 private:
  // A chat.completion.chunk under construction.
  struct Chunk {
    explicit Chunk(const AnthropicToOpenAi& t) : translator(t), doc(kObjectType), delta(kObjectType) {}
    Allocator& a() { return doc.GetAllocator(); }
    // The chunk whose delta carries the one tool call `call` (moved).
    CallerEvent WithToolCall(Value& call) {
      Value calls(kArrayType);
      calls.PushBack(call, a());
      Add(delta, "tool_calls", calls, a());
      return Done();
    }
    CallerEvent Done() {
      Allocator& al = a();
      translator.Header(doc);
      Value choice(kObjectType);
      Add(choice, "index", Value(0), al);
      Add(choice, "delta", delta, al);
      Add(choice, "logprobs", Value(), al);
      Add(choice, "finish_reason", finish_reason.empty() ? Value() : Str(finish_reason, al), al);
      Value choices(kArrayType);
      choices.PushBack(choice, al);
      Add(doc, "choices", choices, al);
      return {"", Write(doc)};
    }
    const AnthropicToOpenAi& translator;
    Document doc;
    Value delta;
    std::string_view finish_reason;
  };

  void Header(Document& doc) const {
    Allocator& a = doc.GetAllocator();
    Add(doc, "id", Str(id_, a), a);
    Add(doc, "object", Str("chat.completion.chunk", a), a);
    Add(doc, "created", Value(static_cast<int64_t>(options_.created_unix_seconds)), a);
    Add(doc, "model", Str(options_.served_model, a), a);
  }

  CallerEvent UsageChunk() const {
    Document doc(kObjectType);
    Allocator& a = doc.GetAllocator();
    Header(doc);
    Add(doc, "choices", Value(kArrayType), a);
    Add(doc, "usage", OpenAiUsage(prompt_tokens_, completion_tokens_, cached_tokens_, a), a);
    return {"", Write(doc)};
  }

  StreamOptions options_;
  std::string id_;
  int64_t prompt_tokens_ = 0;
  int64_t cached_tokens_ = 0;
  int64_t completion_tokens_ = 0;
  int next_tool_ = 0;
  absl::flat_hash_map<int64_t, int> tool_of_block_;  // Anthropic block index -> tool call index
};

// OpenAI chunks in, the full Anthropic event sequence out.
class OpenAiToAnthropic final : public StreamTranslator {
 public:
  explicit OpenAiToAnthropic(StreamOptions options) : options_(std::move(options)) {}

  absl::Status Translate(std::string_view, std::string_view data,
                         std::vector<CallerEvent>* out) override {
    if (done_) return absl::OkStatus();  // nothing follows message_stop
    if (data == "[DONE]") {
      Finish(out);
      return absl::OkStatus();
    }
    Document in;
    if (!ParseBounded(data, &in) || !in.IsObject()) return BadEvent("not a JSON object");
    if (id_.empty()) id_ = std::string(StringOr(in, "id"));
    if (const Value* usage = Find(in, "usage"); usage && usage->IsObject()) {
      const int64_t cached = IntOr(Find(*usage, "prompt_tokens_details"), "cached_tokens");
      input_tokens_ = IntOr(usage, "prompt_tokens") - cached;
      cache_read_tokens_ = cached;
      output_tokens_ = IntOr(usage, "completion_tokens");
    }
    Start(out);
    const Value* choices = Find(in, "choices");
    if (choices == nullptr || !choices->IsArray() || choices->Empty()) return absl::OkStatus();
    const Value& choice = (*choices)[0];
    if (const Value* delta = Find(choice, "delta")) {
      std::string_view refusal = StringOr(*delta, "refusal");
      if (!refusal.empty()) refused_ = true;
      if (std::string_view text = refusal.empty() ? StringOr(*delta, "content") : refusal;
          !text.empty()) {
        if (open_ != Open::kText) {
          CloseBlock(out);
          Document start(kObjectType);
          BlockStart(start);
          Allocator& a = start.GetAllocator();
          Value block(kObjectType);
          Add(block, "type", Str("text", a), a);
          Add(block, "text", Str("", a), a);
          Add(start, "content_block", block, a);
          Emit("content_block_start", start, out);
          open_ = Open::kText;
        }
        EmitDelta("text_delta", "text", text, out);
      }
      if (const Value* calls = Find(*delta, "tool_calls"); calls && calls->IsArray()) {
        for (const Value& call : calls->GetArray()) ToolCall(call, out);
      }
    }
    if (std::string_view finish = StringOr(choice, "finish_reason"); !finish.empty()) {
      stop_reason_ = refused_ ? "refusal" : StopReasonFor(finish);
      CloseBlock(out);
    }
    return absl::OkStatus();
  }

  void Finish(std::vector<CallerEvent>* out) override {
    if (done_) return;
    done_ = true;
    Start(out);
    CloseBlock(out);
    Document doc(kObjectType);
    Allocator& a = doc.GetAllocator();
    Add(doc, "type", Str("message_delta", a), a);
    Value delta(kObjectType);
    Add(delta, "stop_reason", Str(stop_reason_ == nullptr ? "end_turn" : stop_reason_, a), a);
    Add(delta, "stop_sequence", Value(), a);
    Add(doc, "delta", delta, a);
    // OpenAI reports usage last, so message_start carried none: it all
    // goes here.
    Value usage(kObjectType);
    Add(usage, "input_tokens", Value(input_tokens_), a);
    Add(usage, "cache_read_input_tokens", Value(cache_read_tokens_), a);
    Add(usage, "output_tokens", Value(output_tokens_), a);
    Add(doc, "usage", usage, a);
    Emit("message_delta", doc, out);
    Document stop(kObjectType);
    Add(stop, "type", Str("message_stop", stop.GetAllocator()), stop.GetAllocator());
    Emit("message_stop", stop, out);
  }

 private:
  enum class Open { kNone, kText, kTool };

  void Emit(const char* type, const Value& doc, std::vector<CallerEvent>* out) {
    out->push_back({type, Write(doc)});
  }

  void Start(std::vector<CallerEvent>* out) {
    if (started_) return;
    started_ = true;
    Document doc(kObjectType);
    Allocator& a = doc.GetAllocator();
    Add(doc, "type", Str("message_start", a), a);
    Value message(kObjectType);
    Add(message, "id", Str(id_, a), a);
    Add(message, "type", Str("message", a), a);
    Add(message, "role", Str("assistant", a), a);
    Add(message, "model", Str(options_.served_model, a), a);
    Add(message, "content", Value(kArrayType), a);
    Add(message, "stop_reason", Value(), a);
    Add(message, "stop_sequence", Value(), a);
    Value usage(kObjectType);
    Add(usage, "input_tokens", Value(input_tokens_), a);
    Add(usage, "output_tokens", Value(static_cast<int64_t>(0)), a);
    Add(message, "usage", usage, a);
    Add(doc, "message", message, a);
    Emit("message_start", doc, out);
  }

  // `doc` (an empty object) becomes the start of the next block.
  void BlockStart(Document& doc) const {
    Allocator& a = doc.GetAllocator();
    Add(doc, "type", Str("content_block_start", a), a);
    Add(doc, "index", Value(next_block_), a);
  }

  void CloseBlock(std::vector<CallerEvent>* out) {
    if (open_ == Open::kNone) return;
    Document doc(kObjectType);
    Allocator& a = doc.GetAllocator();
    Add(doc, "type", Str("content_block_stop", a), a);
    Add(doc, "index", Value(next_block_), a);
    Emit("content_block_stop", doc, out);
    open_ = Open::kNone;
    ++next_block_;
  }

  void EmitDelta(const char* delta_type, const char* field, std::string_view text,
                 std::vector<CallerEvent>* out) {
    Document doc(kObjectType);
    Allocator& a = doc.GetAllocator();
    Add(doc, "type", Str("content_block_delta", a), a);
    Add(doc, "index", Value(next_block_), a);
    Value delta(kObjectType);
    Add(delta, "type", Str(delta_type, a), a);
    Add(delta, field, Str(text, a), a);
    Add(doc, "delta", delta, a);
    Emit("content_block_delta", doc, out);
  }

  void ToolCall(const Value& call, std::vector<CallerEvent>* out) {
    const int64_t index = IntOr(&call, "index");
    const Value* function = Find(call, "function");
    std::string_view id = StringOr(call, "id");
    if (open_ != Open::kTool || index != open_tool_ || (!id.empty() && id != open_tool_id_)) {
      // A new tool call starts a new tool_use block (some providers repeat
      // the id on every fragment of the same call).
      CloseBlock(out);
      Document start(kObjectType);
      BlockStart(start);
      Allocator& a = start.GetAllocator();
      Value block(kObjectType);
      Add(block, "type", Str("tool_use", a), a);
      Add(block, "id", Str(id, a), a);
      Add(block, "name", Str(function ? StringOr(*function, "name") : "", a), a);
      Add(block, "input", Value(kObjectType), a);
      Add(start, "content_block", block, a);
      Emit("content_block_start", start, out);
      open_ = Open::kTool;
      open_tool_ = index;
      open_tool_id_ = std::string(id);
    }
    if (std::string_view args = function ? StringOr(*function, "arguments") : "";
        !args.empty()) {
      EmitDelta("input_json_delta", "partial_json", args, out);
    }
  }

  StreamOptions options_;
  std::string id_;
  bool started_ = false;
  Open open_ = Open::kNone;
  int next_block_ = 0;       // index of the open block, or of the next one
  int64_t open_tool_ = -1;   // OpenAI's index of the tool call in the open block
  std::string open_tool_id_;
  bool refused_ = false;     // a refusal delta came
  bool done_ = false;        // message_stop was sent
  const char* stop_reason_ = nullptr;  // a literal of StopReasonFor
  int64_t input_tokens_ = 0;
  int64_t cache_read_tokens_ = 0;
  int64_t output_tokens_ = 0;
};

}  // namespace

std::unique_ptr<StreamTranslator> StreamTranslator::Create(Api from, Api to,
                                                           StreamOptions options) {
  if (from == Api::kAnthropicMessages && to == Api::kOpenAiChat) {
    return std::make_unique<AnthropicToOpenAi>(std::move(options));
  }
  if (from == Api::kOpenAiChat && to == Api::kAnthropicMessages) {
    return std::make_unique<OpenAiToAnthropic>(std::move(options));
  }
  return nullptr;
}

}  // namespace rebound::translate
