// Command-line parsing for the `rebound` tool, kept free of I/O so that
// every flag rule is unit-tested (tests/unit/client_test.cc).
//
// A hand-written parser rather than absl flags: absl flags are process-wide
// globals, which fit neither per-subcommand flag sets nor repeated flags
// (--header, --allow) nor being called many times from a test.
#ifndef REBOUND_CLIENT_CLI_ARGS_H_
#define REBOUND_CLIENT_CLI_ARGS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/v1/controlplane.pb.h"
#include "rebound/v1/gateway.pb.h"

namespace rebound::client {

// Process exit codes, also listed in the usage text.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // the call failed, or the config is invalid
inline constexpr int kExitUsage = 2;        // bad command line or unreadable input file
inline constexpr int kExitUnreachable = 3;  // the gateway or control plane could not be reached

inline constexpr std::string_view kDefaultAddress = "127.0.0.1:50051";
inline constexpr std::string_view kAddressEnvVar = "REBOUND_ADDR";
inline constexpr std::string_view kDefaultControlPlaneAddress = "127.0.0.1:7500";
inline constexpr std::string_view kControlPlaneAddressEnvVar = "REBOUND_CP_ADDR";
inline constexpr std::string_view kControlPlaneTokenFileEnvVar = "REBOUND_CP_TOKEN_FILE";

enum class Command { kHelp, kComplete, kStream, kCheck, kPolicyPush, kState, kBlockClear };

// Flags shared by `complete` and `stream`.
struct CallArgs {
  std::string address;                   // --addr, else $REBOUND_ADDR, else kDefaultAddress
  std::string model;                     // --model; empty = the gateway's default provider
  std::string path;                      // --path; empty = the gateway's default
  std::optional<std::string> body;       // --body
  std::optional<std::string> body_file;  // --body-file ("-" = stdin)
  std::vector<std::pair<std::string, std::string>> headers;  // --header 'Name: value'
  std::string request_id;                                    // --request-id
  absl::Duration timeout = absl::Seconds(30);                // --timeout
  bool no_retry = false;                                     // --no-retry
  int max_attempts = 0;                                      // --max-attempts; 0 = the policy's cap
  std::vector<std::string> allowed_models;                   // --allow, in order
  bool quiet = false;                                        // --quiet
  bool use_tls = false;                                      // --tls
  std::string ca_file;                                       // --ca-file (implies --tls)
  std::string token_file;                                    // --token-file
  std::string cert_file;  // --cert-file: client certificate (mTLS; implies --tls)
  std::string key_file;   // --key-file: its private key
};

// Flags shared by the control-plane commands (policy push, state, block clear).
struct ControlPlaneArgs {
  std::string address;     // --cp-addr, else $REBOUND_CP_ADDR, else kDefaultControlPlaneAddress
  std::string token_file;  // --token-file, else $REBOUND_CP_TOKEN_FILE; empty = send no token
  bool use_tls = false;    // --tls
  std::string ca_file;     // --ca-file (implies --tls)
  std::string cert_file;   // --cert-file: client certificate (mTLS; implies --tls)
  std::string key_file;    // --key-file: its private key
  absl::Duration timeout = absl::Seconds(10);  // --timeout
};

// A block as named on the command line: `model:openai/gpt-4o` or
// `provider:openai`.
struct BlockKey {
  rebound::v1::BlockScope scope = rebound::v1::BLOCK_SCOPE_UNSPECIFIED;
  std::string name;

  bool operator==(const BlockKey&) const = default;
};

struct CliArgs {
  Command command = Command::kHelp;
  CallArgs call;                   // kComplete, kStream
  std::string check_file;          // kCheck
  ControlPlaneArgs control_plane;  // kPolicyPush, kState, kBlockClear
  std::string policy_file;         // kPolicyPush ("-" = stdin)
  bool dry_run = false;            // kPolicyPush
  BlockKey block;                  // kBlockClear
};

// Looks up an environment variable (injected so tests control it).
using CliEnv = std::function<std::optional<std::string>(std::string_view name)>;

// Parses argv[1..] (without the program name). `-h`/`--help` anywhere, `help`
// or no arguments at all give Command::kHelp. An error's message says which
// argument is wrong; the caller prints it with the usage text and exits
// kExitUsage. Flags take their value as `--flag value` or `--flag=value`.
absl::StatusOr<CliArgs> ParseCliArgs(const std::vector<std::string>& args, const CliEnv& env);

// Parses `model:PROVIDER/MODEL` or `provider:PROVIDER` (FormatBlockKey in
// controlplane_client.h is the inverse). The name is
// everything after the first colon (model names may contain colons, e.g.
// `model:ollama/llama3:8b`); it must be printable ASCII without spaces.
absl::StatusOr<BlockKey> ParseBlockKey(std::string_view key);

// The full help text (commands, flags, exit codes).
std::string_view UsageText();

// The command summary printed with a usage error.
std::string_view ShortUsageText();

// The body sent when neither --body nor --body-file is given:
// {"model":"<model or default>","messages":[{"role":"user","content":"Say hello"}]}
// plus "stream":true for `stream`. The gateway overwrites "model" per attempt;
// it is filled in so the body is also valid when sent to a provider directly.
// The API a model speaks, as far as the CLI's defaults care.
enum class ModelApi { kChatCompletions, kMessages };

// The interface of `model` ("" = the default model) in a ListModels answer;
// when the answer does not name it, the configuration's own default rule
// (provider "anthropic" speaks Messages, everything else Chat Completions).
ModelApi ApiOfModel(std::string_view model, const rebound::v1::ListModelsResponse* models);

// The path the CLI sends when --path is not given.
std::string_view DefaultPath(ModelApi api);

// The one-message sample body for `api` ("Say hello"); Messages bodies carry
// the max_tokens that API requires.
std::string DefaultBody(std::string_view model, bool stream, ModelApi api);

// The request the flags describe, with `body` as its body.
rebound::v1::CompletionRequest BuildRequest(const CallArgs& call, std::string body);

}  // namespace rebound::client

#endif  // REBOUND_CLIENT_CLI_ARGS_H_
