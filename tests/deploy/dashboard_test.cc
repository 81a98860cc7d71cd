// The Grafana dashboard (deploy/grafana/music-server.json) and the alert rules
// (deploy/prometheus/alerts.yml) query only metrics the server really exposes: every music_*
// name in them is a family of service::Metrics (or a histogram's _bucket/_sum/_count series).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "rapidjson/document.h"
#include "service/core/metrics.h"

namespace music::service {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every string under an "expr" or "query" key, at any depth.
void CollectQueries(const rapidjson::Value& v, std::vector<std::string>& out) {
  if (v.IsObject()) {
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
      const std::string key = it->name.GetString();
      if ((key == "expr" || key == "query") && it->value.IsString()) {
        out.emplace_back(it->value.GetString());
      } else {
        CollectQueries(it->value, out);
      }
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) CollectQueries(e, out);
  }
}

std::set<std::string> MetricNamesIn(const std::string& text) {
  std::set<std::string> names;
  static const std::regex kName("music_[a-z0-9_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName); it != std::sregex_iterator();
       ++it) {
    names.insert(it->str());
  }
  return names;
}

// The family `series` belongs to, or "" when the server exposes no such name.
std::string FamilyOf(const std::string& series, const std::set<std::string>& families) {
  if (families.count(series) > 0) return series;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (series.size() > s.size() && series.compare(series.size() - s.size(), s.size(), s) == 0) {
      const std::string base = series.substr(0, series.size() - s.size());
      if (families.count(base) > 0) return base;
    }
  }
  return "";
}

std::set<std::string> Families() {
  Metrics metrics;
  const std::vector<std::string> names = metrics.FamilyNames();
  return {names.begin(), names.end()};
}

TEST(DashboardTest, EveryPanelQueriesOnlyExposedMetrics) {
  const std::string json = ReadFile(std::string(MUSIC_DEPLOY_DIR) + "/grafana/music-server.json");
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  ASSERT_FALSE(doc.HasParseError()) << "the dashboard is not valid JSON";
  ASSERT_TRUE(doc.HasMember("panels") && doc["panels"].IsArray());
  const std::set<std::string> families = Families();
  std::set<std::string> used;
  for (const auto& panel : doc["panels"].GetArray()) {
    std::vector<std::string> queries;
    CollectQueries(panel, queries);
    ASSERT_FALSE(queries.empty()) << "a panel without a query: " << panel["title"].GetString();
    for (const std::string& q : queries) {
      const std::set<std::string> names = MetricNamesIn(q);
      EXPECT_FALSE(names.empty()) << q;
      for (const std::string& name : names) {
        const std::string family = FamilyOf(name, families);
        EXPECT_NE(family, "") << "panel \"" << panel["title"].GetString() << "\" queries "
                              << name << ", which the server does not expose";
        used.insert(family);
      }
    }
  }
  // The main figures of README's Metrics section each have a panel.
  for (const char* main :
       {"music_rpc_requests_total", "music_rpc_duration_seconds", "music_tasks",
        "music_task_duration_seconds", "music_provider_requests_total", "music_polls_total",
        "music_http_queue_wait_seconds", "music_provider_rate_limit_wait_seconds",
        "music_callbacks_refused_total", "music_watch_streams",
        "music_store_commit_duration_seconds", "music_ledger_reserved_micros_total",
        "music_archive_failures_total"}) {
    EXPECT_EQ(used.count(main), 1u) << "no panel shows " << main;
  }
}

TEST(DashboardTest, AlertRulesQueryOnlyExposedMetrics) {
  const std::string rules = ReadFile(std::string(MUSIC_DEPLOY_DIR) + "/prometheus/alerts.yml");
  const std::set<std::string> families = Families();
  const std::set<std::string> names = MetricNamesIn(rules);
  EXPECT_GE(names.size(), 7u);
  for (const std::string& name : names) {
    EXPECT_NE(FamilyOf(name, families), "") << "alerts.yml queries " << name
                                            << ", which the server does not expose";
  }
}

}  // namespace
}  // namespace music::service
