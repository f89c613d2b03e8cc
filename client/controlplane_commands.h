// The `rebound` subcommands that talk to the control plane: `policy push`,
// `state` and `block clear`. Each returns the process exit code (cli_args.h)
// and writes only to the streams it is given. They take a connected client so
// that tests can run them against an in-process fake control plane.
#ifndef REBOUND_CLIENT_CONTROLPLANE_COMMANDS_H_
#define REBOUND_CLIENT_CONTROLPLANE_COMMANDS_H_

#include <iosfwd>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "client/cli_args.h"
#include "client/controlplane_client.h"

namespace rebound::client {

// Reads the token file and builds the client. On failure prints why (never
// the token) to `err`, and returns nullptr: exit with kExitUsage.
std::unique_ptr<ControlPlaneClient> ConnectControlPlane(const ControlPlaneArgs& args,
                                                        std::ostream& err);

// `rebound policy push FILE [--dry-run]`. `in` is read when `file` is "-".
// Prints every diagnostic as "FILE:LINE: error|warning: KEY: MESSAGE", then
// the verdict. Exit 0 when accepted, valid (dry run) or unchanged, 1 when
// rejected.
int RunPolicyPush(const ControlPlaneClient& client, const std::string& file, bool dry_run,
                  std::istream& in, std::ostream& out, std::ostream& err);

// `rebound state`: the policy version, the replicas and the active blocks,
// whose remaining time is counted from `now`.
int RunState(const ControlPlaneClient& client, absl::Time now, std::ostream& out,
             std::ostream& err);

// `rebound block clear KEY`. Clearing a block that does not exist succeeds
// (and says so): the end state is the one asked for.
int RunBlockClear(const ControlPlaneClient& client, const BlockKey& key, std::ostream& out,
                  std::ostream& err);

}  // namespace rebound::client

#endif  // REBOUND_CLIENT_CONTROLPLANE_COMMANDS_H_
