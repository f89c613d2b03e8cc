// A gRPC channel for tests that writes every message and final status it
// receives to the test's outputs (test_outputs.h), so that secret_scan_test
// searches responses and errors (status messages and the binary
// grpc-status-details-bin payload) along with the processes' own output.
#ifndef REBOUND_TESTS_INTEGRATION_RECORDING_CHANNEL_H_
#define REBOUND_TESTS_INTEGRATION_RECORDING_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

namespace rebound::testing {

// An insecure channel to `target` without a receive size limit, recording
// into OutputsDir()/grpc-<label>.txt (the directory is taken now, on the
// test's thread; calls may finish on any thread). Messages are written as
// protobuf text on one line each.
std::shared_ptr<grpc::Channel> RecordingChannel(const std::string& target,
                                                const std::string& label);

}  // namespace rebound::testing

#endif  // REBOUND_TESTS_INTEGRATION_RECORDING_CHANNEL_H_
