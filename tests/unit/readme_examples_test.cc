// The README's complete configuration examples must load: documentation that
// drifts from the loader is a bug.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "policy/config_loader.h"

namespace rebound {
namespace {

// Every ```yaml block of the README that is a whole config file (starts
// with a top-level key of one), not a snippet.
std::vector<std::string> FullConfigBlocks() {
  std::ifstream in(REBOUND_README_PATH);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<std::string> blocks;
  size_t pos = 0;
  while ((pos = text.find("```yaml\n", pos)) != std::string::npos) {
    size_t start = pos + 8;
    size_t end = text.find("```", start);
    if (end == std::string::npos) break;
    std::string block = text.substr(start, end - start);
    for (const char* top : {"server:", "version:", "model_providers:", "llm_providers:"}) {
      if (block.rfind(top, 0) == 0) {
        blocks.push_back(block);
        break;
      }
    }
    pos = end + 3;
  }
  return blocks;
}

TEST(ReadmeExamplesTest, EveryFullConfigInTheReadmeLoads) {
  std::map<std::string, std::string> env = {
      {"OPENAI_API_KEY", "k1"}, {"MISTRAL_API_KEY", "k2"}, {"ANTHROPIC_API_KEY", "k3"}};
  EnvLookup lookup = [&env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  std::vector<std::string> blocks = FullConfigBlocks();
  ASSERT_GE(blocks.size(), 2u) << "the README lost its configuration examples";
  for (const std::string& block : blocks) {
    LoadResult result = LoadConfigFromString(block, "README.md", lookup);
    std::string diagnostics;
    for (const Diagnostic& d : result.diagnostics) diagnostics += d.ToString() + "\n";
    EXPECT_TRUE(result.ok()) << diagnostics << block;
  }
}

}  // namespace
}  // namespace rebound
