#include "publish/gallery.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "publish/plan.hpp"
#include "publish/template.hpp"
#include "util/files.hpp"

namespace wsp::publish {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_index_page = "index.html";
constexpr std::string_view k_scene_page = "scene.html";
constexpr std::string_view k_picture = "picture.html";

// <source> order is the browser's order of preference: the smallest files first.
constexpr std::array<std::string_view, 3> k_formats{"avif", "webp", "jpeg"};

// The <img> src for browsers without srcset: big enough for a laptop screen, not the full print size.
constexpr int k_max_src_width = 1600;

std::string_view mime_type(std::string_view format) {
  if (format == "avif") return "image/avif";
  if (format == "webp") return "image/webp";
  return "image/jpeg";
}

// "Getting ready!" -> "getting-ready": safe as a file name and as an HTML id.
std::string slug(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (c >= 'A' && c <= 'Z') out.push_back(static_cast<char>(c - 'A' + 'a'));
    else if (keep) out.push_back(c);
    else if (!out.empty() && out.back() != '-') out.push_back('-');
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

// `base`, or `base-2`, `base-3`...: the first not yet in `used`, which it joins.
std::string unique_name(const std::string& base, std::set<std::string>& used) {
  std::string name = base;
  for (int n = 2; used.contains(name); ++n) name = fmt::format("{}-{}", base, n);
  used.insert(name);
  return name;
}

// Everything but unreserved characters percent-encoded, so that a space or a
// comma cannot split a srcset entry and nothing can read as a scheme ("x:").
std::string url_path(std::string_view path) {
  std::string out;
  for (char c : path) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                 c == '_' || c == '~' || c == '/';
    if (plain) out.push_back(c);
    else out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

bool is_hex_colour(std::string_view colour) {
  return (colour.size() == 7 || colour.size() == 4) && colour.front() == '#' &&
         std::all_of(colour.begin() + 1, colour.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// Only an inline base64 raster image: anything else in a style attribute could
// fetch from elsewhere or break out of the CSS.
bool is_inline_image(std::string_view uri) {
  constexpr std::array<std::string_view, 5> k_prefixes{"data:image/jpeg;base64,", "data:image/png;base64,",
                                                       "data:image/webp;base64,", "data:image/gif;base64,",
                                                       "data:image/avif;base64,"};
  for (auto prefix : k_prefixes) {
    if (!uri.starts_with(prefix)) continue;
    auto data = uri.substr(prefix.size());
    return !data.empty() && std::all_of(data.begin(), data.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
             c == '=';
    });
  }
  return false;
}

std::string background_style(const GalleryImage& image) {
  std::string style;
  if (is_hex_colour(image.average_colour)) style += "background-color:" + image.average_colour + ";";
  if (is_inline_image(image.placeholder))
    style += "background-image:url(\"" + image.placeholder + "\");background-size:cover;";
  if (!style.empty()) style.pop_back();
  return style;
}

util::Status check_image(const GalleryImage& image) {
  auto refuse = [&image](const std::string& why) { return util::Error{fmt::format("image '{}': {}", image.id, why)}; };
  if (image.id.empty()) return refuse("no id");
  if (image.variants.empty()) return refuse("no rendered variants");
  for (const auto& variant : image.variants) {
    if (std::find(k_formats.begin(), k_formats.end(), variant.format) == k_formats.end())
      return refuse(fmt::format("unknown format '{}' (jpeg, webp or avif)", variant.format));
    if (variant.width <= 0 || variant.height <= 0)
      return refuse(fmt::format("variant {} has no size", variant.url));
    if (auto checked = check_publish_path(variant.url); !checked) return refuse(checked.message());
  }
  if (!image.download.empty())
    if (auto checked = check_publish_path(image.download); !checked) return refuse(checked.message());
  return util::Status::success();
}

// One format's variants, narrowest first, one per width.
std::vector<const GalleryVariant*> variants_of(const GalleryImage& image, std::string_view format) {
  std::vector<const GalleryVariant*> found;
  for (const auto& variant : image.variants)
    if (variant.format == format) found.push_back(&variant);
  std::stable_sort(found.begin(), found.end(), [](auto* a, auto* b) { return a->width < b->width; });
  found.erase(std::unique(found.begin(), found.end(), [](auto* a, auto* b) { return a->width == b->width; }),
              found.end());
  return found;
}

std::string srcset(const std::vector<const GalleryVariant*>& variants) {
  std::string out;
  for (const auto* variant : variants)
    out += fmt::format("{}{} {}w", out.empty() ? "" : ", ", url_path(variant->url), variant->width);
  return out;
}

// The format every browser shows: JPEG, unless the recipe made none.
std::string_view fallback_format(const GalleryImage& image) {
  for (auto format : {"jpeg", "webp", "avif"})
    if (!variants_of(image, format).empty()) return format;
  return "jpeg";
}

// The largest variant of the fallback format: what a photo link opens.
std::string full_size_url(const GalleryImage& image) {
  return url_path(variants_of(image, fallback_format(image)).back()->url);
}

TemplateData picture_data(const GalleryImage& image, bool lazy) {
  TemplateData data;
  auto fallback = fallback_format(image);
  for (auto format : k_formats) {
    if (format == fallback) continue;
    auto variants = variants_of(image, format);
    if (variants.empty()) continue;
    TemplateData source;
    source.text["type"] = mime_type(format);
    source.text["srcset"] = srcset(variants);
    data.lists["sources"].push_back(std::move(source));
  }
  data.lists.try_emplace("sources");

  auto variants = variants_of(image, fallback);
  const GalleryVariant* src = variants.front();
  for (const auto* variant : variants)
    if (variant->width <= k_max_src_width) src = variant;

  int width = image.width, height = image.height;
  if (width <= 0 || height <= 0) {
    auto widest = std::max_element(image.variants.begin(), image.variants.end(),
                                   [](const auto& a, const auto& b) { return a.width < b.width; });
    width = widest->width;
    height = widest->height;
  }
  data.text["type"] = mime_type(fallback);
  data.text["srcset"] = srcset(variants);
  data.text["src"] = url_path(src->url);
  data.text["width"] = std::to_string(width);
  data.text["height"] = std::to_string(height);
  data.text["alt"] = image.alt;
  data.text["style"] = background_style(image);
  data.flags["lazy"] = lazy;
  data.flags["best_pick"] = image.best_pick;
  return data;
}

struct Section {
  std::string id;
  std::string label;
  std::vector<const GalleryImage*> images;
};

// Sections in timeline order, then the fallback; empty ones left out.
std::vector<Section> make_sections(const GalleryInfo& info, const std::vector<GalleryImage>& images,
                                   std::set<std::string>& used_ids) {
  std::vector<Section> sections;
  std::map<std::string, std::size_t, std::less<>> by_scene;
  for (const auto& scene : info.scenes) {
    if (scene.scene.empty() || by_scene.contains(scene.scene)) continue;
    by_scene.emplace(scene.scene, sections.size());
    sections.push_back({slug(scene.scene), scene.label.empty() ? scene.scene : scene.label, {}});
  }
  sections.push_back({slug(info.fallback_label), info.fallback_label, {}});
  for (const auto& image : images) {
    auto found = by_scene.find(image.scene);
    sections[found == by_scene.end() ? sections.size() - 1 : found->second].images.push_back(&image);
  }
  std::erase_if(sections, [](const Section& section) { return section.images.empty(); });
  for (auto& section : sections) section.id = unique_name(section.id.empty() ? "photos" : section.id, used_ids);
  return sections;
}

struct Templates {
  Template index;
  Template picture;
  std::optional<Template> scene;
};

util::Result<Template> parse_file(const GalleryTemplate& gallery_template, std::string_view name) {
  auto file = gallery_template.files.find(std::string(name));
  if (file == gallery_template.files.end())
    return util::Error{fmt::format("gallery template '{}' has no {}", gallery_template.origin, name)};
  return Template::parse(
      gallery_template.origin == "default" ? std::string(name) : (fs::path(gallery_template.origin) / name).string(),
      file->second);
}

util::Result<Templates> parse_templates(const GalleryTemplate& gallery_template, bool paged) {
  auto index = parse_file(gallery_template, k_index_page);
  if (!index) return index.error();
  auto picture = parse_file(gallery_template, k_picture);
  if (!picture) return picture.error();
  Templates templates{std::move(*index), std::move(*picture), std::nullopt};
  // scene.html is checked whenever it is there, so that a broken one fails before the gallery grows past the threshold.
  if (paged || gallery_template.files.contains(std::string(k_scene_page))) {
    auto scene = parse_file(gallery_template, k_scene_page);
    if (!scene) return scene.error();
    templates.scene = std::move(*scene);
  }
  return templates;
}

// Renders pictures in page order, the first `eager` ones without lazy loading.
class PageBuilder {
public:
  PageBuilder(const Template& picture, std::size_t eager) : m_picture(picture), m_eager(eager) {}

  // `decorative`: the link around it already says what it is, so the image has an empty alt.
  std::string picture(const GalleryImage& image, bool decorative = false) {
    bool lazy = m_rendered++ >= m_eager;
    auto data = picture_data(image, lazy);
    if (decorative) data.text["alt"] = "";
    auto html = m_picture.render(data);
    while (!html.empty() && html.back() == '\n') html.pop_back();
    return html;
  }

  TemplateData photo(const GalleryImage& image, const std::string& anchor) {
    TemplateData data;
    data.text["picture"] = picture(image);
    data.text["href"] = full_size_url(image);
    data.text["anchor"] = anchor;
    data.text["alt"] = image.alt;
    data.text["download"] = image.download;
    data.flags["best_pick"] = image.best_pick;
    return data;
  }

private:
  const Template& m_picture;
  std::size_t m_eager;
  std::size_t m_rendered = 0;
};

TemplateData page_data(const GalleryInfo& info) {
  TemplateData data;
  data.text["lang"] = info.lang.empty() ? "en" : info.lang;
  data.text["title"] = info.title;
  data.text["couple"] = info.couple;
  data.text["date"] = info.date;
  data.text["credit"] = info.credit;
  return data;
}

TemplateData link_data(const std::string& href, const std::string& label) {
  TemplateData data;
  data.text["href"] = href;
  data.text["label"] = label;
  return data;
}

// The section's best pick, else its first image.
const GalleryImage& cover_of(const Section& section) {
  for (const auto* image : section.images)
    if (image->best_pick) return *image;
  return *section.images.front();
}

}  // namespace

util::Result<std::vector<GalleryFile>> build_gallery(const GalleryInfo& info, const std::vector<GalleryImage>& images,
                                                     const GalleryTemplate& gallery_template,
                                                     const GalleryOptions& options) {
  std::set<std::string> image_ids;
  for (const auto& image : images) {
    if (auto checked = check_image(image); !checked) return util::Error{checked.message()};
    if (!image_ids.insert(image.id).second) return util::Error{fmt::format("image '{}': id used twice", image.id)};
  }
  bool paged = images.size() > options.scene_pages_above;
  auto templates = parse_templates(gallery_template, paged);
  if (!templates) return templates.error();

  std::vector<GalleryFile> files;
  // Page names must not collide with the template's own files, nor with each other.
  std::set<std::string> used_names{"index.html"};
  for (const auto& [name, text] : gallery_template.files) {
    if (name == k_index_page || name == k_scene_page || name == k_picture) continue;
    if (auto checked = check_publish_path(name); !checked)
      return util::Error{fmt::format("gallery template '{}': {}", gallery_template.origin, checked.message())};
    used_names.insert(name);
    files.push_back({name, text});
  }
  // Section ids become page names in paged mode and fragment ids otherwise: one namespace for both.
  std::set<std::string> used_ids;
  for (const auto& name : used_names)
    if (name.ends_with(".html")) used_ids.insert(name.substr(0, name.size() - 5));
  auto sections = make_sections(info, images, used_ids);
  std::set<std::string> anchors;
  std::map<const GalleryImage*, std::string> anchor_of;
  for (const auto& image : images) anchor_of[&image] = unique_name("photo-" + slug(image.id), anchors);

  TemplateData index = page_data(info);
  index.flags["paged"] = paged;
  index.flags["empty"] = images.empty();
  index.flags["has_nav"] = sections.size() > 1;
  index.text["count"] = std::to_string(images.size());
  auto& nav = index.lists["nav"];
  for (const auto& section : sections)
    nav.push_back(link_data(paged ? section.id + ".html" : "#" + section.id, section.label));

  PageBuilder index_pictures(templates->picture, options.eager_images);
  auto& index_sections = index.lists["sections"];
  auto& scene_pages = index.lists["scene_pages"];
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const auto& section = sections[i];
    TemplateData entry;
    entry.text["id"] = section.id;
    entry.text["label"] = section.label;
    entry.text["count"] = std::to_string(section.images.size());
    if (!paged) {
      auto& photos = entry.lists["pictures"];
      for (const auto* image : section.images) photos.push_back(index_pictures.photo(*image, anchor_of[image]));
      index_sections.push_back(std::move(entry));
      continue;
    }
    entry.text["href"] = section.id + ".html";
    entry.text["cover"] = index_pictures.picture(cover_of(section), true);
    scene_pages.push_back(entry);

    TemplateData page = page_data(info);
    page.text["id"] = section.id;
    page.text["label"] = section.label;
    page.text["count"] = entry.text["count"];
    page.flags["has_nav"] = sections.size() > 1;
    page.lists["nav"] = nav;
    page.lists["nav"][i].flags["current"] = true;
    auto& previous = page.lists["previous"];
    if (i > 0) previous.push_back(link_data(sections[i - 1].id + ".html", sections[i - 1].label));
    auto& next = page.lists["next"];
    if (i + 1 < sections.size()) next.push_back(link_data(sections[i + 1].id + ".html", sections[i + 1].label));
    PageBuilder scene_pictures(templates->picture, options.eager_images);
    auto& photos = page.lists["pictures"];
    for (const auto* image : section.images) photos.push_back(scene_pictures.photo(*image, anchor_of[image]));
    files.push_back({section.id + ".html", templates->scene->render(page)});
  }
  files.push_back({std::string(k_index_page), templates->index.render(index)});

  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return files;
}

util::Result<GalleryTemplate> load_gallery_template(const fs::path& folder) {
  GalleryTemplate loaded{folder.string(), {}};
  std::error_code error;
  fs::recursive_directory_iterator it(folder, error), end;
  if (error)
    return util::Error{fmt::format("{}: cannot read the gallery template: {}", folder.string(), error.message())};
  for (; it != end; it.increment(error)) {
    if (error) break;
    auto name = it->path().filename().string();
    // Hidden files (.DS_Store, .git) are the editor's or the OS's, not the gallery's.
    if (name.starts_with(".")) {
      if (it->is_directory(error)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(error)) continue;
    auto relative = it->path().lexically_relative(folder).generic_string();
    auto text = util::read_text_file(it->path());
    if (!text) return text.error();
    loaded.files.emplace(std::move(relative), std::move(*text));
  }
  if (error)
    return util::Error{fmt::format("{}: cannot read the gallery template: {}", folder.string(), error.message())};
  for (auto required : {k_index_page, k_picture})
    if (!loaded.files.contains(std::string(required)))
      return util::Error{fmt::format("{}: the gallery template has no {}", folder.string(), required)};
  return loaded;
}

}  // namespace wsp::publish
