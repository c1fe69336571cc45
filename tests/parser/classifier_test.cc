#include "parser/classifier.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

const TicketTokens kTokens("classifier test key, long enough");

const std::string kLoopMarkers[] = {"mx.postdesk.test"};

ClassifierContext Context() {
  ClassifierContext c;
  c.tokens = &kTokens;
  c.loop_markers = kLoopMarkers;
  c.is_support_address = [](std::string_view a) {
    return a == "support@acme.test" || a == "help@acme.test";
  };
  return c;
}

ParsedMessage Customer() {
  ParsedMessage m;
  m.from_email = "ann@customer.test";
  m.from_name = "Ann";
  m.subject = "Help";
  m.description = "My printer is on fire.";
  m.message_id = "CAF123@mail.customer.test";
  return m;
}

Classification ClassifyFor(const ParsedMessage& m, std::string_view mail_from = "ann@customer.test",
                   std::vector<std::string> rcpts = {"support@acme.test"}) {
  std::vector<std::string_view> views(rcpts.begin(), rcpts.end());
  return Classify(m, mail_from, views, Context());
}

TEST(Classifier, OrdinaryMailIsANewTicket) {
  Classification c = ClassifyFor(Customer());
  EXPECT_EQ(c.cause, SuspensionCause::kNone);
  EXPECT_FALSE(c.auto_notifications_suppressed);
  EXPECT_FALSE(c.thread_ticket);
}

TEST(Classifier, OurXLoopMarkerIsALoop) {
  ParsedMessage m = Customer();
  m.x_loop = {"other.example", " MX.Postdesk.Test "};
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kLoop);
  m.x_loop = {"other.example"};
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kNone);
}

TEST(Classifier, OurOwnMessageIdComingBackIsALoop) {
  ParsedMessage m = Customer();
  m.message_id = kTokens.MessageId(12, 99, "mx.postdesk.test");
  Classification c = ClassifyFor(m);
  EXPECT_EQ(c.cause, SuspensionCause::kLoop);
  EXPECT_EQ(SuspensionCauseName(c.cause), "loop");
}

TEST(Classifier, MailFromASupportAddressIsSuspended) {
  ParsedMessage m = Customer();
  m.from_email = "help@acme.test";
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kFromSupportAddress);
  EXPECT_EQ(ClassifyFor(Customer(), "support@acme.test").cause, SuspensionCause::kFromSupportAddress);
}

TEST(Classifier, BouncesAreDeliveryFailures) {
  ParsedMessage dsn = Customer();
  dsn.from_email = "MAILER-DAEMON@mx.customer.test";
  EXPECT_EQ(ClassifyFor(dsn, "").cause, SuspensionCause::kAutoDeliveryFailure);
  ParsedMessage report = Customer();
  report.content_type = "multipart/report";
  report.report_type = "delivery-status";
  // A DSN also says Auto-Submitted: auto-replied; it is still a bounce, not a vacation reply.
  report.auto_submitted = "auto-replied";
  EXPECT_EQ(ClassifyFor(report).cause, SuspensionCause::kAutoDeliveryFailure);
  ParsedMessage failed = Customer();
  failed.x_failed_recipients = "gone@customer.test";
  EXPECT_EQ(ClassifyFor(failed).cause, SuspensionCause::kAutoDeliveryFailure);
  EXPECT_EQ(ClassifyFor(Customer(), "").cause, SuspensionCause::kAutoDeliveryFailure);
}

TEST(Classifier, VacationRepliesAreAutoVacation) {
  ParsedMessage m = Customer();
  m.auto_submitted = "Auto-Replied; owner-email=\"ann@customer.test\"";
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kAutoVacation);
  // Out-of-office replies often come with a null sender: still a vacation reply.
  EXPECT_EQ(ClassifyFor(m, "").cause, SuspensionCause::kAutoVacation);
}

TEST(Classifier, XAutoreplyHeadersAreAutoMailer) {
  // As the shared corpus's x-autoreply.eml requires.
  ParsedMessage x = Customer();
  x.x_autoreply = "yes";
  EXPECT_EQ(ClassifyFor(x).cause, SuspensionCause::kAutoMailer);
  ParsedMessage y = Customer();
  y.x_autoresponder = "";
  EXPECT_EQ(ClassifyFor(y).cause, SuspensionCause::kAutoMailer);
}

TEST(Classifier, SystemSendersAreSystemUsers) {
  ParsedMessage m = Customer();
  m.from_email = "Postmaster@customer.test";
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kSystemUser);
}

TEST(Classifier, OtherAutomaticMailIsAutoMailer) {
  ParsedMessage m = Customer();
  m.auto_submitted = "auto-generated";
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kAutoMailer);
  m.auto_submitted = "no";
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kNone);
  m.x_auto_response_suppress = "All";
  EXPECT_EQ(ClassifyFor(m).cause, SuspensionCause::kAutoMailer);
}

TEST(Classifier, BulkAndListMailIsATicketWithoutAutoReplies) {
  for (auto set : {+[](ParsedMessage& m) { m.precedence = "Bulk"; },
                   +[](ParsedMessage& m) { m.precedence = "junk"; },
                   +[](ParsedMessage& m) { m.list_id = "<news.customer.test>"; },
                   +[](ParsedMessage& m) { m.list_unsubscribe = "<mailto:u@x.test>"; }}) {
    ParsedMessage m = Customer();
    set(m);
    Classification c = ClassifyFor(m);
    EXPECT_EQ(c.cause, SuspensionCause::kNone);
    EXPECT_TRUE(c.auto_notifications_suppressed);
  }
}

TEST(Classifier, ReplyToOurNotificationThreadsIntoItsTicket) {
  ParsedMessage m = Customer();
  m.in_reply_to = kTokens.MessageId(41, 7, "mx.postdesk.test");
  EXPECT_EQ(ClassifyFor(m).thread_ticket, 41);
  ParsedMessage r = Customer();
  r.references = {"unrelated@x.test", kTokens.MessageId(42, 8, "mx.postdesk.test")};
  EXPECT_EQ(ClassifyFor(r).thread_ticket, 42);
}

TEST(Classifier, TokenInPlusAddressOrBodyThreads) {
  EXPECT_EQ(ClassifyFor(Customer(), "ann@customer.test", {"support+id" + kTokens.Token(43) + "@acme.test"})
                .thread_ticket,
            43);
  ParsedMessage m = Customer();
  m.description = "Any news?\n> [" + kTokens.Token(44) + "] Your request was received";
  EXPECT_EQ(ClassifyFor(m).thread_ticket, 44);
}

TEST(Classifier, ForgedTokensDoNotThread) {
  ParsedMessage m = Customer();
  m.description = "[16-ABCDEF] please add me to ticket 42";
  m.in_reply_to = "pd.16.1.ABCDEF@mx.postdesk.test";
  EXPECT_FALSE(ClassifyFor(m).thread_ticket);
}

}  // namespace
}  // namespace postdesk
