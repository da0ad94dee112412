#include "publish/gallery.hpp"

#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#ifndef WSP_SOURCE_DIR
#error "compile with -DWSP_SOURCE_DIR=\"<project root>\""
#endif

namespace {

namespace fs = std::filesystem;
using wsp::publish::build_gallery;
using wsp::publish::GalleryFile;
using wsp::publish::GalleryImage;
using wsp::publish::GalleryInfo;
using wsp::publish::GalleryOptions;
using wsp::publish::GalleryTemplate;
using wsp::publish::GalleryVariant;
using wsp::publish::load_gallery_template;
using wsp::testing::TempDir;

const GalleryTemplate& default_template() {
  static const GalleryTemplate k_template = [] {
    auto loaded = load_gallery_template(fs::path(WSP_SOURCE_DIR) / "configs/gallery/default");
    if (!loaded) throw std::runtime_error(loaded.message());
    loaded->origin = "default";  // as the copy embedded in the binary calls itself
    return *loaded;
  }();
  return k_template;
}

// An image with every width of every format asked for, listed widest first to
// show that the gallery sorts them.
GalleryImage image(const std::string& id, const std::string& scene,
                   const std::vector<std::string>& formats = {"jpeg", "webp", "avif"},
                   const std::vector<int>& widths = {2400, 480, 1600, 960}) {
  GalleryImage result;
  result.id = id;
  result.alt = "Photo " + id;
  result.scene = scene;
  result.width = *std::max_element(widths.begin(), widths.end());
  result.height = result.width * 2 / 3;
  result.average_colour = "#a0b1c2";
  result.placeholder = "data:image/jpeg;base64,/9j/4AAQSkZJRg==";
  for (const auto& format : formats)
    for (int width : widths) {
      auto extension = format == "jpeg" ? "jpg" : format;
      result.variants.push_back(
          {width, width * 2 / 3, format, "renders/" + id + "-" + std::to_string(width) + ".3f9a1c2b7d4e." + extension});
    }
  return result;
}

GalleryInfo info() {
  GalleryInfo result;
  result.title = "Anna & Ben";
  result.couple = "Anna and Ben";
  result.date = "13 June 2026";
  result.credit = "Example Studio";
  result.scenes = {{"getting_ready", "Getting ready"}, {"ceremony", "Ceremony"}, {"reception", "Reception"}};
  result.fallback_label = "More moments";
  return result;
}

std::vector<GalleryFile> build(const GalleryInfo& gallery, const std::vector<GalleryImage>& images,
                               const GalleryOptions& options = {}) {
  auto files = build_gallery(gallery, images, default_template(), options);
  EXPECT_TRUE(files.ok()) << files.message();
  return files ? *files : std::vector<GalleryFile>{};
}

const std::string& file_named(const std::vector<GalleryFile>& files, const std::string& path) {
  static const std::string k_none;
  for (const auto& file : files)
    if (file.path == path) return file.bytes;
  ADD_FAILURE() << "no " << path;
  return k_none;
}

std::vector<std::string> paths_of(const std::vector<GalleryFile>& files) {
  std::vector<std::string> paths;
  for (const auto& file : files) paths.push_back(file.path);
  return paths;
}

// A small HTML reader, strict about what the gallery writes: quoted attributes,
// every non-void element closed in order, every '&' an entity.
struct Tag {
  std::string name;
  bool closing = false;
  std::map<std::string, std::string> attributes;
  std::size_t offset = 0;
  bool has(const std::string& attribute) const { return attributes.contains(attribute); }
  std::string operator[](const std::string& attribute) const {
    auto found = attributes.find(attribute);
    return found == attributes.end() ? "" : found->second;
  }
};

bool valid_entities(const std::string& text) {
  for (std::size_t at = text.find('&'); at != std::string::npos; at = text.find('&', at + 1)) {
    auto end = text.find(';', at);
    if (end == std::string::npos || end - at > 8) return false;
    auto entity = text.substr(at + 1, end - at - 1);
    static const std::set<std::string> k_known{"amp", "lt", "gt", "quot", "#39"};
    if (!k_known.contains(entity)) return false;
  }
  return true;
}

std::vector<Tag> read_html(const std::string& html, std::string& problem) {
  static const std::set<std::string> k_void{"meta", "link", "img", "source", "br", "hr"};
  std::vector<Tag> tags;
  std::vector<std::string> open;
  std::size_t at = 0;
  while (problem.empty()) {
    auto lt = html.find('<', at);
    auto text = html.substr(at, lt == std::string::npos ? std::string::npos : lt - at);
    if (text.find('>') != std::string::npos || !valid_entities(text)) problem = "bad text: " + text;
    if (lt == std::string::npos) break;
    if (html.compare(lt, 2, "<!") == 0) {
      at = html.find('>', lt) + 1;
      continue;
    }
    auto gt = html.find('>', lt);
    if (gt == std::string::npos) {
      problem = "unclosed tag at " + std::to_string(lt);
      break;
    }
    Tag tag;
    tag.offset = lt;
    std::string inside = html.substr(lt + 1, gt - lt - 1);
    std::size_t i = 0;
    if (inside.starts_with("/")) {
      tag.closing = true;
      i = 1;
    }
    while (i < inside.size() && std::isalnum(static_cast<unsigned char>(inside[i]))) tag.name += inside[i++];
    while (i < inside.size() && problem.empty()) {
      if (std::isspace(static_cast<unsigned char>(inside[i]))) {
        ++i;
        continue;
      }
      std::string name;
      while (i < inside.size() && !std::isspace(static_cast<unsigned char>(inside[i])) && inside[i] != '=')
        name += inside[i++];
      std::string value;
      if (i < inside.size() && inside[i] == '=') {
        if (i + 1 >= inside.size() || inside[i + 1] != '"') {
          problem = "unquoted attribute " + name + " in <" + inside + ">";
          break;
        }
        auto close = inside.find('"', i + 2);
        if (close == std::string::npos) {
          problem = "unterminated attribute in <" + inside + ">";
          break;
        }
        value = inside.substr(i + 2, close - i - 2);
        if (!valid_entities(value)) problem = "bad entity in " + value;
        i = close + 1;
      }
      if (tag.attributes.contains(name)) problem = "repeated attribute " + name;
      tag.attributes[name] = value;
    }
    if (tag.name.empty()) problem = "tag without a name at " + std::to_string(lt);
    if (!tag.closing && !k_void.contains(tag.name)) open.push_back(tag.name);
    if (tag.closing) {
      if (open.empty() || open.back() != tag.name)
        problem = "</" + tag.name + "> closes nothing open at " + std::to_string(lt);
      else open.pop_back();
    }
    tags.push_back(std::move(tag));
    at = gt + 1;
  }
  if (problem.empty() && !open.empty()) problem = "<" + open.back() + "> never closed";
  return tags;
}

std::vector<Tag> tags_of(const std::string& html) {
  std::string problem;
  auto tags = read_html(html, problem);
  EXPECT_EQ(problem, "") << html;
  return tags;
}

std::vector<Tag> named(const std::vector<Tag>& tags, const std::string& name) {
  std::vector<Tag> found;
  for (const auto& tag : tags)
    if (tag.name == name && !tag.closing) found.push_back(tag);
  return found;
}

// Each <picture> with its sources and image, and the link around it.
struct Picture {
  Tag link;
  std::vector<Tag> sources;
  std::vector<Tag> images;
};

std::vector<Picture> pictures_in(const std::vector<Tag>& tags) {
  std::vector<Picture> pictures;
  Tag link;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (tags[i].name == "a" && !tags[i].closing) link = tags[i];
    if (tags[i].name != "picture" || tags[i].closing) continue;
    Picture picture{link, {}, {}};
    for (++i; i < tags.size() && tags[i].name != "picture"; ++i) {
      if (tags[i].name == "source") picture.sources.push_back(tags[i]);
      if (tags[i].name == "img") picture.images.push_back(tags[i]);
    }
    pictures.push_back(picture);
  }
  return pictures;
}

TEST(Gallery, PageHasTheBasics) {
  auto files = build(info(), {image("a", "ceremony")});
  EXPECT_EQ(paths_of(files), (std::vector<std::string>{"gallery.css", "index.html", "lightbox.js"}));
  const auto& html = file_named(files, "index.html");
  EXPECT_TRUE(html.starts_with("<!doctype html>\n")) << html.substr(0, 200);
  auto tags = tags_of(html);
  ASSERT_EQ(named(tags, "html").size(), 1u);
  EXPECT_EQ(named(tags, "html")[0]["lang"], "en");
  auto metas = named(tags, "meta");
  EXPECT_TRUE(std::any_of(metas.begin(), metas.end(), [](const Tag& t) { return t["charset"] == "utf-8"; }));
  EXPECT_TRUE(std::any_of(metas.begin(), metas.end(), [](const Tag& t) { return t["name"] == "viewport"; }));
  auto scripts = named(tags, "script");
  ASSERT_EQ(scripts.size(), 1u);
  EXPECT_EQ(scripts[0]["src"], "lightbox.js");
  EXPECT_TRUE(scripts[0].has("defer"));
  ASSERT_EQ(named(tags, "link").size(), 1u);
  EXPECT_EQ(named(tags, "link")[0]["href"], "gallery.css");
  ASSERT_EQ(named(tags, "footer").size(), 1u);
  EXPECT_NE(html.find("Example Studio", html.find("<footer>")), std::string::npos);
}

TEST(Gallery, EveryPictureHasAnImageWithSizeAltAndAFullSizeLink) {
  std::vector<GalleryImage> images{image("a", "ceremony"), image("b", "reception", {"jpeg"}),
                                   image("c", "", {"jpeg", "webp"})};
  images[1].alt = "";
  auto tags = tags_of(file_named(build(info(), images), "index.html"));
  auto pictures = pictures_in(tags);
  ASSERT_EQ(pictures.size(), 3u);
  for (const auto& picture : pictures) {
    ASSERT_EQ(picture.images.size(), 1u);
    const auto& img = picture.images[0];
    EXPECT_EQ(img["width"], "2400");
    EXPECT_EQ(img["height"], "1600");
    EXPECT_TRUE(img.has("alt"));
    EXPECT_TRUE(img.has("sizes"));
    // The fallback is JPEG: the largest one up to 1600 wide, and the link opens the largest.
    EXPECT_TRUE(img["src"].ends_with("-1600.3f9a1c2b7d4e.jpg")) << img["src"];
    EXPECT_TRUE(picture.link["href"].ends_with("-2400.3f9a1c2b7d4e.jpg")) << picture.link["href"];
    EXPECT_TRUE(picture.link.has("data-lightbox"));
  }
  EXPECT_EQ(pictures[0].images[0]["alt"], "Photo a");
  EXPECT_EQ(pictures[1].images[0]["alt"], "");
}

TEST(Gallery, SourcesOnlyForFormatsPresentWithAscendingSrcset) {
  std::vector<GalleryImage> images{image("all", "ceremony"), image("jpeg-only", "ceremony", {"jpeg"}),
                                   image("webp", "ceremony", {"webp", "jpeg"}, {960, 480})};
  auto pictures = pictures_in(tags_of(file_named(build(info(), images), "index.html")));
  ASSERT_EQ(pictures.size(), 3u);

  ASSERT_EQ(pictures[0].sources.size(), 2u);
  EXPECT_EQ(pictures[0].sources[0]["type"], "image/avif");
  EXPECT_EQ(pictures[0].sources[0]["srcset"],
            "renders/all-480.3f9a1c2b7d4e.avif 480w, renders/all-960.3f9a1c2b7d4e.avif 960w, "
            "renders/all-1600.3f9a1c2b7d4e.avif 1600w, renders/all-2400.3f9a1c2b7d4e.avif 2400w");
  EXPECT_EQ(pictures[0].sources[1]["type"], "image/webp");
  EXPECT_TRUE(pictures[0].sources[1].has("sizes"));
  EXPECT_EQ(pictures[0].images[0]["srcset"],
            "renders/all-480.3f9a1c2b7d4e.jpg 480w, renders/all-960.3f9a1c2b7d4e.jpg 960w, "
            "renders/all-1600.3f9a1c2b7d4e.jpg 1600w, renders/all-2400.3f9a1c2b7d4e.jpg 2400w");

  EXPECT_TRUE(pictures[1].sources.empty());
  ASSERT_EQ(pictures[2].sources.size(), 1u);
  EXPECT_EQ(pictures[2].sources[0]["type"], "image/webp");
  EXPECT_EQ(pictures[2].sources[0]["srcset"],
            "renders/webp-480.3f9a1c2b7d4e.webp 480w, renders/webp-960.3f9a1c2b7d4e.webp 960w");
  // Nothing as wide as 1600: the widest there is.
  EXPECT_EQ(pictures[2].images[0]["src"], "renders/webp-960.3f9a1c2b7d4e.jpg");
  EXPECT_EQ(pictures[2].images[0]["width"], "960");
}

TEST(Gallery, WithoutJpegTheFallbackIsWebp) {
  auto pictures =
      pictures_in(tags_of(file_named(build(info(), {image("w", "ceremony", {"avif", "webp"})}), "index.html")));
  ASSERT_EQ(pictures.size(), 1u);
  ASSERT_EQ(pictures[0].sources.size(), 1u);
  EXPECT_EQ(pictures[0].sources[0]["type"], "image/avif");
  EXPECT_EQ(pictures[0].images[0]["src"], "renders/w-1600.3f9a1c2b7d4e.webp");
}

TEST(Gallery, FirstSixLoadEagerlyTheRestLazily) {
  std::vector<GalleryImage> images;
  for (int i = 0; i < 10; ++i) images.push_back(image("p" + std::to_string(i), i < 5 ? "getting_ready" : "ceremony"));
  auto imgs = named(tags_of(file_named(build(info(), images), "index.html")), "img");
  ASSERT_EQ(imgs.size(), 10u);
  for (std::size_t i = 0; i < imgs.size(); ++i) {
    bool lazy = i >= 6;
    EXPECT_EQ(imgs[i]["loading"] == "lazy", lazy) << i;
    EXPECT_EQ(imgs[i]["decoding"] == "async", lazy) << i;
    EXPECT_EQ(imgs[i].has("loading"), lazy) << i;
  }
}

TEST(Gallery, PlaceholderIsTheBackgroundWhileLoading) {
  std::vector<GalleryImage> images{image("a", "ceremony"), image("b", "ceremony"), image("c", "ceremony")};
  images[1].placeholder = "https://tracker.example/pixel.gif";  // never fetched from elsewhere
  images[1].average_colour = "red;background:url(x)";        // nor smuggled into the CSS
  images[2].placeholder = "";
  auto imgs = named(tags_of(file_named(build(info(), images), "index.html")), "img");
  ASSERT_EQ(imgs.size(), 3u);
  EXPECT_EQ(imgs[0]["style"],
            "background-color:#a0b1c2;background-image:url(&quot;data:image/jpeg;base64,/9j/4AAQSkZJRg==&quot;);"
            "background-size:cover");
  EXPECT_FALSE(imgs[1].has("style"));
  EXPECT_EQ(imgs[2]["style"], "background-color:#a0b1c2");
}

TEST(Gallery, NoOutsideRequestsInAnyFile) {
  std::vector<GalleryImage> images;
  for (int i = 0; i < 8; ++i) images.push_back(image("p" + std::to_string(i), i % 2 ? "ceremony" : "nowhere"));
  for (std::size_t above : {200, 3}) {
    auto files = build(info(), images, {.scene_pages_above = above});
    ASSERT_GE(files.size(), 3u);
    for (const auto& file : files) {
      EXPECT_EQ(file.bytes.find("http://"), std::string::npos) << file.path;
      EXPECT_EQ(file.bytes.find("https://"), std::string::npos) << file.path;
      EXPECT_EQ(file.bytes.find("src=\"//"), std::string::npos) << file.path;
      EXPECT_EQ(file.bytes.find("@import"), std::string::npos) << file.path;
    }
  }
}

TEST(Gallery, SectionsFollowTheTimelineWithTheFallbackLast) {
  std::vector<GalleryImage> images{image("r1", "reception"), image("u1", "unknown-scene"), image("c1", "ceremony"),
                                   image("e1", ""), image("g1", "getting_ready"), image("c2", "ceremony")};
  auto tags = tags_of(file_named(build(info(), images), "index.html"));
  std::vector<std::string> ids;
  for (const auto& section : named(tags, "section")) ids.push_back(section["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"getting_ready", "ceremony", "reception", "more-moments"}));
  std::vector<std::string> headings;
  for (const auto& heading : named(tags, "h2")) headings.push_back(heading["id"]);
  EXPECT_EQ(headings, (std::vector<std::string>{"getting_ready-heading", "ceremony-heading", "reception-heading",
                                                "more-moments-heading"}));
  // Within a section the images keep their given order.
  std::vector<std::string> alts;
  for (const auto& img : named(tags, "img")) alts.push_back(img["alt"]);
  EXPECT_EQ(alts, (std::vector<std::string>{"Photo g1", "Photo c1", "Photo c2", "Photo r1", "Photo u1", "Photo e1"}));
  // The scene navigation links each section in the same order.
  std::vector<std::string> links;
  for (const auto& link : named(tags, "a"))
    if (link["href"].starts_with("#")) links.push_back(link["href"]);
  EXPECT_EQ(links, (std::vector<std::string>{"#getting_ready", "#ceremony", "#reception", "#more-moments"}));
}

TEST(Gallery, TitleAndAltAreEscaped) {
  auto gallery = info();
  gallery.title = R"(<script>alert("x")</script> & "Ben")";
  gallery.credit = "Studio <b>";
  auto photo = image("a", "ceremony");
  photo.alt = R"(Ring "close-up" <script>bad()</script> & more)";
  auto files = build(gallery, {photo});
  const auto& html = file_named(files, "index.html");
  auto tags = tags_of(html);
  EXPECT_EQ(named(tags, "script").size(), 1u);  // lightbox.js only
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;Ben&quot;</title>"),
            std::string::npos);
  EXPECT_NE(html.find(R"(alt="Ring &quot;close-up&quot; &lt;script&gt;bad()&lt;/script&gt; &amp; more")"),
            std::string::npos);
  EXPECT_NE(html.find("Studio &lt;b&gt;"), std::string::npos);
}

TEST(Gallery, UrlsArePercentEncoded) {
  auto photo = image("a", "ceremony", {"jpeg"}, {480});
  photo.variants[0].url = "renders/a, b.jpg";
  auto second = image("b", "ceremony", {"jpeg"}, {480});
  second.variants[0].url = "javascript:alert(1)";  // relative as a path, but must not read as a scheme
  auto pictures = pictures_in(tags_of(file_named(build(info(), {photo, second}), "index.html")));
  ASSERT_EQ(pictures.size(), 2u);
  EXPECT_EQ(pictures[0].images[0]["srcset"], "renders/a%2C%20b.jpg 480w");
  EXPECT_EQ(pictures[1].link["href"], "javascript%3Aalert%281%29");
}

TEST(Gallery, ScenePagesAboveTheThreshold) {
  std::vector<GalleryImage> images{image("g1", "getting_ready"), image("c1", "ceremony"), image("c2", "ceremony"),
                                   image("x1", "")};
  images[2].best_pick = true;
  auto files = build(info(), images, {.scene_pages_above = 3});
  EXPECT_EQ(paths_of(files), (std::vector<std::string>{"ceremony.html", "gallery.css", "getting_ready.html",
                                                       "index.html", "lightbox.js", "more-moments.html"}));
  auto index = tags_of(file_named(files, "index.html"));
  // The index links each scene page with one cover: the best pick, else the first image.
  auto covers = pictures_in(index);
  ASSERT_EQ(covers.size(), 3u);
  EXPECT_EQ(covers[0].link["href"], "getting_ready.html");
  EXPECT_EQ(covers[1].link["href"], "ceremony.html");
  EXPECT_TRUE(covers[1].images[0]["src"].starts_with("renders/c2-")) << covers[1].images[0]["src"];
  // The link's text names the scene: the cover itself is decorative.
  EXPECT_EQ(covers[1].images[0]["alt"], "");
  EXPECT_EQ(covers[2].link["href"], "more-moments.html");
  EXPECT_FALSE(covers[0].link.has("data-lightbox"));

  auto ceremony = tags_of(file_named(files, "ceremony.html"));
  auto photos = pictures_in(ceremony);
  ASSERT_EQ(photos.size(), 2u);
  EXPECT_EQ(photos[0].images[0]["alt"], "Photo c1");
  EXPECT_TRUE(photos[1].link["href"].ends_with("c2-2400.3f9a1c2b7d4e.jpg"));
  auto links = named(ceremony, "a");
  EXPECT_TRUE(std::any_of(links.begin(), links.end(), [](const Tag& t) { return t["href"] == "index.html"; }));
  EXPECT_TRUE(std::any_of(links.begin(), links.end(),
                          [](const Tag& t) { return t["aria-current"] == "page" && t["href"] == "ceremony.html"; }));
  EXPECT_TRUE(std::any_of(links.begin(), links.end(),
                          [](const Tag& t) { return t["rel"] == "prev" && t["href"] == "getting_ready.html"; }));
  EXPECT_TRUE(std::any_of(links.begin(), links.end(),
                          [](const Tag& t) { return t["rel"] == "next" && t["href"] == "more-moments.html"; }));
}

TEST(Gallery, DefaultThresholdIsTwoHundredImages) {
  std::vector<GalleryImage> images;
  for (int i = 0; i < 201; ++i) images.push_back(image("p" + std::to_string(i), "ceremony", {"jpeg"}, {480}));
  auto paged = build(info(), images);
  EXPECT_EQ(paths_of(paged), (std::vector<std::string>{"ceremony.html", "gallery.css", "index.html", "lightbox.js"}));
  images.pop_back();
  EXPECT_EQ(paths_of(build(info(), images)), (std::vector<std::string>{"gallery.css", "index.html", "lightbox.js"}));
}

TEST(Gallery, ScenePagesDoNotOverwriteTemplateFiles) {
  auto gallery_template = default_template();
  gallery_template.files["ceremony.html"] = "<p>the template's own page</p>";
  auto files = build_gallery(info(), {image("a", "ceremony"), image("b", "reception")}, gallery_template,
                             {.scene_pages_above = 1});
  ASSERT_TRUE(files.ok()) << files.message();
  EXPECT_EQ(file_named(*files, "ceremony.html"), "<p>the template's own page</p>");
  EXPECT_NE(file_named(*files, "ceremony-2.html").find("Photo a"), std::string::npos);
}

TEST(Gallery, SameInputSameBytes) {
  std::vector<GalleryImage> images;
  for (int i = 0; i < 12; ++i) images.push_back(image("p" + std::to_string(i), i % 3 ? "ceremony" : "reception"));
  for (std::size_t above : {200, 5}) {
    auto first = build(info(), images, {.scene_pages_above = above});
    auto second = build(info(), images, {.scene_pages_above = above});
    ASSERT_EQ(first.size(), second.size());
    for (std::size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(first[i].path, second[i].path);
      EXPECT_EQ(first[i].bytes, second[i].bytes) << first[i].path;
    }
  }
}

TEST(Gallery, EmptyGalleryIsStillAValidPage) {
  auto files = build(info(), {});
  const auto& html = file_named(files, "index.html");
  EXPECT_TRUE(named(tags_of(html), "picture").empty());
  EXPECT_NE(html.find("No photos yet."), std::string::npos);
}

TEST(Gallery, BadImagesAreErrorsNamingThem) {
  auto no_variants = image("lonely", "ceremony");
  no_variants.variants.clear();
  auto escaping = image("escape", "ceremony");
  escaping.variants[0].url = "../../etc/passwd";
  auto absolute = image("absolute", "ceremony");
  absolute.variants[0].url = "https://cdn.example/x.jpg";
  auto png = image("png", "ceremony");
  png.variants[0].format = "png";
  for (const auto& bad : {no_variants, escaping, absolute, png}) {
    auto files = build_gallery(info(), {image("fine", "ceremony"), bad}, default_template());
    ASSERT_FALSE(files.ok()) << bad.id;
    EXPECT_NE(files.message().find("image '" + bad.id + "'"), std::string::npos) << files.message();
  }
  auto twice = build_gallery(info(), {image("same", "ceremony"), image("same", "reception")}, default_template());
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.message().find("'same'"), std::string::npos);
}

TEST(Gallery, BrokenTemplateFailsWithFileAndLine) {
  auto gallery_template = default_template();
  gallery_template.origin = "my-template";
  gallery_template.files["picture.html"] = "<picture>\n{{#sources}}\n<img>\n</picture>\n";
  auto files = build_gallery(info(), {image("a", "ceremony")}, gallery_template);
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.message(), "my-template/picture.html:2: section 'sources' is never closed");
  // scene.html is checked even when the gallery is small enough not to need it.
  gallery_template = default_template();
  gallery_template.files["scene.html"] = "ok\n{{>header}}\n";
  files = build_gallery(info(), {image("a", "ceremony")}, gallery_template);
  ASSERT_FALSE(files.ok());
  EXPECT_TRUE(files.message().starts_with("scene.html:2: unsupported tag")) << files.message();
}

TEST(GalleryTemplate, LoadsAFolderSkippingHiddenFiles) {
  TempDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    fs::create_directories((dir.path() / name).parent_path());
    std::ofstream(dir.path() / name, std::ios::binary) << text;
  };
  write("index.html", "{{title}}");
  write("picture.html", "<picture></picture>");
  write("fonts/serif.woff2", std::string("\0\1binary", 8));
  write(".DS_Store", "junk");
  write(".git/config", "junk");
  auto loaded = load_gallery_template(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  std::vector<std::string> names;
  for (const auto& [name, text] : loaded->files) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"fonts/serif.woff2", "index.html", "picture.html"}));
  EXPECT_EQ(loaded->files["fonts/serif.woff2"].size(), 8u);
  EXPECT_EQ(loaded->origin, dir.path().string());
}

TEST(GalleryTemplate, MissingFolderOrRequiredFileIsAnError) {
  TempDir dir;
  auto missing = load_gallery_template(dir.path() / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nope"), std::string::npos);
  std::ofstream(dir.path() / "index.html") << "x";
  auto partial = load_gallery_template(dir.path());
  ASSERT_FALSE(partial.ok());
  EXPECT_NE(partial.message().find("picture.html"), std::string::npos) << partial.message();
}

TEST(GalleryTemplate, DefaultTemplateHasItsFiles) {
  std::vector<std::string> names;
  for (const auto& [name, text] : default_template().files) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"gallery.css", "index.html", "lightbox.js", "picture.html", "scene.html"}));
}

}  // namespace
