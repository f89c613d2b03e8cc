// The `rebound` command-line tool: parse, dispatch, exit. See `rebound help`.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli_args.h"
#include "client/cli_commands.h"
#include "client/controlplane_commands.h"

namespace rebound::client {
namespace {

std::optional<std::string> GetEnv(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

int RunControlPlaneCommand(const CliArgs& args) {
  std::unique_ptr<ControlPlaneClient> client = ConnectControlPlane(args.control_plane, std::cerr);
  if (client == nullptr) return kExitUsage;
  switch (args.command) {
    case Command::kPolicyPush:
      return RunPolicyPush(*client, args.policy_file, args.dry_run, std::cin, std::cout, std::cerr);
    case Command::kState:
      return RunState(*client, absl::Now(), std::cout, std::cerr);
    case Command::kBlockClear:
      return RunBlockClear(*client, args.block, std::cout, std::cerr);
    default:
      return kExitUsage;
  }
}

int Main(const std::vector<std::string>& args) {
  absl::StatusOr<CliArgs> parsed = ParseCliArgs(args, GetEnv);
  if (!parsed.ok()) {
    std::cerr << "rebound: " << parsed.status().message() << "\n\n"
              << ShortUsageText() << "Run 'rebound help' for the flags and exit codes.\n";
    return kExitUsage;
  }
  switch (parsed->command) {
    case Command::kHelp:
      std::cout << UsageText();
      return kExitOk;
    case Command::kComplete:
      return RunCall(parsed->call, /*stream=*/false, std::cin, std::cout, std::cerr);
    case Command::kStream:
      return RunCall(parsed->call, /*stream=*/true, std::cin, std::cout, std::cerr);
    case Command::kCheck:
      return RunCheck(parsed->check_file, std::cout);
    case Command::kPolicyPush:
    case Command::kState:
    case Command::kBlockClear:
      return RunControlPlaneCommand(*parsed);
  }
  return kExitUsage;
}

}  // namespace
}  // namespace rebound::client

int main(int argc, char** argv) {
  return rebound::client::Main(std::vector<std::string>(argv + 1, argv + argc));
}
