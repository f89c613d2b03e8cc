// The `rebound` subcommands. Each returns the process exit code (cli_args.h)
// and writes only to the streams it is given, so main() stays a dispatcher.
#ifndef REBOUND_CLIENT_CLI_COMMANDS_H_
#define REBOUND_CLIENT_CLI_COMMANDS_H_

#include <iosfwd>
#include <string>

#include "client/cli_args.h"

namespace rebound::client {

// `rebound complete` (stream = false) and `rebound stream` (stream = true).
// `in` is read when --body-file is "-". Blocks until the call ends.
int RunCall(const CallArgs& call, bool stream, std::istream& in, std::ostream& out,
            std::ostream& err);

// `rebound check FILE`: diagnostics and the verdict on `out`.
int RunCheck(const std::string& file, std::ostream& out);

}  // namespace rebound::client

#endif  // REBOUND_CLIENT_CLI_COMMANDS_H_
