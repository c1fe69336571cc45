#include "parser/charset.h"

#include <iconv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "parser/email_address.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

struct LabelEntry {
  std::string_view label;  // lower case
  Charset charset;
  std::string_view name;
  const char* iconv_name;
};

#define POSTDESK_ICONV(label, name, iconv) \
  { label, Charset::kIconv, name, iconv }
#define POSTDESK_1252(label) \
  { label, Charset::kWindows1252, "windows-1252", "" }
#define POSTDESK_UTF8(label) \
  { label, Charset::kUtf8, "utf-8", "" }

// https://encoding.spec.whatwg.org/encodings.json, in label order, plus the two mail additions
// described in charset.h. Sorted once at first use.
constexpr LabelEntry kLabels[] = {
    POSTDESK_UTF8("unicode-1-1-utf-8"),
    POSTDESK_UTF8("unicode11utf8"),
    POSTDESK_UTF8("unicode20utf8"),
    POSTDESK_UTF8("utf-8"),
    POSTDESK_UTF8("utf8"),
    POSTDESK_UTF8("x-unicode20utf8"),
    POSTDESK_ICONV("866", "ibm866", "IBM866"),
    POSTDESK_ICONV("cp866", "ibm866", "IBM866"),
    POSTDESK_ICONV("csibm866", "ibm866", "IBM866"),
    POSTDESK_ICONV("ibm866", "ibm866", "IBM866"),
    POSTDESK_ICONV("csisolatin2", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("iso-8859-2", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("iso-ir-101", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("iso8859-2", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("iso88592", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("iso_8859-2", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("iso_8859-2:1987", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("l2", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("latin2", "iso-8859-2", "ISO-8859-2"),
    POSTDESK_ICONV("csisolatin3", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("iso-8859-3", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("iso-ir-109", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("iso8859-3", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("iso88593", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("iso_8859-3", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("iso_8859-3:1988", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("l3", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("latin3", "iso-8859-3", "ISO-8859-3"),
    POSTDESK_ICONV("csisolatin4", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("iso-8859-4", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("iso-ir-110", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("iso8859-4", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("iso88594", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("iso_8859-4", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("iso_8859-4:1988", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("l4", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("latin4", "iso-8859-4", "ISO-8859-4"),
    POSTDESK_ICONV("csisolatincyrillic", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("cyrillic", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("iso-8859-5", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("iso-ir-144", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("iso8859-5", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("iso88595", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("iso_8859-5", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("iso_8859-5:1988", "iso-8859-5", "ISO-8859-5"),
    POSTDESK_ICONV("arabic", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("asmo-708", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("csiso88596e", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("csiso88596i", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("csisolatinarabic", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("ecma-114", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso-8859-6", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso-8859-6-e", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso-8859-6-i", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso-ir-127", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso8859-6", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso88596", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso_8859-6", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("iso_8859-6:1987", "iso-8859-6", "ISO-8859-6"),
    POSTDESK_ICONV("csisolatingreek", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("ecma-118", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("elot_928", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("greek", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("greek8", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("iso-8859-7", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("iso-ir-126", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("iso8859-7", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("iso88597", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("iso_8859-7", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("iso_8859-7:1987", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("sun_eu_greek", "iso-8859-7", "ISO-8859-7"),
    POSTDESK_ICONV("csiso88598e", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("csisolatinhebrew", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("hebrew", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("iso-8859-8", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("iso-8859-8-e", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("iso-ir-138", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("iso8859-8", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("iso88598", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("iso_8859-8", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("iso_8859-8:1988", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("visual", "iso-8859-8", "ISO-8859-8"),
    POSTDESK_ICONV("csiso88598i", "iso-8859-8-i", "ISO-8859-8"),
    POSTDESK_ICONV("iso-8859-8-i", "iso-8859-8-i", "ISO-8859-8"),
    POSTDESK_ICONV("logical", "iso-8859-8-i", "ISO-8859-8"),
    POSTDESK_ICONV("csisolatin6", "iso-8859-10", "ISO-8859-10"),
    POSTDESK_ICONV("iso-8859-10", "iso-8859-10", "ISO-8859-10"),
    POSTDESK_ICONV("iso-ir-157", "iso-8859-10", "ISO-8859-10"),
    POSTDESK_ICONV("iso8859-10", "iso-8859-10", "ISO-8859-10"),
    POSTDESK_ICONV("iso885910", "iso-8859-10", "ISO-8859-10"),
    POSTDESK_ICONV("l6", "iso-8859-10", "ISO-8859-10"),
    POSTDESK_ICONV("latin6", "iso-8859-10", "ISO-8859-10"),
    POSTDESK_ICONV("iso-8859-13", "iso-8859-13", "ISO-8859-13"),
    POSTDESK_ICONV("iso8859-13", "iso-8859-13", "ISO-8859-13"),
    POSTDESK_ICONV("iso885913", "iso-8859-13", "ISO-8859-13"),
    POSTDESK_ICONV("iso-8859-14", "iso-8859-14", "ISO-8859-14"),
    POSTDESK_ICONV("iso8859-14", "iso-8859-14", "ISO-8859-14"),
    POSTDESK_ICONV("iso885914", "iso-8859-14", "ISO-8859-14"),
    POSTDESK_ICONV("csisolatin9", "iso-8859-15", "ISO-8859-15"),
    POSTDESK_ICONV("iso-8859-15", "iso-8859-15", "ISO-8859-15"),
    POSTDESK_ICONV("iso8859-15", "iso-8859-15", "ISO-8859-15"),
    POSTDESK_ICONV("iso885915", "iso-8859-15", "ISO-8859-15"),
    POSTDESK_ICONV("iso_8859-15", "iso-8859-15", "ISO-8859-15"),
    POSTDESK_ICONV("l9", "iso-8859-15", "ISO-8859-15"),
    POSTDESK_ICONV("iso-8859-16", "iso-8859-16", "ISO-8859-16"),
    POSTDESK_ICONV("cskoi8r", "koi8-r", "KOI8-R"),
    POSTDESK_ICONV("koi", "koi8-r", "KOI8-R"),
    POSTDESK_ICONV("koi8", "koi8-r", "KOI8-R"),
    POSTDESK_ICONV("koi8-r", "koi8-r", "KOI8-R"),
    POSTDESK_ICONV("koi8_r", "koi8-r", "KOI8-R"),
    POSTDESK_ICONV("koi8-ru", "koi8-u", "KOI8-U"),
    POSTDESK_ICONV("koi8-u", "koi8-u", "KOI8-U"),
    POSTDESK_ICONV("csmacintosh", "macintosh", "MACINTOSH"),
    POSTDESK_ICONV("mac", "macintosh", "MACINTOSH"),
    POSTDESK_ICONV("macintosh", "macintosh", "MACINTOSH"),
    POSTDESK_ICONV("x-mac-roman", "macintosh", "MACINTOSH"),
    POSTDESK_ICONV("dos-874", "windows-874", "CP874"),
    POSTDESK_ICONV("iso-8859-11", "windows-874", "CP874"),
    POSTDESK_ICONV("iso8859-11", "windows-874", "CP874"),
    POSTDESK_ICONV("iso885911", "windows-874", "CP874"),
    POSTDESK_ICONV("tis-620", "windows-874", "CP874"),
    POSTDESK_ICONV("windows-874", "windows-874", "CP874"),
    POSTDESK_ICONV("cp1250", "windows-1250", "CP1250"),
    POSTDESK_ICONV("windows-1250", "windows-1250", "CP1250"),
    POSTDESK_ICONV("x-cp1250", "windows-1250", "CP1250"),
    POSTDESK_ICONV("cp1251", "windows-1251", "CP1251"),
    POSTDESK_ICONV("windows-1251", "windows-1251", "CP1251"),
    POSTDESK_ICONV("x-cp1251", "windows-1251", "CP1251"),
    POSTDESK_1252("ansi_x3.4-1968"),
    POSTDESK_1252("ascii"),
    POSTDESK_1252("cp1252"),
    POSTDESK_1252("cp819"),
    POSTDESK_1252("csisolatin1"),
    POSTDESK_1252("ibm819"),
    POSTDESK_1252("iso-8859-1"),
    POSTDESK_1252("iso-ir-100"),
    POSTDESK_1252("iso8859-1"),
    POSTDESK_1252("iso88591"),
    POSTDESK_1252("iso_8859-1"),
    POSTDESK_1252("iso_8859-1:1987"),
    POSTDESK_1252("l1"),
    POSTDESK_1252("latin1"),
    POSTDESK_1252("us-ascii"),
    POSTDESK_1252("windows-1252"),
    POSTDESK_1252("x-cp1252"),
    POSTDESK_ICONV("cp1253", "windows-1253", "CP1253"),
    POSTDESK_ICONV("windows-1253", "windows-1253", "CP1253"),
    POSTDESK_ICONV("x-cp1253", "windows-1253", "CP1253"),
    POSTDESK_ICONV("cp1254", "windows-1254", "CP1254"),
    POSTDESK_ICONV("csisolatin5", "windows-1254", "CP1254"),
    POSTDESK_ICONV("iso-8859-9", "windows-1254", "CP1254"),
    POSTDESK_ICONV("iso-ir-148", "windows-1254", "CP1254"),
    POSTDESK_ICONV("iso8859-9", "windows-1254", "CP1254"),
    POSTDESK_ICONV("iso88599", "windows-1254", "CP1254"),
    POSTDESK_ICONV("iso_8859-9", "windows-1254", "CP1254"),
    POSTDESK_ICONV("iso_8859-9:1989", "windows-1254", "CP1254"),
    POSTDESK_ICONV("l5", "windows-1254", "CP1254"),
    POSTDESK_ICONV("latin5", "windows-1254", "CP1254"),
    POSTDESK_ICONV("windows-1254", "windows-1254", "CP1254"),
    POSTDESK_ICONV("x-cp1254", "windows-1254", "CP1254"),
    POSTDESK_ICONV("cp1255", "windows-1255", "CP1255"),
    POSTDESK_ICONV("windows-1255", "windows-1255", "CP1255"),
    POSTDESK_ICONV("x-cp1255", "windows-1255", "CP1255"),
    POSTDESK_ICONV("cp1256", "windows-1256", "CP1256"),
    POSTDESK_ICONV("windows-1256", "windows-1256", "CP1256"),
    POSTDESK_ICONV("x-cp1256", "windows-1256", "CP1256"),
    POSTDESK_ICONV("cp1257", "windows-1257", "CP1257"),
    POSTDESK_ICONV("windows-1257", "windows-1257", "CP1257"),
    POSTDESK_ICONV("x-cp1257", "windows-1257", "CP1257"),
    POSTDESK_ICONV("cp1258", "windows-1258", "CP1258"),
    POSTDESK_ICONV("windows-1258", "windows-1258", "CP1258"),
    POSTDESK_ICONV("x-cp1258", "windows-1258", "CP1258"),
    POSTDESK_ICONV("x-mac-cyrillic", "x-mac-cyrillic", "MAC-CYRILLIC"),
    POSTDESK_ICONV("x-mac-ukrainian", "x-mac-cyrillic", "MAC-CYRILLIC"),
    // WHATWG decodes GBK with the gb18030 decoder (a superset).
    POSTDESK_ICONV("chinese", "gbk", "GB18030"),
    POSTDESK_ICONV("csgb2312", "gbk", "GB18030"),
    POSTDESK_ICONV("csiso58gb231280", "gbk", "GB18030"),
    POSTDESK_ICONV("gb2312", "gbk", "GB18030"),
    POSTDESK_ICONV("gb_2312", "gbk", "GB18030"),
    POSTDESK_ICONV("gb_2312-80", "gbk", "GB18030"),
    POSTDESK_ICONV("gbk", "gbk", "GB18030"),
    POSTDESK_ICONV("iso-ir-58", "gbk", "GB18030"),
    POSTDESK_ICONV("x-gbk", "gbk", "GB18030"),
    POSTDESK_ICONV("gb18030", "gb18030", "GB18030"),
    POSTDESK_ICONV("big5", "big5", "BIG5-HKSCS"),
    POSTDESK_ICONV("big5-hkscs", "big5", "BIG5-HKSCS"),
    POSTDESK_ICONV("cn-big5", "big5", "BIG5-HKSCS"),
    POSTDESK_ICONV("csbig5", "big5", "BIG5-HKSCS"),
    POSTDESK_ICONV("x-x-big5", "big5", "BIG5-HKSCS"),
    POSTDESK_ICONV("cseucpkdfmtjapanese", "euc-jp", "EUC-JP"),
    POSTDESK_ICONV("euc-jp", "euc-jp", "EUC-JP"),
    POSTDESK_ICONV("x-euc-jp", "euc-jp", "EUC-JP"),
    POSTDESK_ICONV("csiso2022jp", "iso-2022-jp", "ISO-2022-JP"),
    POSTDESK_ICONV("iso-2022-jp", "iso-2022-jp", "ISO-2022-JP"),
    // WHATWG's Shift_JIS decoder is Microsoft's code page 932.
    POSTDESK_ICONV("csshiftjis", "shift_jis", "CP932"),
    POSTDESK_ICONV("ms932", "shift_jis", "CP932"),
    POSTDESK_ICONV("ms_kanji", "shift_jis", "CP932"),
    POSTDESK_ICONV("shift-jis", "shift_jis", "CP932"),
    POSTDESK_ICONV("shift_jis", "shift_jis", "CP932"),
    POSTDESK_ICONV("sjis", "shift_jis", "CP932"),
    POSTDESK_ICONV("windows-31j", "shift_jis", "CP932"),
    POSTDESK_ICONV("x-sjis", "shift_jis", "CP932"),
    // WHATWG's EUC-KR decoder is Microsoft's code page 949 (Unified Hangul Code).
    POSTDESK_ICONV("cseuckr", "euc-kr", "CP949"),
    POSTDESK_ICONV("csksc56011987", "euc-kr", "CP949"),
    POSTDESK_ICONV("euc-kr", "euc-kr", "CP949"),
    POSTDESK_ICONV("iso-ir-149", "euc-kr", "CP949"),
    POSTDESK_ICONV("korean", "euc-kr", "CP949"),
    POSTDESK_ICONV("ks_c_5601-1987", "euc-kr", "CP949"),
    POSTDESK_ICONV("ks_c_5601-1989", "euc-kr", "CP949"),
    POSTDESK_ICONV("ksc5601", "euc-kr", "CP949"),
    POSTDESK_ICONV("ksc_5601", "euc-kr", "CP949"),
    POSTDESK_ICONV("windows-949", "euc-kr", "CP949"),
    POSTDESK_ICONV("unicodefffe", "utf-16be", "UTF-16BE"),
    POSTDESK_ICONV("utf-16be", "utf-16be", "UTF-16BE"),
    POSTDESK_ICONV("csunicode", "utf-16le", "UTF-16LE"),
    POSTDESK_ICONV("iso-10646-ucs-2", "utf-16le", "UTF-16LE"),
    POSTDESK_ICONV("ucs-2", "utf-16le", "UTF-16LE"),
    POSTDESK_ICONV("unicode", "utf-16le", "UTF-16LE"),
    POSTDESK_ICONV("unicodefeff", "utf-16le", "UTF-16LE"),
    POSTDESK_ICONV("utf-16", "utf-16le", "UTF-16LE"),
    POSTDESK_ICONV("utf-16le", "utf-16le", "UTF-16LE"),
    // Mail additions (see charset.h): WHATWG has no UTF-7 and maps these to "replacement".
    POSTDESK_ICONV("utf-7", "utf-7", "UTF-7"),
    POSTDESK_ICONV("unicode-1-1-utf-7", "utf-7", "UTF-7"),
    POSTDESK_ICONV("csiso2022kr", "iso-2022-kr", "ISO-2022-KR"),
    POSTDESK_ICONV("iso-2022-kr", "iso-2022-kr", "ISO-2022-KR"),
    POSTDESK_ICONV("iso-2022-cn", "iso-2022-cn", "ISO-2022-CN"),
    POSTDESK_ICONV("iso-2022-cn-ext", "iso-2022-cn-ext", "ISO-2022-CN-EXT"),
};

#undef POSTDESK_ICONV
#undef POSTDESK_1252
#undef POSTDESK_UTF8

constexpr size_t kLabelCount = sizeof(kLabels) / sizeof(kLabels[0]);
constexpr size_t kMaxLabelLength = 32;

const std::array<const LabelEntry*, kLabelCount>& SortedLabels() {
  static const auto sorted = [] {
    std::array<const LabelEntry*, kLabelCount> entries{};
    for (size_t i = 0; i < kLabelCount; ++i) entries[i] = &kLabels[i];
    std::sort(entries.begin(), entries.end(),
              [](const LabelEntry* a, const LabelEntry* b) { return a->label < b->label; });
    return entries;
  }();
  return sorted;
}

// WHATWG windows-1252 for 0x80..0x9F; the rest of the upper half is ISO-8859-1 (U+00A0..U+00FF).
// The five bytes Microsoft leaves undefined map to the C1 controls, as WHATWG specifies.
constexpr char16_t kWindows1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

bool DecodeWindows1252(std::string_view bytes, std::string* out, size_t max_output_bytes) {
  const size_t start = out->size();
  size_t i = 0;
  while (i < bytes.size()) {
    size_t j = i + AsciiPrefix(bytes.substr(i));
    out->append(bytes.data() + i, j - i);
    if (out->size() - start > max_output_bytes) return true;
    if (j == bytes.size()) break;
    const auto c = static_cast<unsigned char>(bytes[j]);
    AppendCodePoint(c < 0xA0 ? kWindows1252High[c - 0x80] : c, out);
    i = j + 1;
  }
  return out->size() - start > max_output_bytes;
}

// Per-thread cache of iconv descriptors, keyed by iconv name. A message uses a handful of
// charsets; eight slots keep the common ones without growing without bound.
class IconvCache {
 public:
  IconvCache() = default;
  IconvCache(const IconvCache&) = delete;
  IconvCache& operator=(const IconvCache&) = delete;
  ~IconvCache() {
    for (auto& slot : slots_) {
      if (slot.cd != kNone) iconv_close(slot.cd);
    }
  }

  // A descriptor in its initial shift state, or kNone when iconv does not know the name.
  iconv_t Get(const char* name) {
    for (auto& slot : slots_) {
      if (slot.name != nullptr && std::strcmp(slot.name, name) == 0) {
        iconv(slot.cd, nullptr, nullptr, nullptr, nullptr);  // reset the shift state
        return slot.cd;
      }
    }
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == kNone) return kNone;
    Slot& victim = slots_[next_victim_];
    next_victim_ = (next_victim_ + 1) % slots_.size();
    if (victim.cd != kNone) iconv_close(victim.cd);
    victim.name = name;
    victim.cd = cd;
    return cd;
  }

  static inline const iconv_t kNone = reinterpret_cast<iconv_t>(-1);

 private:
  struct Slot {
    const char* name = nullptr;  // points into kLabels: static storage
    iconv_t cd = kNone;
  };
  std::array<Slot, 8> slots_{};
  size_t next_victim_ = 0;
};

bool DecodeWithIconv(std::string_view bytes, const char* iconv_name, std::string* out,
                     size_t max_output_bytes) {
  thread_local IconvCache cache;
  iconv_t cd = cache.Get(iconv_name);
  if (cd == IconvCache::kNone) {
    // glibc without that converter (a trimmed gconv install): salvage rather than lose the text.
    return DecodeWindows1252(bytes, out, max_output_bytes);
  }
  const size_t start = out->size();
  std::vector<char> buffer(std::min<size_t>(bytes.size() * 4 + 16, 64 * 1024));
  char* in = const_cast<char*>(bytes.data());  // iconv's signature; it does not write input
  size_t in_left = bytes.size();
  bool flushed = false;
  while (true) {
    char* dst = buffer.data();
    size_t dst_left = buffer.size();
    size_t rc;
    if (in_left > 0) {
      rc = iconv(cd, &in, &in_left, &dst, &dst_left);
    } else {
      rc = iconv(cd, nullptr, nullptr, &dst, &dst_left);  // emit the final shift sequence
      flushed = true;
    }
    const int error = (rc == static_cast<size_t>(-1)) ? errno : 0;
    out->append(buffer.data(), buffer.size() - dst_left);
    if (out->size() - start > max_output_bytes) return true;
    if (error == EILSEQ) {
      // An undecodable byte: one U+FFFD, skip it, carry on (WHATWG "replacement" error mode).
      out->append(kReplacementCharacter);
      ++in;
      --in_left;
    } else if (error == EINVAL) {
      // An incomplete sequence at the end of the input.
      out->append(kReplacementCharacter);
      in_left = 0;
    } else if (error == E2BIG) {
      continue;
    } else if (error != 0 || flushed) {  // done, or an error iconv does not document here
      break;
    }
  }
  return out->size() - start > max_output_bytes;
}

}  // namespace

CharsetInfo LookupCharset(std::string_view label) {
  while (!label.empty() && (label.front() == ' ' || label.front() == '\t' ||
                            label.front() == '\r' || label.front() == '\n')) {
    label.remove_prefix(1);
  }
  while (!label.empty() && (label.back() == ' ' || label.back() == '\t' || label.back() == '\r' ||
                            label.back() == '\n')) {
    label.remove_suffix(1);
  }
  if (label.empty() || label.size() > kMaxLabelLength) return {};
  char lower[kMaxLabelLength];
  for (size_t i = 0; i < label.size(); ++i) lower[i] = LowerAsciiChar(label[i]);
  const std::string_view key(lower, label.size());
  // Fast path for the labels nearly all mail carries.
  if (key == "utf-8") return {Charset::kUtf8, "utf-8", ""};
  if (key == "us-ascii" || key == "iso-8859-1") return {Charset::kWindows1252, "windows-1252", ""};
  const auto& sorted = SortedLabels();
  const auto it =
      std::lower_bound(sorted.begin(), sorted.end(), key,
                       [](const LabelEntry* e, std::string_view k) { return e->label < k; });
  if (it == sorted.end() || (*it)->label != key) return {};
  return {(*it)->charset, (*it)->name, (*it)->iconv_name};
}

bool ConvertToUtf8(std::string_view bytes, std::string_view label, std::string* out,
                   size_t max_output_bytes) {
  return ConvertToUtf8(bytes, LookupCharset(label), out, max_output_bytes);
}

bool ConvertToUtf8(std::string_view bytes, const CharsetInfo& charset, std::string* out,
                   size_t max_output_bytes) {
  switch (charset.charset) {
    case Charset::kUtf8: {
      // A UTF-8 byte order mark is not text (WHATWG "UTF-8 decode" strips it).
      if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
      const size_t start = out->size();
      size_t take = max_output_bytes >= bytes.size() ? bytes.size() : max_output_bytes + 1;
      // Never cut inside a character: that would leave a U+FFFD that was not in the input.
      while (take > 0 && take < bytes.size() && (bytes[take] & 0xC0) == 0x80) --take;
      AppendRepairedUtf8(bytes.substr(0, take), out);
      return take < bytes.size() || out->size() - start > max_output_bytes;
    }
    case Charset::kWindows1252:
      return DecodeWindows1252(bytes, out, max_output_bytes);
    case Charset::kIconv: {
      const size_t start = out->size();
      const bool cut = DecodeWithIconv(bytes, charset.iconv_name, out, max_output_bytes);
      // glibc emits valid UTF-8; check anyway, the promise "all text is valid UTF-8" is ours.
      std::string_view produced(out->data() + start, out->size() - start);
      if (!IsValidUtf8(produced)) {
        std::string repaired;
        AppendRepairedUtf8(produced, &repaired);
        out->resize(start);
        out->append(repaired);
      }
      return cut;
    }
    case Charset::kUnknown:
      if (IsValidUtf8(bytes))
        return ConvertToUtf8(bytes, CharsetInfo{Charset::kUtf8, "utf-8", ""}, out,
                             max_output_bytes);
      return DecodeWindows1252(bytes, out, max_output_bytes);
  }
  return false;
}

}  // namespace postdesk
