#include "tagging/xmp.hpp"

#include <exiv2/exiv2.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsp::tagging {
namespace {

using util::Error;
using util::Result;
using util::Status;

constexpr std::string_view k_bom = "\xEF\xBB\xBF";

// Lightroom sidecars with many local adjustment masks reach a few megabytes; far
// larger is not a sidecar, and the cap bounds the memory a hostile file can take.
constexpr std::size_t k_max_sidecar_bytes = std::size_t{64} << 20;

constexpr const char* k_rating = "Xmp.xmp.Rating";
constexpr const char* k_label = "Xmp.xmp.Label";
constexpr const char* k_subject = "Xmp.dc.subject";
constexpr const char* k_description = "Xmp.dc.description";
constexpr const char* k_tagged = "Xmp.photomechanic.Tagged";
constexpr const char* k_colour_class = "Xmp.photomechanic.ColorClass";
constexpr const char* k_darktable_labels = "Xmp.darktable.colorlabels";
constexpr const char* k_hierarchical = "Xmp.lr.hierarchicalSubject";
constexpr const char* k_iptc_keywords = "Iptc.Application2.Keywords";

// exiv2's XMP toolkit keeps one process-wide namespace registry that parsing a
// packet with an unknown namespace writes to, and its initialisation is not
// thread-safe either: every use of it goes through this lock.
std::mutex& toolkit_mutex() {
  static std::mutex mutex;
  return mutex;
}

// exiv2 reports why a packet did not parse through its log handler, not its
// return code: the message of the last failure on this thread.
thread_local std::string t_last_message;

void capture_message(int level, const char* message) {
  if (level >= Exiv2::LogMsg::warn && message) {
    t_last_message = message;
    while (!t_last_message.empty() && (t_last_message.back() == '\n' || t_last_message.back() == ' '))
      t_last_message.pop_back();
  }
}

// Called with toolkit_mutex held. The prefixes registered here are the ones
// keys use, whatever prefix a file binds to the namespace.
void initialise_toolkit() {
  static bool initialised = false;
  if (initialised) return;
  Exiv2::XmpParser::initialize();
  Exiv2::LogMsg::setHandler(capture_message);
  Exiv2::LogMsg::setLevel(Exiv2::LogMsg::warn);
  Exiv2::XmpProperties::registerNs("http://ns.camerabits.com/photomechanic/1.0/", "photomechanic");
  Exiv2::XmpProperties::registerNs("http://darktable.sf.net/", "darktable");
  initialised = true;
}

std::size_t line_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// The code point at text[pos], advancing pos; nullopt for malformed, overlong or
// surrogate sequences, which are not UTF-8.
std::optional<char32_t> next_code_point(std::string_view text, std::size_t& pos) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  std::size_t length = 0;
  char32_t code = 0;
  char32_t smallest = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code = lead & 0x1F, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code = lead & 0x0F, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code = lead & 0x07, smallest = 0x10000;
  } else {
    return std::nullopt;
  }
  if (length > text.size() - pos) return std::nullopt;
  for (std::size_t i = 1; i < length; ++i) {
    unsigned char next = byte(pos + i);
    if ((next & 0xC0) != 0x80) return std::nullopt;
    code = code << 6 | (next & 0x3F);
  }
  if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return std::nullopt;
  pos += length;
  return code;
}

// XML 1.0 forbids most C0 controls even as character references.
bool is_xml_char(char32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

std::optional<std::size_t> first_invalid_character(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = pos;
    auto code = next_code_point(text, pos);
    if (!code || !is_xml_char(*code)) return start;
  }
  return std::nullopt;
}

Status check_text(std::string_view what, std::string_view text) {
  if (first_invalid_character(text)) return Error{std::string(what) + " is not UTF-8 text that XML can carry"};
  return {};
}

Status check_fields(const XmpFields& fields) {
  if (fields.rating && (*fields.rating < -1 || *fields.rating > 5)) {
    return Error{"rating " + std::to_string(*fields.rating) + " is outside -1..5"};
  }
  for (const auto* list : {&fields.keywords, &fields.remove_keywords}) {
    for (const auto& keyword : *list) {
      if (keyword.empty()) return Error{"an empty keyword"};
      if (auto status = check_text("a keyword", keyword); !status) return status;
    }
  }
  if (fields.label) {
    if (auto status = check_text("the label", *fields.label); !status) return status;
  }
  if (fields.description) {
    if (auto status = check_text("the description", *fields.description); !status) return status;
  }
  return {};
}

bool ends_with_name(std::string_view qname, std::string_view local) {
  return qname == local || (qname.size() > local.size() && qname.ends_with(local) &&
                            qname[qname.size() - local.size() - 1] == ':');
}

// What exiv2's toolkit would only answer with a bare error code, said with the
// line: not UTF-8, not well-formed XML, a DOCTYPE (entity expansion is refused
// outright), an encoding other than UTF-8, no rdf:RDF at all.
Status check_packet(std::string_view text) {
  if (text.size() > k_max_sidecar_bytes) return Error{"is larger than any sidecar (" + std::to_string(text.size()) + " bytes)"};
  if (auto bad = first_invalid_character(text)) {
    return Error{"line " + std::to_string(line_of(text, *bad)) + ": not UTF-8 text (byte " + std::to_string(*bad) + ")"};
  }
  pugi::xml_document document;
  const auto parsed = document.load_buffer(text.data(), text.size(),
                                           pugi::parse_default | pugi::parse_doctype | pugi::parse_declaration |
                                               pugi::parse_pi,
                                           pugi::encoding_utf8);
  if (!parsed) {
    return Error{"line " + std::to_string(line_of(text, static_cast<std::size_t>(parsed.offset))) +
                 ": not well-formed XML: " + parsed.description()};
  }
  bool has_rdf = false;
  for (auto node = document.first_child(); node; node = node.next_sibling()) {
    if (node.type() == pugi::node_doctype) return Error{"has a DOCTYPE, which XMP never uses; refused"};
    if (node.type() == pugi::node_declaration) {
      std::string_view encoding = node.attribute("encoding").value();
      if (!encoding.empty() && encoding != "UTF-8" && encoding != "utf-8") {
        return Error{"declares the encoding " + std::string(encoding) + "; only UTF-8 is read"};
      }
    }
  }
  struct FindRdf : pugi::xml_tree_walker {
    bool found = false;
    bool for_each(pugi::xml_node& node) override {
      if (node.type() == pugi::node_element && ends_with_name(node.name(), "RDF")) found = true;
      return !found;
    }
  } walker;
  document.traverse(walker);
  has_rdf = walker.found;
  if (!has_rdf) return Error{"is not XMP: no rdf:RDF element"};
  return {};
}

// Called with toolkit_mutex held.
Result<Exiv2::XmpData> decode(std::string_view text) {
  if (text.starts_with(k_bom)) text.remove_prefix(k_bom.size());
  Exiv2::XmpData data;
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return data;
  if (auto status = check_packet(text); !status) return Error{status.message()};
  t_last_message.clear();
  int failed = 0;
  try {
    failed = Exiv2::XmpParser::decode(data, std::string(text));
  } catch (const Exiv2::AnyError& error) {
    return Error{std::string("is not valid XMP: ") + error.what()};
  }
  if (failed != 0) {
    return Error{"is not valid XMP: " + (t_last_message.empty() ? std::string("exiv2 could not read it") : t_last_message)};
  }
  return data;
}

std::optional<std::string> simple_value(const Exiv2::XmpData& data, const char* key) {
  auto it = data.findKey(Exiv2::XmpKey(key));
  if (it == data.end()) return std::nullopt;
  return it->toString();
}

bool is_array(Exiv2::TypeId type) { return type == Exiv2::xmpBag || type == Exiv2::xmpSeq || type == Exiv2::xmpAlt; }

Result<std::optional<std::string>> text_property(const Exiv2::XmpData& data, const char* key, std::string_view name) {
  auto it = data.findKey(Exiv2::XmpKey(key));
  if (it == data.end()) return std::optional<std::string>{};
  if (it->typeId() != Exiv2::xmpText) return Error{std::string(name) + " holds a structure, not a value"};
  return std::optional(it->toString());
}

Result<std::optional<int>> parse_rating(const std::string& text) {
  std::string_view value = text;
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  double rating = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), rating);
  if (value.empty() || error != std::errc{} || end != value.data() + value.size() || rating != std::floor(rating) ||
      rating < -1 || rating > 5) {
    return Error{"xmp:Rating \"" + text + "\" is not a rating from -1 to 5"};
  }
  return std::optional(static_cast<int>(rating));
}

Result<std::optional<bool>> parse_flag(const std::optional<std::string>& text, std::string_view name) {
  if (!text) return std::optional<bool>{};
  std::string lower;
  for (char c : *text) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "true") return std::optional(true);
  if (lower == "false") return std::optional(false);
  return Error{std::string(name) + " \"" + *text + "\" is neither True nor False"};
}

Result<std::vector<std::string>> array_items(const Exiv2::XmpData& data, const char* key, std::string_view name) {
  std::vector<std::string> items;
  auto it = data.findKey(Exiv2::XmpKey(key));
  if (it == data.end()) return items;
  if (!is_array(it->typeId())) return Error{std::string(name) + " is written as an attribute, not a list"};
  for (long i = 0; i < it->count(); ++i) items.push_back(it->toString(i));
  return items;
}

std::optional<std::string> description_of(const Exiv2::XmpData& data) {
  auto it = data.findKey(Exiv2::XmpKey(k_description));
  if (it == data.end()) return std::nullopt;
  if (const auto* alt = dynamic_cast<const Exiv2::LangAltValue*>(&it->value())) {
    if (alt->value_.empty()) return std::nullopt;
    auto def = alt->value_.find("x-default");
    return def != alt->value_.end() ? def->second : alt->value_.begin()->second;
  }
  return it->toString();
}

Result<XmpFields> fields_of(const Exiv2::XmpData& data) {
  XmpFields fields;
  auto label = text_property(data, k_label, "xmp:Label");
  if (!label) return label.error();
  fields.label = std::move(*label);
  auto rating = text_property(data, k_rating, "xmp:Rating");
  if (!rating) return rating.error();
  if (*rating) {
    auto value = parse_rating(**rating);
    if (!value) return value.error();
    fields.rating = *value;
  }
  auto tagged = parse_flag(simple_value(data, k_tagged), "photomechanic:Tagged");
  if (!tagged) return tagged.error();
  fields.best_pick = *tagged;
  auto keywords = array_items(data, k_subject, "dc:subject");
  if (!keywords) return keywords.error();
  fields.keywords = std::move(*keywords);
  fields.description = description_of(data);
  return fields;
}

template <typename Range, typename Value>
bool contains(const Range& range, const Value& value) {
  return std::find(range.begin(), range.end(), value) != range.end();
}

void set_text(Exiv2::XmpData& data, const char* key, const std::string& value) {
  Exiv2::XmpTextValue text(value);
  auto it = data.findKey(Exiv2::XmpKey(key));
  if (it != data.end()) data.erase(it);
  data.add(Exiv2::XmpKey(key), &text);
}

// Applies `fields`; false when no property changed.
Result<bool> apply(Exiv2::XmpData& data, const XmpFields& fields) {
  bool changed = false;
  auto set_simple = [&](const char* key, const std::string& value) {
    auto current = simple_value(data, key);
    if (current == value) return;
    set_text(data, key, value);
    changed = true;
  };
  if (fields.rating) set_simple(k_rating, std::to_string(*fields.rating));
  if (fields.label) set_simple(k_label, *fields.label);
  if (fields.best_pick) set_simple(k_tagged, *fields.best_pick ? "True" : "False");

  if (!fields.keywords.empty() || !fields.remove_keywords.empty()) {
    auto current = array_items(data, k_subject, "dc:subject");
    if (!current) return current.error();
    std::vector<std::string> wanted;
    for (const auto& keyword : *current)
      if (!contains(fields.remove_keywords, keyword) && !contains(wanted, keyword)) wanted.push_back(keyword);
    for (const auto& keyword : fields.keywords)
      if (!contains(fields.remove_keywords, keyword) && !contains(wanted, keyword)) wanted.push_back(keyword);
    if (wanted != *current) {
      auto it = data.findKey(Exiv2::XmpKey(k_subject));
      Exiv2::TypeId type = it != data.end() ? it->typeId() : Exiv2::xmpBag;
      if (it != data.end()) data.erase(it);
      Exiv2::XmpArrayValue list(type);
      for (const auto& keyword : wanted) list.read(keyword);
      data.add(Exiv2::XmpKey(k_subject), &list);
      changed = true;
    }
  }

  if (fields.description && description_of(data) != fields.description) {
    Exiv2::LangAltValue alt;
    auto it = data.findKey(Exiv2::XmpKey(k_description));
    if (it != data.end()) {
      if (const auto* existing = dynamic_cast<const Exiv2::LangAltValue*>(&it->value())) alt.value_ = existing->value_;
      data.erase(it);
    }
    alt.value_["x-default"] = *fields.description;
    data.add(Exiv2::XmpKey(k_description), &alt);
    changed = true;
  }
  return changed;
}

// Called with toolkit_mutex held. exiv2 writes nothing for no properties; a
// sidecar is still a packet then, so that other tools find one to fill in.
Result<std::string> encode(const Exiv2::XmpData& data) {
  std::string packet;
  t_last_message.clear();
  if (Exiv2::XmpParser::encode(packet, data, Exiv2::XmpParser::useCompactFormat) != 0) {
    return Error{"internal error: exiv2 could not write the packet: " + t_last_message};
  }
  if (packet.empty()) {
    packet = std::string("<?xpacket begin=\"") + std::string(k_bom) +
             "\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
             "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
             " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
             "  <rdf:Description rdf:about=\"\"/>\n"
             " </rdf:RDF>\n"
             "</x:xmpmeta>\n";
    for (int line = 0; line < 20; ++line) packet += std::string(100, ' ') + "\n";
    packet += "<?xpacket end=\"w\"?>";
  }
  return packet;
}

std::string with_crlf(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

const char* darktable_colour(long index) {
  static constexpr const char* k_names[] = {"Red", "Yellow", "Green", "Blue", "Purple"};
  return index >= 0 && index < 5 ? k_names[index] : nullptr;
}

std::optional<std::string> photo_mechanic_colour(const std::string& value) {
  static constexpr const char* k_names[] = {"Red", "Orange", "Yellow", "Green", "Blue", "Purple"};
  int number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc{} || end != value.data() + value.size() || number <= 0) return std::nullopt;
  if (number <= 6) return std::string(k_names[number - 1]);
  return "Class " + std::to_string(number);
}

void add_once(std::vector<std::string>& list, std::string value) {
  if (!value.empty() && !contains(list, value)) list.push_back(std::move(value));
}

Result<Selection> selection_of(const Exiv2::XmpData& data) {
  Selection selection;
  auto rating = text_property(data, k_rating, "xmp:Rating");
  if (!rating) return rating.error();
  if (*rating) {
    auto value = parse_rating(**rating);
    if (!value) return value.error();
    selection.rating = *value;
  }
  auto label = text_property(data, k_label, "xmp:Label");
  if (!label) return label.error();
  if (*label) add_once(selection.labels, **label);
  if (auto colour_class = simple_value(data, k_colour_class)) {
    if (auto name = photo_mechanic_colour(*colour_class)) add_once(selection.labels, *name);
  }
  auto darktable = data.findKey(Exiv2::XmpKey(k_darktable_labels));
  if (darktable != data.end()) {
    for (long i = 0; i < darktable->count(); ++i) {
      const std::string item = darktable->toString(i);
      int index = -1;
      std::from_chars(item.data(), item.data() + item.size(), index);
      if (const char* name = darktable_colour(index)) add_once(selection.labels, name);
    }
  }
  auto tagged = parse_flag(simple_value(data, k_tagged), "photomechanic:Tagged");
  if (!tagged) return tagged.error();
  selection.tagged = *tagged;
  auto subject = array_items(data, k_subject, "dc:subject");
  if (!subject) return subject.error();
  for (auto& keyword : *subject) add_once(selection.keywords, std::move(keyword));
  auto hierarchical = data.findKey(Exiv2::XmpKey(k_hierarchical));
  if (hierarchical != data.end()) {
    for (long i = 0; i < hierarchical->count(); ++i) {
      const std::string path = hierarchical->toString(i);
      add_once(selection.keywords, path.substr(path.rfind('|') == std::string::npos ? 0 : path.rfind('|') + 1));
    }
  }
  return selection;
}

}  // namespace

std::filesystem::path sidecar_path(const std::filesystem::path& source) {
  auto sidecar = source;
  sidecar.replace_extension(".xmp");
  return sidecar;
}

bool is_sidecar(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  for (auto& c : extension) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return extension == ".xmp";
}

Result<std::string> merge_xmp(std::string_view existing, const XmpFields& fields) {
  if (auto status = check_fields(fields); !status) return Error{status.message()};
  std::lock_guard lock(toolkit_mutex());
  initialise_toolkit();
  auto data = decode(existing);
  if (!data) return data.error();
  auto changed = apply(*data, fields);
  if (!changed) return changed.error();
  const bool blank = existing.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (!*changed && !blank) return std::string(existing);
  auto packet = encode(*data);
  if (!packet) return packet;
  // The packet is read back before it is handed out, so that a mistake is reported, never written.
  auto again = decode(*packet);
  if (!again) return Error{"internal error: the merged sidecar does not parse: " + again.message()};
  auto unchanged = apply(*again, fields);
  if (!unchanged || *unchanged) return Error{"internal error: the merged sidecar does not read back as written"};
  if (existing.find("\r\n") != std::string_view::npos) return with_crlf(*packet);
  return packet;
}

Result<XmpFields> read_xmp(std::string_view text) {
  std::lock_guard lock(toolkit_mutex());
  initialise_toolkit();
  auto data = decode(text);
  if (!data) return data.error();
  return fields_of(*data);
}

Result<Selection> read_selection(std::string_view xmp_text) {
  std::lock_guard lock(toolkit_mutex());
  initialise_toolkit();
  auto data = decode(xmp_text);
  if (!data) return data.error();
  return selection_of(*data);
}

Result<std::optional<Selection>> read_embedded_selection(std::string_view image_bytes) {
  std::lock_guard lock(toolkit_mutex());
  initialise_toolkit();
  Selection selection;
  try {
    auto image = Exiv2::ImageFactory::open(reinterpret_cast<const Exiv2::byte*>(image_bytes.data()),
                                           static_cast<long>(image_bytes.size()));
    if (!image.get()) return Error{"is not an image exiv2 reads"};
    image->readMetadata();
    auto read = selection_of(image->xmpData());
    if (!read) return Error{"its embedded XMP: " + read.message()};
    selection = std::move(*read);
    const auto& iptc = image->iptcData();
    for (auto it = iptc.begin(); it != iptc.end(); ++it)
      if (it->key() == k_iptc_keywords) add_once(selection.keywords, it->toString());
  } catch (const Exiv2::AnyError& error) {
    return Error{std::string("exiv2 could not read its metadata: ") + error.what()};
  }
  if (selection.empty()) return std::optional<Selection>{};
  return std::optional(std::move(selection));
}

}  // namespace wsp::tagging
