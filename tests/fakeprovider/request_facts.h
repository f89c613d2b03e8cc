// What a provider request asks for that shapes the fake's answer beyond the
// fault spec: how many images it carries (the answer acknowledges them, so a
// test proves an image reached the provider) and whether an OpenAI stream
// asked for usage. Tolerant: a body that is not the expected JSON has no
// images and asks for nothing.
#ifndef REBOUND_TESTS_FAKEPROVIDER_REQUEST_FACTS_H_
#define REBOUND_TESTS_FAKEPROVIDER_REQUEST_FACTS_H_

#include <string_view>

#include "tests/fakeprovider/completion_bodies.h"

namespace rebound::fake {

struct RequestFacts {
  int images = 0;              // OpenAI image_url parts / Anthropic image blocks
  bool include_usage = false;  // OpenAI stream_options.include_usage: true
};

RequestFacts ReadRequestFacts(Api api, std::string_view body);

}  // namespace rebound::fake

#endif  // REBOUND_TESTS_FAKEPROVIDER_REQUEST_FACTS_H_
