#include "publish/plan.hpp"
#include "util/text.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using wsp::publish::check_publish_path;
using wsp::publish::is_immutable_path;
using wsp::publish::make_plan;
using wsp::publish::Plan;
using wsp::publish::PlanAction;
using wsp::publish::PublishFile;

const std::string k_asset = "renders/first-kiss-960.3f9a1c2b7d4e.webp";
const std::string k_other_asset = "renders/rings-480.0123456789ab.jpg";

PublishFile file(const std::string& path, const std::string& hash, std::int64_t size = 100) {
  return {path, std::string(64, hash.front()), size};
}

Plan plan_of(const std::vector<PublishFile>& wanted, const std::vector<PublishFile>& published, bool prune) {
  auto plan = make_plan(wanted, published, prune);
  EXPECT_TRUE(plan.ok()) << plan.message();
  return plan ? *plan : Plan{};
}

PlanAction action_of(const Plan& plan, const std::string& path) {
  auto step = std::find_if(plan.steps.begin(), plan.steps.end(), [&](const auto& s) { return s.path == path; });
  if (step == plan.steps.end()) {
    ADD_FAILURE() << path << " is not in the plan";
    return PlanAction::Unchanged;
  }
  return step->action;
}

std::vector<std::string> paths_of(const Plan& plan) {
  std::vector<std::string> paths;
  for (const auto& step : plan.steps) paths.push_back(step.path);
  return paths;
}

TEST(PublishPlan, NothingPublishedYetPutsEverything) {
  auto plan = plan_of({file("index.html", "a"), file(k_asset, "b", 2000)}, {}, false);
  EXPECT_EQ(action_of(plan, "index.html"), PlanAction::Put);
  EXPECT_EQ(action_of(plan, k_asset), PlanAction::Put);
  EXPECT_EQ(plan.count(PlanAction::Put), 2u);
  EXPECT_EQ(plan.upload_bytes(), 2100);
}

TEST(PublishPlan, SameHashIsUnchangedOtherHashIsReplaced) {
  auto plan = plan_of({file("index.html", "a"), file("gallery.css", "c"), file(k_asset, "b")},
                      {file("index.html", "z"), file("gallery.css", "c"), file(k_asset, "b")}, false);
  EXPECT_EQ(action_of(plan, "index.html"), PlanAction::Replace);
  EXPECT_EQ(action_of(plan, "gallery.css"), PlanAction::Unchanged);
  EXPECT_EQ(action_of(plan, k_asset), PlanAction::Unchanged);
  EXPECT_EQ(plan.upload_bytes(), 100);
}

TEST(PublishPlan, SameHashOtherSizeIsReplaced) {
  auto plan = plan_of({file("index.html", "a", 10)}, {file("index.html", "a", 11)}, false);
  EXPECT_EQ(action_of(plan, "index.html"), PlanAction::Replace);
}

TEST(PublishPlan, WithoutPruneNothingIsDeleted) {
  auto plan = plan_of({file("index.html", "a")}, {file("index.html", "a"), file(k_asset, "b"), file("old.html", "c")},
                      false);
  EXPECT_EQ(action_of(plan, k_asset), PlanAction::Stale);
  EXPECT_EQ(action_of(plan, "old.html"), PlanAction::Stale);
  EXPECT_EQ(plan.count(PlanAction::Delete), 0u);
  EXPECT_TRUE(wsp::publish::purge_paths(plan).empty());
}

TEST(PublishPlan, PruneDeletesOnlyWhatWasPublished) {
  auto plan = plan_of({file("index.html", "a")}, {file("index.html", "a"), file(k_asset, "b")}, true);
  EXPECT_EQ(action_of(plan, k_asset), PlanAction::Delete);
  EXPECT_EQ(plan.count(PlanAction::Delete), 1u);
  EXPECT_EQ(plan.count(PlanAction::Stale), 0u);
  // Nothing outside the record can appear: every step's path is wanted or recorded.
  EXPECT_EQ(plan.steps.size(), 2u);
}

TEST(PublishPlan, InvalidPathsAreRejectedByName) {
  for (const std::string bad : {"../x", "/abs", "a/../../b", "a\\b", "", "a//b", "a/", "./a", "a/./b", ".."}) {
    EXPECT_FALSE(check_publish_path(bad).ok()) << bad;
    auto wanted = make_plan(std::vector<PublishFile>{{bad, "aa", 1}}, {}, false);
    ASSERT_FALSE(wanted.ok()) << bad;
    // Named as a JSON string, so that a control character in a hostile name is shown, not obeyed.
    EXPECT_TRUE(wanted.message().starts_with(nlohmann::json(bad).dump() + ": not a publishable path"))
        << wanted.message();
    // A tampered record must not lead a delete outside the target either.
    auto recorded = make_plan({}, std::vector<PublishFile>{{bad, "aa", 1}}, true);
    EXPECT_FALSE(recorded.ok()) << bad;
  }
  EXPECT_FALSE(check_publish_path(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(check_publish_path("a\nb").ok());
}

TEST(PublishPlan, ValidPathsAreAccepted) {
  for (const std::string good : {"index.html", "renders/a-480.3f9a1c2b7d4e.jpg", "a/b/c.txt", "..a", "a..", "x/.well"})
    EXPECT_TRUE(check_publish_path(good).ok()) << good << ": " << check_publish_path(good).message();
}

TEST(PublishPlan, DuplicatePathIsAnError) {
  auto plan = make_plan(std::vector<PublishFile>{file("index.html", "a"), file("index.html", "b")}, {}, false);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.message().find("index.html"), std::string::npos);
}

TEST(PublishPlan, ImmutableNamesCarryATwelveDigitHash) {
  EXPECT_TRUE(is_immutable_path("renders/first-kiss-960.3f9a1c2b7d4e.webp"));
  EXPECT_TRUE(is_immutable_path("gallery.0123456789ab.css"));
  EXPECT_FALSE(is_immutable_path("index.html"));
  EXPECT_FALSE(is_immutable_path("ceremony.html"));
  EXPECT_FALSE(is_immutable_path("manifest.json"));
  EXPECT_FALSE(is_immutable_path("gallery.css"));
  EXPECT_FALSE(is_immutable_path("renders/a.3f9a1c2b7d4.webp"));    // 11 digits
  EXPECT_FALSE(is_immutable_path("renders/a.3f9a1c2b7d4e0.webp"));  // 13 digits
  EXPECT_FALSE(is_immutable_path("renders/a.3F9A1C2B7D4E.webp"));   // not what the renderer writes
  EXPECT_FALSE(is_immutable_path("renders/a.3f9a1c2b7d4g.webp"));
  EXPECT_FALSE(is_immutable_path("3f9a1c2b7d4e.webp"));              // the stem, not a hash segment
  EXPECT_FALSE(is_immutable_path("renders.3f9a1c2b7d4e/index.html"));  // in a folder name only
}

TEST(PublishPlan, AssetsBeforePagesBeforeDeletes) {
  std::vector<PublishFile> wanted{file("index.html", "a"),   file("ceremony.html", "a"), file("manifest.json", "a"),
                                  file(k_asset, "a"),        file("gallery.css", "a"),   file(k_other_asset, "a"),
                                  file("same.html", "s")};
  std::vector<PublishFile> published{file("index.html", "z"),
                                     file("same.html", "s"),
                                     file("gone.html", "g"),
                                     file("renders/gone-480.aaaaaaaaaaaa.jpg", "g"),
                                     file("gone.json", "g"),
                                     file("ceremony.html", "z")};
  auto plan = plan_of(wanted, published, true);
  EXPECT_EQ(paths_of(plan), (std::vector<std::string>{
                                k_asset, k_other_asset,                   // immutable assets, by path
                                "gallery.css", "manifest.json",           // mutable files that are not pages
                                "ceremony.html",                          // pages index.html links to
                                "index.html",                             // the entry point last
                                "gone.html", "gone.json",                 // deletes: pages first
                                "renders/gone-480.aaaaaaaaaaaa.jpg",      // then what they used
                                "same.html"}));                           // no-ops at the end
  EXPECT_EQ(action_of(plan, "ceremony.html"), PlanAction::Replace);
  EXPECT_EQ(action_of(plan, "same.html"), PlanAction::Unchanged);
  EXPECT_EQ(wsp::publish::purge_paths(plan),
            (std::vector<std::string>{"ceremony.html", "index.html", "gone.html", "gone.json"}));
}

TEST(PublishPlan, OrderDoesNotDependOnInputOrder) {
  std::vector<PublishFile> wanted{file("index.html", "a"), file(k_asset, "a"), file("b.html", "a"), file("a.css", "a")};
  auto forward = plan_of(wanted, {}, false);
  std::reverse(wanted.begin(), wanted.end());
  EXPECT_EQ(paths_of(plan_of(wanted, {}, false)), paths_of(forward));
}

TEST(PublishPlan, SummaryAndJson) {
  auto plan = plan_of({file("index.html", "a", 1500), file(k_asset, "b", 2'500'000)},
                      {file("index.html", "z"), file("old \"quoted\".html", "c")}, false);
  auto summary = wsp::publish::plan_summary(plan);
  EXPECT_TRUE(summary.starts_with("1 to put, 1 to replace, 0 unchanged, 0 to delete, 1 stale; 2.5 MB to upload\n"))
      << summary;
  EXPECT_NE(summary.find("put      " + k_asset + " (2.5 MB)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("stale"), std::string::npos) << summary;

  // Read back as JSON: totals, then every step in plan order.
  const auto json = nlohmann::json::parse(wsp::publish::plan_json(plan).dump());
  EXPECT_EQ(json["put"], 1);
  EXPECT_EQ(json["replace"], 1);
  EXPECT_EQ(json["unchanged"], 0);
  EXPECT_EQ(json["delete"], 0);
  EXPECT_EQ(json["stale"], 1);
  EXPECT_EQ(json["upload_bytes"], 2'501'500);
  ASSERT_EQ(json["steps"].size(), 3u);
  EXPECT_EQ(json["steps"][0]["path"], k_asset);
  EXPECT_EQ(json["steps"][0]["action"], "put");
  EXPECT_EQ(json["steps"][0]["immutable"], true);
  EXPECT_EQ(json["steps"][2]["path"], "old \"quoted\".html");
  EXPECT_EQ(json["steps"][2]["action"], "stale");
  EXPECT_EQ(json["steps"][2]["sha256"], std::string(64, 'c'));
}

TEST(PublishPlan, JsonOfANameThatIsNotUtf8) {
  auto plan = plan_of({file("caf\xe9.html", "a")}, {}, false);
  const std::string text = wsp::publish::plan_json(plan).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  EXPECT_EQ(nlohmann::json::parse(text)["steps"][0]["path"], "caf\xef\xbf\xbd.html");
}

}  // namespace
