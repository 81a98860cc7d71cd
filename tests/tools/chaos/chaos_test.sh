#!/usr/bin/env bash
# A short tools/chaos run passes: exit 0, at least one kill -9 done, creates acknowledged, and the
# figures that prove it (nothing lost, nothing submitted twice, watches in order, ledger balanced).
# Usage: chaos_test.sh CHAOS_BINARY [chaos flags...]
set -uo pipefail
chaos="${1:?usage: chaos_test.sh CHAOS_BINARY [flags...]}"
shift
out="$("$chaos" "$@")"
rc=$?
echo "$out"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The value of figure $1 (`name: value`).
figure() { sed -nE "s/^$1: (.*)$/\1/p" <<<"$out" | head -1; }

[[ "$rc" == 0 ]] || fail "chaos exited $rc, want 0"
kills="$(figure kills)"
acknowledged="$(figure 'creates acknowledged')"
(( ${kills:-0} >= 1 )) || fail "no kill was done"
(( ${acknowledged:-0} > 0 )) || fail "no create was acknowledged"
for name in 'tasks lost' duplicates 'watch violations' 'ledger violations'; do
  [[ "$(figure "$name")" == 0 ]] || fail "$name: '$(figure "$name")', want 0"
done
[[ "$(figure ledger)" == balanced ]] || fail "the ledger does not balance"
(( failures == 0 ))
