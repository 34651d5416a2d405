// The registries: every built-in task and method is registered once, a recipe carries every
// registered section, copies of a recipe do not share them, and unknown names are errors that
// list the known ones.
#include <gtest/gtest.h>

#include "selfsup/clip/config.h"
#include "selfsup/diffusion/config.h"
#include "selfsup/ssl/methods/barlow_twins.h"
#include "selfsup/ssl/methods/moco.h"
#include "selfsup/ssl/registry.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/task.h"
#include "test_util.h"

using namespace selfsup;
using test_util::contains;
using test_util::error_message;

TEST(Registry, EveryBuiltInTaskIsRegistered) {
  EXPECT_EQ(train::task_type_names(), "ssl, clip, diffusion, noisy_classifier or classifier");
  for (const char* name : {"ssl", "clip", "diffusion", "noisy_classifier", "classifier"})
    EXPECT_NE(train::find_task_type(name), nullptr) << name;
  EXPECT_EQ(train::find_task_type("gan"), nullptr);
}

TEST(Registry, EveryMethodHasItsSettingsSection) {
  EXPECT_EQ(ssl::method_names(),
            "moco, moco_v3, dino, swav, cpc, cmc, instdisc, invaspread, simclr, byol, simsiam, barlow_twins");
  const ssl::MethodConfig config;
  for (const auto& type : ssl::method_types()) EXPECT_TRUE(config.settings.contains(type.section)) << type.name;
  EXPECT_EQ(ssl::find_method_type("barlow_twins")->section, "barlow");  // the name and the section may differ
}

TEST(Registry, RecipeCopiesDoNotShareSections) {
  Recipe a;
  a.section<ssl::MethodConfig>().get<ssl::MocoConfig>().queue_size = 123;
  a.section<clip::ClipConfig>().embed_dim = 7;
  Recipe b = a;
  b.section<ssl::MethodConfig>().get<ssl::MocoConfig>().queue_size = 456;
  b.section<diffusion::DiffusionConfig>().timesteps = 9;
  EXPECT_EQ(a.section<ssl::MethodConfig>().get<ssl::MocoConfig>().queue_size, 123);
  EXPECT_EQ(b.section<clip::ClipConfig>().embed_dim, 7);
  EXPECT_EQ(a.section<diffusion::DiffusionConfig>().timesteps, 1000);
}

TEST(Registry, SectionsReadFromYaml) {
  const auto r = parse_recipe("method: {name: barlow_twins, barlow: {lambda: 0.01}}\nclip: {embed_dim: 64}", "inline");
  EXPECT_DOUBLE_EQ(ssl::method_settings<ssl::BarlowConfig>(r).lambda, 0.01);
  EXPECT_EQ(clip::clip_config(r).embed_dim, 64);
}

TEST(Registry, UnknownNamesListTheKnownOnes) {
  auto msg = error_message([] { parse_recipe("task: gan", "inline"); });
  EXPECT_TRUE(contains(msg, "inline: task: expected ssl, clip, diffusion, noisy_classifier or classifier, got 'gan'"))
      << msg;
  msg = error_message([] { parse_recipe("method: {name: mocov2}", "inline"); });
  EXPECT_TRUE(contains(msg, "inline: method.name: unknown method 'mocov2' (expected one of moco, moco_v3,")) << msg;
  msg = error_message([] { parse_recipe("method: {mocov2: {}}", "inline"); });
  EXPECT_TRUE(contains(msg, "inline: method.mocov2: unknown key")) << msg;
}

TEST(Registry, ValidationRunsTheMethodsOwnChecks) {
  const auto msg = error_message([] {
    parse_recipe("method: {name: moco, moco: {queue_size: 100}}\ntrain: {batch_size: 64}", "inline");
  });
  EXPECT_TRUE(contains(msg, "inline: method.moco.queue_size: expected a positive multiple of train.batch_size (64)"))
      << msg;
}
