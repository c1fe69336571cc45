// docs/configuration.md against the parser (gateway/config.cc): every key the parser takes has a
// row there and every row names a key the parser takes; and what a row says holds: its default
// is the parser's, a required key is required, a value of another type is refused, its range is
// the parser's range. The page's format is described at its end ("How this page is checked").
#include <gtest/gtest.h>

#include <charconv>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gateway/config.h"

namespace postdesk {
namespace {

constexpr char kReferencePath[] = POSTDESK_SOURCE_DIR "/docs/configuration.md";
constexpr char kExamplePath[] = POSTDESK_SOURCE_DIR "/postdesk.example.toml";

// One row of the reference: `key` in the table `table` ("" at the top level).
struct Row {
  std::string table;
  bool array = false;  // [[table]]
  std::string key;
  std::string type;
  std::string default_value;
  std::string range;
  std::string reload;
  int line = 0;

  std::string Path() const { return table.empty() ? key : table + "." + key; }
  // How the parser names the key in its errors.
  std::string ErrorName() const {
    if (table.empty()) return key;
    return (array ? "[[" + table + "]] #1." : "[" + table + "].") + key;
  }
  std::string Where() const {
    return std::string("docs/configuration.md:") + std::to_string(line) + " `" + Path() + "`";
  }
};

struct Reference {
  std::vector<Row> rows;
  std::set<std::string> tables;  // names with a `## [name]` or `## [[name]]` heading
  std::vector<std::string> problems;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(std::string s) {
  size_t begin = s.find_first_not_of(' ');
  size_t end = s.find_last_not_of(' ');
  return begin == std::string::npos ? "" : s.substr(begin, end - begin + 1);
}

// The tables under section headings; other headings (Formats, Reloading...) end a section.
Reference ReadReference(const std::string& text) {
  static const std::regex kSection(R"(^## (\[\[?)([a-z_]+)(\]\]?)$)");
  static const std::regex kKey("^`([a-z_]+)`$");
  Reference reference;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  bool in_code = false, in_section = false, array = false;
  std::string table;
  while (std::getline(in, line)) {
    ++number;
    if (line.rfind("```", 0) == 0) in_code = !in_code;
    if (in_code) continue;
    if (line.rfind("## ", 0) == 0) {
      std::smatch m;
      in_section = true;
      if (line == "## Top level") {
        table.clear();
        array = false;
      } else if (std::regex_match(line, m, kSection) && m[1].length() == m[3].length()) {
        table = m[2];
        array = m[1].length() == 2;
        reference.tables.insert(table);
      } else {
        in_section = false;
      }
      continue;
    }
    if (!in_section || line.rfind("|", 0) != 0) continue;
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream row(line.substr(1));
    while (std::getline(row, cell, '|')) cells.push_back(Trim(cell));
    if (cells.size() >= 1 && (cells[0] == "key" || cells[0].rfind("---", 0) == 0)) continue;
    std::smatch m;
    if (cells.size() != 6 || !std::regex_match(cells[0], m, kKey)) {
      reference.problems.push_back("docs/configuration.md:" + std::to_string(number) +
                                   ": expected | `key` | type | default | range | reload | "
                                   "what it does |");
      continue;
    }
    reference.rows.push_back({table, array, m[1], cells[1], cells[2], cells[3], cells[4], number});
  }
  return reference;
}

const Reference& TheReference() {
  static const Reference reference = ReadReference(ReadFile(kReferencePath));
  return reference;
}

// A configuration file as tables of `key = literal` lines, so that a test can add or take out
// one key. The first table is the top level.
struct Table {
  std::string name;
  bool array = false;
  std::vector<std::pair<std::string, std::string>> entries;
};
using Document = std::vector<Table>;

// Everything at its default, plus one entry of each array of tables: a valid file in which
// every key of the reference can be written or left out. A new [[name]] in the parser needs an
// entry here, or its keys are never asked for.
Document Baseline() {
  return {
      {"", false, {}},
      {"brand",
       true,
       {{"name", R"("acme")"},
        {"addresses", R"(["support@acme.test"])"},
        {"wildcards", R"(["*@in.acme.test"])"},
        {"external_addresses", R"(["acme.support@gmail.test"])"}}},
      {"target",
       true,
       {{"id", R"("ops")"},
        {"title", R"("Ops pager")"},
        {"email", R"("pager@ops.acme.test")"},
        {"subject", R"("Urgent")"},
        {"relay", R"("127.0.0.1:2526")"}}},
      {"group",
       true,
       {{"id", R"("billing")"}, {"name", R"("Billing")"}, {"members", R"(["ann@acme.test"])"}}},
  };
}

std::string Render(const Document& document) {
  std::string out;
  for (const Table& table : document) {
    if (!table.name.empty()) {
      out += table.array ? "[[" + table.name + "]]\n" : "[" + table.name + "]\n";
    }
    for (const auto& [key, literal] : table.entries) out += key + " = " + literal + "\n";
  }
  return out;
}

Table& TableOf(Document& document, const Row& row) {
  for (Table& table : document) {
    if (table.name == row.table && table.array == row.array) return table;
  }
  // A section: after the top level, before the arrays of tables (TOML puts later keys in them).
  return *document.insert(document.begin() + 1, Table{row.table, row.array, {}});
}

Document Without(Document document, const Row& row) {
  auto& entries = TableOf(document, row).entries;
  std::erase_if(entries, [&](const auto& entry) { return entry.first == row.key; });
  return document;
}

Document With(Document document, const Row& row, const std::string& literal) {
  document = Without(std::move(document), row);
  TableOf(document, row).entries.push_back({row.key, literal});
  return document;
}

Result<Config> Parse(const Document& document) { return ParseConfig(Render(document), "t.toml"); }

// The one literal of a cell such as `"25MiB"`; empty when the cell says more than that.
std::string SoleLiteral(const std::string& cell) {
  static const std::regex kLiteral("^`([^`]+)`$");
  std::smatch m;
  return std::regex_match(cell, m, kLiteral) ? std::string(m[1]) : "";
}

// A TOML value of a type other than `type`; empty for an unknown type.
std::string OtherTypeThan(const std::string& type) {
  if (type == "string" || type == "list of strings" || type == "size") return "true";
  if (type == "integer") return R"("1")";
  if (type == "boolean") return R"("yes")";
  if (type == "duration") return "30";
  return "";
}

// A bound of a range in the smallest unit of its type: an integer, milliseconds or bytes.
std::optional<int64_t> BoundValue(const std::string& type, const std::string& text) {
  if (type == "integer") {
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
  }
  if (type == "duration") {
    Result<std::chrono::milliseconds> d = ParseDuration(text);
    if (d.ok()) return d->count();
  }
  if (type == "size") {
    Result<size_t> size = ParseSize(text);
    if (size.ok()) return static_cast<int64_t>(size.value());
  }
  return std::nullopt;
}

std::string BoundLiteral(const std::string& type, int64_t value) {
  if (type == "duration") return "\"" + std::to_string(value) + "ms\"";
  if (type == "size") return "\"" + std::to_string(value) + "B\"";
  return std::to_string(value);
}

// Every key ParseConfig asks for, reading the example file and the baseline.
std::set<std::string> ParserKeys() {
  std::set<std::string> keys;
  Result<Config> example = ParseConfig(ReadFile(kExamplePath), "postdesk.example.toml", &keys);
  EXPECT_TRUE(example.ok()) << example.status().message();
  Result<Config> baseline = ParseConfig(Render(Baseline()), "t.toml", &keys);
  EXPECT_TRUE(baseline.ok()) << baseline.status().message();
  return keys;
}

// What the reference names in the parser's terms: "data_dir", "smtp", "smtp.listen".
std::set<std::string> DocumentedKeys() {
  std::set<std::string> keys = TheReference().tables;
  for (const Row& row : TheReference().rows) keys.insert(row.Path());
  return keys;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += "\n  " + item;
  return out;
}

TEST(ConfigReference, PageIsReadable) {
  const Reference& reference = TheReference();
  EXPECT_TRUE(reference.problems.empty()) << Join(reference.problems);
  EXPECT_GT(reference.rows.size(), 50u) << kReferencePath << " has lost its tables";
  std::set<std::string> seen;
  for (const Row& row : reference.rows) {
    EXPECT_TRUE(seen.insert(row.Path()).second) << row.Where() << ": documented twice";
  }
}

TEST(ConfigReference, ParserReportsAbsentSectionsAndTheEntriesOfArrays) {
  std::set<std::string> keys;
  ASSERT_TRUE(
      ParseConfig("[[brand]]\nname = \"a\"\naddresses = [\"s@a.test\"]\n", "t.toml", &keys).ok());
  EXPECT_TRUE(keys.count("data_dir"));
  EXPECT_TRUE(keys.count("limits"));
  EXPECT_TRUE(keys.count("limits.max_errors"));  // [limits] is not in the file
  EXPECT_TRUE(keys.count("brand.external_addresses"));
  EXPECT_FALSE(keys.count("target.id"));  // no [[target]] in the file
}

TEST(ConfigReference, EveryKeyTheParserTakesIsDocumented) {
  std::set<std::string> documented = DocumentedKeys();
  std::vector<std::string> missing;
  for (const std::string& key : ParserKeys()) {
    if (!documented.count(key)) missing.push_back(key);
  }
  EXPECT_TRUE(missing.empty()) << "keys gateway/config.cc takes that docs/configuration.md "
                                  "does not document (a row under `## [section]`):"
                               << Join(missing);
}

TEST(ConfigReference, EveryDocumentedKeyIsTakenByTheParser) {
  std::set<std::string> taken = ParserKeys();
  std::vector<std::string> unknown;
  for (const std::string& key : DocumentedKeys()) {
    if (!taken.count(key)) unknown.push_back(key);
  }
  EXPECT_TRUE(unknown.empty())
      << "keys docs/configuration.md documents that gateway/config.cc does not take (for a new "
         "[[table]], add an entry to Baseline() in this test):"
      << Join(unknown);
}

TEST(ConfigReference, TypeAndReloadColumnsUseKnownWords) {
  for (const Row& row : TheReference().rows) {
    EXPECT_FALSE(OtherTypeThan(row.type).empty()) << row.Where() << ": unknown type " << row.type;
    EXPECT_TRUE(row.reload == "SIGHUP" || row.reload == "restart")
        << row.Where() << ": reload is SIGHUP or restart, not " << row.reload;
    EXPECT_FALSE(row.default_value.empty()) << row.Where() << ": no default";
  }
}

TEST(ConfigReference, DocumentedDefaultsAreTheParsersDefaults) {
  int checked = 0;
  for (const Row& row : TheReference().rows) {
    std::string literal = SoleLiteral(row.default_value);
    if (literal.empty()) continue;
    Document left_out = Without(Baseline(), row);
    Result<Config> implicit = Parse(left_out);
    Result<Config> written = Parse(With(left_out, row, literal));
    ASSERT_TRUE(implicit.ok()) << row.Where() << ": " << implicit.status().message();
    ASSERT_TRUE(written.ok()) << row.Where() << " = " << literal << ": "
                              << written.status().message();
    EXPECT_TRUE(implicit.value() == written.value())
        << row.Where() << ": writing the documented default " << literal
        << " changes the configuration";
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(ConfigReference, RequiredKeysAreRefusedWhenLeftOut) {
  for (const Row& row : TheReference().rows) {
    if (row.default_value != "required") continue;
    Result<Config> c = Parse(Without(Baseline(), row));
    ASSERT_FALSE(c.ok()) << row.Where() << ": documented as required, but may be left out";
    EXPECT_NE(c.status().message().find(row.ErrorName()), std::string::npos)
        << row.Where() << ": " << c.status().message();
  }
}

TEST(ConfigReference, ValuesOfAnotherTypeAreRefusedNamingTheKey) {
  for (const Row& row : TheReference().rows) {
    std::string wrong = OtherTypeThan(row.type);
    if (wrong.empty()) continue;  // TypeAndReloadColumnsUseKnownWords reports it
    Result<Config> c = Parse(With(Baseline(), row, wrong));
    ASSERT_FALSE(c.ok()) << row.Where() << " = " << wrong << " is accepted, but it is a "
                         << row.type;
    EXPECT_NE(c.status().message().find(row.ErrorName()), std::string::npos)
        << row.Where() << ": " << c.status().message();
  }
}

TEST(ConfigReference, DocumentedRangesHold) {
  static const std::regex kBetween("^`([^`]+)` to `([^`]+)`");
  static const std::regex kAtLeast("^at least `([^`]+)`");
  int checked = 0;
  for (const Row& row : TheReference().rows) {
    if (row.type != "integer" && row.type != "duration" && row.type != "size") continue;
    std::smatch m;
    std::optional<int64_t> low, high;
    if (std::regex_search(row.range, m, kBetween)) {
      low = BoundValue(row.type, m[1]);
      high = BoundValue(row.type, m[2]);
    } else if (std::regex_search(row.range, m, kAtLeast)) {
      low = BoundValue(row.type, m[1]);
    }
    auto accepted = [&](int64_t value) {
      std::string literal = BoundLiteral(row.type, value);
      Result<Config> c = Parse(With(Baseline(), row, literal));
      EXPECT_TRUE(c.ok()) << row.Where() << " = " << literal << " is in its range (" << row.range
                          << "), but: " << c.status().message();
    };
    auto refused = [&](int64_t value) {
      std::string literal = BoundLiteral(row.type, value);
      Result<Config> c = Parse(With(Baseline(), row, literal));
      ASSERT_FALSE(c.ok()) << row.Where() << " = " << literal << " is outside its range ("
                           << row.range << "), but accepted";
      EXPECT_NE(c.status().message().find(row.ErrorName()), std::string::npos)
          << row.Where() << ": " << c.status().message();
    };
    if (low) {
      accepted(*low);
      refused(*low - 1);
      ++checked;
    }
    if (high) {
      accepted(*high);
      refused(*high + 1);
      ++checked;
    }
  }
  EXPECT_GT(checked, 25);
}

}  // namespace
}  // namespace postdesk
