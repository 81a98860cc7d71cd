#include "service/grpc/decode_error_interceptor.h"

#include <google/protobuf/descriptor.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace music::service {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

// "/music.v1.MusicService/CreateMusic" -> "music.v1.CreateMusicRequest", or "" for a method the
// generated descriptors do not know.
std::string RequestTypeOf(absl::string_view method) {
  absl::ConsumePrefix(&method, "/");
  const std::string full = absl::StrReplaceAll(method, {{"/", "."}});
  const google::protobuf::MethodDescriptor* m =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full);
  return m == nullptr ? "" : m->input_type()->full_name();
}

class DecodeErrorInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit DecodeErrorInterceptor(ServerRpcInfo* info)
      : info_(info),
        single_request_(info->type() == ServerRpcInfo::Type::UNARY ||
                        info->type() == ServerRpcInfo::Type::SERVER_STREAMING) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (single_request_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      undecodable_ = true;
    }
    if (undecodable_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const std::string type = RequestTypeOf(info_->method() == nullptr ? "" : info_->method());
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("request could not be decoded: not a valid ",
                       type.empty() ? "request message" : type,
                       " (a string field that is not UTF-8, or a malformed or truncated "
                       "message)")));
    }
    methods->Proceed();
  }

 private:
  ServerRpcInfo* const info_;
  const bool single_request_;
  bool undecodable_ = false;  // hooks of one call run one batch at a time
};

class Factory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new DecodeErrorInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewDecodeErrorInterceptor() {
  return std::make_unique<Factory>();
}

}  // namespace music::service
