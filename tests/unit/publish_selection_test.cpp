#include "publish/selection.hpp"
#include "pipeline/tag.hpp"

#include <gtest/gtest.h>

namespace {

using wsp::config::PublishTarget;
using wsp::publish::describe;
using wsp::publish::left_out_because;
using wsp::publish::SelectionFacts;

SelectionFacts rated(int rating, std::vector<std::string> labels = {}) {
  SelectionFacts facts;
  facts.rating = rating;
  facts.labels = std::move(labels);
  return facts;
}

TEST(SelectPolicy, ByDefaultEverythingButRejects) {
  PublishTarget::Select all;
  EXPECT_FALSE(left_out_because(all, SelectionFacts{}));
  EXPECT_FALSE(left_out_because(all, rated(0)));
  EXPECT_EQ(left_out_because(all, rated(-1)), "rejected");
  EXPECT_EQ(describe(all), "everything not rejected");
}

TEST(SelectPolicy, StarsLabelsPicksAndBursts) {
  PublishTarget::Select best;
  best.min_rating = 3;
  best.labels = {"Green"};
  EXPECT_FALSE(left_out_because(best, rated(3, {"green"}))) << "labels compare ignoring case";
  EXPECT_FALSE(left_out_because(best, rated(5, {"Red", "Green"}))) << "any label will do";
  EXPECT_EQ(left_out_because(best, rated(2, {"Green"})), "2 stars, 3 wanted");
  EXPECT_EQ(left_out_because(best, SelectionFacts{}), "unrated, 3 stars wanted");
  EXPECT_EQ(left_out_because(best, rated(4, {"Red"})), "labelled Red, Green wanted");
  EXPECT_EQ(left_out_because(best, rated(4)), "no colour label, Green wanted");
  EXPECT_EQ(describe(best), "3 stars or more, labelled Green, nothing rejected");

  PublishTarget::Select picks;
  picks.picks_only = true;
  auto picked = rated(0);
  picked.picked = true;
  EXPECT_FALSE(left_out_because(picks, picked));
  EXPECT_EQ(left_out_because(picks, rated(5)), "not a pick");

  PublishTarget::Select bursts;
  bursts.best_of_bursts = true;
  SelectionFacts alone, best_frame, other_frame;
  best_frame.in_group = other_frame.in_group = true;
  best_frame.best_pick = true;
  EXPECT_FALSE(left_out_because(bursts, alone)) << "a frame outside any burst stays";
  EXPECT_FALSE(left_out_because(bursts, best_frame));
  EXPECT_EQ(left_out_because(bursts, other_frame), "not the best of its burst");
}

TEST(RatingChoice, TheNewerHoldsAndTheConflictIsSaid) {
  using wsp::pipeline::choose_rating;
  EXPECT_EQ(choose_rating(std::nullopt, 0, 4, 100, "sidecar").rating, 4);
  EXPECT_EQ(choose_rating(2, 100, std::nullopt, 0, "sidecar").rating, 2);
  auto same = choose_rating(3, 100, 3, 200, "sidecar");
  EXPECT_EQ(same.rating, 3);
  EXPECT_TRUE(same.conflict.empty());
  auto tool_newer = choose_rating(2, 100, 5, 200, "sidecar");
  EXPECT_EQ(tool_newer.rating, 5);
  EXPECT_EQ(tool_newer.conflict, "tag set gave rating 2, the XMP sidecar 5: the newer, the XMP sidecar, holds");
  auto set_newer = choose_rating(-1, 300, 4, 200, "embedded");
  EXPECT_EQ(set_newer.rating, -1);
  EXPECT_EQ(set_newer.conflict, "tag set gave rating -1, the photo's own XMP 4: the newer, tag set, holds");
}

}  // namespace
