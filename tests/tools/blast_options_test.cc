#include "tools/blast/blast_options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tools/blast/blast_report.h"

namespace postdesk::blast {
namespace {

struct Parsed {
  ParseOutcome outcome;
  BlastOptions options;
  std::string error;
};

Parsed Parse(std::initializer_list<const char*> args) {
  std::vector<std::string> storage = {"postdesk-blast"};
  for (const char* a : args) storage.emplace_back(a);
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  Parsed p;
  p.outcome = ParseOptions(static_cast<int>(argv.size()), argv.data(), &p.options, &p.error);
  return p;
}

TEST(BlastOptions, DefaultsAreTheDocumentedOnes) {
  Parsed p = Parse({});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.error;
  EXPECT_EQ(p.options.host, "127.0.0.1");
  EXPECT_EQ(p.options.port, 2525);
  EXPECT_EQ(p.options.connections, 20u);
  EXPECT_EQ(p.options.count, 1000u);  // neither --count nor --duration
  EXPECT_EQ(p.options.size, 2048u);
  EXPECT_EQ(p.options.from, "bench@load.test");
  EXPECT_EQ(p.options.to, "support@acme.test");
  EXPECT_EQ(p.options.messages_per_connection, 0u);
  EXPECT_EQ(p.options.timeout_s, 30.0);
  EXPECT_FALSE(p.options.pipelining || p.options.chunking || p.options.starttls || p.options.json);
}

TEST(BlastOptions, ReadsEveryOptionInBothForms) {
  Parsed p = Parse({"--server",
                    "[::1]:2600",
                    "-c",
                    "8",
                    "-n",
                    "200",
                    "--size=100",
                    "--unique-senders",
                    "--messages-per-connection",
                    "1",
                    "--pipelining",
                    "--chunking",
                    "--starttls",
                    "--tls-ca",
                    "/tmp/ca.pem",
                    "--rate",
                    "250.5",
                    "--timeout",
                    "2",
                    "--threads=2",
                    "--json",
                    "--from",
                    "x@y.test",
                    "--to",
                    "s@acme.test"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.error;
  EXPECT_EQ(p.options.host, "::1");
  EXPECT_EQ(p.options.port, 2600);
  EXPECT_EQ(p.options.connections, 8u);
  EXPECT_EQ(p.options.count, 200u);
  EXPECT_EQ(p.options.size, 100u);
  EXPECT_TRUE(p.options.unique_senders && p.options.pipelining && p.options.starttls);
  EXPECT_TRUE(p.options.chunking);
  EXPECT_TRUE(p.options.tls_verify);  // --tls-ca implies it
  EXPECT_EQ(p.options.messages_per_connection, 1u);
  EXPECT_EQ(p.options.rate, 250.5);
  EXPECT_EQ(p.options.threads, 2u);
  EXPECT_EQ(p.options.from, "x@y.test");
  Parsed d = Parse({"-d", "1.5", "--server", "mx.example.test"});
  ASSERT_EQ(d.outcome, ParseOutcome::kRun) << d.error;
  EXPECT_EQ(d.options.duration_s, 1.5);
  EXPECT_EQ(d.options.count, 0u);  // a duration alone is not cut at 1,000 messages
  EXPECT_EQ(d.options.host, "mx.example.test");
  EXPECT_EQ(d.options.port, 2525);
}

TEST(BlastOptions, RefusesWhatCannotWorkNamingTheOption) {
  struct Case {
    std::initializer_list<const char*> args;
    const char* names;
  };
  for (const Case& c : std::initializer_list<Case>{
           {{"--connections", "0"}, "--connections"},
           {{"-c", "ten"}, "-c"},
           {{"--count"}, "missing value"},
           {{"--duration", "-1"}, "--duration"},
           {{"--server", "::1:25"}, "--server"},
           {{"--server", "host:99999"}, "--server"},
           {{"--from", "a@b.test>\r\nRCPT TO:<x@y.test"}, "--from"},
           {{"--size", "10", "--corpus", "/tmp"}, "--corpus"},
           {{"--idle", "100", "-n", "5"}, "--idle"},
           {{"--tls-verify"}, "--starttls"},
           {{"--threads", "4", "-c", "2"}, "--threads"},
           {{"--json=yes"}, "unknown option"},
           {{"--bogus"}, "unknown option"},
       }) {
    Parsed p = Parse(c.args);
    EXPECT_EQ(p.outcome, ParseOutcome::kError) << *c.args.begin();
    EXPECT_NE(p.error.find(c.names), std::string::npos) << p.error;
  }
  EXPECT_EQ(Parse({"--help"}).outcome, ParseOutcome::kHelp);
}

TEST(BlastOptions, HelpDocumentsEveryOption) {
  std::string help = HelpText();
  for (const char* option : {"--server",     "--connections",
                             "--count",      "--duration",
                             "--size",       "--corpus",
                             "--from",       "--unique-senders",
                             "--to",         "--messages-per-connection",
                             "--pipelining", "--starttls",
                             "--tls-verify", "--tls-ca",
                             "--tls-name",   "--rate",
                             "--idle",       "--json",
                             "--timeout",    "--threads",
                             "--helo"}) {
    EXPECT_NE(help.find(option), std::string::npos) << option;
  }
}

TEST(BlastReport, JsonParsesAndCarriesTheCounts) {
  BlastStats stats;
  stats.sent = 200;
  stats.accepted = 198;
  stats.refused_4xx = 1;
  stats.refused_5xx = 1;
  stats.errors[static_cast<size_t>(ErrorKind::kTimeout)] = 2;
  for (uint64_t i = 1; i <= 198; ++i) stats.latency.Record(i * 1000000);
  stats.first_refusals.push_back("connection 1, RCPT: 550 5.1.1 \"quoted\"\x01 / next");
  RunDescription run;
  run.server = "127.0.0.1:2525";
  run.mode = "closed loop";
  nlohmann::json j = nlohmann::json::parse(FormatJson(stats, run, 2.0));
  EXPECT_EQ(j["sent"], 200);
  EXPECT_EQ(j["accepted"], 198);
  EXPECT_EQ(j["refused_4xx"], 1);
  EXPECT_EQ(j["refused_5xx"], 1);
  EXPECT_EQ(j["errors"], 2);
  EXPECT_EQ(j["errors_by_kind"]["timeout"], 2);
  EXPECT_DOUBLE_EQ(j["messages_per_s"].get<double>(), 99.0);
  EXPECT_NEAR(j["latency_ms"]["p50"].get<double>(), 99.0, 1.0);
  EXPECT_NEAR(j["latency_ms"]["max"].get<double>(), 198.0, 1e-6);
  EXPECT_EQ(j["first_refusals"][0], "connection 1, RCPT: 550 5.1.1 \"quoted\"\x01 / next");
  std::string text = FormatText(stats, run, 2.0);
  EXPECT_NE(text.find("accepted (2xx):  198"), std::string::npos) << text;
  EXPECT_NE(text.find("timeout 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace postdesk::blast
