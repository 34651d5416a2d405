// The emoji image-text dataset, CLIP's default data (no download at run time): ~3,800 emoji and
// skin-tone variants drawn by four artists (apple, google, twitter, facebook) as 64 px PNGs from
// the emoji-datasource npm packages, captioned with their Unicode names, emojibase labels, short
// names and keywords. scripts/setup-deps.sh (scripts/fetch-emoji.sh) puts them under
// ${SELFSUP_DATA_DIR:-/usr/local/share/selfsup}/emoji:
//   emoji-datasource-<artist>/emoji.json, emoji-datasource-<artist>/img/<artist>/64/<image>.png
//   emojibase-data/en/data.json
// The evaluation protocol trains on three artists and evaluates on the fourth, held out
// entirely: the same content in a style never seen.
#pragma once

#include "selfsup/data/captions.h"

#include <string>
#include <vector>

namespace selfsup::data {

// ${SELFSUP_DATA_DIR}/emoji when that variable is set, else /usr/local/share/selfsup/emoji.
std::string default_emoji_root();

// The artists the packages provide: apple, google, twitter, facebook.
const std::vector<std::string>& emoji_artists();

// One image per (emoji, or skin-tone variant when include_skin_tones) x artist whose emoji.json
// has_img_<artist> is set, artist by artist in the given order, each in emoji.json order (an emoji,
// then its variants). image_size 0 keeps 64 px; transparency is composited onto white.
//
// Content id: the emoji or variant's position in that enumeration of the whole emoji.json, so it
// is the same across artists, artist lists and include_skin_tones. Label: emoji.json's category;
// class_names are all its categories, sorted.
//
// Captions of a content id (lower-cased, deduplicated, in this order):
//   emoji.json name                  "grinning face", "heavy black heart"
//   emojibase label                  "grinning face", "red heart"
//   each short name, _ -> space      "grinning", "heart"
//   emojibase tags joined by ", "    "cheerful, cheery, face, grin, grinning, happy, ..."
// A skin-tone variant gets emojibase's label for it ("waving hand: medium-dark skin tone") and the
// base's name, label and short names followed by ": <tones>", and its tags followed by
// ", <tones>", with tones spelled as Unicode does (1F3FB light, 1F3FC medium-light, 1F3FD medium,
// 1F3FE medium-dark, 1F3FF dark skin tone; "1F3FB-1F3FC" -> "light skin tone, medium-light skin
// tone"; the same tone twice is said once). A caption text that several content ids would share
// ("cat" is both the cat and the cat face) is dropped from all of them, so every caption names
// exactly one content; captions are listed only for content ids that have an image here.
// emojibase entries match emoji.json by code points, ignoring case and FE0F.
//
// Label protocol (CaptionDataset::image_label etc.): an image's label is emojibase's label of its
// emoji or variant, else emoji.json's name (+ ": <tones>" for a variant). unseen_names (in [0, 1))
// holds that fraction of the emoji — each with all its skin-tone variants, chosen by a fixed hash
// of the content id — out of training: with training = true their images and captions are left
// out; with training = false they are kept and marked in image_unseen.
//
// Metadata comes from the first artist's emoji.json (the packages ship identical files). Throws
// selfsup::Error naming the file when a package or an image is missing or the JSON is malformed.
CaptionDataset load_emoji(const std::string& root, const std::vector<std::string>& artists,
                          int64_t image_size, bool include_skin_tones, double unseen_names = 0,
                          bool training = true);

}  // namespace selfsup::data
