// Walks shared/corpus/expected.json (and our own tests/parser/corpus/expected.json) and checks
// every parser key of every case: subject, from_email, from_name, body_contains,
// body_not_contains, body_chars, truncated, attachments. Verdict and cause keys belong to
// classification and are not checked here. A missing corpus is a failure, never a skip.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "parser/message_parser.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Checks every case of one corpus directory; returns the number of cases checked.
size_t CheckCorpus(const std::filesystem::path& dir) {
  const std::filesystem::path expected_path = dir / "expected.json";
  EXPECT_TRUE(std::filesystem::exists(expected_path)) << expected_path;
  if (!std::filesystem::exists(expected_path)) return 0;
  const nlohmann::json expected = nlohmann::json::parse(ReadFile(expected_path));
  size_t checked = 0;
  for (const auto& [name, want] : expected.items()) {
    SCOPED_TRACE(name);
    const std::filesystem::path eml = dir / (name + ".eml");
    EXPECT_TRUE(std::filesystem::exists(eml)) << eml;
    std::string raw = ReadFile(eml);
    const ParsedMessage got = ParseMessage(raw);
    ++checked;

    EXPECT_TRUE(IsValidUtf8(got.subject));
    EXPECT_TRUE(IsValidUtf8(got.from_name));
    EXPECT_TRUE(IsValidUtf8(got.description));
    EXPECT_LE(CountCodePoints(got.description), kMaxDescriptionCodePoints);
    if (want.contains("subject")) {
      EXPECT_EQ(got.subject, want["subject"].get<std::string>());
    }
    if (want.contains("from_email")) {
      EXPECT_EQ(got.from_email, want["from_email"].get<std::string>());
    }
    if (want.contains("from_name")) {
      EXPECT_EQ(got.from_name, want["from_name"].get<std::string>());
    }
    if (want.contains("body_contains")) {
      for (const auto& needle : want["body_contains"]) {
        EXPECT_NE(got.description.find(needle.get<std::string>()), std::string::npos)
            << "missing: " << needle << "\nin: " << got.description.substr(0, 2000);
      }
    }
    if (want.contains("body_not_contains")) {
      for (const auto& needle : want["body_not_contains"]) {
        EXPECT_EQ(got.description.find(needle.get<std::string>()), std::string::npos)
            << "present: " << needle;
      }
    }
    if (want.contains("body_chars")) {
      EXPECT_EQ(CountCodePoints(got.description), want["body_chars"].get<size_t>());
    }
    if (want.contains("truncated")) {
      EXPECT_EQ(got.truncated, want["truncated"].get<bool>());
    }
    if (want.contains("attachments")) {
      const auto& attachments = want["attachments"];
      EXPECT_EQ(got.attachments.size(), attachments.size());
      for (size_t i = 0; i < attachments.size() && i < got.attachments.size(); ++i) {
        SCOPED_TRACE(i);
        EXPECT_EQ(got.attachments[i].filename, attachments[i]["filename"].get<std::string>());
        EXPECT_EQ(got.attachments[i].content_type,
                  attachments[i]["content_type"].get<std::string>());
        EXPECT_EQ(got.attachments[i].size, attachments[i]["size"].get<size_t>());
        if (attachments[i].contains("content_id")) {
          EXPECT_EQ(got.attachments[i].content_id, attachments[i]["content_id"].get<std::string>());
        }
      }
    }
  }
  return checked;
}

TEST(Corpus, SharedCorpusCasesAllHold) {
  const std::filesystem::path dir = POSTDESK_SHARED_CORPUS_DIR;
  ASSERT_TRUE(std::filesystem::is_directory(dir))
      << "shared corpus missing at " << dir << ": this test must not pass without it";
  EXPECT_GE(CheckCorpus(dir), 20u);
}

// The pointer form of ParseMessage reuses a message and the thread's scratch from the parse
// before (as the gateway's delivery does): each corpus message, parsed after every other one
// into the same ParsedMessage, must come out exactly as a fresh parse does.
TEST(Corpus, ParsingIntoAReusedMessageEqualsAFreshParse) {
  std::vector<std::string> messages;
  for (const std::filesystem::path& dir : {std::filesystem::path(POSTDESK_SHARED_CORPUS_DIR),
                                           std::filesystem::path(POSTDESK_PARSER_CORPUS_DIR)}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".eml") messages.push_back(ReadFile(entry.path()));
    }
  }
  ASSERT_GE(messages.size(), 20u);
  ParsedMessage reused;
  for (size_t round = 0; round < 2; ++round) {
    for (size_t i = 0; i < messages.size(); ++i) {
      // Forward, then backward: every message follows both a smaller and a larger one.
      const std::string& raw = messages[round == 0 ? i : messages.size() - 1 - i];
      ParseMessage(raw, ParseLimits{}, &reused);
      EXPECT_TRUE(reused == ParseMessage(raw)) << raw.substr(0, 300);
    }
  }
}

TEST(Corpus, OwnCorpusCasesAllHold) {
  const std::filesystem::path dir = POSTDESK_PARSER_CORPUS_DIR;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  EXPECT_GE(CheckCorpus(dir), 1u);
}

}  // namespace
}  // namespace postdesk
