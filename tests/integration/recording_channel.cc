#include "tests/integration/recording_channel.h"

#include <google/protobuf/message.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "tests/integration/test_outputs.h"

namespace rebound::testing {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RecordingInterceptor : public grpc::experimental::Interceptor {
 public:
  RecordingInterceptor(std::shared_ptr<const std::string> path, std::string method)
      : path_(std::move(path)), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // Every stub in this project uses protobuf-generated messages, which
      // derive from google::protobuf::Message by single inheritance: the
      // received object's address is its Message's address.
      if (void* message = methods->GetRecvMessage(); message != nullptr) {
        AppendToOutputFile(*path_, absl::StrCat(method_, " message: ",
                                                static_cast<google::protobuf::Message*>(message)
                                                    ->ShortDebugString()));
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      if (const grpc::Status* status = methods->GetRecvStatus(); status != nullptr) {
        // The details are binary (a serialized google.rpc.Status); escaping
        // keeps the record one line and leaves printable text as it is.
        AppendToOutputFile(*path_, absl::StrCat(method_, " status ", static_cast<int>(status->error_code()), ": ",
                                                absl::CEscape(status->error_message()),
                                                " details: ",
                                                absl::CEscape(status->error_details())));
      }
    }
    methods->Proceed();
  }

 private:
  std::shared_ptr<const std::string> path_;
  std::string method_;
};

class RecordingInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit RecordingInterceptorFactory(std::shared_ptr<const std::string> path)
      : path_(std::move(path)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new RecordingInterceptor(path_, info->method() != nullptr ? info->method() : "");
  }

 private:
  std::shared_ptr<const std::string> path_;
};

}  // namespace

std::shared_ptr<grpc::Channel> RecordingChannel(const std::string& target,
                                                const std::string& label) {
  auto path = std::make_shared<const std::string>(
      (std::filesystem::path(OutputsDir()) / absl::StrCat("grpc-", label, ".txt")).string());
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<RecordingInterceptorFactory>(std::move(path)));
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      target, grpc::InsecureChannelCredentials(), args, std::move(factories));
}

}  // namespace rebound::testing
