#pragma once
// A tiny logic-less template engine, a subset of Mustache: enough for a
// photographer to restyle the gallery without the tool running their code.
//
//   {{name}}              the text `name`, HTML-escaped
//   {{{name}}} {{&name}}  the text `name`, as is
//   {{#name}}...{{/name}} once per item of the list `name`, or once if `name` is
//                         a true flag or a non-empty text
//   {{^name}}...{{/name}} once if `name` is an empty list, a false flag, an empty
//                         text or missing
//   {{! comment }}        nothing
//
// Names are letters, digits, '_' and '-'; a name missing from an item is looked
// up in the enclosing items, then renders as nothing (as in Mustache). A line
// holding only a section or comment tag leaves no blank line behind.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace wsp::publish {

// What a template is rendered with. A list item is itself a TemplateData.
struct TemplateData {
  std::map<std::string, std::string, std::less<>> text;
  std::map<std::string, bool, std::less<>> flags;
  std::map<std::string, std::vector<TemplateData>, std::less<>> lists;
};

class Template {
public:
  // Checks the whole of `text` up front, so that a broken template fails before
  // anything is published: errors read "<file>:<line>: <what>".
  static util::Result<Template> parse(std::string file, std::string_view text);

  std::string render(const TemplateData& data) const;
  const std::string& file() const { return m_file; }

  enum class Kind { Text, Escaped, Raw, Section, Inverted };
  struct Node {
    Kind kind = Kind::Text;
    std::string text;  // the literal text, or the name
    std::vector<Node> children;
  };

private:
  Template(std::string file, std::vector<Node> nodes) : m_file(std::move(file)), m_nodes(std::move(nodes)) {}
  std::string m_file;
  std::vector<Node> m_nodes;
};

// &, <, >, " and ' as entities: safe in text and in quoted attribute values.
std::string html_escape(std::string_view text);

}  // namespace wsp::publish
