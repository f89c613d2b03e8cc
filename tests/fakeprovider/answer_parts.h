// Inside completion_bodies: the answer builders of each API and the pieces
// they share (quoting, text pieces, tool-argument fragments, ids).
#ifndef REBOUND_TESTS_FAKEPROVIDER_ANSWER_PARTS_H_
#define REBOUND_TESTS_FAKEPROVIDER_ANSWER_PARTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "tests/fakeprovider/completion_bodies.h"

namespace rebound::fake {

// `s` as a JSON string literal.
std::string Quoted(std::string_view s);

// The text deltas of a stream, in order: the image acknowledgement (when
// images were seen), then one piece per token.
std::vector<std::string> TextPieces(const Completion& c);

// `args` cut in (up to) three fragments at UTF-8 character boundaries, so
// that a stream shows the arguments arriving in pieces, as vendors send
// them; empty fragments are skipped.
std::vector<std::string_view> ArgumentFragments(std::string_view args);

// OpenAI Chat Completions (chat_answer.cc).
std::string ChatBody(const Completion& c, std::string_view text);
std::vector<std::string> ChatEvents(const Completion& c);

// Anthropic Messages (messages_answer.cc).
std::string MessagesBody(const Completion& c, std::string_view text);
std::vector<std::string> MessagesEvents(const Completion& c);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_ANSWER_PARTS_H_
