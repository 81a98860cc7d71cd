#!/usr/bin/env bash
# tools/check-layers fails, naming file:line and the rule, on an include that points up a layer, and
# passes on a tree whose includes all point down. Usage: check_layers_test.sh REPO_ROOT
set -uo pipefail
repo="${1:?usage: check_layers_test.sh REPO_ROOT}"
check="$repo/tools/check-layers"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Runs the check on tree $1; expects exit code $2 and, when $3 is given, an output line with it.
expect() {
  local tree="$1" want_rc="$2" want_line="${3:-}" out rc
  out="$("$check" "$tree" 2>&1)"
  rc=$?
  if [[ "$rc" != "$want_rc" ]]; then
    fail "check-layers on $tree exited $rc, want $want_rc; output:"$'\n'"$out"
    return
  fi
  if [[ -n "$want_line" ]] && ! grep -qF -- "$want_line" <<<"$out"; then
    fail "check-layers on $tree did not print \"$want_line\"; output:"$'\n'"$out"
  fi
}

# A small tree in the target layout whose includes all point down.
clean="$tmp/clean"
mkdir -p "$clean"/{domain,persistence/sqlite,adapters/http,adapters/kie,service/core,service/billing,server}
cat >"$clean/domain/task_record.h" <<'EOF'
#include <string>
#include "absl/time/time.h"
#include "music/v1/task.pb.h"
EOF
printf '#include "domain/task_record.h"\n' >"$clean/domain/ledger.h"
printf '#include "domain/task_record.h"\n' >"$clean/persistence/task_store.h"
printf '#include "persistence/task_store.h"\n#include "domain/ledger.h"\n' \
  >"$clean/persistence/sqlite/sqlite_task_store.h"
printf '#include "domain/task_record.h"\n' >"$clean/adapters/provider_adapter.h"
printf '#include "adapters/provider_adapter.h"\n' >"$clean/adapters/http/http_client.h"
printf '#include "adapters/http/http_client.h"\n' >"$clean/adapters/http/curl_http_client.h"
printf '#include "adapters/http/curl_http_client.h"\n' >"$clean/adapters/kie/kie_adapter.h"
cat >"$clean/service/core/task_engine.h" <<'EOF'
#include "adapters/provider_adapter.h"
#include "adapters/http/http_client.h"
#include "persistence/task_store.h"
#include "domain/ledger.h"
EOF
printf '#include "domain/ledger.h"\n' >"$clean/service/billing/reconciler.h"
cat >"$clean/server/main.cc" <<'EOF'
#include "adapters/kie/kie_adapter.h"
#include "persistence/sqlite/sqlite_task_store.h"
#include "service/core/task_engine.h"
EOF
mkdir -p "$clean/tools/provider-emulator"
# The emulator's one allowed project header: the injected clock interface.
printf '#include "domain/clock.h"\n#include "tools/provider-emulator/core.h"\n' \
  >"$clean/tools/provider-emulator/emulator.h"
printf 'add_library(provider_emulator_lib emulator.cc)\n# not music_billing\n' \
  >"$clean/tools/provider-emulator/CMakeLists.txt"
expect "$clean" 0

# Each rule: copy the clean tree, plant one upward include at a known line, expect exit 1 and
# file:line with the rule in the output.
plant() {  # plant NAME FILE INCLUDE EXPECTED_RULE_TEXT
  local name="$1" file="$2" inc="$3" rule="$4" tree="$tmp/$1" n
  cp -r "$clean" "$tree"
  mkdir -p "$(dirname "$tree/$file")"
  printf '#include "%s"\n' "$inc" >>"$tree/$file"
  n="$(wc -l <"$tree/$file")"
  expect "$tree" 1 "$file:$((n)): #include \"$inc\": $rule"
}
plant domain_up domain/ledger.h persistence/task_store.h "domain/ includes only domain/"
plant domain_grpc domain/ledger.h grpcpp/grpcpp.h "domain/ includes only domain/"
plant persistence_service persistence/task_store.h service/core/task_engine.h \
  "persistence/ includes only domain/ and persistence/"
plant persistence_adapter persistence/sqlite/sqlite_task_store.h adapters/provider_adapter.h \
  "persistence/ includes only domain/ and persistence/"
plant persistence_server persistence/sqlite/sqlite_task_store.h server/config.h \
  "persistence/ includes only domain/ and persistence/"
plant persistence_iface persistence/task_store.h persistence/sqlite/sqlite_task_store.h \
  "a persistence interface (persistence/*.h) includes no implementation"
plant adapters_service adapters/kie/kie_adapter.h service/core/task_engine.h \
  "adapters/ includes only domain/ and adapters/"
plant adapters_server adapters/http/curl_http_client.h server/config.h \
  "adapters/ includes only domain/ and adapters/"
plant adapters_iface adapters/provider_adapter.h adapters/kie/kie_adapter.h \
  "an adapter interface includes only"
plant service_sqlite service/core/task_engine.h persistence/sqlite/sqlite_task_store.h \
  "service/ includes only the persistence interfaces"
plant service_adapter_impl service/core/task_engine.h adapters/http/curl_http_client.h \
  "service/ includes only the adapter interfaces"
plant service_server service/core/task_engine.h server/config.h "service/ includes nothing from server/"
plant service_billing_core service/billing/reconciler.h service/core/task_engine.h \
  "service/billing/ includes only domain/ and service/billing/"
plant server_tests server/main.cc tests/testing/fake_clock.h "server/ includes nothing from tests/"
plant emulator_adapters tools/provider-emulator/emulator.h adapters/kie/kie_adapter.h \
  "the provider emulator includes nothing from adapters/"
plant emulator_service tools/provider-emulator/usage.cc service/billing/usage_format.h \
  "the provider emulator includes nothing from service/"
plant emulator_domain tools/provider-emulator/usage.h domain/billing_types.h \
  "the provider emulator includes nothing from domain/"
plant emulator_server tools/provider-emulator/main.cc server/config.h \
  "the provider emulator includes nothing from server/"

# The emulator's build linking a service library.
tree="$tmp/emulator_link"
cp -r "$clean" "$tree"
printf 'target_link_libraries(provider_emulator_lib PUBLIC music_billing absl::status)\n' \
  >>"$tree/tools/provider-emulator/CMakeLists.txt"
expect "$tree" 1 "tools/provider-emulator/CMakeLists.txt:3: links music_billing"

# An angle-bracket include of a project header counts too.
tree="$tmp/angle"
cp -r "$clean" "$tree"
printf '#include <service/core/task_engine.h>\n' >>"$tree/persistence/task_store.h"
expect "$tree" 1 "persistence/task_store.h:2: #include \"service/core/task_engine.h\""

# The real tree: planting an upward include into a copy of this repository's sources makes the
# check fail on exactly that line (whatever else it reports today).
real="$tmp/real"
mkdir -p "$real"
for d in domain persistence adapters service server tools/provider-emulator; do
  [[ -d "$repo/$d" ]] && mkdir -p "$real/$(dirname "$d")" && cp -r "$repo/$d" "$real/$d"
done
printf '#include "service/core/task_engine.h"\n' >>"$real/persistence/task_store.h"
n="$(wc -l <"$real/persistence/task_store.h")"
expect "$real" 1 "persistence/task_store.h:$n: #include \"service/core/task_engine.h\": persistence/"

if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "check_layers_test: all checks passed"
