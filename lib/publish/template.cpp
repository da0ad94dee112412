#include "publish/template.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace wsp::publish {

namespace {

enum class TokenKind { Text, Escaped, Raw, Open, OpenInverted, Close, Comment };

struct Token {
  TokenKind kind = TokenKind::Text;
  std::string text;
  int line = 1;
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (is_blank(text.front()) || text.front() == '\n')) text.remove_prefix(1);
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\n')) text.remove_suffix(1);
  return text;
}

bool valid_name(std::string_view name) { return !name.empty() && std::all_of(name.begin(), name.end(), is_name_char); }

// Shortens a tag for an error message, so that a runaway tag does not flood the terminal.
std::string quote_tag(std::string_view tag) {
  auto line_end = tag.find('\n');
  if (line_end != std::string_view::npos || tag.size() > 60)
    return std::string(tag.substr(0, std::min<std::size_t>(line_end, 60))) + "...";
  return std::string(tag);
}

util::Error error_at(const std::string& file, int line, std::string_view what) {
  return util::Error{fmt::format("{}:{}: {}", file, line, what)};
}

util::Result<std::vector<Token>> tokenize(const std::string& file, std::string_view text) {
  std::vector<Token> tokens;
  std::size_t pos = 0;
  int line = 1;
  auto advance_to = [&](std::size_t end) {
    line += static_cast<int>(std::count(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                        text.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
    pos = end;
  };
  while (pos < text.size()) {
    auto open = text.find("{{", pos);
    if (open == std::string_view::npos) open = text.size();
    if (open > pos) {
      tokens.push_back({TokenKind::Text, std::string(text.substr(pos, open - pos)), line});
      advance_to(open);
    }
    if (open == text.size()) break;

    bool triple = text.compare(open, 3, "{{{") == 0;
    std::string_view closer = triple ? "}}}" : "}}";
    auto body_start = open + (triple ? 3 : 2);
    auto close = text.find(closer, body_start);
    if (close == std::string_view::npos)
      return error_at(file, line,
                      fmt::format("tag '{}' is never closed with '{}'", quote_tag(text.substr(open)), closer));
    auto whole = text.substr(open, close + closer.size() - open);
    auto body = text.substr(body_start, close - body_start);

    Token token{TokenKind::Escaped, {}, line};
    std::string_view name = trim(body);
    if (triple) {
      token.kind = TokenKind::Raw;
    } else if (!name.empty()) {
      switch (name.front()) {
        case '&': token.kind = TokenKind::Raw; break;
        case '#': token.kind = TokenKind::Open; break;
        case '^': token.kind = TokenKind::OpenInverted; break;
        case '/': token.kind = TokenKind::Close; break;
        case '!': token.kind = TokenKind::Comment; break;
        default: break;
      }
      if (token.kind != TokenKind::Escaped) name = trim(name.substr(1));
    }
    if (token.kind != TokenKind::Comment) {
      if (!valid_name(name))
        return error_at(file, line,
                        fmt::format("unsupported tag '{}' (names are letters, digits, '_' and '-'; partials, "
                                    "delimiter changes and dotted names are not supported)",
                                    quote_tag(whole)));
      token.text = std::string(name);
    }
    tokens.push_back(std::move(token));
    advance_to(open + whole.size());
  }
  return tokens;
}

bool is_standalone_kind(TokenKind kind) {
  return kind == TokenKind::Open || kind == TokenKind::OpenInverted || kind == TokenKind::Close ||
         kind == TokenKind::Comment;
}

// A section or comment tag alone on its line takes the whole line with it, so
// that templates can be indented for reading without blank lines in the output.
void strip_standalone_lines(std::vector<Token>& tokens) {
  std::vector<bool> standalone(tokens.size(), false);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!is_standalone_kind(tokens[i].kind)) continue;
    bool line_starts_blank = false;
    if (i == 0) {
      line_starts_blank = true;
    } else if (tokens[i - 1].kind == TokenKind::Text) {
      const auto& before = tokens[i - 1].text;
      auto newline = before.rfind('\n');
      bool has_newline = newline != std::string::npos;
      auto tail = has_newline ? std::string_view(before).substr(newline + 1) : std::string_view(before);
      line_starts_blank = (has_newline || i == 1) && std::all_of(tail.begin(), tail.end(), is_blank);
    }
    bool line_ends_blank = false;
    if (i + 1 == tokens.size()) {
      line_ends_blank = true;
    } else if (tokens[i + 1].kind == TokenKind::Text) {
      const auto& after = tokens[i + 1].text;
      auto newline = after.find('\n');
      bool has_newline = newline != std::string::npos;
      auto head = std::string_view(after).substr(0, has_newline ? newline : after.size());
      line_ends_blank = (has_newline || i + 2 == tokens.size()) && std::all_of(head.begin(), head.end(), is_blank);
    }
    standalone[i] = line_starts_blank && line_ends_blank;
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!standalone[i]) continue;
    if (i > 0) {
      auto& before = tokens[i - 1].text;
      auto newline = before.rfind('\n');
      before.erase(newline == std::string::npos ? 0 : newline + 1);
    }
    if (i + 1 < tokens.size()) {
      auto& after = tokens[i + 1].text;
      auto newline = after.find('\n');
      after.erase(0, newline == std::string::npos ? after.size() : newline + 1);
    }
  }
}

struct Found {
  const std::string* text = nullptr;
  const bool* flag = nullptr;
  const std::vector<TemplateData>* list = nullptr;
};

// The innermost item that knows `name` answers for it, as in Mustache.
Found lookup(const std::vector<const TemplateData*>& stack, std::string_view name) {
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    const TemplateData& data = **it;
    if (auto text = data.text.find(name); text != data.text.end()) return {&text->second, nullptr, nullptr};
    if (auto flag = data.flags.find(name); flag != data.flags.end()) return {nullptr, &flag->second, nullptr};
    if (auto list = data.lists.find(name); list != data.lists.end()) return {nullptr, nullptr, &list->second};
  }
  return {};
}

void render_nodes(const std::vector<Template::Node>& nodes, std::vector<const TemplateData*>& stack, std::string& out) {
  for (const auto& node : nodes) {
    switch (node.kind) {
      case Template::Kind::Text: out += node.text; break;
      case Template::Kind::Escaped:
        if (auto found = lookup(stack, node.text); found.text) out += html_escape(*found.text);
        break;
      case Template::Kind::Raw:
        if (auto found = lookup(stack, node.text); found.text) out += *found.text;
        break;
      case Template::Kind::Section: {
        auto found = lookup(stack, node.text);
        if (found.list) {
          for (const auto& item : *found.list) {
            stack.push_back(&item);
            render_nodes(node.children, stack, out);
            stack.pop_back();
          }
        } else if ((found.flag && *found.flag) || (found.text && !found.text->empty())) {
          render_nodes(node.children, stack, out);
        }
        break;
      }
      case Template::Kind::Inverted: {
        auto found = lookup(stack, node.text);
        bool empty = found.list ? found.list->empty() : found.flag ? !*found.flag : !found.text || found.text->empty();
        if (empty) render_nodes(node.children, stack, out);
        break;
      }
    }
  }
}

}  // namespace

util::Result<Template> Template::parse(std::string file, std::string_view text) {
  auto tokens = tokenize(file, text);
  if (!tokens) return tokens.error();
  strip_standalone_lines(*tokens);

  struct Open {
    Node node;
    int line;
  };
  std::vector<Open> open{{Node{}, 0}};  // the bottom entry collects the top level
  for (auto& token : *tokens) {
    switch (token.kind) {
      case TokenKind::Comment: break;
      case TokenKind::Text:
        if (!token.text.empty()) open.back().node.children.push_back({Kind::Text, std::move(token.text), {}});
        break;
      case TokenKind::Escaped: open.back().node.children.push_back({Kind::Escaped, std::move(token.text), {}}); break;
      case TokenKind::Raw: open.back().node.children.push_back({Kind::Raw, std::move(token.text), {}}); break;
      case TokenKind::Open:
      case TokenKind::OpenInverted:
        open.push_back(
            {Node{token.kind == TokenKind::Open ? Kind::Section : Kind::Inverted, token.text, {}}, token.line});
        break;
      case TokenKind::Close: {
        if (open.size() == 1)
          return error_at(file, token.line, fmt::format("'{{{{/{}}}}}' closes no open section", token.text));
        if (open.back().node.text != token.text)
          return error_at(file, token.line,
                          fmt::format("'{{{{/{}}}}}' does not close section '{}' opened on line {}", token.text,
                                      open.back().node.text, open.back().line));
        Node done = std::move(open.back().node);
        open.pop_back();
        open.back().node.children.push_back(std::move(done));
        break;
      }
    }
  }
  if (open.size() > 1)
    return error_at(file, open.back().line, fmt::format("section '{}' is never closed", open.back().node.text));
  return Template(std::move(file), std::move(open.front().node.children));
}

std::string Template::render(const TemplateData& data) const {
  std::string out;
  std::vector<const TemplateData*> stack{&data};
  render_nodes(m_nodes, stack, out);
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace wsp::publish
