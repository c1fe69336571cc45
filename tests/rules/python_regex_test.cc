#include "rules/python_regex.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rules/regex_literal.h"

namespace postdesk {
namespace {

// Compiles or fails the test; the returned regex is what the assertions run.
PythonRegex MustCompile(std::string_view pattern, bool case_sensitive = true) {
  Result<PythonRegex> regex = PythonRegex::Compile(pattern, case_sensitive);
  EXPECT_TRUE(regex.ok()) << pattern << ": " << regex.status().message();
  if (!regex.ok()) return std::move(PythonRegex::Compile("(?!)", true).value());
  return std::move(regex).value();
}

std::string CompileError(std::string_view pattern) {
  Result<PythonRegex> regex = PythonRegex::Compile(pattern, true);
  EXPECT_FALSE(regex.ok()) << pattern << " compiled";
  return regex.ok() ? std::string() : regex.status().message();
}

TEST(PythonRegex, MatchesWholeSubjectOnly) {
  PythonRegex regex = MustCompile("order \\d+");
  EXPECT_TRUE(regex.FullMatch("order 42"));
  EXPECT_FALSE(regex.FullMatch("my order 42"));
  EXPECT_FALSE(regex.FullMatch("order 42 please"));
  EXPECT_FALSE(regex.FullMatch("order 42\n"));  // unlike re.match, "$"-style slack is gone
  EXPECT_TRUE(MustCompile("refund|return").FullMatch("return"));
  EXPECT_FALSE(MustCompile("refund|return").FullMatch("refunds"));
  EXPECT_TRUE(MustCompile(".*urgent.*").FullMatch("this is urgent!"));
  EXPECT_TRUE(MustCompile("").FullMatch(""));
  EXPECT_TRUE(MustCompile("a*").FullMatch(std::string_view()));
}

TEST(PythonRegex, CaseInsensitiveOperator) {
  PythonRegex regex = MustCompile("urgent", /*case_sensitive=*/false);
  EXPECT_TRUE(regex.FullMatch("URGENT"));
  EXPECT_TRUE(regex.FullMatch("Urgent"));
  PythonRegex ecole = MustCompile("école", /*case_sensitive=*/false);
  EXPECT_TRUE(ecole.FullMatch("ÉCOLE"));
  EXPECT_TRUE(ecole.FullMatch("École"));
  EXPECT_TRUE(MustCompile("straße", false).FullMatch("STRAßE"));
  // (?-i:...) turns it back off for a part.
  PythonRegex scoped = MustCompile("a(?-i:b)c", false);
  EXPECT_TRUE(scoped.FullMatch("AbC"));
  EXPECT_FALSE(scoped.FullMatch("ABC"));
}

TEST(PythonRegex, CaseSensitiveOperator) {
  PythonRegex regex = MustCompile("urgent", /*case_sensitive=*/true);
  EXPECT_TRUE(regex.FullMatch("urgent"));
  EXPECT_FALSE(regex.FullMatch("URGENT"));
  PythonRegex ecole = MustCompile("école", true);
  EXPECT_TRUE(ecole.FullMatch("école"));
  EXPECT_FALSE(ecole.FullMatch("ÉCOLE"));
  // (?i) at the start still makes it caseless, as in Python.
  EXPECT_TRUE(MustCompile("(?i)école", true).FullMatch("ÉCOLE"));
}

TEST(PythonRegex, UnicodeClassesUnlessAscii) {
  EXPECT_TRUE(MustCompile("\\d+").FullMatch("١٢٣"));  // Arabic-Indic digits
  EXPECT_TRUE(MustCompile("\\w+").FullMatch("naïve_été"));
  EXPECT_TRUE(MustCompile("\\bcafé\\b.*").FullMatch("café au lait"));
  EXPECT_FALSE(MustCompile("(?a)\\d+").FullMatch("١٢٣"));
  EXPECT_FALSE(MustCompile("(?a)\\w+").FullMatch("été"));
  EXPECT_TRUE(MustCompile("(?a)\\w+").FullMatch("ete_1"));
  EXPECT_TRUE(MustCompile("(?u)\\w+").FullMatch("été"));
}

TEST(PythonRegex, ZendeskDateExampleWithNamedGroupsAndBackReference) {
  PythonRegex date = MustCompile(
      "(?P<year>(?:19|20)\\d\\d)(?P<delimiter>[- /.])(?P<month>0[1-9]|1[012])\\2"
      "(?P<day>0[1-9]|[12][0-9]|3[01])");
  EXPECT_TRUE(date.FullMatch("2014-07-28"));
  EXPECT_TRUE(date.FullMatch("2014/07/28"));
  EXPECT_TRUE(date.FullMatch("1999.12.31"));
  EXPECT_FALSE(date.FullMatch("on 2014-07-28"));
  EXPECT_FALSE(date.FullMatch("2014-07/28"));
  EXPECT_FALSE(date.FullMatch("2014-13-28"));
}

TEST(PythonRegex, NamedBackReference) {
  PythonRegex regex = MustCompile("(?P<word>\\w+) (?P=word)");
  EXPECT_TRUE(regex.FullMatch("hello hello"));
  EXPECT_FALSE(regex.FullMatch("hello world"));
  // Two-digit references are groups, never octal, as in Python.
  PythonRegex tenth = MustCompile("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10");
  EXPECT_TRUE(tenth.FullMatch("abcdefghijj"));
  EXPECT_FALSE(tenth.FullMatch("abcdefghija0"));
  // A reference followed by a digit: \1 then "0" is written (a)\1(?#)0 or (a)\1[0].
  EXPECT_TRUE(MustCompile("(a)\\1[0]").FullMatch("aa0"));
  EXPECT_TRUE(MustCompile("(a)\\1(?#)0").FullMatch("aa0"));
  EXPECT_TRUE(MustCompile("(?P<x>a)(?(x)b|c)").FullMatch("ab"));
  EXPECT_TRUE(MustCompile("(a)?(?(1)b|c)").FullMatch("c"));
}

TEST(PythonRegex, BackslashZIsTheVeryEnd) {
  PythonRegex regex = MustCompile("ticket\\Z");
  EXPECT_TRUE(regex.FullMatch("ticket"));
  EXPECT_FALSE(regex.FullMatch("ticket\n"));  // PCRE2's own \Z would allow the newline
  EXPECT_FALSE(MustCompile("ticket\\Z\\n").FullMatch("ticket\n"));
  EXPECT_TRUE(MustCompile("\\Aticket$").FullMatch("ticket"));
  EXPECT_NE(CompileError("[\\Z]").find("bad escape \\Z at offset 1"), std::string::npos);
}

TEST(PythonRegex, UnicodeAndOtherEscapes) {
  EXPECT_TRUE(MustCompile("caf\\u00e9").FullMatch("café"));
  EXPECT_TRUE(MustCompile("\\U0001F600 ok").FullMatch("😀 ok"));
  EXPECT_TRUE(MustCompile("[\\u00e0-\\u00ff]+").FullMatch("éèà"));
  EXPECT_TRUE(MustCompile("\\x41\\101\\0").FullMatch(std::string_view("AA\0", 3)));
  EXPECT_TRUE(MustCompile("a\\vb").FullMatch("a\vb"));
  EXPECT_FALSE(MustCompile("a\\vb").FullMatch("a\nb"));  // \v is one character, not a class
  EXPECT_TRUE(MustCompile("\\.\\-\\é").FullMatch(".-é"));
  EXPECT_NE(CompileError("caf\\u00e").find("incomplete escape \\u00e at offset 3"),
            std::string::npos);
  EXPECT_NE(CompileError("\\U00110000").find("bad escape"), std::string::npos);
  EXPECT_NE(CompileError("a\\pL").find("bad escape \\p at offset 1"), std::string::npos);
  EXPECT_NE(CompileError("\\N{BULLET}").find("not supported at offset 0"), std::string::npos);
}

TEST(PythonRegex, BraceQuantifiers) {
  PythonRegex up_to_three = MustCompile("a{,3}");
  EXPECT_TRUE(up_to_three.FullMatch(""));
  EXPECT_TRUE(up_to_three.FullMatch("aaa"));
  EXPECT_FALSE(up_to_three.FullMatch("aaaa"));
  EXPECT_TRUE(MustCompile("a{2}").FullMatch("aa"));
  EXPECT_TRUE(MustCompile("a{2,}").FullMatch("aaaaa"));
  EXPECT_TRUE(MustCompile("a{,}").FullMatch("aaaa"));
  // Not a quantifier in Python: the "{" is a literal.
  EXPECT_TRUE(MustCompile("a{}").FullMatch("a{}"));
  EXPECT_TRUE(MustCompile("a{x}").FullMatch("a{x}"));
  EXPECT_TRUE(MustCompile("a{1,2").FullMatch("a{1,2"));
}

TEST(PythonRegex, InlineFlagsAndComments) {
  EXPECT_TRUE(MustCompile("(?s)a.b").FullMatch("a\nb"));
  EXPECT_FALSE(MustCompile("a.b").FullMatch("a\nb"));
  EXPECT_TRUE(MustCompile("(?m)a$\\n^b").FullMatch("a\nb"));
  EXPECT_TRUE(MustCompile("(?x) a b  # a comment with (?L) and \\Z\n c").FullMatch("abc"));
  EXPECT_TRUE(MustCompile("(?x:a b) c").FullMatch("ab c"));
  // Verbose mode skips ASCII white space only; PCRE2's would also skip U+2028.
  EXPECT_TRUE(MustCompile("(?x)a\u2028b").FullMatch("a\u2028b"));
  EXPECT_TRUE(MustCompile("(?i:a)b").FullMatch("Ab"));
  EXPECT_TRUE(MustCompile("a(?#comment with \\) inside)b").FullMatch("ab"));
  EXPECT_NE(CompileError("(?L)a").find("cannot use 'L' flag"), std::string::npos);
  EXPECT_NE(CompileError("a(?i)b").find("global flags not at the start of the expression"),
            std::string::npos);
  EXPECT_NE(CompileError("(?a:x)").find("not supported"), std::string::npos);
  EXPECT_NE(CompileError("(?au)x").find("incompatible"), std::string::npos);
}

TEST(PythonRegex, RefusesPcreOnlySyntax) {
  EXPECT_NE(CompileError("(?<name>a)").find("unknown extension ?<n at offset 1"),
            std::string::npos);
  EXPECT_NE(CompileError("(*UTF)a").find("nothing to repeat at offset 1"), std::string::npos);
  EXPECT_NE(CompileError("(?R)").find("unknown extension ?R"), std::string::npos);
  EXPECT_NE(CompileError("a\\K").find("bad escape \\K"), std::string::npos);
  EXPECT_NE(CompileError("(?P>x)").find("unknown extension ?P>"), std::string::npos);
  // [[:digit:]]+ is a set of "[", ":", "d", ... then "]+" in Python, not a POSIX class.
  PythonRegex posix = MustCompile("[[:digit:]]+");
  EXPECT_TRUE(posix.FullMatch("d]"));
  EXPECT_TRUE(posix.FullMatch(":]]"));
  EXPECT_FALSE(posix.FullMatch("12"));
}

TEST(PythonRegex, CompileErrorsCarryTheOffset) {
  EXPECT_EQ(CompileError("(abc|de"), "regex: missing closing parenthesis at offset 7");
  EXPECT_EQ(CompileError("ab[cd"), "regex: unterminated character set at offset 2");
  EXPECT_EQ(CompileError("abc\\"), "regex: bad escape (end of pattern) at offset 3");
  EXPECT_EQ(CompileError("x\\u0041*+*"),
            "regex: quantifier does not follow a repeatable item at offset 9");
  EXPECT_EQ(CompileError("(?P<n>a)(?P=m)"),
            "regex: reference to non-existent subpattern at offset 8");
  EXPECT_EQ(CompileError("a{3,2}"), "regex: numbers out of order in {} quantifier at offset 1");
  EXPECT_NE(CompileError("\xff").find("UTF-8 error"), std::string::npos);
}

TEST(PythonRegex, OversizedPatternIsRefused) {
  std::string pattern(PythonRegex::kMaxPatternBytes, 'a');
  EXPECT_TRUE(PythonRegex::Compile(pattern, true).ok());
  pattern += "(";  // would be a syntax error, but the size is checked first
  EXPECT_EQ(CompileError(pattern), "regex: pattern is 8193 bytes, over the limit of 8192");
}

TEST(PythonRegex, CatastrophicBacktrackingIsNoMatch) {
  PythonRegex regex = MustCompile("(a+)+$");
  EXPECT_TRUE(regex.FullMatch("aaaa"));
  const std::string subject = std::string(36, 'a') + "!";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(regex.FullMatch(subject));
  EXPECT_FALSE(MustCompile("(x+x+)+y").FullMatch(std::string(40, 'x')));
  EXPECT_FALSE(MustCompile("(?:a|aa)+b?c").FullMatch(std::string(60, 'a')));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(PythonRegex, InvalidUtf8SubjectIsSafe) {
  PythonRegex any = MustCompile(".*");
  EXPECT_FALSE(any.FullMatch("abc\xff"));
  EXPECT_FALSE(any.FullMatch("\xc3"));          // truncated sequence
  EXPECT_FALSE(any.FullMatch("\xed\xa0\x80"));  // encoded surrogate
  EXPECT_TRUE(any.FullMatch("abc"));
  PythonRegex word = MustCompile("\\w+", false);
  EXPECT_FALSE(word.FullMatch("caf\xe9"));  // Latin-1, not UTF-8
  // The valid stretch before a bad byte is not the whole subject.
  const std::string bad_middle = std::string("A\x80") + "B";
  EXPECT_FALSE(MustCompile("A").FullMatch(bad_middle));
  EXPECT_FALSE(MustCompile("A\\Z").FullMatch(bad_middle));
  // (?a) patterns take the checked path; the same answers.
  EXPECT_FALSE(MustCompile("(?a).*").FullMatch("abc\xff"));
  EXPECT_FALSE(MustCompile("(?a)A").FullMatch(bad_middle));
  EXPECT_TRUE(MustCompile("(?a).*").FullMatch("abc"));
}

TEST(PythonRegex, AsciiModeNegatedClassesMatchNonAscii) {
  // PCRE2 10.42's JIT with PCRE2_MATCH_INVALID_UTF and no UCP misses these (PCRE2 issue 224).
  EXPECT_TRUE(MustCompile("(?a)\\W").FullMatch("é"));
  EXPECT_TRUE(MustCompile("(?a)\\D+").FullMatch("٣😀"));
  EXPECT_TRUE(MustCompile("(?a)\\S\\W", false).FullMatch("\u212a\u212a"));
}

TEST(PythonRegex, MovedFromMatchesNothing) {
  PythonRegex regex = MustCompile("a");
  PythonRegex moved = std::move(regex);
  EXPECT_TRUE(moved.FullMatch("a"));
  EXPECT_FALSE(regex.FullMatch("a"));  // NOLINT(bugprone-use-after-move): documented behaviour
  regex = MustCompile("b");
  EXPECT_TRUE(regex.FullMatch("b"));
}

TEST(PythonRegex, ConcurrentUseGivesTheSameAnswers) {
  const PythonRegex date = MustCompile(
      "(?P<year>(?:19|20)\\d\\d)(?P<delimiter>[- /.])(?P<month>0[1-9]|1[012])\\2"
      "(?P<day>0[1-9]|[12][0-9]|3[01])");
  const PythonRegex caseless = MustCompile("école.*", false);
  const PythonRegex catastrophic = MustCompile("(a+)+$");
  const std::vector<std::pair<std::string, std::vector<bool>>> cases = {
      {"2014-07-28", {true, false, false}},
      {"2014-07/28", {false, false, false}},
      {"ÉCOLE du soir", {false, true, false}},
      {"aaaa", {false, false, true}},
      {std::string(30, 'a') + "!", {false, false, false}},
  };
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (const auto& [subject, expected] : cases) {
          if (date.FullMatch(subject) != expected[0]) ++mismatches[t];
          if (caseless.FullMatch(subject) != expected[1]) ++mismatches[t];
          if (catastrophic.FullMatch(subject) != expected[2]) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// --- The required literal (regex_literal.h) that FullMatch checks before PCRE2 ---------------

TEST(RequiredLiteral, IsTheLongestTopLevelRunOfLettersAndDigits) {
  EXPECT_EQ(RequiredLiteral(".*\\binvoice\\b.*#?\\d{4,}.*"), "invoice");
  EXPECT_EQ(RequiredLiteral("order \\d+"), "order");
  EXPECT_EQ(RequiredLiteral("Refund.*"), "Refund");
  // A quantified character may be absent; bounds are not literals.
  EXPECT_EQ(RequiredLiteral("colou?r"), "colo");
  EXPECT_EQ(RequiredLiteral("ab*cdef+g"), "cde");
  EXPECT_EQ(RequiredLiteral("x{1234}yz"), "yz");
  // Groups, classes and escapes that run over letters and digits give nothing.
  EXPECT_EQ(RequiredLiteral("(invoice)?a"), "a");
  EXPECT_EQ(RequiredLiteral("[invoice]+"), "");
  EXPECT_EQ(RequiredLiteral("[]invoice]"), "");
  EXPECT_EQ(RequiredLiteral("\\x41bc.*"), "");
  EXPECT_EQ(RequiredLiteral("\\u00e9t\\u00e9"), "");
  EXPECT_EQ(RequiredLiteral("(a)\\1234"), "");
  EXPECT_EQ(RequiredLiteral("\\d\\bword"), "word");
  // Alternation at the top, inline flags and comments: none.
  EXPECT_EQ(RequiredLiteral("invoice|bill"), "");
  EXPECT_EQ(RequiredLiteral("(?x) in voice"), "");
  EXPECT_EQ(RequiredLiteral("(?i)invoice"), "");
  EXPECT_EQ(RequiredLiteral("(?-i:a)invoice"), "");
  EXPECT_EQ(RequiredLiteral("(?#note)invoice"), "");
  EXPECT_EQ(RequiredLiteral("(?:a|b)invoice"), "invoice");
  EXPECT_EQ(RequiredLiteral("(?P<n>x)invoice(?P=n)"), "invoice");
}

TEST(PythonRegex, TheRequiredLiteralNeverTurnsAMatchDown) {
  struct Case {
    const char* pattern;
    bool case_sensitive;
    const char* subject;
    bool matches;
  };
  const Case cases[] = {
      {".*\\binvoice\\b.*#?\\d{4,}.*", false, "My INVOICE #12345", true},
      {".*\\binvoice\\b.*#?\\d{4,}.*", false, "My invoices #12345", false},
      {".*\\binvoice\\b.*#?\\d{4,}.*", false, "My bill #12345", false},
      {".*\\binvoice\\b.*#?\\d{4,}.*", true, "My INVOICE #12345", false},
      {".*\\binvoice\\b.*", false, "Ünïcode invoice", true},
      {"\\x41bc", true, "Abc", true},
      {"\\u00e9t\\u00e9", true, "\xc3\xa9t\xc3\xa9", true},
      {"colou?r", true, "color", true},
      {"x{2}yz", true, "xxyz", true},
      {"(?i)ABC", true, "abc", true},
      {"(?x) a b c", true, "abc", true},
      {"abc|de", true, "de", true},
      // Caseless Unicode folds "s" with U+017F and "k" with U+212A: a non-ASCII subject is left
      // to PCRE2.
      {".*security.*", false,
       "\xc5\xbf"
       "ecurity",
       true},
      {".*kelvin.*", false,
       "\xe2\x84\xaa"
       "elvin",
       true},
      {".*security.*", true,
       "\xc5\xbf"
       "ecurity",
       false},
      {"abc.*", false, "ab", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MustCompile(c.pattern, c.case_sensitive).FullMatch(c.subject), c.matches)
        << c.pattern << " on " << c.subject;
  }
}

}  // namespace
}  // namespace postdesk
