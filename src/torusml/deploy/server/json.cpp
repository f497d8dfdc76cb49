#include "torusml/deploy/server/json.h"

#include <cstdint>
#include <cstdio>

namespace torusml::deploy::server {

namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto b = static_cast<unsigned char>(text[i]);
  std::size_t n = 0;
  if (b < 0x80) return 1;
  if ((b & 0xe0) == 0xc0 && b >= 0xc2) n = 2;
  if ((b & 0xf0) == 0xe0) n = 3;
  if ((b & 0xf8) == 0xf0 && b <= 0xf4) n = 4;
  if (n == 0 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (b < 0x20 || b == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", b);
      out += buf;
    } else if (b >= 0x80) {
      const std::size_t n = utf8_sequence_length(text, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(text.substr(i, n));
      i += n;
      continue;
    } else {
      out.push_back(c);
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

std::string error_json(std::string_view message) {
  return "{\"error\": " + json_quote(message) + "}";
}

std::optional<std::string> json_string_field(std::string_view json, std::string_view name) {
  const std::string key = json_quote(name);
  for (std::size_t at = json.find(key); at != std::string_view::npos; at = json.find(key, at + 1)) {
    std::size_t i = at + key.size();
    while (i < json.size() && (json[i] == ' ' || json[i] == '\n' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\n' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != '"') continue;
    std::string out;
    for (++i; i < json.size(); ++i) {
      const char c = json[i];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (++i >= json.size()) return std::nullopt;
      switch (json[i]) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u': {
          if (i + 4 >= json.size()) return std::nullopt;
          int v = 0;
          for (std::size_t k = 1; k <= 4; ++k) {
            const int h = hex_value(json[i + k]);
            v = h < 0 ? -1 : (v < 0 ? -1 : v * 16 + h);
          }
          out.push_back(v >= 0 && v < 0x80 ? static_cast<char>(v) : '?');
          i += 4;
          break;
        }
        default:
          out.push_back(json[i]);
          break;
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace torusml::deploy::server
