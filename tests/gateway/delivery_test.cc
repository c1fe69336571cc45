// BuildIngestRequest: what a transaction asks of storage, including when the request object is
// reused from an earlier, different transaction (Delivery keeps one per spare job).
#include "gateway/delivery.h"

#include <gtest/gtest.h>

#include "parser/message_parser.h"

namespace postdesk {
namespace {

std::shared_ptr<const ServingState> TwoBrands() {
  Result<Config> config = ParseConfig(R"(
[smtp]
hostname = "mx.postdesk.test"
[[brand]]
name = "acme"
addresses = ["support@acme.test", "help@acme.test"]
[[brand]]
name = "globex"
addresses = ["help@globex.test"]
external_addresses = ["help@globex-mail.test"]
)",
                                      "test.toml");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return std::make_shared<const ServingState>(std::move(config).value());
}

SmtpTransaction Transaction(std::shared_ptr<const ServingState> state,
                            const std::vector<std::string>& recipients, std::string message) {
  SmtpTransaction tx;
  tx.id = "7.1";
  tx.mail_from = "bounce@customer.test";
  tx.state = std::move(state);
  for (const std::string& address : recipients) {
    std::optional<AddressMatch> match = tx.state->addresses.FindRecipient(address);
    EXPECT_TRUE(match) << address;
    tx.recipients.push_back({address, match.value_or(AddressMatch{})});
  }
  tx.message = std::move(message);
  return tx;
}

void Build(const SmtpTransaction& tx, IngestRequest* request) {
  ParsedMessage parsed = ParseMessage(tx.message);
  BuildIngestRequest(tx, &parsed, ClassifyTransaction(tx, parsed), request);
}

TEST(BuildIngestRequest, OneTargetPerBrandInRecipientOrder) {
  auto state = TwoBrands();
  SmtpTransaction tx =
      Transaction(state, {"help@globex.test", "support@acme.test", "help@acme.test"},
                  "From: Ann <ann@customer.test>\r\nSubject: Printer\r\n"
                  "Message-ID: <a1@customer.test>\r\n\r\nIt is on fire.\r\n");
  IngestRequest request;
  Build(tx, &request);
  ASSERT_EQ(request.tickets.size(), 2u);
  EXPECT_EQ(request.tickets[0].brand, "globex");
  EXPECT_EQ(request.tickets[0].received_at, "help@globex.test");
  EXPECT_EQ(request.tickets[1].brand, "acme");
  EXPECT_EQ(request.tickets[1].received_at, "support@acme.test");
  EXPECT_EQ(request.subject, "Printer");
  EXPECT_EQ(request.requester_email, "ann@customer.test");
  EXPECT_EQ(request.requester_name, "Ann");
  EXPECT_EQ(request.message_id, "a1@customer.test");
  EXPECT_EQ(request.transaction, "7.1");
}

TEST(BuildIngestRequest, ReusedRequestCarriesNothingOfTheEarlierTransaction) {
  auto state = TwoBrands();
  IngestRequest request;
  Build(Transaction(state, {"help@globex.test", "support@acme.test"},
                    "From: Ann <ann@customer.test>\r\nSubject: First\r\n"
                    "Message-ID: <a1@customer.test>\r\n"
                    "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                    "--b\r\n\r\nfirst\r\n--b\r\nContent-Type: application/pdf\r\n"
                    "Content-Disposition: attachment; filename=a.pdf\r\n\r\n%PDF\r\n--b--\r\n"),
        &request);
  ASSERT_EQ(request.tickets.size(), 2u);
  ASSERT_EQ(request.attachments.size(), 1u);
  request.recover_suspended_id = 9;  // as a recovery would leave it
  request.recover_message = "stale-key";

  // No From:, no Subject:, no Message-ID, one brand: every field is this transaction's.
  Build(Transaction(state, {"help@acme.test"}, "X-Note: bare\r\n\r\nsecond\r\n"), &request);
  ASSERT_EQ(request.tickets.size(), 1u);
  EXPECT_EQ(request.tickets[0].brand, "acme");
  EXPECT_EQ(request.tickets[0].received_at, "help@acme.test");
  EXPECT_EQ(request.subject, "");
  EXPECT_EQ(request.description, "second");
  EXPECT_TRUE(request.attachments.empty());
  EXPECT_EQ(request.requester_email, "bounce@customer.test");  // the envelope sender
  EXPECT_EQ(request.requester_name, "");
  EXPECT_EQ(request.message_id, "");
  EXPECT_EQ(request.recover_suspended_id, 0);
  EXPECT_EQ(request.recover_message, "");
}

TEST(BuildIngestRequest, ForwardedMailIsReceivedAtTheBrandsExternalAddress) {
  auto state = TwoBrands();
  IngestRequest request;
  Build(Transaction(state, {"help@globex.test"},
                    "From: ann@customer.test\r\nTo: help@globex-mail.test\r\n\r\nhi\r\n"),
        &request);
  ASSERT_EQ(request.tickets.size(), 1u);
  EXPECT_EQ(request.tickets[0].received_at, "help@globex-mail.test");
}

}  // namespace
}  // namespace postdesk
