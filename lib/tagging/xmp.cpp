#include "tagging/xmp.hpp"

#include <algorithm>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace wsp::tagging {
namespace {

using util::Error;
using util::Result;
using util::Status;

constexpr std::string_view k_ns_rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
constexpr std::string_view k_ns_dc = "http://purl.org/dc/elements/1.1/";
constexpr std::string_view k_ns_xmp = "http://ns.adobe.com/xap/1.0/";
constexpr std::string_view k_ns_photomechanic = "http://ns.camerabits.com/photomechanic/1.0/";
constexpr std::string_view k_ns_xml = "http://www.w3.org/XML/1998/namespace";
constexpr std::string_view k_ns_xmlns = "http://www.w3.org/2000/xmlns/";

constexpr std::string_view k_bom = "\xEF\xBB\xBF";
constexpr std::string_view k_space = " \t\r\n";
constexpr std::size_t k_none = static_cast<std::size_t>(-1);

// Lightroom sidecars with many local adjustment masks reach a few megabytes; far
// larger is not a sidecar, and the cap bounds the memory a hostile file can take.
constexpr std::size_t k_max_sidecar_bytes = std::size_t{64} << 20;

// A heavily brushed Lightroom sidecar has some hundred thousand nodes; the cap
// bounds the memory of the node list (a few hundred bytes a node).
constexpr std::size_t k_max_nodes = std::size_t{1} << 20;

// Room for "&#x0010FFFF;" with a few leading zeros; longer is not a reference.
constexpr std::size_t k_max_reference_length = 16;

// The padding Adobe's toolkit leaves before the closing xpacket (about 2 KB), so that
// tools that edit packets in place can grow them without moving the rest of a file.
constexpr int k_padding_lines = 20;
constexpr std::size_t k_padding_line_width = 100;

struct PropertyName {
  std::string_view uri;
  std::string_view local;
  std::string_view prefix;  // the usual one: for messages and for new declarations
};

constexpr PropertyName k_subject{k_ns_dc, "subject", "dc"};
constexpr PropertyName k_description{k_ns_dc, "description", "dc"};
constexpr PropertyName k_label{k_ns_xmp, "Label", "xmp"};
constexpr PropertyName k_rating{k_ns_xmp, "Rating", "xmp"};
constexpr PropertyName k_tagged{k_ns_photomechanic, "Tagged", "photomechanic"};

std::string display(const PropertyName& name) { return std::string(name.prefix) + ":" + std::string(name.local); }

std::size_t line_of(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  auto end = text.begin() + static_cast<std::ptrdiff_t>(offset);
  return 1 + static_cast<std::size_t>(std::count(text.begin(), end, '\n'));
}

// The spaces before `offset` on its line, when only spaces precede it there.
std::string_view line_indent(std::string_view text, std::size_t offset) {
  std::size_t start = offset;
  while (start > 0 && (text[start - 1] == ' ' || text[start - 1] == '\t')) --start;
  if (start > 0 && text[start - 1] != '\n') return {};
  return text.substr(start, offset - start);
}

bool is_space(std::string_view text) { return text.find_first_not_of(k_space) == std::string_view::npos; }

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

template <typename Range, typename Value>
bool contains(const Range& range, const Value& value) {
  return std::find(range.begin(), range.end(), value) != range.end();
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

// Offset of the first byte that is not UTF-8 or not an XML character.
std::optional<std::size_t> first_invalid_character(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t start = pos;
    auto code = next_code_point(text, pos);
    if (!code || !is_xml_char(*code)) return start;
  }
  return std::nullopt;
}

void append_utf8(char32_t code, std::string& out) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | code >> 6);
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | code >> 12);
    out += static_cast<char>(0x80 | (code >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | code >> 18);
    out += static_cast<char>(0x80 | (code >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (code >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

std::string escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      // Only "]]>" needs it, but escaping every '>' is as valid and simpler.
      case '>': out += "&gt;"; break;
      // A literal CR would be read back as LF.
      case '\r': out += "&#xD;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string escape_attribute(std::string_view text, char quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += quote == '\'' ? "&apos;" : "'"; break;
      // Literal tabs and line breaks in attribute values are read back as spaces.
      case '\t': out += "&#x9;"; break;
      case '\n': out += "&#xA;"; break;
      case '\r': out += "&#xD;"; break;
      default: out += c;
    }
  }
  return out;
}

// A small XML parser that keeps, for every node, where it is in the source, so
// that a merge can splice new bytes in and leave every other byte alone.
enum class NodeKind { element, text, comment, instruction };

struct Attribute {
  std::string_view qname, prefix, local;
  std::string uri;              // empty for an unprefixed attribute, which is in no namespace
  std::size_t begin = 0;        // first byte of the name
  std::size_t value_begin = 0;  // first byte inside the quotes
  std::size_t value_end = 0;    // the closing quote
  char quote = '"';
  std::string value;  // references resolved, whitespace normalised as XML requires
};

struct Node {
  NodeKind kind = NodeKind::text;
  std::size_t begin = 0, end = 0;  // the whole node in the source
  std::size_t parent = k_none;
  std::size_t previous = k_none;  // the sibling before it
  // Elements.
  std::string_view qname, prefix, local;
  std::string uri;
  std::vector<Attribute> attributes;
  std::vector<std::pair<std::string_view, std::string>> namespaces;  // declared here: prefix ("" = default), URI
  std::size_t attributes_end = 0;  // just after the last attribute, or after the name
  std::size_t close_marker = 0;    // the "/>" or ">" that ends the start tag
  bool self_closing = false;
  std::size_t content_begin = 0, content_end = 0;
  std::vector<std::size_t> children;
  // Text and CDATA sections.
  std::string text;
};

struct Document {
  std::string_view source;
  std::vector<Node> nodes;  // in document order
  std::size_t root = k_none;
};

// XML 1.0 (fifth edition) NameStartChar and NameChar.
bool is_name_start(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (c >= 0xC0 && c <= 0xD6) ||
         (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF) || (c >= 0x370 && c <= 0x37D) ||
         (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D) || (c >= 0x2070 && c <= 0x218F) ||
         (c >= 0x2C00 && c <= 0x2FEF) || (c >= 0x3001 && c <= 0xD7FF) || (c >= 0xF900 && c <= 0xFDCF) ||
         (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
}

bool is_name_char(char32_t c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == 0xB7 ||
         (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
}

// The length of the XML name at text[pos], 0 when there is none.
std::size_t name_length(std::string_view text, std::size_t pos) {
  std::size_t end = pos;
  while (end < text.size()) {
    std::size_t next = end;
    auto code = next_code_point(text, next);
    if (!code || !(end == pos ? is_name_start(*code) : is_name_char(*code))) break;
    end = next;
  }
  return end - pos;
}

// Namespaces in XML: a prefix and a local part, each a name that does not start
// with a digit, '-' or '.' ("crs:2012" is a valid XML name but not a valid QName).
bool split_qname(std::string_view qname, std::string_view& prefix, std::string_view& local) {
  auto colon = qname.find(':');
  prefix = colon == std::string_view::npos ? std::string_view{} : qname.substr(0, colon);
  local = colon == std::string_view::npos ? qname : qname.substr(colon + 1);
  auto valid = [](std::string_view part) {
    return !part.empty() && part.find(':') == std::string_view::npos && name_length(part, 0) == part.size();
  };
  return valid(local) && (colon == std::string_view::npos || valid(prefix));
}

// The namespace bound to `prefix` where `node` of a parsed document is ("" asks for
// the default namespace).
std::optional<std::string> resolve(const Document& doc, const Node& node, std::string_view prefix) {
  if (prefix == "xml") return std::string(k_ns_xml);
  const Node* current = &node;
  while (true) {
    for (auto it = current->namespaces.rbegin(); it != current->namespaces.rend(); ++it) {
      if (it->first == prefix) return it->second;
    }
    if (current->parent == k_none) return std::nullopt;
    current = &doc.nodes[current->parent];
  }
}

class Parser {
public:
  explicit Parser(std::string_view source) : m_source(source) {}

  Result<Document> parse() {
    if (m_source.size() > k_max_sidecar_bytes) return Error{"larger than 64 MiB: not a sidecar"};
    if (auto bad = first_invalid_character(m_source)) {
      return Error{at(*bad) + "not UTF-8, or a character XML does not allow"};
    }
    if (m_source.starts_with(k_bom)) m_pos = k_bom.size();
    m_prolog = m_pos;
    while (m_pos < m_source.size()) {
      if (!step()) return Error{m_error};
    }
    if (!m_open.empty()) {
      const Node& open = m_doc.nodes[m_open.back()];
      return Error{"the text ends inside <" + std::string(open.qname) + "> of line " +
                   std::to_string(line_of(m_source, open.begin)) + " (truncated?)"};
    }
    if (m_doc.root == k_none) return Error{"no root element"};
    m_doc.source = m_source;
    return std::move(m_doc);
  }

private:
  std::string at(std::size_t offset) const { return "line " + std::to_string(line_of(m_source, offset)) + ": "; }

  bool fail(std::size_t offset, const std::string& message) {
    m_error = at(offset) + message;
    return false;
  }

  std::string_view read_name(std::size_t pos) const {
    if (pos >= m_source.size()) return {};
    return m_source.substr(pos, name_length(m_source, pos));
  }

  std::size_t skip_space(std::size_t pos) const {
    while (pos < m_source.size() && k_space.find(m_source[pos]) != std::string_view::npos) ++pos;
    return pos;
  }

  std::size_t add(Node node) {
    node.parent = m_open.empty() ? k_none : m_open.back();
    std::size_t index = m_doc.nodes.size();
    if (node.parent != k_none) {
      auto& siblings = m_doc.nodes[node.parent].children;
      if (!siblings.empty()) node.previous = siblings.back();
      siblings.push_back(index);
    }
    m_doc.nodes.push_back(std::move(node));
    return index;
  }

  bool step() {
    if (m_doc.nodes.size() >= k_max_nodes) return fail(m_pos, "more XML nodes than a sidecar holds");
    auto rest = m_source.substr(m_pos);
    if (rest.starts_with("<!--")) return comment();
    if (rest.starts_with("<![CDATA[")) return cdata();
    // Entity declarations are how "billion laughs" and external-file (XXE) attacks
    // work, and no XMP writer needs them.
    if (rest.starts_with("<!DOCTYPE") || rest.starts_with("<!ENTITY")) {
      return fail(m_pos, "DOCTYPE and entity declarations are refused");
    }
    if (rest.starts_with("<!")) return fail(m_pos, "unexpected \"<!\"");
    if (rest.starts_with("<?")) return instruction();
    if (rest.starts_with("</")) return end_tag();
    if (rest.starts_with("<")) return start_tag();
    return text();
  }

  bool comment() {
    std::size_t body = m_pos + 4;
    auto close = m_source.find("-->", body);
    if (close == std::string_view::npos) return fail(m_pos, "a comment is not closed");
    auto text = m_source.substr(body, close - body);
    if (text.find("--") != std::string_view::npos || text.ends_with('-')) {
      return fail(m_pos, "\"--\" inside a comment");
    }
    Node node;
    node.kind = NodeKind::comment;
    node.begin = m_pos;
    node.end = close + 3;
    add(std::move(node));
    m_pos = close + 3;
    return true;
  }

  bool cdata() {
    if (m_open.empty()) return fail(m_pos, "CDATA outside the root element");
    std::size_t body = m_pos + 9;
    auto close = m_source.find("]]>", body);
    if (close == std::string_view::npos) return fail(m_pos, "a CDATA section is not closed");
    Node node;
    node.kind = NodeKind::text;
    node.begin = m_pos;
    node.end = close + 3;
    node.text = std::string(m_source.substr(body, close - body));
    add(std::move(node));
    m_pos = close + 3;
    return true;
  }

  bool instruction() {
    auto close = m_source.find("?>", m_pos + 2);
    if (close == std::string_view::npos) return fail(m_pos, "a processing instruction is not closed");
    auto target = read_name(m_pos + 2);
    if (target.empty() || target.find(':') != std::string_view::npos) {
      return fail(m_pos, "a processing instruction without a valid target");
    }
    std::size_t after = m_pos + 2 + target.size();
    if (after != close && k_space.find(m_source[after]) == std::string_view::npos) {
      return fail(m_pos, "malformed processing instruction");
    }
    if (equals_ignoring_ascii_case(target, "xml")) {
      if (target != "xml" || m_pos != m_prolog || !m_doc.nodes.empty()) {
        return fail(m_pos, "the XML declaration may only come first, in lower case");
      }
      if (!xml_declaration(close)) return false;
    }
    Node node;
    node.kind = NodeKind::instruction;
    node.begin = m_pos;
    node.end = close + 2;
    add(std::move(node));
    m_pos = close + 2;
    return true;
  }

  // <?xml version="1.x" encoding="..." standalone="..."?>, in that order; the text
  // is read as UTF-8, so any other encoding is refused rather than misread.
  bool xml_declaration(std::size_t close) {
    std::vector<std::pair<std::string_view, std::string_view>> items;
    std::size_t pos = m_pos + 5;
    while (true) {
      std::size_t space = pos;
      pos = skip_space(pos);
      if (pos == close) break;
      auto name = read_name(pos);
      if (pos == space || name.empty()) return fail(pos, "malformed XML declaration");
      pos = skip_space(pos + name.size());
      if (pos >= close || m_source[pos] != '=') return fail(pos, "malformed XML declaration");
      pos = skip_space(pos + 1);
      char quote = m_source[pos];
      auto end = m_source.find(quote, pos + 1);
      if ((quote != '"' && quote != '\'') || end >= close) return fail(pos, "malformed XML declaration");
      items.emplace_back(name, m_source.substr(pos + 1, end - pos - 1));
      pos = end + 1;
    }
    std::size_t next = 0;
    auto take = [&](std::string_view name) -> std::optional<std::string_view> {
      if (next < items.size() && items[next].first == name) return items[next++].second;
      return std::nullopt;
    };
    auto version = take("version");
    if (!version || !version->starts_with("1.") || version->size() == 2 ||
        version->find_first_not_of("0123456789", 2) != std::string_view::npos) {
      return fail(m_pos, "the XML declaration needs version=\"1.0\"");
    }
    if (auto encoding = take("encoding"); encoding && !equals_ignoring_ascii_case(*encoding, "UTF-8")) {
      return fail(m_pos, "encoding \"" + std::string(*encoding) + "\" is not read, only UTF-8");
    }
    if (auto standalone = take("standalone"); standalone && *standalone != "yes" && *standalone != "no") {
      return fail(m_pos, "standalone must be \"yes\" or \"no\"");
    }
    if (next != items.size()) return fail(m_pos, "malformed XML declaration");
    return true;
  }

  bool end_tag() {
    auto name = read_name(m_pos + 2);
    if (name.empty()) return fail(m_pos, "expected an element name after \"</\"");
    std::size_t close = skip_space(m_pos + 2 + name.size());
    if (close >= m_source.size() || m_source[close] != '>') {
      return fail(m_pos, "malformed end tag </" + std::string(name));
    }
    if (m_open.empty()) return fail(m_pos, "end tag </" + std::string(name) + "> without a start tag");
    Node& open = m_doc.nodes[m_open.back()];
    if (open.qname != name) {
      return fail(m_pos, "end tag </" + std::string(name) + "> does not match <" + std::string(open.qname) +
                             "> of line " + std::to_string(line_of(m_source, open.begin)));
    }
    open.content_end = m_pos;
    open.end = close + 1;
    unbind(open);
    m_open.pop_back();
    m_pos = close + 1;
    return true;
  }

  bool start_tag() {
    std::size_t begin = m_pos;
    auto name = read_name(begin + 1);
    if (name.empty()) return fail(begin, "expected an element name after \"<\"");
    std::string tag = "<" + std::string(name) + ">";
    std::string truncated = "the text ends inside the tag " + tag + " (truncated?)";
    if (m_open.empty() && m_doc.root != k_none) return fail(begin, "a second root element " + tag);
    Node node;
    node.kind = NodeKind::element;
    node.begin = begin;
    node.qname = name;
    node.parent = m_open.empty() ? k_none : m_open.back();
    std::size_t pos = begin + 1 + name.size();
    node.attributes_end = pos;
    while (true) {
      std::size_t space = pos;
      pos = skip_space(pos);
      if (pos >= m_source.size()) return fail(begin, truncated);
      if (m_source[pos] == '>') {
        node.close_marker = pos++;
        break;
      }
      if (m_source[pos] == '/') {
        if (pos + 1 >= m_source.size()) return fail(begin, truncated);
        if (m_source[pos + 1] != '>') return fail(pos, "expected \"/>\" in " + tag);
        node.close_marker = pos;
        node.self_closing = true;
        pos += 2;
        break;
      }
      if (pos == space) return fail(pos, "expected a space or the end of the tag in " + tag);
      Attribute attribute;
      attribute.begin = pos;
      attribute.qname = read_name(pos);
      if (attribute.qname.empty()) return fail(pos, "unexpected character in " + tag);
      std::string what = "attribute " + std::string(attribute.qname) + " of " + tag;
      pos = skip_space(pos + attribute.qname.size());
      if (pos >= m_source.size()) return fail(begin, truncated);
      if (m_source[pos] != '=') return fail(pos, what + " has no value");
      pos = skip_space(pos + 1);
      if (pos >= m_source.size()) return fail(begin, truncated);
      if (m_source[pos] != '"' && m_source[pos] != '\'') return fail(pos, "the value of " + what + " is not quoted");
      attribute.quote = m_source[pos];
      attribute.value_begin = pos + 1;
      attribute.value_end = m_source.find(attribute.quote, attribute.value_begin);
      if (attribute.value_end == std::string_view::npos) return fail(begin, truncated);
      auto raw = m_source.substr(attribute.value_begin, attribute.value_end - attribute.value_begin);
      if (auto lt = raw.find('<'); lt != std::string_view::npos) {
        return fail(attribute.value_begin + lt, "\"<\" in the value of " + what);
      }
      if (!decode(raw, attribute.value_begin, true, attribute.value)) return false;
      pos = attribute.value_end + 1;
      node.attributes_end = pos;
      node.attributes.push_back(std::move(attribute));
    }
    if (!bind_namespaces(node)) return false;
    bool self_closing = node.self_closing;
    if (self_closing) {
      node.content_begin = node.content_end = node.close_marker;
      node.end = pos;
    } else {
      node.content_begin = pos;
    }
    std::size_t index = add(std::move(node));
    if (m_open.empty() && m_doc.root == k_none) m_doc.root = index;
    if (self_closing) {
      unbind(m_doc.nodes[index]);
    } else {
      m_open.push_back(index);
    }
    m_pos = pos;
    return true;
  }

  // The namespace bound to `prefix` in the open elements ("" asks for the default).
  std::optional<std::string> lookup(std::string_view prefix) const {
    if (prefix == "xml") return std::string(k_ns_xml);
    auto bound = m_scope.find(prefix);
    if (bound == m_scope.end() || bound->second.empty()) return std::nullopt;
    return bound->second.back();
  }

  void unbind(const Node& node) {
    for (const auto& declaration : node.namespaces) m_scope[declaration.first].pop_back();
  }

  // Declares the element's namespaces (they apply to its own name too), resolves its
  // names and refuses attributes named twice, by name or by namespace and local name.
  bool bind_namespaces(Node& node) {
    std::string tag = "<" + std::string(node.qname) + ">";
    for (const auto& attribute : node.attributes) {
      if (attribute.qname == "xmlns") {
        node.namespaces.emplace_back(std::string_view{}, attribute.value);
      } else if (attribute.qname.starts_with("xmlns:")) {
        if (attribute.value.empty()) return fail(attribute.begin, std::string(attribute.qname) + " is empty");
        node.namespaces.emplace_back(attribute.qname.substr(6), attribute.value);
      }
    }
    for (const auto& declaration : node.namespaces) m_scope[declaration.first].push_back(declaration.second);
    if (!split_qname(node.qname, node.prefix, node.local)) return fail(node.begin, "malformed name " + tag);
    auto uri = lookup(node.prefix);
    if (!uri && !node.prefix.empty()) {
      return fail(node.begin, "the prefix " + std::string(node.prefix) + " of " + tag + " is not declared");
    }
    node.uri = uri.value_or("");
    for (auto& attribute : node.attributes) {
      if (!split_qname(attribute.qname, attribute.prefix, attribute.local)) {
        return fail(attribute.begin, "malformed attribute name " + std::string(attribute.qname));
      }
      if (attribute.qname == "xmlns" || attribute.prefix == "xmlns") {
        attribute.uri = k_ns_xmlns;
      } else if (!attribute.prefix.empty()) {
        auto attribute_uri = lookup(attribute.prefix);
        if (!attribute_uri) {
          return fail(attribute.begin, "the prefix of attribute " + std::string(attribute.qname) + " is not declared");
        }
        attribute.uri = *attribute_uri;
      }
    }
    // Sorted, so that a tag with thousands of attributes costs no more than reading it.
    std::vector<std::pair<std::string_view, std::string_view>> names, expanded;
    for (const auto& attribute : node.attributes) {
      names.emplace_back(attribute.qname, std::string_view{});
      if (!attribute.uri.empty()) expanded.emplace_back(attribute.uri, attribute.local);
    }
    for (auto* list : {&names, &expanded}) {
      std::sort(list->begin(), list->end());
      if (auto twice = std::adjacent_find(list->begin(), list->end()); twice != list->end()) {
        std::string name = list == &names ? std::string(twice->first) : "{" + std::string(twice->first) + "}" +
                                                                            std::string(twice->second);
        return fail(node.begin, "attribute " + name + " of " + tag + " appears twice");
      }
    }
    return true;
  }

  bool text() {
    std::size_t end = std::min(m_source.find('<', m_pos), m_source.size());
    auto raw = m_source.substr(m_pos, end - m_pos);
    if (m_open.empty()) {
      if (auto bad = raw.find_first_not_of(k_space); bad != std::string_view::npos) {
        return fail(m_pos + bad, "text outside the root element");
      }
      m_pos = end;
      return true;
    }
    if (auto bad = raw.find("]]>"); bad != std::string_view::npos) return fail(m_pos + bad, "\"]]>\" in text");
    Node node;
    node.kind = NodeKind::text;
    node.begin = m_pos;
    node.end = end;
    if (!decode(raw, m_pos, false, node.text)) return false;
    add(std::move(node));
    m_pos = end;
    return true;
  }

  // Resolves references and normalises line breaks (and, in attributes, all
  // whitespace) the way every XML reader does, so values compare as written.
  bool decode(std::string_view raw, std::size_t offset, bool attribute, std::string& out) {
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (c == '&') {
        auto semicolon = raw.find(';', i + 1);
        if (semicolon == std::string_view::npos || semicolon - i > k_max_reference_length) {
          return fail(offset + i, "\"&\" that starts no reference (write &amp;)");
        }
        if (!append_reference(raw.substr(i + 1, semicolon - i - 1), offset + i, out)) return false;
        i = semicolon;
      } else if (c == '\r') {
        if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
        out += attribute ? ' ' : '\n';
      } else if (attribute && (c == '\n' || c == '\t')) {
        out += ' ';
      } else {
        out += c;
      }
    }
    return true;
  }

  bool append_reference(std::string_view name, std::size_t offset, std::string& out) {
    if (name == "lt") return out += '<', true;
    if (name == "gt") return out += '>', true;
    if (name == "amp") return out += '&', true;
    if (name == "quot") return out += '"', true;
    if (name == "apos") return out += '\'', true;
    std::string reference = "&" + std::string(name) + ";";
    if (!name.starts_with('#')) {
      return fail(offset, "unknown entity " + reference + " (without a DOCTYPE only the five predefined exist)");
    }
    bool hex = name.size() > 1 && name[1] == 'x';
    auto digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return fail(offset, "malformed character reference " + reference);
    char32_t code = 0;
    for (char d : digits) {
      int value = -1;
      if (d >= '0' && d <= '9') value = d - '0';
      if (hex && d >= 'a' && d <= 'f') value = d - 'a' + 10;
      if (hex && d >= 'A' && d <= 'F') value = d - 'A' + 10;
      if (value < 0) return fail(offset, "malformed character reference " + reference);
      code = code * (hex ? 16 : 10) + static_cast<char32_t>(value);
      if (code > 0x10FFFF) return fail(offset, "character reference " + reference + " is out of range");
    }
    if (!is_xml_char(code)) return fail(offset, "character reference " + reference + " names a character XML forbids");
    append_utf8(code, out);
    return true;
  }

  std::string_view m_source;
  std::size_t m_pos = 0;
  std::size_t m_prolog = 0;  // where an XML declaration may stand: the start, after a byte-order mark
  Document m_doc;
  std::vector<std::size_t> m_open;
  std::unordered_map<std::string_view, std::vector<std::string>> m_scope;  // prefix: URIs, innermost last
  std::string m_error;
};

// XMP on top of the XML: the rdf:Descriptions of the rdf:RDF, which state the
// properties as attributes or as child elements.
struct Xmp {
  Document doc;
  std::size_t rdf = k_none;
  std::vector<std::size_t> descriptions;
};

bool is_element(const Node& node, std::string_view uri, std::string_view local) {
  return node.kind == NodeKind::element && node.uri == uri && node.local == local;
}

Result<Xmp> parse_xmp(std::string_view text) {
  auto doc = Parser(text).parse();
  if (!doc) return Error{"not well-formed XML: " + doc.message()};
  Xmp xmp{std::move(doc).value(), k_none, {}};
  // rdf:RDF is usually inside x:xmpmeta, but XMP allows it anywhere.
  for (std::size_t i = 0; i < xmp.doc.nodes.size(); ++i) {
    if (is_element(xmp.doc.nodes[i], k_ns_rdf, "RDF")) {
      xmp.rdf = i;
      break;
    }
  }
  if (xmp.rdf == k_none) return Error{"no rdf:RDF element: not XMP"};
  for (auto child : xmp.doc.nodes[xmp.rdf].children) {
    if (is_element(xmp.doc.nodes[child], k_ns_rdf, "Description")) xmp.descriptions.push_back(child);
  }
  return xmp;
}

std::string at(const Document& doc, std::size_t offset) {
  return "line " + std::to_string(line_of(doc.source, offset)) + ": ";
}

// Where one property is stated: an attribute of a description, or a child element.
struct Location {
  std::size_t description = k_none;
  std::optional<std::size_t> attribute;  // index in the description's attributes
  std::size_t element = k_none;
  std::size_t offset = 0;
};

// The property's one statement; stating it twice is invalid XMP, and merging into
// either copy would leave readers disagreeing, so it is an error.
Result<std::optional<Location>> locate(const Xmp& xmp, const PropertyName& name) {
  std::optional<Location> found;
  auto take = [&](Location location) -> Status {
    if (found) {
      return Error{at(xmp.doc, location.offset) + display(name) + " is stated more than once (also on line " +
                   std::to_string(line_of(xmp.doc.source, found->offset)) + ")"};
    }
    found = location;
    return {};
  };
  for (auto d : xmp.descriptions) {
    const Node& description = xmp.doc.nodes[d];
    for (std::size_t i = 0; i < description.attributes.size(); ++i) {
      const auto& attribute = description.attributes[i];
      if (attribute.uri == name.uri && attribute.local == name.local) {
        if (auto taken = take(Location{d, i, k_none, attribute.begin}); !taken) return Error{taken.message()};
      }
    }
    for (auto child : description.children) {
      const Node& node = xmp.doc.nodes[child];
      if (is_element(node, name.uri, name.local)) {
        if (auto taken = take(Location{d, std::nullopt, child, node.begin}); !taken) return Error{taken.message()};
      }
    }
  }
  return found;
}

// The text of an element holding a plain value; nullopt when it holds a structure
// (child elements, an rdf:resource or rdf:parseType), which is left alone.
std::optional<std::string> plain_text(const Document& doc, std::size_t element) {
  const Node& node = doc.nodes[element];
  for (const auto& attribute : node.attributes) {
    if (attribute.uri == k_ns_rdf) return std::nullopt;
  }
  std::string text;
  for (auto child : node.children) {
    const Node& part = doc.nodes[child];
    if (part.kind == NodeKind::element) return std::nullopt;
    if (part.kind == NodeKind::text) text += part.text;
  }
  return text;
}

Result<std::string> simple_value(const Xmp& xmp, const Location& location, const PropertyName& name) {
  if (location.attribute) return xmp.doc.nodes[location.description].attributes[*location.attribute].value;
  auto text = plain_text(xmp.doc, location.element);
  if (!text) return Error{at(xmp.doc, location.offset) + display(name) + " holds a structure, not a simple value"};
  return *text;
}

struct ArrayValue {
  std::size_t container = k_none;  // the rdf:Bag, rdf:Seq or rdf:Alt
  std::vector<std::size_t> items;  // its rdf:li elements
};

Result<ArrayValue> array_value(const Xmp& xmp, const Location& location, const PropertyName& name,
                               std::initializer_list<std::string_view> kinds) {
  const Document& doc = xmp.doc;
  std::string expected = "rdf:" + std::string(*kinds.begin());
  std::string where = at(doc, location.offset) + display(name);
  if (location.attribute) return Error{where + " is written as an attribute; XMP wants an " + expected};
  ArrayValue array;
  for (auto child : doc.nodes[location.element].children) {
    const Node& node = doc.nodes[child];
    if (node.kind == NodeKind::text && !is_space(node.text)) return Error{where + " holds text, not an " + expected};
    if (node.kind != NodeKind::element) continue;
    if (array.container != k_none || node.uri != k_ns_rdf || !contains(kinds, node.local)) {
      return Error{where + " holds <" + std::string(node.qname) + ">, not an " + expected};
    }
    array.container = child;
  }
  if (array.container == k_none) return Error{where + " holds no " + expected};
  for (auto child : doc.nodes[array.container].children) {
    const Node& node = doc.nodes[child];
    if (node.kind == NodeKind::text && !is_space(node.text)) return Error{where + " has text between its items"};
    if (node.kind != NodeKind::element) continue;
    if (!is_element(node, k_ns_rdf, "li")) {
      return Error{where + " holds <" + std::string(node.qname) + "> where rdf:li was expected"};
    }
    array.items.push_back(child);
  }
  return array;
}

bool is_default_language(const Node& item) {
  return std::any_of(item.attributes.begin(), item.attributes.end(), [](const Attribute& attribute) {
    return attribute.uri == k_ns_xml && attribute.local == "lang" &&
           equals_ignoring_ascii_case(attribute.value, "x-default");
  });
}

// XMP's Rating is a closed choice of reals; tools write "3" or "3.0".
Result<int> parse_rating(std::string_view text) {
  std::string error = "xmp:Rating \"" + std::string(text) + "\" is not a whole number from -1 to 5";
  auto first = text.find_first_not_of(k_space);
  if (first == std::string_view::npos) return Error{error};
  text = text.substr(first, text.find_last_not_of(k_space) - first + 1);
  bool negative = text.starts_with('-');
  if (negative || text.starts_with('+')) text.remove_prefix(1);
  auto point = text.find('.');
  auto whole = text.substr(0, point);
  if (point != std::string_view::npos && text.substr(point + 1).find_first_not_of('0') != std::string_view::npos) {
    return Error{error};
  }
  if (whole.empty() || whole.size() > 2 || whole.find_first_not_of("0123456789") != std::string_view::npos) {
    return Error{error};
  }
  int value = std::stoi(std::string(whole)) * (negative ? -1 : 1);
  if (value < -1 || value > 5) return Error{error};
  return value;
}

Result<bool> parse_flag(std::string_view text, const PropertyName& name) {
  if (equals_ignoring_ascii_case(text, "true") || text == "1") return true;
  if (equals_ignoring_ascii_case(text, "false") || text == "0") return false;
  return Error{display(name) + " \"" + std::string(text) + "\" is neither True nor False"};
}

Result<std::optional<std::string>> read_simple(const Xmp& xmp, const PropertyName& name) {
  auto location = locate(xmp, name);
  if (!location) return location.error();
  if (!*location) return std::optional<std::string>{};
  auto value = simple_value(xmp, **location, name);
  if (!value) return value.error();
  return std::optional<std::string>{std::move(value).value()};
}

Result<std::vector<std::string>> read_keywords(const Xmp& xmp) {
  auto location = locate(xmp, k_subject);
  if (!location) return location.error();
  std::vector<std::string> keywords;
  if (!*location) return keywords;
  auto array = array_value(xmp, **location, k_subject, {"Bag", "Seq"});
  if (!array) return array.error();
  for (auto item : array->items) {
    if (auto text = plain_text(xmp.doc, item)) keywords.push_back(std::move(*text));
  }
  return keywords;
}

Result<std::optional<std::string>> read_description(const Xmp& xmp) {
  auto location = locate(xmp, k_description);
  if (!location) return location.error();
  if (!*location) return std::optional<std::string>{};
  auto array = array_value(xmp, **location, k_description, {"Alt"});
  if (!array) return array.error();
  std::optional<std::string> first;
  for (auto item : array->items) {
    auto text = plain_text(xmp.doc, item);
    if (!text) continue;
    if (is_default_language(xmp.doc.nodes[item])) return std::optional<std::string>{std::move(*text)};
    if (!first) first = std::move(*text);
  }
  return first;
}

// A merge is a list of splices into the existing text, so that the bytes it does
// not touch stay exactly as they were.
struct Edit {
  std::size_t begin = 0;
  std::size_t end = 0;  // [begin, end) is replaced by text; begin == end inserts
  std::string text;
};

// How new children of an element are laid out: copied from the last existing child,
// or Adobe's layout (one space more than the parent) when there is none.
struct Layout {
  std::string separator;  // before each new child, e.g. "\n   "
  std::string indent;     // of the new children's own lines; unused when not multiline
  bool multiline = true;
};

// What one rdf:Description receives; written out together at the end so that new
// declarations, attributes and children each land in one tidy block.
struct DescriptionAdditions {
  std::string namespaces;
  std::string attributes;
  std::vector<std::pair<std::string, std::string>> bindings;  // declared by this merge: prefix, URI
  std::vector<std::string> children;
  Layout layout;
};

class Merger {
public:
  explicit Merger(const Xmp& xmp) : m_xmp(xmp), m_source(xmp.doc.source) {
    m_newline = m_source.find("\r\n") != std::string_view::npos ? "\r\n" : "\n";
  }

  Status set_simple(const PropertyName& name, const std::string& value) {
    auto location = locate(m_xmp, name);
    if (!location) return location.error();
    if (!*location) {
      add_attribute(target_description(name.uri), name, value);
      return {};
    }
    const Location& where = **location;
    if (!where.attribute) return set_element_text(where.element, name, value);
    const Attribute& attribute = node(where.description).attributes[*where.attribute];
    // Equal values keep their bytes, however another tool escaped them.
    if (attribute.value != value) {
      m_edits.push_back({attribute.value_begin, attribute.value_end, escape_attribute(value, attribute.quote)});
    }
    return {};
  }

  Status merge_keywords(const std::vector<std::string>& add, const std::vector<std::string>& remove) {
    if (add.empty() && remove.empty()) return {};
    auto location = locate(m_xmp, k_subject);
    if (!location) return location.error();
    std::vector<std::string> present;
    std::vector<std::string> fresh;
    auto wanted = [&](const std::string& keyword) {
      return !contains(remove, keyword) && !contains(present, keyword) && !contains(fresh, keyword);
    };
    if (!*location) {
      for (const auto& keyword : add) {
        if (wanted(keyword)) fresh.push_back(keyword);
      }
      if (fresh.empty()) return {};
      std::size_t d = target_description(k_ns_dc);
      add_array(d, k_subject, "Bag", keyword_items(fresh, prefix_for(d, k_ns_rdf, "rdf")));
      return {};
    }
    auto array = array_value(m_xmp, **location, k_subject, {"Bag", "Seq"});
    if (!array) return array.error();
    for (auto item : array->items) {
      auto text = plain_text(m_xmp.doc, item);
      if (!text) continue;
      if (contains(remove, *text)) {
        remove_with_leading_space(item);
      } else {
        present.push_back(std::move(*text));
      }
    }
    for (const auto& keyword : add) {
      if (wanted(keyword)) fresh.push_back(keyword);
    }
    if (fresh.empty()) return {};
    const Node& container = node(array->container);
    append_children(array->container, children_layout(array->container),
                    keyword_items(fresh, std::string(container.prefix)));
    return {};
  }

  Status set_description(const std::string& value) {
    auto location = locate(m_xmp, k_description);
    if (!location) return location.error();
    if (!*location) {
      std::size_t d = target_description(k_ns_dc);
      add_array(d, k_description, "Alt", {default_item(value, prefix_for(d, k_ns_rdf, "rdf"))});
      return {};
    }
    auto array = array_value(m_xmp, **location, k_description, {"Alt"});
    if (!array) return array.error();
    for (auto item : array->items) {
      if (is_default_language(node(item))) return set_element_text(item, k_description, value);
    }
    auto item = default_item(value, std::string(node(array->container).prefix));
    if (array->items.empty()) {
      append_children(array->container, children_layout(array->container), {item});
    } else {
      // XMP wants the x-default item first.
      std::size_t first = array->items.front();
      m_edits.push_back({node(first).begin, node(first).begin, item + std::string(leading_space(first))});
    }
    return {};
  }

  Result<std::string> finish() {
    for (auto& [d, additions] : m_additions) {
      const Node& description = node(d);
      std::size_t namespace_at = description.attributes_end;
      for (const auto& attribute : description.attributes) {
        if (attribute.uri == k_ns_xmlns) namespace_at = attribute.value_end + 1;
      }
      if (namespace_at == description.attributes_end) {
        insert(namespace_at, additions.namespaces + additions.attributes);
      } else {
        insert(namespace_at, additions.namespaces);
        insert(description.attributes_end, additions.attributes);
      }
      if (!additions.children.empty()) append_children(d, additions.layout, additions.children);
    }
    // Insertions go before a replacement that starts at the same byte.
    std::stable_sort(m_edits.begin(), m_edits.end(), [](const Edit& a, const Edit& b) {
      return std::pair(a.begin, a.end != a.begin) < std::pair(b.begin, b.end != b.begin);
    });
    std::string out;
    out.reserve(m_source.size() + 1024);
    std::size_t copied = 0;
    for (const auto& edit : m_edits) {
      if (edit.begin < copied) return Error{"internal error: overlapping edits"};
      out.append(m_source.substr(copied, edit.begin - copied));
      out += edit.text;
      copied = edit.end;
    }
    out.append(m_source.substr(copied));
    return out;
  }

private:
  const Node& node(std::size_t index) const { return m_xmp.doc.nodes[index]; }

  void insert(std::size_t at, std::string text) {
    if (!text.empty()) m_edits.push_back({at, at, std::move(text)});
  }

  // The whitespace-only text right before a node, which belongs to its layout.
  std::string_view leading_space(std::size_t index) const {
    const Node& item = node(index);
    if (item.previous == k_none) return {};
    const Node& previous = node(item.previous);
    auto raw = m_source.substr(previous.begin, previous.end - previous.begin);
    if (previous.kind != NodeKind::text || previous.end != item.begin || !is_space(raw)) return {};
    return raw;
  }

  std::size_t last_child_element(std::size_t index) const {
    const auto& children = node(index).children;
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
      if (node(*it).kind == NodeKind::element) return *it;
    }
    return k_none;
  }

  Layout children_layout(std::size_t parent) const {
    if (auto last = last_child_element(parent); last != k_none) {
      std::string separator(leading_space(last));
      auto newline = separator.rfind('\n');
      if (newline == std::string::npos) return {separator, "", false};
      return {separator, separator.substr(newline + 1), true};
    }
    std::string indent = std::string(line_indent(m_source, node(parent).begin)) + " ";
    return {m_newline + indent, indent, true};
  }

  // Whitespace before a new attribute (namespace declaration or property) of a
  // description: copied from the last one of its kind when that starts its own
  // line, else Adobe's layout (declarations two spaces in, properties one).
  std::string attribute_separator(std::size_t d, bool declaration) const {
    const Node& description = node(d);
    std::size_t previous_end = description.begin + 1 + description.qname.size();
    std::string_view separator;
    for (const auto& attribute : description.attributes) {
      if ((attribute.uri == k_ns_xmlns) == declaration) {
        separator = m_source.substr(previous_end, attribute.begin - previous_end);
      }
      previous_end = attribute.value_end + 1;
    }
    if (separator.find('\n') != std::string_view::npos) return std::string(separator);
    return m_newline + std::string(line_indent(m_source, description.begin)) + (declaration ? "  " : " ");
  }

  // The description that receives new properties of a namespace: the first that
  // declares it (files written one description per namespace), else the first.
  std::size_t target_description(std::string_view uri) const {
    for (auto d : m_xmp.descriptions) {
      for (const auto& binding : node(d).namespaces) {
        if (binding.second == uri) return d;
      }
    }
    return m_xmp.descriptions.front();
  }

  // A prefix bound to `uri` at description `d`, declaring one there when none is:
  // namespaces are matched by URI, whatever prefix the file uses.
  std::string prefix_for(std::size_t d, std::string_view uri, std::string_view preferred) {
    auto& additions = m_additions[d];
    for (const auto& [prefix, bound] : additions.bindings) {
      if (bound == uri) return prefix;
    }
    const Node& description = node(d);
    for (const Node* scope = &description;; scope = &node(scope->parent)) {
      for (const auto& [prefix, bound] : scope->namespaces) {
        if (!prefix.empty() && bound == uri && resolve(m_xmp.doc, description, prefix) == bound) {
          return std::string(prefix);
        }
      }
      if (scope->parent == k_none) break;
    }
    std::string prefix(preferred);
    auto taken = [&](const std::string& candidate) {
      return resolve(m_xmp.doc, description, candidate).has_value() ||
             std::any_of(additions.bindings.begin(), additions.bindings.end(),
                         [&](const auto& binding) { return binding.first == candidate; });
    };
    for (int n = 1; taken(prefix); ++n) prefix = std::string(preferred) + std::to_string(n);
    additions.namespaces +=
        attribute_separator(d, true) + "xmlns:" + prefix + "=\"" + escape_attribute(uri, '"') + "\"";
    additions.bindings.emplace_back(prefix, std::string(uri));
    return prefix;
  }

  void add_attribute(std::size_t d, const PropertyName& name, const std::string& value) {
    std::string prefix = prefix_for(d, name.uri, name.prefix);
    m_additions[d].attributes += attribute_separator(d, false) + prefix + ":" + std::string(name.local) + "=\"" +
                                 escape_attribute(value, '"') + "\"";
  }

  // Array items; `rdf` is the prefix bound to the RDF namespace where they go.
  static std::vector<std::string> keyword_items(const std::vector<std::string>& keywords, const std::string& rdf) {
    std::string li = rdf.empty() ? "li" : rdf + ":li";
    std::vector<std::string> items;
    for (const auto& keyword : keywords) items.push_back("<" + li + ">" + escape_text(keyword) + "</" + li + ">");
    return items;
  }

  static std::string default_item(const std::string& text, const std::string& rdf) {
    std::string li = rdf.empty() ? "li" : rdf + ":li";
    return "<" + li + " xml:lang=\"x-default\">" + escape_text(text) + "</" + li + ">";
  }

  // A new array property (dc:subject, dc:description) as the last child of `d`.
  void add_array(std::size_t d, const PropertyName& name, std::string_view container,
                 const std::vector<std::string>& items) {
    std::string property = prefix_for(d, name.uri, name.prefix) + ":" + std::string(name.local);
    std::string rdf = prefix_for(d, k_ns_rdf, "rdf");
    std::string array = rdf + ":" + std::string(container);
    auto& additions = m_additions[d];
    if (additions.children.empty()) additions.layout = children_layout(d);
    const Layout& layout = additions.layout;
    auto line = [&](int depth) { return layout.multiline ? m_newline + layout.indent + std::string(depth, ' ') : ""; };
    std::string text = "<" + property + ">" + line(1) + "<" + array + ">";
    for (const auto& item : items) text += line(2) + item;
    text += line(1) + "</" + array + ">" + line(0) + "</" + property + ">";
    additions.children.push_back(std::move(text));
  }

  // Appends `children` (laid out for `layout`) after the last child element of `parent`.
  void append_children(std::size_t parent, const Layout& layout, const std::vector<std::string>& children) {
    std::string text;
    for (const auto& child : children) text += layout.separator + child;
    const Node& element = node(parent);
    if (auto last = last_child_element(parent); last != k_none) {
      insert(node(last).end, text);
      return;
    }
    std::string closing = layout.multiline ? m_newline + std::string(line_indent(m_source, element.begin)) : "";
    if (element.self_closing) {
      m_edits.push_back(
          {element.close_marker, element.end, ">" + text + closing + "</" + std::string(element.qname) + ">"});
      return;
    }
    // What is there already (usually the line break before the end tag) follows the new children.
    auto content = m_source.substr(element.content_begin, element.content_end - element.content_begin);
    if (content.find('\n') != std::string_view::npos) closing.clear();
    insert(element.content_begin, text + closing);
  }

  Status set_element_text(std::size_t index, const PropertyName& name, const std::string& value) {
    const Node& element = node(index);
    auto current = plain_text(m_xmp.doc, index);
    if (!current) return Error{at(m_xmp.doc, element.begin) + display(name) + " holds a structure, not a simple value"};
    if (*current == value) return {};
    if (element.self_closing) {
      m_edits.push_back({element.close_marker, element.end,
                         ">" + escape_text(value) + "</" + std::string(element.qname) + ">"});
    } else {
      m_edits.push_back({element.content_begin, element.content_end, escape_text(value)});
    }
    return {};
  }

  // Removes an array item with the line break and indent before it, so no blank line remains.
  void remove_with_leading_space(std::size_t index) {
    const Node& item = node(index);
    m_edits.push_back({item.begin - leading_space(index).size(), item.end, ""});
  }

  const Xmp& m_xmp;
  std::string_view m_source;
  std::string m_newline;
  std::vector<Edit> m_edits;
  std::map<std::size_t, DescriptionAdditions> m_additions;
};

std::string new_packet() {
  std::string text;
  // The id is the fixed one the XMP specification gives every packet wrapper.
  text += "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n";
  text += "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\" x:xmptk=\"wsportfolio\">\n";
  text += " <rdf:RDF xmlns:rdf=\"" + std::string(k_ns_rdf) + "\">\n";
  text += "  <rdf:Description rdf:about=\"\"/>\n";
  text += " </rdf:RDF>\n";
  text += "</x:xmpmeta>\n";
  for (int i = 0; i < k_padding_lines; ++i) text += std::string(k_padding_line_width, ' ') + "\n";
  text += "<?xpacket end=\"w\"?>";
  return text;
}

// Some tools leave an empty rdf:RDF behind; it gets the rdf:Description the
// properties need, and the merge then runs on that text.
std::string with_description(const Xmp& xmp) {
  const Node& rdf = xmp.doc.nodes[xmp.rdf];
  std::string_view source = xmp.doc.source;
  std::string prefix(rdf.prefix);
  std::string description = prefix.empty()
                                ? "<Description xmlns:rdf=\"" + std::string(k_ns_rdf) + "\" rdf:about=\"\"/>"
                                : "<" + prefix + ":Description " + prefix + ":about=\"\"/>";
  std::string newline = source.find("\r\n") != std::string_view::npos ? "\r\n" : "\n";
  std::string indent(line_indent(source, rdf.begin));
  std::string closing = newline + indent;
  std::string text(source);
  if (rdf.self_closing) {
    text.replace(rdf.close_marker, rdf.end - rdf.close_marker,
                 ">" + newline + indent + " " + description + closing + "</" + std::string(rdf.qname) + ">");
  } else {
    auto content = source.substr(rdf.content_begin, rdf.content_end - rdf.content_begin);
    if (content.find('\n') != std::string_view::npos) closing.clear();
    text.insert(rdf.content_begin, newline + indent + " " + description + closing);
  }
  return text;
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

// The sidecar carries the photographer's develop settings: the merged text is read
// back before it is handed out, so that a mistake here is reported, never written.
Status check_merged(std::string_view merged, const XmpFields& fields) {
  auto xmp = parse_xmp(merged);
  if (!xmp) return Error{"internal error: the merged sidecar does not parse: " + xmp.message()};
  auto differs = [&](const PropertyName& name, const std::optional<std::string>& wanted) {
    if (!wanted) return false;
    auto value = read_simple(*xmp, name);
    return !value || *value != wanted;
  };
  auto rating = fields.rating ? std::optional(std::to_string(*fields.rating)) : std::nullopt;
  auto tagged = fields.best_pick ? std::optional<std::string>(*fields.best_pick ? "True" : "False") : std::nullopt;
  bool ok = !differs(k_label, fields.label) && !differs(k_rating, rating) && !differs(k_tagged, tagged);
  // Properties the caller left alone are not read: whatever they hold is not ours to judge.
  if (!fields.keywords.empty() || !fields.remove_keywords.empty()) {
    auto keywords = read_keywords(*xmp);
    ok = ok && keywords.ok();
    for (const auto& keyword : fields.keywords) {
      ok = ok && (contains(*keywords, keyword) != contains(fields.remove_keywords, keyword));
    }
    for (const auto& keyword : fields.remove_keywords) ok = ok && !contains(*keywords, keyword);
  }
  if (fields.description) {
    auto description = read_description(*xmp);
    ok = ok && description.ok() && *description == fields.description;
  }
  if (!ok) return Error{"internal error: the merged sidecar does not read back as written"};
  return {};
}

}  // namespace

std::filesystem::path sidecar_path(const std::filesystem::path& source) {
  auto sidecar = source;
  sidecar.replace_extension(".xmp");
  return sidecar;
}

Result<std::string> merge_xmp(std::string_view existing, const XmpFields& fields) {
  if (auto status = check_fields(fields); !status) return Error{status.message()};
  std::string text = existing.empty() ? new_packet() : std::string(existing);
  auto xmp = parse_xmp(text);
  if (!xmp) return xmp.error();
  if (xmp->descriptions.empty()) {
    text = with_description(*xmp);
    xmp = parse_xmp(text);
    if (!xmp) return Error{"internal error: " + xmp.message()};
  }
  Merger merger(*xmp);
  std::vector<Status> steps;
  if (fields.rating) steps.push_back(merger.set_simple(k_rating, std::to_string(*fields.rating)));
  if (fields.label) steps.push_back(merger.set_simple(k_label, *fields.label));
  if (fields.best_pick) steps.push_back(merger.set_simple(k_tagged, *fields.best_pick ? "True" : "False"));
  steps.push_back(merger.merge_keywords(fields.keywords, fields.remove_keywords));
  if (fields.description) steps.push_back(merger.set_description(*fields.description));
  for (const auto& step : steps) {
    if (!step) return Error{step.message()};
  }
  auto merged = merger.finish();
  if (!merged) return merged;
  if (auto status = check_merged(*merged, fields); !status) return Error{status.message()};
  return merged;
}

Result<XmpFields> read_xmp(std::string_view text) {
  auto xmp = parse_xmp(text);
  if (!xmp) return xmp.error();
  XmpFields fields;
  auto label = read_simple(*xmp, k_label);
  if (!label) return label.error();
  fields.label = std::move(*label);
  auto rating = read_simple(*xmp, k_rating);
  if (!rating) return rating.error();
  if (*rating) {
    auto value = parse_rating(**rating);
    if (!value) return value.error();
    fields.rating = *value;
  }
  auto tagged = read_simple(*xmp, k_tagged);
  if (!tagged) return tagged.error();
  if (*tagged) {
    auto value = parse_flag(**tagged, k_tagged);
    if (!value) return value.error();
    fields.best_pick = *value;
  }
  auto keywords = read_keywords(*xmp);
  if (!keywords) return keywords.error();
  fields.keywords = std::move(*keywords);
  auto description = read_description(*xmp);
  if (!description) return description.error();
  fields.description = std::move(*description);
  return fields;
}

}  // namespace wsp::tagging
