// Internal to rules/: a literal that every full match of a Python pattern contains, so that
// PythonRegex::FullMatch can turn most subjects down with a substring search instead of running
// PCRE2. The patterns triggers use look like ".*\binvoice\b.*#?\d{4,}.*", whose leading ".*"
// has PCRE2 try the rest at every position of a subject that lacks the word.
#ifndef POSTDESK_RULES_REGEX_LITERAL_H_
#define POSTDESK_RULES_REGEX_LITERAL_H_

#include <string>
#include <string_view>

namespace postdesk {

// A run of ASCII letters and digits that any text the (valid) Python pattern fully matches
// contains, byte for byte as written; empty when none can be shown. Only the pattern's top level
// is read: nothing inside a group or a class, no character a quantifier or an escape applies to.
// A pattern with inline flags ((?x) changes what a space or '#' means, (?i) the case), a comment
// or a top-level "|" gives none.
std::string RequiredLiteral(std::string_view pattern);

// False if `subject` cannot hold `literal` (ASCII letters and digits, lower case if caseless) as
// a caseless or byte-for-byte match would need; true when it may.
bool MayContain(std::string_view subject, std::string_view literal, bool caseless);

}  // namespace postdesk

#endif  // POSTDESK_RULES_REGEX_LITERAL_H_
