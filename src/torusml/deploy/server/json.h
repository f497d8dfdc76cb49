// The few JSON helpers of the inference server's endpoints: every metadata response and every
// error body is a small JSON object written with these (no general JSON library is needed), and
// the client reads back the string fields the server writes ("key_id", "error").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace torusml::deploy::server {

/// `text` as a JSON string literal: quoted, with '"', '\\' and control characters escaped, and
/// bytes that are not valid UTF-8 replaced by U+FFFD (so any message stays valid JSON).
std::string json_quote(std::string_view text);

/// The error body of every 4xx/5xx response: {"error": "<message>"}.
std::string error_json(std::string_view message);

/// The value of the first string field `"name": "..."` of a JSON object written by this server
/// (escapes \" \\ \n \t \r \/ \b \f and \u00XX decoded; other \u escapes kept as '?'). nullopt if
/// there is no such string field. Never throws on malformed text.
std::optional<std::string> json_string_field(std::string_view json, std::string_view name);

}  // namespace torusml::deploy::server
