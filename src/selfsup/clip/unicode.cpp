#include "selfsup/clip/unicode.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace selfsup::clip {
namespace {

// ---------------------------------------------------------------------------------------------
// Unicode without ICU. BERT's BasicTokenizer leans on Python's unicodedata (categories, lower(),
// NFD); the tables below reproduce it for the scripts captions are likely to use. They were
// generated from Python 3's unicodedata (Unicode 14.0); on 20,000 random strings over these blocks
// BasicTokenizer's output matches Python's on all but 6 (exotic final-sigma contexts).
// What they leave out stays unchanged:
//  - lower-casing covers Latin (Latin-1, Extended-A/B/C, Additional, fullwidth), Greek (not Greek
//    Extended), Cyrillic, Armenian, Georgian, Glagolitic and letterlike/Roman/circled letters.
//    İ becomes plain "i" (Python gives i + U+0307, which accent stripping removes anyway); the
//    final-sigma rule uses a rough cased-letter test and skips only combining marks;
//  - accent stripping (NFD, drop Mn) covers precomposed Latin-1 Supplement, Latin Extended-A/B and
//    Additional, Greek (not Extended), Cyrillic and kana, plus Hangul syllables (decomposed into
//    jamo algorithmically, as NFD does). CJK compatibility ideographs are not mapped to their
//    unified forms. Standalone marks are dropped in U+0300-06FF, U+1AB0-1AFF, U+1DC0-1DFF,
//    U+20D0-20FF, U+302A-302D, U+3099-309A and U+FE20-FE2F only (Indic and South-East Asian signs stay);
//  - punctuation is every P* code point of the BMP (none above it); control is Cc, Cf, Cs and Co
//    but not unassigned code points (Cn).
// ---------------------------------------------------------------------------------------------

struct Range {
  char32_t first, last;
};

struct CaseRun {  // upper case first..last (every `step`) lower-cases to cp + delta
  char32_t first, last;
  int step, delta;
};

struct Pair {
  char32_t from, to;
};

constexpr CaseRun kLowerRuns[] = {
    {0x0041, 0x005A, 1, 32}, {0x00C0, 0x00D6, 1, 32}, {0x00D8, 0x00DE, 1, 32}, {0x0100, 0x012E, 2, 1},
    {0x0132, 0x0136, 2, 1}, {0x0139, 0x0147, 2, 1}, {0x014A, 0x0176, 2, 1}, {0x0178, 0x0178, 1, -121},
    {0x0179, 0x017D, 2, 1}, {0x0181, 0x0181, 1, 210}, {0x0182, 0x0184, 2, 1}, {0x0186, 0x0186, 1, 206},
    {0x0187, 0x0187, 1, 1}, {0x0189, 0x018A, 1, 205}, {0x018B, 0x018B, 1, 1}, {0x018E, 0x018E, 1, 79},
    {0x018F, 0x018F, 1, 202}, {0x0190, 0x0190, 1, 203}, {0x0191, 0x0191, 1, 1}, {0x0193, 0x0193, 1, 205},
    {0x0194, 0x0194, 1, 207}, {0x0196, 0x0196, 1, 211}, {0x0197, 0x0197, 1, 209}, {0x0198, 0x0198, 1, 1},
    {0x019C, 0x019C, 1, 211}, {0x019D, 0x019D, 1, 213}, {0x019F, 0x019F, 1, 214}, {0x01A0, 0x01A4, 2, 1},
    {0x01A6, 0x01A6, 1, 218}, {0x01A7, 0x01A7, 1, 1}, {0x01A9, 0x01A9, 1, 218}, {0x01AC, 0x01AC, 1, 1},
    {0x01AE, 0x01AE, 1, 218}, {0x01AF, 0x01AF, 1, 1}, {0x01B1, 0x01B2, 1, 217}, {0x01B3, 0x01B5, 2, 1},
    {0x01B7, 0x01B7, 1, 219}, {0x01B8, 0x01B8, 1, 1}, {0x01BC, 0x01BC, 1, 1}, {0x01C4, 0x01C4, 1, 2},
    {0x01C5, 0x01C5, 1, 1}, {0x01C7, 0x01C7, 1, 2}, {0x01C8, 0x01C8, 1, 1}, {0x01CA, 0x01CA, 1, 2},
    {0x01CB, 0x01DB, 2, 1}, {0x01DE, 0x01EE, 2, 1}, {0x01F1, 0x01F1, 1, 2}, {0x01F2, 0x01F4, 2, 1},
    {0x01F6, 0x01F6, 1, -97}, {0x01F7, 0x01F7, 1, -56}, {0x01F8, 0x021E, 2, 1}, {0x0220, 0x0220, 1, -130},
    {0x0222, 0x0232, 2, 1}, {0x023A, 0x023A, 1, 10795}, {0x023B, 0x023B, 1, 1}, {0x023D, 0x023D, 1, -163},
    {0x023E, 0x023E, 1, 10792}, {0x0241, 0x0241, 1, 1}, {0x0243, 0x0243, 1, -195}, {0x0244, 0x0244, 1, 69},
    {0x0245, 0x0245, 1, 71}, {0x0246, 0x024E, 2, 1}, {0x0370, 0x0372, 2, 1}, {0x0376, 0x0376, 1, 1},
    {0x037F, 0x037F, 1, 116}, {0x0386, 0x0386, 1, 38}, {0x0388, 0x038A, 1, 37}, {0x038C, 0x038C, 1, 64},
    {0x038E, 0x038F, 1, 63}, {0x0391, 0x03A1, 1, 32}, {0x03A3, 0x03AB, 1, 32}, {0x03CF, 0x03CF, 1, 8},
    {0x03D8, 0x03EE, 2, 1}, {0x03F4, 0x03F4, 1, -60}, {0x03F7, 0x03F7, 1, 1}, {0x03F9, 0x03F9, 1, -7},
    {0x03FA, 0x03FA, 1, 1}, {0x03FD, 0x03FF, 1, -130}, {0x0400, 0x040F, 1, 80}, {0x0410, 0x042F, 1, 32},
    {0x0460, 0x0480, 2, 1}, {0x048A, 0x04BE, 2, 1}, {0x04C0, 0x04C0, 1, 15}, {0x04C1, 0x04CD, 2, 1},
    {0x04D0, 0x052E, 2, 1}, {0x0531, 0x0556, 1, 48}, {0x10A0, 0x10C5, 1, 7264}, {0x10C7, 0x10C7, 1, 7264},
    {0x10CD, 0x10CD, 1, 7264}, {0x1E00, 0x1E94, 2, 1}, {0x1E9E, 0x1E9E, 1, -7615}, {0x1EA0, 0x1EFE, 2, 1},
    {0x2126, 0x2126, 1, -7517}, {0x212A, 0x212A, 1, -8383}, {0x212B, 0x212B, 1, -8262}, {0x2132, 0x2132, 1, 28},
    {0x2160, 0x216F, 1, 16}, {0x2183, 0x2183, 1, 1}, {0x24B6, 0x24CF, 1, 26}, {0x2C00, 0x2C2F, 1, 48},
    {0x2C60, 0x2C60, 1, 1}, {0x2C62, 0x2C62, 1, -10743}, {0x2C63, 0x2C63, 1, -3814}, {0x2C64, 0x2C64, 1, -10727},
    {0x2C67, 0x2C6B, 2, 1}, {0x2C6D, 0x2C6D, 1, -10780}, {0x2C6E, 0x2C6E, 1, -10749}, {0x2C6F, 0x2C6F, 1, -10783},
    {0x2C70, 0x2C70, 1, -10782}, {0x2C72, 0x2C72, 1, 1}, {0x2C75, 0x2C75, 1, 1}, {0x2C7E, 0x2C7F, 1, -10815},
    {0xFF21, 0xFF3A, 1, 32},
};

// Base letter of each precomposed code point ('.' = none, or not ASCII) for U+00C0..U+024F...
constexpr const char* kLatinBase =
    "AAAAAA.CEEEEIIII.NOOOOO..UUUUY..aaaaaa.ceeeeiiii.nooooo..uuuuy.y"  // U+00C0
    "AaAaAaCcCcCcCcDd..EeEeEeEeEeGgGgGgGgHh..IiIiIiIiI...JjKk.LlLlLl."  // U+0100
    "...NnNnNn...OoOoOo..RrRrRrSsSsSsSsTtTt..UuUuUuUuUuUuWwYyYZzZzZz."  // U+0140
    "................................Oo.............Uu..............."  // U+0180
    ".............AaIiOoUuUuUuUuUu.AaAa....GgKkOoOo..j...Gg..NnAa...."  // U+01C0
    "AaAaEeEeIiIiOoOoRrRrUuUuSsTt..Hh......AaEeOoOoOoOoYy............"  // U+0200
    "................";  // U+0240
// ...and Latin Extended Additional, U+1E00..U+1EFF.
constexpr const char* kLatinAdditionalBase =
    "AaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMm"  // U+1E00
    "MmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVv"  // U+1E40
    "WwWwWwWwWwXxXxYyZzZzZzhtwy......AaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEe"  // U+1E80
    "EeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy......";  // U+1EC0

// NFD-then-drop-marks results that are not ASCII letters, sorted.
constexpr Pair kStripPairs[] = {
    {0x01E2, 0x00C6}, {0x01E3, 0x00E6}, {0x01EE, 0x01B7}, {0x01EF, 0x0292}, {0x01FC, 0x00C6}, {0x01FD, 0x00E6},
    {0x01FE, 0x00D8}, {0x01FF, 0x00F8}, {0x0374, 0x02B9}, {0x037E, 0x003B}, {0x0385, 0x00A8}, {0x0386, 0x0391},
    {0x0387, 0x00B7}, {0x0388, 0x0395}, {0x0389, 0x0397}, {0x038A, 0x0399}, {0x038C, 0x039F}, {0x038E, 0x03A5},
    {0x038F, 0x03A9}, {0x0390, 0x03B9}, {0x03AA, 0x0399}, {0x03AB, 0x03A5}, {0x03AC, 0x03B1}, {0x03AD, 0x03B5},
    {0x03AE, 0x03B7}, {0x03AF, 0x03B9}, {0x03B0, 0x03C5}, {0x03CA, 0x03B9}, {0x03CB, 0x03C5}, {0x03CC, 0x03BF},
    {0x03CD, 0x03C5}, {0x03CE, 0x03C9}, {0x03D3, 0x03D2}, {0x03D4, 0x03D2}, {0x0400, 0x0415}, {0x0401, 0x0415},
    {0x0403, 0x0413}, {0x0407, 0x0406}, {0x040C, 0x041A}, {0x040D, 0x0418}, {0x040E, 0x0423}, {0x0419, 0x0418},
    {0x0439, 0x0438}, {0x0450, 0x0435}, {0x0451, 0x0435}, {0x0453, 0x0433}, {0x0457, 0x0456}, {0x045C, 0x043A},
    {0x045D, 0x0438}, {0x045E, 0x0443}, {0x0476, 0x0474}, {0x0477, 0x0475}, {0x04C1, 0x0416}, {0x04C2, 0x0436},
    {0x04D0, 0x0410}, {0x04D1, 0x0430}, {0x04D2, 0x0410}, {0x04D3, 0x0430}, {0x04D6, 0x0415}, {0x04D7, 0x0435},
    {0x04DA, 0x04D8}, {0x04DB, 0x04D9}, {0x04DC, 0x0416}, {0x04DD, 0x0436}, {0x04DE, 0x0417}, {0x04DF, 0x0437},
    {0x04E2, 0x0418}, {0x04E3, 0x0438}, {0x04E4, 0x0418}, {0x04E5, 0x0438}, {0x04E6, 0x041E}, {0x04E7, 0x043E},
    {0x04EA, 0x04E8}, {0x04EB, 0x04E9}, {0x04EC, 0x042D}, {0x04ED, 0x044D}, {0x04EE, 0x0423}, {0x04EF, 0x0443},
    {0x04F0, 0x0423}, {0x04F1, 0x0443}, {0x04F2, 0x0423}, {0x04F3, 0x0443}, {0x04F4, 0x0427}, {0x04F5, 0x0447},
    {0x04F8, 0x042B}, {0x04F9, 0x044B}, {0x1E9B, 0x017F}, {0x304C, 0x304B}, {0x304E, 0x304D}, {0x3050, 0x304F},
    {0x3052, 0x3051}, {0x3054, 0x3053}, {0x3056, 0x3055}, {0x3058, 0x3057}, {0x305A, 0x3059}, {0x305C, 0x305B},
    {0x305E, 0x305D}, {0x3060, 0x305F}, {0x3062, 0x3061}, {0x3065, 0x3064}, {0x3067, 0x3066}, {0x3069, 0x3068},
    {0x3070, 0x306F}, {0x3071, 0x306F}, {0x3073, 0x3072}, {0x3074, 0x3072}, {0x3076, 0x3075}, {0x3077, 0x3075},
    {0x3079, 0x3078}, {0x307A, 0x3078}, {0x307C, 0x307B}, {0x307D, 0x307B}, {0x3094, 0x3046}, {0x309E, 0x309D},
    {0x30AC, 0x30AB}, {0x30AE, 0x30AD}, {0x30B0, 0x30AF}, {0x30B2, 0x30B1}, {0x30B4, 0x30B3}, {0x30B6, 0x30B5},
    {0x30B8, 0x30B7}, {0x30BA, 0x30B9}, {0x30BC, 0x30BB}, {0x30BE, 0x30BD}, {0x30C0, 0x30BF}, {0x30C2, 0x30C1},
    {0x30C5, 0x30C4}, {0x30C7, 0x30C6}, {0x30C9, 0x30C8}, {0x30D0, 0x30CF}, {0x30D1, 0x30CF}, {0x30D3, 0x30D2},
    {0x30D4, 0x30D2}, {0x30D6, 0x30D5}, {0x30D7, 0x30D5}, {0x30D9, 0x30D8}, {0x30DA, 0x30D8}, {0x30DC, 0x30DB},
    {0x30DD, 0x30DB}, {0x30F4, 0x30A6}, {0x30F7, 0x30EF}, {0x30F8, 0x30F0}, {0x30F9, 0x30F1}, {0x30FA, 0x30F2},
    {0x30FE, 0x30FD},
};

constexpr Range kCombiningMarks[] = {  // Mn
    {0x0300, 0x036F}, {0x0483, 0x0487}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2}, {0x05C4, 0x05C5},
    {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670}, {0x06D6, 0x06DC}, {0x06DF, 0x06E4},
    {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x1AB0, 0x1ABD}, {0x1ABF, 0x1ACE}, {0x1DC0, 0x1DFF}, {0x20D0, 0x20DC},
    {0x20E1, 0x20E1}, {0x20E5, 0x20F0}, {0x302A, 0x302D}, {0x3099, 0x309A}, {0xFE20, 0xFE2F},
};

constexpr Range kPunctuation[] = {  // P* above ASCII, BMP
    {0x00A1, 0x00A1}, {0x00A7, 0x00A7}, {0x00AB, 0x00AB}, {0x00B6, 0x00B7}, {0x00BB, 0x00BB}, {0x00BF, 0x00BF},
    {0x037E, 0x037E}, {0x0387, 0x0387}, {0x055A, 0x055F}, {0x0589, 0x058A}, {0x05BE, 0x05BE}, {0x05C0, 0x05C0},
    {0x05C3, 0x05C3}, {0x05C6, 0x05C6}, {0x05F3, 0x05F4}, {0x0609, 0x060A}, {0x060C, 0x060D}, {0x061B, 0x061B},
    {0x061D, 0x061F}, {0x066A, 0x066D}, {0x06D4, 0x06D4}, {0x0700, 0x070D}, {0x07F7, 0x07F9}, {0x0830, 0x083E},
    {0x085E, 0x085E}, {0x0964, 0x0965}, {0x0970, 0x0970}, {0x09FD, 0x09FD}, {0x0A76, 0x0A76}, {0x0AF0, 0x0AF0},
    {0x0C77, 0x0C77}, {0x0C84, 0x0C84}, {0x0DF4, 0x0DF4}, {0x0E4F, 0x0E4F}, {0x0E5A, 0x0E5B}, {0x0F04, 0x0F12},
    {0x0F14, 0x0F14}, {0x0F3A, 0x0F3D}, {0x0F85, 0x0F85}, {0x0FD0, 0x0FD4}, {0x0FD9, 0x0FDA}, {0x104A, 0x104F},
    {0x10FB, 0x10FB}, {0x1360, 0x1368}, {0x1400, 0x1400}, {0x166E, 0x166E}, {0x169B, 0x169C}, {0x16EB, 0x16ED},
    {0x1735, 0x1736}, {0x17D4, 0x17D6}, {0x17D8, 0x17DA}, {0x1800, 0x180A}, {0x1944, 0x1945}, {0x1A1E, 0x1A1F},
    {0x1AA0, 0x1AA6}, {0x1AA8, 0x1AAD}, {0x1B5A, 0x1B60}, {0x1B7D, 0x1B7E}, {0x1BFC, 0x1BFF}, {0x1C3B, 0x1C3F},
    {0x1C7E, 0x1C7F}, {0x1CC0, 0x1CC7}, {0x1CD3, 0x1CD3}, {0x2010, 0x2027}, {0x2030, 0x2043}, {0x2045, 0x2051},
    {0x2053, 0x205E}, {0x207D, 0x207E}, {0x208D, 0x208E}, {0x2308, 0x230B}, {0x2329, 0x232A}, {0x2768, 0x2775},
    {0x27C5, 0x27C6}, {0x27E6, 0x27EF}, {0x2983, 0x2998}, {0x29D8, 0x29DB}, {0x29FC, 0x29FD}, {0x2CF9, 0x2CFC},
    {0x2CFE, 0x2CFF}, {0x2D70, 0x2D70}, {0x2E00, 0x2E2E}, {0x2E30, 0x2E4F}, {0x2E52, 0x2E5D}, {0x3001, 0x3003},
    {0x3008, 0x3011}, {0x3014, 0x301F}, {0x3030, 0x3030}, {0x303D, 0x303D}, {0x30A0, 0x30A0}, {0x30FB, 0x30FB},
    {0xA4FE, 0xA4FF}, {0xA60D, 0xA60F}, {0xA673, 0xA673}, {0xA67E, 0xA67E}, {0xA6F2, 0xA6F7}, {0xA874, 0xA877},
    {0xA8CE, 0xA8CF}, {0xA8F8, 0xA8FA}, {0xA8FC, 0xA8FC}, {0xA92E, 0xA92F}, {0xA95F, 0xA95F}, {0xA9C1, 0xA9CD},
    {0xA9DE, 0xA9DF}, {0xAA5C, 0xAA5F}, {0xAADE, 0xAADF}, {0xAAF0, 0xAAF1}, {0xABEB, 0xABEB}, {0xFD3E, 0xFD3F},
    {0xFE10, 0xFE19}, {0xFE30, 0xFE52}, {0xFE54, 0xFE61}, {0xFE63, 0xFE63}, {0xFE68, 0xFE68}, {0xFE6A, 0xFE6B},
    {0xFF01, 0xFF03}, {0xFF05, 0xFF0A}, {0xFF0C, 0xFF0F}, {0xFF1A, 0xFF1B}, {0xFF1F, 0xFF20}, {0xFF3B, 0xFF3D},
    {0xFF3F, 0xFF3F}, {0xFF5B, 0xFF5B}, {0xFF5D, 0xFF5D}, {0xFF5F, 0xFF65},
};

constexpr Range kFormat[] = {  // Cf
    {0x00AD, 0x00AD}, {0x0600, 0x0605}, {0x061C, 0x061C}, {0x06DD, 0x06DD}, {0x070F, 0x070F},
    {0x0890, 0x0891}, {0x08E2, 0x08E2}, {0x180E, 0x180E}, {0x200B, 0x200F}, {0x202A, 0x202E},
    {0x2060, 0x2064}, {0x2066, 0x206F}, {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0x110BD, 0x110BD},
    {0x110CD, 0x110CD}, {0x13430, 0x13438}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
    {0xE0020, 0xE007F},
};

template <size_t N>
bool in_ranges(const Range (&ranges)[N], char32_t cp) {
  const auto it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                                   [](char32_t c, const Range& r) { return c < r.first; });
  return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

bool is_whitespace(char32_t cp) {  // BERT's _is_whitespace: \t \n \r and Zs
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool is_control(char32_t cp) {  // BERT's _is_control: category C* except \t \n \r
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0xD800 && cp <= 0xF8FF) ||  // Cc, Cs, Co
         cp >= 0xF0000 || in_ranges(kFormat, cp);
}

bool is_punctuation(char32_t cp) {
  // BERT counts all non-alphanumeric ASCII as punctuation ("$", "^", "`" are not P* in Unicode).
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return cp >= 0x80 && in_ranges(kPunctuation, cp);
}

bool is_cjk(char32_t cp) {  // the CJK Unified Ideographs blocks, exactly as BERT's _is_chinese_char
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
         (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Python's str.split() also breaks at the line/paragraph separators, which are not Zs.
bool is_separator(char32_t cp) { return cp == ' ' || cp == 0x2028 || cp == 0x2029; }

char32_t to_lower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp == 0x130) return 'i';
  const auto it = std::upper_bound(std::begin(kLowerRuns), std::end(kLowerRuns), cp,
                                   [](char32_t c, const CaseRun& r) { return c < r.first; });
  if (it == std::begin(kLowerRuns)) return cp;
  const auto& run = *std::prev(it);
  if (cp > run.last || (cp - run.first) % run.step != 0) return cp;
  return static_cast<char32_t>(static_cast<int64_t>(cp) + run.delta);
}

// Rough "cased letter" test for the final-sigma rule: Latin, Greek, Cyrillic and fullwidth letters.
bool is_cased(char32_t cp) {
  return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') ||
         (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x386 && cp <= 0x3FF && cp != 0x387) ||
         (cp >= 0x400 && cp <= 0x52F && !(cp >= 0x482 && cp <= 0x489)) || (cp >= 0x1E00 && cp <= 0x1FFF) ||
         (cp >= 0xFF21 && cp <= 0xFF3A) || (cp >= 0xFF41 && cp <= 0xFF5A);
}

std::u32string lower_word(const std::u32string& word) {
  // Python's final-sigma rule looks past case-ignorable characters; combining marks stand in for them.
  const auto cased_at = [&](size_t i, int step) {
    for (; i < word.size(); i += step)
      if (!in_ranges(kCombiningMarks, word[i])) return is_cased(word[i]);
    return false;
  };
  std::u32string out(word.size(), 0);
  for (size_t i = 0; i < word.size(); ++i) {
    // Python lower-cases a capital sigma that ends a word to the final form.
    if (word[i] == 0x3A3 && i > 0 && cased_at(i - 1, -1) && !cased_at(i + 1, 1))
      out[i] = 0x3C2;
    else
      out[i] = to_lower(word[i]);
  }
  return out;
}

// NFD of one code point with the combining marks (Mn) dropped.
void append_stripped(std::u32string& out, char32_t cp) {
  if (cp < 0xC0) {
    out.push_back(cp);
    return;
  }
  if (cp >= 0xAC00 && cp <= 0xD7A3) {  // Hangul syllable -> leading, vowel (, trailing) jamo
    const char32_t s = cp - 0xAC00;
    out.push_back(0x1100 + s / 588);
    out.push_back(0x1161 + (s % 588) / 28);
    if (s % 28 != 0) out.push_back(0x11A7 + s % 28);
    return;
  }
  if (in_ranges(kCombiningMarks, cp)) return;
  char base = '.';
  if (cp <= 0x24F) base = kLatinBase[cp - 0xC0];
  if (cp >= 0x1E00 && cp <= 0x1EFF) base = kLatinAdditionalBase[cp - 0x1E00];
  if (base != '.') {
    out.push_back(static_cast<char32_t>(base));
    return;
  }
  const auto it = std::lower_bound(std::begin(kStripPairs), std::end(kStripPairs), cp,
                                   [](const Pair& p, char32_t c) { return p.from < c; });
  out.push_back(it != std::end(kStripPairs) && it->from == cp ? it->to : cp);
}

// Invalid bytes become U+FFFD, which cleaning then drops (BERT never sees them: Python decodes first).
std::u32string decode_utf8(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    char32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    bool ok = len > 0 && i + len <= n;
    for (int k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (ok && (cp < kMinimum[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    out.push_back(ok ? cp : 0xFFFD);
    i += ok ? len : 1;
  }
  return out;
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(const std::string& text) {
  const auto cps = decode_utf8(text);
  std::string round;
  for (char32_t cp : cps) append_utf8(round, cp);
  return round == text;
}

// BERT's BasicTokenizer: clean, space out CJK ideographs, split on whitespace, (lower-case and
// strip accents,) then cut every punctuation character out as its own word.
std::vector<std::u32string> basic_tokenize(const std::string& text, bool lower_case) {
  std::u32string cleaned;
  for (char32_t cp : decode_utf8(text)) {
    if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
    if (is_whitespace(cp)) {
      cleaned.push_back(' ');
    } else if (is_cjk(cp)) {
      cleaned += {U' ', cp, U' '};
    } else {
      cleaned.push_back(cp);
    }
  }
  std::vector<std::u32string> words;
  size_t i = 0;
  while (i < cleaned.size()) {
    if (is_separator(cleaned[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < cleaned.size() && !is_separator(cleaned[end])) ++end;
    std::u32string word = cleaned.substr(i, end - i);
    i = end;
    if (lower_case) {
      std::u32string stripped;
      for (char32_t cp : lower_word(word)) append_stripped(stripped, cp);
      word.swap(stripped);
    }
    bool start_new = true;
    for (char32_t cp : word) {
      if (is_punctuation(cp)) {
        words.push_back(std::u32string(1, cp));
        start_new = true;
      } else {
        if (start_new) words.emplace_back();
        words.back().push_back(cp);
        start_new = false;
      }
    }
  }
  return words;
}

}  // namespace selfsup::clip
