#include "tools/musicctl/rpc_error.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "domain/clock.h"
#include "google/protobuf/duration.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "tools/musicctl/format.h"
#include "tools/musicctl/options.h"

namespace music::musicctl {
namespace {

void AppendDetails(const google::rpc::Status& details, std::string* out) {
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::BadRequest bad_request;
    google::rpc::ErrorInfo error_info;
    google::rpc::PreconditionFailure precondition;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&bad_request)) {
      for (const auto& violation : bad_request.field_violations()) {
        absl::StrAppend(out, "  field ", violation.field(), ": ", violation.description(), "\n");
      }
    } else if (any.UnpackTo(&error_info)) {
      absl::StrAppend(out, "  reason ", error_info.reason());
      if (!error_info.domain().empty()) absl::StrAppend(out, " (domain ", error_info.domain(), ")");
      // Sorted, so the output is stable.
      std::map<std::string, std::string> metadata(error_info.metadata().begin(),
                                                  error_info.metadata().end());
      if (!metadata.empty()) {
        absl::StrAppend(out, " ", absl::StrJoin(metadata, " ", absl::PairFormatter("=")));
      }
      absl::StrAppend(out, "\n");
    } else if (any.UnpackTo(&precondition)) {
      for (const auto& violation : precondition.violations()) {
        absl::StrAppend(out, "  precondition ", violation.type(), " ", violation.subject(), ": ",
                        violation.description(), "\n");
      }
    } else if (any.UnpackTo(&retry)) {
      double seconds = retry.retry_delay().seconds() + retry.retry_delay().nanos() / 1e9;
      absl::StrAppendFormat(out, "  retry after %.1f s\n", seconds);
    } else {
      absl::StrAppend(out, "  detail ", any.type_url(), "\n");
    }
  }
}

}  // namespace

std::string FormatRpcError(const grpc::Status& status) {
  std::string out = absl::StrCat("error: ", CodeName(status.error_code()));
  if (!status.error_message().empty()) absl::StrAppend(&out, ": ", status.error_message());
  absl::StrAppend(&out, "\n");
  if (!status.error_details().empty()) {
    google::rpc::Status details;
    if (details.ParseFromString(status.error_details())) {
      AppendDetails(details, &out);
    } else {
      absl::StrAppend(&out, "  (unreadable grpc-status-details-bin)\n");
    }
  }
  return out;
}

int ReportRpcError(const grpc::Status& status, const Console& console) {
  *console.err << FormatRpcError(status) << std::flush;
  return kExitRpcError;
}

void SetRpcDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(music::RealClock::Get()->Now() + timeout));
}

}  // namespace music::musicctl
