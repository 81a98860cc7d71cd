// Answers a request that does not decode INVALID_ARGUMENT (with a message naming the request
// type) instead of the callback API's bare UNIMPLEMENTED, for every method of every service.
#ifndef MUSIC_SERVICE_GRPC_DECODE_ERROR_INTERCEPTOR_H_
#define MUSIC_SERVICE_GRPC_DECODE_ERROR_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

namespace music::service {

/// Makes one interceptor per call. Why it is needed: gRPC's callback handlers
/// (grpcpp/impl/codegen/server_callback_handlers.h, CallbackUnaryHandler::RunHandler and the
/// server-streaming one) finish a call whose request message fails to parse (a proto3 string
/// that is not UTF-8, a truncated or malformed body) with UNIMPLEMENTED and an empty message,
/// before any handler runs. The request reaches interceptors as a null message at
/// POST_RECV_MESSAGE, so this interceptor remembers that and rewrites the status at
/// PRE_SEND_STATUS to INVALID_ARGUMENT "request could not be decoded: ...".
///
/// Covers unary and server-streaming methods (one request message). A client-streaming call's
/// reads (UploadReferenceAudio) end the same way as a half-close (a null message), so its
/// reactor answers them as it answers an early end of the stream (INVALID_ARGUMENT naming
/// `metadata` or `chunk`). Install it before any interceptor that reads the sent status
/// (metrics), so they see the rewritten code.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewDecodeErrorInterceptor();

}  // namespace music::service

#endif  // MUSIC_SERVICE_GRPC_DECODE_ERROR_INTERCEPTOR_H_
