#include "tools/blast/message_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "parser/message_parser.h"
#include "parser/smtp_data_reader.h"

namespace postdesk::blast {
namespace {

namespace fs = std::filesystem;

// What the gateway's own DATA reader makes of `wire`: the message it would store. Fails the
// test when the reader does not end exactly at the wire's end (an early end is a smuggled
// second message; no end is a hang).
std::string ReadBack(const std::string& wire) {
  SmtpDataReader reader(64 << 20);
  size_t used = reader.Consume(wire);
  EXPECT_TRUE(reader.done()) << "no end of data in " << wire;
  EXPECT_EQ(used, wire.size()) << "the data ended early";
  return reader.message();
}

std::string BodyOf(const std::string& wire) {
  size_t start = wire.find("\r\n\r\n");
  EXPECT_NE(start, std::string::npos);
  EXPECT_EQ(wire.substr(wire.size() - 3), ".\r\n");
  return wire.substr(start + 4, wire.size() - 3 - (start + 4));
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("blast-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + NewRunId());
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(ToWireFormat, DotStuffsAndMakesEveryLineEndCrLf) {
  OutgoingMessage m = ToWireFormat("a\n.b\r\n..c\rd");
  EXPECT_EQ(m.wire, "a\r\n..b\r\n...c\r\nd\r\n.\r\n");
  EXPECT_EQ(m.size, std::string("a\r\n.b\r\n..c\r\nd\r\n").size());  // before stuffing
  EXPECT_FALSE(m.eight_bit);
}

TEST(ToWireFormat, ALoneDotLineCannotEndTheMessageEarly) {
  // The classic: a line of a single '.' inside the message, with each kind of line end.
  for (std::string input : {"one\r\n.\r\ntwo\r\n", "one\n.\ntwo\n", "one\r.\rtwo\r"}) {
    SCOPED_TRACE(input);
    OutgoingMessage m = ToWireFormat(input);
    EXPECT_EQ(ReadBack(m.wire), "one\r\n.\r\ntwo\r\n");
  }
}

TEST(ToWireFormat, EdgeCasesReadBackAsTheNormalizedMessage) {
  EXPECT_EQ(ReadBack(ToWireFormat("").wire), "");
  EXPECT_EQ(ReadBack(ToWireFormat("no newline at the end").wire), "no newline at the end\r\n");
  EXPECT_EQ(ReadBack(ToWireFormat(".").wire), ".\r\n");
  EXPECT_EQ(ReadBack(ToWireFormat("\r\n\r\n").wire), "\r\n\r\n");
  EXPECT_EQ(ReadBack(ToWireFormat("x\r\n.\r\n").wire), "x\r\n.\r\n");
  EXPECT_TRUE(ToWireFormat("caf\xc3\xa9\n").eight_bit);
}

// BDAT sends the message itself: no stuffing dots, no end marker, `size` bytes.
TEST(ChunkOctets, UndoesTheStuffingAndDropsTheEndMarker) {
  OutgoingMessage m = ToWireFormat("a\n.b\r\n..c\r\n.\r\nend");
  EXPECT_EQ(ChunkOctets(m.wire), "a\r\n.b\r\n..c\r\n.\r\nend\r\n");
  EXPECT_EQ(ChunkOctets(m.wire).size(), m.size);
  EXPECT_EQ(ChunkOctets(ToWireFormat("").wire), "");
  EXPECT_EQ(ChunkOctets(ToWireFormat(".").wire), ".\r\n");
}

TEST(UniqueSender, TagsTheLocalPart) {
  EXPECT_EQ(UniqueSender("bench@load.test", 42), "bench+42@load.test");
  EXPECT_EQ(UniqueSender("a@b@c.test", 1), "a@b+1@c.test");
  EXPECT_EQ(UniqueSender("local", 7), "local+7");
}

TEST(GeneratedMessages, BodyHasExactlyTheAskedSize) {
  for (size_t size : {0, 2, 3, 79, 80, 81, 100, 2048, 100000}) {
    SCOPED_TRACE(size);
    auto source = MessageSource::Generated(size, "run1");
    OutgoingMessage m = source->Build(1, "bench@load.test", "support@acme.test");
    EXPECT_EQ(BodyOf(m.wire).size(), size);
    EXPECT_EQ(m.size, m.wire.size() - 3);  // nothing to stuff
  }
  // One byte cannot be a line: it is rounded up to an empty line.
  auto one = MessageSource::Generated(1, "run1");
  EXPECT_EQ(BodyOf(one->Build(1, "a@b.test", "c@d.test").wire), "\r\n");
}

TEST(GeneratedMessages, AreCleanSmtpTheGatewayReadsBackWhole) {
  auto source = MessageSource::Generated(5000, "run1");
  OutgoingMessage m = source->Build(3, "bench@load.test", "support@acme.test");
  std::string message = ReadBack(m.wire);
  EXPECT_EQ(message + ".\r\n", m.wire);  // no line needed stuffing
  EXPECT_EQ(message.size(), m.size);
  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find("\r\n", pos);
    ASSERT_NE(eol, std::string::npos) << "a line without CRLF";
    std::string line = message.substr(pos, eol - pos);
    EXPECT_LE(line.size(), 78u) << line;  // RFC 5322 2.1.1
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << "a bare CR or LF";
    EXPECT_EQ(line.find('['), std::string::npos) << "would look like a ticket token";
    pos = eol + 2;
  }
}

TEST(GeneratedMessages, HeadersAreUniquePerMessageAndParse) {
  auto source = MessageSource::Generated(200, "0123abcd");
  std::set<std::string> ids, subjects, senders;
  for (uint64_t seq = 0; seq < 2000; ++seq) {
    std::string sender = UniqueSender("bench@load.test", seq);
    OutgoingMessage m = source->Build(seq, sender, "support@acme.test");
    ParsedMessage parsed = ParseMessage(ReadBack(m.wire));
    EXPECT_EQ(parsed.message_id, "blast.0123abcd." + std::to_string(seq) + "@load.test");
    EXPECT_EQ(parsed.from_email, sender);
    ids.insert(parsed.message_id);
    subjects.insert(parsed.subject);
    senders.insert(parsed.from_email);
  }
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_EQ(subjects.size(), 2000u);
  EXPECT_EQ(senders.size(), 2000u);
}

TEST(GeneratedMessages, AnotherRunGetsOtherMessageIds) {
  // The gateway's duplicate window is days long: running the benchmark again must not make
  // every message a "duplicate of ticket N".
  std::string a = NewRunId(), b = NewRunId();
  EXPECT_NE(a, b);
  auto first = MessageSource::Generated(10, a);
  auto second = MessageSource::Generated(10, b);
  EXPECT_NE(first->MessageId(0, "x@load.test"), second->MessageId(0, "x@load.test"));
}

TEST(RemoveMessageIdFields, DropsTheFieldWithItsFoldedLinesOnlyInTheHeader) {
  std::string message =
      "From: a@b.test\r\n"
      "message-id:\r\n <old@x.test>\r\n"
      "Subject: s\r\n"
      "Message-ID : <second@x.test>\r\n"
      "To: c@d.test\r\n"
      "\r\n"
      "Message-ID: <in the body stays>\r\n";
  EXPECT_EQ(RemoveMessageIdFields(message),
            "From: a@b.test\r\nSubject: s\r\nTo: c@d.test\r\n\r\n"
            "Message-ID: <in the body stays>\r\n");
  EXPECT_EQ(RemoveMessageIdFields("Message-Idx: keep\r\n\r\n"), "Message-Idx: keep\r\n\r\n");
}

TEST(Corpus, SendsTheFilesInTurnNormalizedStuffedWithFreshMessageIds) {
  TempDir dir;
  dir.Write("a.eml",
            "From: ann@customer.test\nMessage-ID: <orig@customer.test>\nSubject: A\n\n"
            "line one\n.hidden dot line\n.\nlast");
  dir.Write("b.eml", "From: bob@customer.test\r\nSubject: B\r\n\r\nbody b\r\n");
  dir.Write("notes.txt", "not a message");
  std::string error;
  auto source = MessageSource::LoadCorpus(dir.path(), "r", &error);
  ASSERT_TRUE(source) << error;
  EXPECT_EQ(source->files(), 2u);

  OutgoingMessage a = source->Build(0, "bench@load.test", "support@acme.test");
  EXPECT_EQ(ReadBack(a.wire),
            "Message-ID: <blast.r.0@load.test>\r\nFrom: ann@customer.test\r\nSubject: A\r\n\r\n"
            "line one\r\n.hidden dot line\r\n.\r\nlast\r\n");
  EXPECT_NE(a.wire.find("\r\n..hidden dot line\r\n..\r\nlast\r\n.\r\n"), std::string::npos);
  EXPECT_EQ(a.size, a.wire.size() - 3 - 2);  // two stuffed dots

  OutgoingMessage b = source->Build(1, "bench@load.test", "support@acme.test");
  EXPECT_EQ(ParseMessage(ReadBack(b.wire)).subject, "B");
  OutgoingMessage a_again = source->Build(2, "bench@load.test", "support@acme.test");
  ParsedMessage parsed = ParseMessage(ReadBack(a_again.wire));
  EXPECT_EQ(parsed.subject, "A");
  EXPECT_EQ(parsed.message_id, "blast.r.2@load.test");
}

TEST(Corpus, RefusesAFolderWithoutMessages) {
  TempDir dir;
  dir.Write("readme.txt", "x");
  std::string error;
  EXPECT_FALSE(MessageSource::LoadCorpus(dir.path(), "r", &error));
  EXPECT_NE(error.find("no .eml file"), std::string::npos) << error;
  EXPECT_FALSE(MessageSource::LoadCorpus(dir.path() + "/missing", "r", &error));
  EXPECT_NE(error.find("missing"), std::string::npos) << error;
}

TEST(Corpus, TheSharedCorpusGoesThroughTheGatewaysDataReaderIntact) {
  std::string error;
  auto source = MessageSource::LoadCorpus(POSTDESK_SHARED_CORPUS_DIR, "shared", &error);
  ASSERT_TRUE(source) << error;
  ASSERT_GE(source->files(), 10u);
  for (uint64_t seq = 0; seq < source->files(); ++seq) {
    OutgoingMessage m = source->Build(seq, "bench@load.test", "support@acme.test");
    std::string message = ReadBack(m.wire);
    EXPECT_EQ(message.size(), m.size) << seq;
    EXPECT_EQ(ParseMessage(message).message_id,
              "blast.shared." + std::to_string(seq) + "@load.test");
  }
}

}  // namespace
}  // namespace postdesk::blast
