#include "adapters/usage_formats.h"

#include "adapters/beatra/beatra_usage_format.h"
#include "adapters/kie/kie_usage_format.h"
#include "adapters/piapi/piapi_usage_format.h"
#include "adapters/tokenlab/tokenlab_usage_format.h"

namespace music::adapters {

std::vector<std::pair<std::string, UsageFormat>> BuiltinUsageFormats() {
  return {
      {"tokenlab", UsageFormat{tokenlab::ParseUsage, tokenlab::WriteUsage}},
      {"beatra", UsageFormat{beatra::ParseUsage, beatra::WriteUsage}},
      {"piapi", UsageFormat{piapi::ParseUsage, piapi::WriteUsage}},
      {"kie", UsageFormat{kie::ParseUsage, kie::WriteUsage}},
  };
}

}  // namespace music::adapters
