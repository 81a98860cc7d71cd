#!/usr/bin/env bash
# The shipped alert rules are valid (`promtool check rules`) and fire as intended on made-up
# series (`promtool test rules deploy/prometheus/alerts_test.yml`).
# Usage: prometheus_rules_test.sh DEPLOY_PROMETHEUS_DIR
set -euo pipefail
cd "$1"
promtool check rules alerts.yml
promtool test rules alerts_test.yml
