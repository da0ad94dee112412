// Tags in the catalog: automatic results, overrides that always win and survive
// re-tagging, burst groups, the provider results cache, and tag work that
// waits for render.

#include "catalog_backends.hpp"
#include "temp_dir.hpp"
#include "catalog/catalog.hpp"
#include "pipeline/tag.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using namespace wsp::catalog;
using wsp::testing::TempDir;

class TagCatalogTest : public ::testing::TestWithParam<wsp::testing::Backend> {
protected:
  void SetUp() override {
    WSP_REQUIRE_BACKEND(GetParam());
    m_catalog = wsp::testing::new_place(GetParam(), m_dir.path()).open();
    m_config.project_dir = m_dir.path();
    m_config.project.timezone = "UTC";
  }

  std::int64_t add(const std::string& path, const std::string& sha) {
    ImageRecord image;
    image.path = path;
    image.sha256 = sha;
    image.header.width = 4000;
    image.header.height = 6000;
    std::int64_t id = 0;
    m_catalog->write([&] { id = m_catalog->add_image(image); });
    return id;
  }

  TagRecord automatic(std::int64_t id, const std::string& scene, double confidence) {
    TagRecord t;
    t.image_id = id;
    t.fingerprint = "f";
    t.provider = "local";
    t.model = "local-1";
    t.scene = scene;
    t.scene_confidence = confidence;
    t.confidence = confidence;
    t.scene_basis = "timeline";
    t.keywords = {scene, "vertical", "first dance, slow"};
    t.alt_text = "automatic";
    t.palette = "#f0ead6:0.6000:ivory #9caf88:0.4000:sage";
    t.phash = 0xF00D'CAFE'1234'5678ULL;
    t.capture_utc_ms = 1'781'000'000'000;
    t.camera = "032021001537";
    return t;
  }

  std::vector<wsp::pipeline::EffectiveTags> effective() { return wsp::pipeline::effective_tags(m_config, *m_catalog); }

  TempDir m_dir;
  std::unique_ptr<Catalog> m_catalog;
  wsp::config::Config m_config;
};

INSTANTIATE_TEST_SUITE_P(Backends, TagCatalogTest, wsp::testing::all_backends(), wsp::testing::backend_name);

TEST_P(TagCatalogTest, TagsRoundTrip) {
  auto id = add("a.jpg", std::string(64, 'a'));
  auto t = automatic(id, "ceremony", 0.95);
  t.overexposed = true;
  t.sharpness = 42.5;
  m_catalog->write([&] { m_catalog->put_tags(t); });
  auto all = m_catalog->tags();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].source_path, "a.jpg");
  EXPECT_EQ(all[0].scene, "ceremony");
  EXPECT_EQ(all[0].keywords, t.keywords);  // a keyword with a comma stays one keyword
  EXPECT_EQ(all[0].phash, t.phash);        // the top bit survives SQLite's signed integers
  EXPECT_EQ(all[0].capture_utc_ms, t.capture_utc_ms);
  EXPECT_TRUE(all[0].overexposed);
  EXPECT_DOUBLE_EQ(all[0].sharpness, 42.5);
  EXPECT_FALSE(all[0].group);
}

TEST_P(TagCatalogTest, OverridesWinAndSurviveRetagging) {
  auto id = add("a.jpg", std::string(64, 'a'));
  m_catalog->write([&] { m_catalog->put_tags(automatic(id, "ceremony", 0.95)); });
  TagOverride o;
  o.image_id = id;
  o.scene = "portrait";
  o.add_tags = {"Anna"};
  o.remove_tags = {"vertical"};
  o.alt_text = "Anna laughing under the arch";
  o.rating = 5;
  m_catalog->write([&] { m_catalog->put_override(o); });

  // Re-tagging replaces the automatic result only.
  m_catalog->write([&] { m_catalog->put_tags(automatic(id, "reception", 0.95)); });
  auto tags = effective();
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].scene, "portrait");
  EXPECT_EQ(tags[0].scene_basis, "override");
  EXPECT_EQ(tags[0].alt_text, "Anna laughing under the arch");
  EXPECT_EQ(tags[0].rating, 5);
  EXPECT_TRUE(std::count(tags[0].keywords.begin(), tags[0].keywords.end(), "Anna"));
  EXPECT_FALSE(std::count(tags[0].keywords.begin(), tags[0].keywords.end(), "vertical"));
  EXPECT_FALSE(std::count(tags[0].keywords.begin(), tags[0].keywords.end(), "reception"));
  EXPECT_TRUE(std::count(tags[0].keywords.begin(), tags[0].keywords.end(), "portrait"));
  EXPECT_FALSE(tags[0].needs_review);
}

// A photo the photographer rejected before (or without) automatic tagging:
// the override is effective all the same, in path order with the others.
TEST_P(TagCatalogTest, OverridesCountForAPhotoWithNoAutomaticTags) {
  auto tagged = add("b.jpg", std::string(64, 'b'));
  m_catalog->write([&] { m_catalog->put_tags(automatic(tagged, "ceremony", 0.95)); });
  auto untagged = add("a.jpg", std::string(64, 'a'));
  TagOverride o;
  o.image_id = untagged;
  o.rating = -1;
  o.scene = "detail";
  o.add_tags = {"rings"};
  m_catalog->write([&] { m_catalog->put_override(o); });
  auto tags = effective();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_EQ(tags[0].image_id, untagged);
  EXPECT_EQ(tags[0].path, "a.jpg");
  EXPECT_EQ(tags[0].rating, -1);
  EXPECT_EQ(tags[0].scene, "detail");
  EXPECT_EQ(tags[0].scene_basis, "override");
  EXPECT_TRUE(tags[0].overridden);
  EXPECT_TRUE(std::count(tags[0].keywords.begin(), tags[0].keywords.end(), "rings"));
  EXPECT_EQ(tags[1].image_id, tagged);
}

TEST_P(TagCatalogTest, AnOverriddenSceneRewordsTheAutomaticAltText) {
  auto id = add("a.jpg", std::string(64, 'a'));
  m_catalog->write([&] { m_catalog->put_tags(automatic(id, "ceremony", 0.95)); });
  TagOverride o;
  o.image_id = id;
  o.scene = "detail";
  m_catalog->write([&] { m_catalog->put_override(o); });
  EXPECT_EQ(effective()[0].alt_text, "Detail photo, vertical, in ivory and sage");
}

TEST_P(TagCatalogTest, ClearingEveryPartRemovesTheOverride) {
  auto id = add("a.jpg", std::string(64, 'a'));
  m_catalog->write([&] { m_catalog->put_tags(automatic(id, "ceremony", 0.3)); });
  TagOverride o;
  o.image_id = id;
  o.scene = "portrait";
  m_catalog->write([&] { m_catalog->put_override(o); });
  EXPECT_FALSE(effective()[0].needs_review);
  o.scene.reset();
  m_catalog->write([&] { m_catalog->put_override(o); });
  EXPECT_FALSE(m_catalog->tag_override(id));
  EXPECT_TRUE(m_catalog->overrides().empty());
  auto tags = effective();
  EXPECT_EQ(tags[0].scene, "ceremony");
  EXPECT_TRUE(tags[0].needs_review);  // 0.3 < min_confidence 0.6
}

TEST_P(TagCatalogTest, GroupsAreReplacedAsAWholeAndNameTheBestPick) {
  auto a = add("a.jpg", std::string(64, 'a'));
  auto b = add("b.jpg", std::string(64, 'b'));
  auto c = add("c.jpg", std::string(64, 'c'));
  m_catalog->write([&] {
    for (auto id : {a, b, c}) m_catalog->put_tags(automatic(id, "ceremony", 0.95));
  });
  m_catalog->set_groups({{a, b}, {b, b}});
  auto tags = effective();
  EXPECT_EQ(tags[0].group, b);
  EXPECT_FALSE(tags[0].best_pick);
  EXPECT_TRUE(tags[1].best_pick);
  EXPECT_FALSE(tags[2].group);
  m_catalog->set_groups({{b, c}, {c, c}});
  tags = effective();
  EXPECT_FALSE(tags[0].group);
  EXPECT_TRUE(tags[2].best_pick);
}

TEST_P(TagCatalogTest, RegroupGroupsABurstAndPicksTheSharpest) {
  auto a = add("a.jpg", std::string(64, 'a'));
  auto b = add("b.jpg", std::string(64, 'b'));
  auto lone = add("lone.jpg", std::string(64, 'c'));
  m_catalog->write([&] {
    auto ta = automatic(a, "ceremony", 0.95);
    ta.sharpness = 10;
    auto tb = automatic(b, "ceremony", 0.95);
    tb.sharpness = 90;
    tb.capture_utc_ms = *ta.capture_utc_ms + 400;
    tb.phash = ta.phash ^ 0b111;  // three bits apart
    auto tl = automatic(lone, "ceremony", 0.95);
    tl.phash = ~ta.phash;
    m_catalog->put_tags(ta);
    m_catalog->put_tags(tb);
    m_catalog->put_tags(tl);
  });
  EXPECT_EQ(wsp::pipeline::regroup(*m_catalog), 1u);
  auto tags = effective();
  EXPECT_EQ(tags[0].group, b);
  EXPECT_TRUE(tags[1].best_pick);
  EXPECT_FALSE(tags[2].group);
}

TEST_P(TagCatalogTest, RegroupKeepsTheFrameWhereNobodyBlinked) {
  auto a = add("a.jpg", std::string(64, 'a'));
  auto b = add("b.jpg", std::string(64, 'b'));
  m_catalog->write([&] {
    auto ta = automatic(a, "portrait", 0.95);
    ta.sharpness = 10;
    ta.faces = 1;
    ta.face_sharpness = 30;
    auto tb = automatic(b, "portrait", 0.95);
    tb.sharpness = 90;
    tb.faces = 1;
    tb.face_sharpness = 80;
    tb.eyes_closed = true;  // the sharper frame, but a blink
    tb.capture_utc_ms = *ta.capture_utc_ms + 300;
    m_catalog->put_tags(ta);
    m_catalog->put_tags(tb);
  });
  EXPECT_EQ(wsp::pipeline::regroup(*m_catalog), 1u);
  auto tags = effective();
  ASSERT_EQ(tags.size(), 2u);
  EXPECT_TRUE(tags[0].best_pick) << "open eyes win over a sharper blink";
  EXPECT_FALSE(tags[0].eyes_closed);
  EXPECT_TRUE(tags[1].eyes_closed);
  EXPECT_EQ(tags[1].faces, 1);
}

TEST_P(TagCatalogTest, FacesRoundTrip) {
  auto a = add("a.jpg", std::string(64, 'a'));
  auto b = add("b.jpg", std::string(64, 'b'));
  auto ta = automatic(a, "portrait", 0.9);
  ta.eyes_closed = true;
  ta.faces = 3;
  ta.face_sharpness = 61.25;
  m_catalog->write([&] {
    m_catalog->put_tags(ta);
    m_catalog->put_tags(automatic(b, "portrait", 0.9));
  });
  auto all = m_catalog->tags();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[0].eyes_closed);
  EXPECT_EQ(all[0].faces, 3);
  EXPECT_DOUBLE_EQ(all[0].face_sharpness, 61.25);
  EXPECT_FALSE(all[1].eyes_closed);
  EXPECT_FALSE(all[1].faces) << "no faces looked for is not zero faces";
  EXPECT_EQ(all[1].face_sharpness, 0);
}

TEST_P(TagCatalogTest, SelectionsRoundTripReplaceAndGo) {
  auto b = add("b.jpg", std::string(64, 'b'));
  auto a = add("a.jpg", std::string(64, 'a'));
  SelectionRecord sb;
  sb.image_id = b;
  sb.origin = "sidecar";
  sb.stamp = "1234:5678";
  sb.rating = -1;
  sb.labels = {"Red", "Second Choice"};
  sb.tagged = false;
  sb.keywords = {"first dance, slow", "Anna"};
  sb.changed_ms = 1'781'000'000'123;
  SelectionRecord sa;
  sa.image_id = a;
  sa.origin = "embedded";
  sa.stamp = "1:2";
  sa.changed_ms = 5;
  m_catalog->write([&] {
    m_catalog->put_selection(sb);
    m_catalog->put_selection(sa);
  });
  auto all = m_catalog->selections();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].source_path, "a.jpg");  // by path
  EXPECT_FALSE(all[0].rating);
  EXPECT_FALSE(all[0].tagged) << "no tag read is not an untagged photo";
  EXPECT_TRUE(all[0].labels.empty());
  EXPECT_EQ(all[1].image_id, b);
  EXPECT_EQ(all[1].origin, "sidecar");
  EXPECT_EQ(all[1].stamp, "1234:5678");
  EXPECT_EQ(all[1].rating, -1);
  EXPECT_EQ(all[1].labels, sb.labels);
  ASSERT_TRUE(all[1].tagged);
  EXPECT_FALSE(*all[1].tagged);
  EXPECT_EQ(all[1].keywords, sb.keywords);
  EXPECT_EQ(all[1].changed_ms, sb.changed_ms);

  sb.rating = 5;
  sb.tagged = true;
  m_catalog->write([&] { m_catalog->put_selection(sb); });
  all = m_catalog->selections();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].rating, 5);
  EXPECT_EQ(all[1].tagged, true);

  m_catalog->write([&] { m_catalog->remove_selection(a); });
  all = m_catalog->selections();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].image_id, b);
}

TEST_P(TagCatalogTest, AnOverrideKnowsWhenItWasSet) {
  auto a = add("a.jpg", std::string(64, 'a'));
  const auto before = now_ms();
  TagOverride o;
  o.image_id = a;
  o.rating = 4;
  m_catalog->write([&] { m_catalog->put_override(o); });
  auto read = m_catalog->tag_override(a);
  ASSERT_TRUE(read);
  EXPECT_GE(read->updated_ms, before - 1000);
  EXPECT_LE(read->updated_ms, now_ms() + 1000);
}

TEST_P(TagCatalogTest, CacheIsKeyedByContentProviderAndModel) {
  m_catalog->write([&] { m_catalog->put_cached_result("abc", "local", "local-1", "{\"x\":1}"); });
  EXPECT_EQ(m_catalog->cached_result("abc", "local", "local-1"), "{\"x\":1}");
  EXPECT_FALSE(m_catalog->cached_result("abc", "local", "local-2"));
  EXPECT_FALSE(m_catalog->cached_result("abc", "openai", "local-1"));
  EXPECT_FALSE(m_catalog->cached_result("abd", "local", "local-1"));
  m_catalog->write([&] { m_catalog->put_cached_result("abc", "local", "local-1", "{\"x\":2}"); });
  EXPECT_EQ(m_catalog->cached_result("abc", "local", "local-1"), "{\"x\":2}");
}

TEST_P(TagCatalogTest, SidecarKeywordsSurviveRetagging) {
  auto id = add("a.jpg", std::string(64, 'a'));
  m_catalog->write([&] { m_catalog->put_tags(automatic(id, "ceremony", 0.95)); });
  m_catalog->write([&] { m_catalog->set_sidecar_keywords(id, {"ceremony", "best pick"}); });
  m_catalog->write([&] { m_catalog->put_tags(automatic(id, "portrait", 0.95)); });
  EXPECT_EQ(m_catalog->tags()[0].sidecar_keywords, (std::vector<std::string>{"ceremony", "best pick"}));
}

TEST_P(TagCatalogTest, AnalysisPathIsTheCurrentRenders) {
  auto id = add("a.jpg", std::string(64, 'a'));
  EXPECT_FALSE(m_catalog->analysis_path(id));
  RenderRecord render;
  render.image_id = id;
  render.fingerprint = "f";
  render.analysis_path = "analysis/aaaa.jpg";
  m_catalog->write([&] { m_catalog->replace_render(render); });
  EXPECT_EQ(m_catalog->analysis_path(id), "analysis/aaaa.jpg");
}

TEST_P(TagCatalogTest, TagWorkWaitsForRender) {
  auto a = add("a.jpg", std::string(64, 'a'));
  add("b.jpg", std::string(64, 'b'));
  EXPECT_EQ(m_catalog->count_claimable("tag", "s", "render"), 0);
  m_catalog->write([&] { m_catalog->put_job({a, "render", JobState::Done, 1, {}, std::string(64, 'a') + ":r"}); });
  EXPECT_EQ(m_catalog->count_claimable("tag", "s", "render"), 1);
  auto claimed = m_catalog->claim("tag", "s", "render", "run", 30'000, 10);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].path, "a.jpg");
  EXPECT_EQ(m_catalog->count_claimable("tag", "s", ""), 1);  // b, with no prerequisite
}

}  // namespace
