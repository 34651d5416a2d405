// Recipe parsing: defaults, overrides, rejection of unknown keys and wrong types, round trip.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"
#include "selfsup/ssl/methods/moco.h"
#include "selfsup/train/recipe.h"
#include "test_util.h"

using namespace selfsup;
using test_util::error_message;

namespace {

const std::string kRecipes = std::string(SELFSUP_SOURCE_DIR) + "/recipes/";

}  // namespace

TEST(Config, ReadsValuesAndKeepsDefaults) {
  const auto r = parse_recipe("name: x\ntrain: {epochs: 7, optimizer: {lr: 0.5}}\n", "t.yaml");
  EXPECT_EQ(r.name, "x");
  EXPECT_EQ(r.train.epochs, 7);
  EXPECT_DOUBLE_EQ(r.train.optimizer.lr, 0.5);
  EXPECT_DOUBLE_EQ(r.train.optimizer.momentum, 0.9);  // default kept
  EXPECT_EQ(r.augment.views.size(), 2u);
}

TEST(Config, UnknownKeyNamesItsPath) {
  const auto msg = error_message([] { parse_recipe("train: {optimiser: {lr: 1}}\n", "t.yaml"); });
  EXPECT_NE(msg.find("t.yaml: train.optimiser: unknown key"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesItsPath) {
  const auto msg = error_message([] { parse_recipe("train: {epochs: many}\n", "t.yaml"); });
  EXPECT_NE(msg.find("t.yaml: train.epochs: expected an integer, got 'many'"), std::string::npos) << msg;
  const auto msg2 = error_message([] { parse_recipe("augment: {views: [{crop: {scale: [0.2, x]}}, {}]}\n", "t.yaml"); });
  EXPECT_NE(msg2.find("augment.views.0.crop.scale.1: expected a list of numbers"), std::string::npos) << msg2;
  const auto msg3 = error_message([] { parse_recipe("model: 3\n", "t.yaml"); });
  EXPECT_NE(msg3.find("model: expected a mapping"), std::string::npos) << msg3;
}

TEST(Config, InvalidYamlNamesTheLine) {
  const auto msg = error_message([] { parse_recipe("name: a\ntrain: {epochs: [\n", "bad.yaml"); });
  EXPECT_NE(msg.find("bad.yaml: line"), std::string::npos) << msg;
}

// Found by fuzz/fuzz_recipe.cpp: a YAML error quoting a line break printed two lines.
TEST(Config, ErrorMessagesAreOneLine) {
  EXPECT_STREQ(Error("a.yaml: bad\nthing\r\n").what(), "a.yaml: bad thing  ");
}

// Found by fuzz/fuzz_recipe.cpp: YAML's complex keys (`? ...`) escaped as yaml-cpp's "bad conversion".
TEST(Config, KeysThatAreNotNamesAreErrors) {
  EXPECT_EQ(error_message([] { parse_recipe("train:\n  ? {a: 1}\n  : 3\n", "k.yaml"); }),
            "k.yaml: train: a key that is a mapping (line 2): keys are plain names");
}

// Found by fuzz/fuzz_recipe.cpp: descending into a value escaped as a yaml-cpp exception, and a list
// position too long for std::stoul as std::out_of_range.
TEST(Config, OverrideIntoAValueOrAListIsAnError) {
  EXPECT_EQ(error_message([] { parse_recipe("train: 5\n", "t.yaml", {"train.epochs=3"}); }),
            "override 'train.epochs=3': 'train' is a value, not a section");
  EXPECT_EQ(error_message([] { parse_recipe("7\n", "t.yaml", {"train.epochs=3"}); }),
            "override 'train.epochs=3': the recipe is a value, not a section");
  EXPECT_EQ(error_message([] { parse_recipe("augment: {views: [{}, {}]}\n", "t.yaml",
                                            {"augment.views.99999999999999999999.flip=0"}); }),
            "override 'augment.views.99999999999999999999.flip=0': 'augment.views' is a list (give an item number), not a section");
}

TEST(Config, OverridesWithDottedPaths) {
  const auto r = parse_recipe("train: {epochs: 3}\naugment: {views: [{}, {}]}\n", "t.yaml",
                              {"train.epochs=9", "method.moco.temperature=0.5", "augment.views.1.crop.scale=[0.5, 1]",
                               "name=over"});
  EXPECT_EQ(r.train.epochs, 9);
  EXPECT_DOUBLE_EQ(ssl::method_settings<ssl::MocoConfig>(r).temperature, 0.5);
  EXPECT_EQ(r.augment.views[1].crop.scale, (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(r.name, "over");
  const auto msg = error_message([] { parse_recipe("", "t.yaml", {"train.epohcs=3"}); });
  EXPECT_NE(msg.find("train.epohcs: unknown key"), std::string::npos) << msg;
  EXPECT_NE(error_message([] { parse_recipe("", "t.yaml", {"noequals"}); }).find("expected key=value"), std::string::npos);
}

TEST(Config, OverrideOfAnAliasedViewChangesOnlyThatView) {
  const auto r = parse_recipe("augment:\n  views:\n    - &v {crop: {size: 20}}\n    - *v\n", "t.yaml",
                              {"augment.views.1.crop.size=12"});
  EXPECT_EQ(r.augment.views[0].crop.size, 20);
  EXPECT_EQ(r.augment.views[1].crop.size, 12);
}

TEST(Config, CrossFieldValidation) {
  const auto msg = error_message([] { parse_recipe("train: {batch_size: 100}\nmethod: {moco: {queue_size: 4096}}\n", "t.yaml"); });
  EXPECT_NE(msg.find("method.moco.queue_size"), std::string::npos) << msg;
  const auto msg2 = error_message([] { parse_recipe("method: {name: nope}\n", "t.yaml"); });
  EXPECT_NE(msg2.find("method.name: unknown method 'nope'"), std::string::npos) << msg2;
}

TEST(Config, ResolvedRecipeRoundTrips) {
  auto r = load_recipe(kRecipes + "moco_v2_fmnist.yaml", {"train.optimizer.lr=0.123456789"});
  const std::string yaml = recipe_to_yaml(r);
  const auto back = parse_recipe(yaml, "resolved");
  EXPECT_EQ(recipe_to_yaml(back), yaml);
  EXPECT_DOUBLE_EQ(back.train.optimizer.lr, 0.123456789);
  EXPECT_EQ(back.augment.views[1].mean, r.augment.views[1].mean);
}

TEST(Config, EveryShippedRecipeLoadsAndEveryFieldIsDocumented) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kRecipes)) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(load_recipe(entry.path().string())) << entry.path();
    ++count;
  }
  EXPECT_GT(count, 20);
  Recipe r;
  const auto doc = config::describe(r);
  EXPECT_NE(doc.find("`method.moco.queue_size`"), std::string::npos);
  EXPECT_NE(doc.find("`augment.views.N.crop.scale`"), std::string::npos);
  EXPECT_EQ(doc.find("|  |"), std::string::npos) << "a field without documentation";
}

TEST(Config, RunNameIsOneFolderName) {
  for (const char* bad : {"''", ".", "..", "../x", "/abs", "a/b"}) {
    const auto msg = error_message([&] { parse_recipe(std::string("name: ") + bad, "inline"); });
    EXPECT_NE(msg.find("inline: name: expected one plain folder name"), std::string::npos) << bad << ": " << msg;
  }
  EXPECT_EQ(parse_recipe("name: moco_v2.run-1", "inline").name, "moco_v2.run-1");
}

TEST(Config, DuplicatedKeysAndEmptyRecipeFilesAreErrors) {
  auto msg = error_message([] { parse_recipe("train:\n  epochs: 3\n  epochs: 5\n", "t.yaml"); });
  EXPECT_NE(msg.find("t.yaml: train.epochs: duplicated key (line 3)"), std::string::npos) << msg;
  msg = error_message([] { parse_recipe("seed: 1\nseed: 2\n", "t.yaml"); });
  EXPECT_NE(msg.find("t.yaml: seed: duplicated key (line 2)"), std::string::npos) << msg;
  test_util::TempDir dir;
  std::ofstream(dir / "empty.yaml") << "# only a comment\n";
  msg = error_message([&] { load_recipe(dir / "empty.yaml"); });
  EXPECT_EQ(msg, dir / "empty.yaml" + ": empty recipe: expected YAML sections (task, data, model, ...)");
}

namespace {

// Every numeric field of a recipe with its dotted key: those with a declared range, and the reals.
struct FieldCollector : config::Visitor {
  std::string path;
  std::vector<std::pair<std::string, config::Range>>* ranged;
  std::vector<std::string>* reals;
  FieldCollector(std::string p, std::vector<std::pair<std::string, config::Range>>* r, std::vector<std::string>* d)
      : path(std::move(p)), ranged(r), reals(d) {}
  std::string key(const char* k) const { return path.empty() ? k : path + "." + k; }
  void operator()(const char*, bool&, const char*) override {}
  void operator()(const char*, int64_t&, const char*) override {}
  void operator()(const char* k, double&, const char*) override { reals->push_back(key(k)); }
  void operator()(const char*, std::string&, const char*) override {}
  void operator()(const char* k, std::vector<double>&, const char*) override {}
  void operator()(const char*, std::vector<std::string>&, const char*) override {}
  void operator()(const char* k, int64_t&, const char*, const config::Range& r) override { ranged->push_back({key(k), r}); }
  void operator()(const char* k, double&, const char*, const config::Range& r) override {
    ranged->push_back({key(k), r});
    reals->push_back(key(k));
  }
  void section(const char* k, config::SectionRef& s, const char*) override {
    FieldCollector child(key(k), ranged, reals);
    s.visit(child);
  }
  void section_list(const char* k, config::SectionListRef& list, const char*) override {
    if (list.size() == 0) return;
    FieldCollector child(key(k) + ".0", ranged, reals);
    list.visit_item(0, child);
  }
};

}  // namespace

// The range declared beside each field in its visit() is what reading a recipe enforces: every
// ranged field rejects a value just outside it, every real-valued field rejects NaN.
TEST(Config, EveryFieldRejectsValuesOutsideItsRange) {
  auto recipe = load_recipe(test_util::kTinyRecipe);
  std::vector<std::pair<std::string, config::Range>> ranged;
  std::vector<std::string> reals;
  FieldCollector collector("", &ranged, &reals);
  recipe.visit(collector);
  EXPECT_GT(ranged.size(), 120u);
  for (const auto& [key, range] : ranged) {
    const double outside = range.min > -config::kInf ? (range.min_open ? range.min : range.min - 1) : range.max + 1;
    std::ostringstream value;
    value << outside;
    const std::string assignment = key + "=" + value.str();  // C++17 lambdas cannot capture bindings
    const auto msg = error_message([&] { load_recipe(test_util::kTinyRecipe, {assignment}); });
    EXPECT_NE(msg.find(key + ": expected a number " + range.text() + ", got '" + value.str() + "'"), std::string::npos)
        << key << " = " << value.str() << ": " << msg;
  }
  for (const auto& key : reals) {
    const auto msg = error_message([&] { load_recipe(test_util::kTinyRecipe, {key + "=.nan"}); });
    EXPECT_NE(msg.find(key + ": expected a finite number"), std::string::npos) << key << ": " << msg;
  }
}
