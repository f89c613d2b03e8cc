#include "tests/integration/grpc_probes.h"

#include <chrono>

#include "gtest/gtest.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace rebound::testing {

bool HealthServing(const std::shared_ptr<grpc::Channel>& channel) {
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

std::vector<std::string> ReflectedServices(const std::shared_ptr<grpc::Channel>& channel) {
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  std::vector<std::string> services;
  if (!stream->Write(request)) return services;
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse reply;
  if (stream->Read(&reply)) {
    for (const auto& s : reply.list_services_response().service()) services.push_back(s.name());
  }
  stream->Finish();
  return services;
}

}  // namespace rebound::testing
