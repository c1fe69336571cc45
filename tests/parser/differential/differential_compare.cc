// differential_compare DIR ALLOWLIST: runs ParseMessage over the messages generate.py wrote to
// DIR and compares subject, From mailbox and text/plain body with Python's email package
// (policy.default), recorded in DIR/index.json. A disagreement fails the test unless the
// allowlist names its category and field with the reason we, not Python, are right.
//
// Exit status: 0 when every disagreement is allowlisted and at least kMinMessages were compared,
// 1 otherwise (ctest reports the listed mismatches).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "parser/message_parser.h"

namespace {

constexpr size_t kMinMessages = 500;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Trim(std::string s) {
  const char* blanks = " \t\r\n";
  const size_t begin = s.find_first_not_of(blanks);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(blanks) - begin + 1);
}

// The same normalisation ParseMessage applies to a description: line ends to LF, blank lines
// at the start and blanks at the end dropped.
std::string NormalizeBody(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\n')) {
    out.pop_back();
  }
  size_t begin = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k] == '\n') {
      begin = k + 1;
    } else if (out[k] != ' ' && out[k] != '\t') {
      break;
    }
  }
  return out.substr(begin);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR ALLOWLIST\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  nlohmann::json index, allowlist;
  try {
    index = nlohmann::json::parse(ReadFile(dir + "/index.json"));
    allowlist = nlohmann::json::parse(ReadFile(argv[2]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot read inputs: %s\n", e.what());
    return 1;
  }
  std::set<std::pair<std::string, std::string>> allowed;
  for (const auto& rule : allowlist["allow"]) {
    allowed.emplace(rule["category"].get<std::string>(), rule["field"].get<std::string>());
  }

  size_t compared = 0, failures = 0;
  std::map<std::string, size_t> allowed_hits;
  for (const auto& entry : index) {
    const std::string file = entry["file"].get<std::string>();
    const std::string category = entry["category"].get<std::string>();
    const postdesk::ParsedMessage m = postdesk::ParseMessage(ReadFile(dir + "/" + file));
    ++compared;
    auto check = [&](const char* field, const std::string& python, const std::string& ours) {
      if (python == ours) return;
      if (allowed.count({category, field})) {
        ++allowed_hits[category + "/" + field];
        return;
      }
      ++failures;
      std::cout << file << " [" << category << "] " << field
                << " differs\n  python: " << nlohmann::json(python).dump()
                << "\n  ours:   " << nlohmann::json(ours).dump() << "\n";
    };
    check("subject", Trim(entry["subject"].get<std::string>()), m.subject);
    if (!entry["from_email"].is_null()) {
      check("from_email", entry["from_email"].get<std::string>(), m.from_email);
      check("from_name", Trim(entry["from_name"].get<std::string>()), m.from_name);
    }
    if (!entry["body"].is_null()) {
      check("body", NormalizeBody(entry["body"].get<std::string>()), m.description);
    }
  }
  std::cout << compared << " messages compared, " << failures << " unexplained differences\n";
  for (const auto& [key, count] : allowed_hits) {
    std::cout << "  allowlisted " << key << ": " << count << "\n";
  }
  if (compared < kMinMessages) {
    std::cout << "too few messages (want at least " << kMinMessages << ")\n";
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
