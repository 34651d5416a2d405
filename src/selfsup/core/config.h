// Recipes are data: each config struct lists its fields once, in visit(), with a doc string.
// The same list reads YAML (rejecting unknown keys and wrong types with the key's dotted path),
// writes the resolved recipe back as YAML, and prints the field reference (docs/recipes.md).
//
//   struct CropConfig {
//     int64_t size = 0;
//     void visit(config::Visitor& v) { v("size", size, "output side in pixels; 0 keeps the input size"); }
//   };
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace selfsup::config {

class Visitor;

inline constexpr double kInf = std::numeric_limits<double>::infinity();

// The valid values of a numeric field, declared beside it in visit(): v("lr", lr, "doc", positive).
// Values read outside it are errors naming the key; the recipe reference lists it.
struct Range {
  double min = -kInf, max = kInf;
  bool min_open = false, max_open = false;  // exclusive bounds
  bool contains(double v) const;            // never for NaN
  std::string text() const;                 // "> 0", ">= 1", "in [0, 1)"
};
inline constexpr Range positive{0, kInf, true, false};
inline constexpr Range non_negative{0, kInf, false, false};
inline constexpr Range at_least_one{1, kInf, false, false};
inline constexpr Range unit_interval{0, 1, false, false};  // [0, 1]
inline constexpr Range probability{0, 1, false, true};     // [0, 1): a rate that may not be certain
constexpr Range at_least(double min) { return {min, kInf, false, false}; }
constexpr Range between(double min, double max) { return {min, max, false, false}; }

// Anything with a visit(Visitor&) member can be a nested section.
struct SectionRef {
  virtual ~SectionRef() = default;
  virtual void visit(Visitor& v) = 0;
};

// A section whose type only a higher layer knows: a task's settings (clip, diffusion) or a method's
// (method.moco). The recipe holds it through a base pointer and copies it with clone().
struct DynamicSection : SectionRef {
  virtual std::unique_ptr<DynamicSection> clone() const = 0;
};

// Base of a concrete dynamic section: struct MocoConfig : config::DynamicSectionOf<MocoConfig> {...}.
template <class T>
struct DynamicSectionOf : DynamicSection {
  std::unique_ptr<DynamicSection> clone() const override { return std::make_unique<T>(static_cast<const T&>(*this)); }
};

// Named dynamic sections in the order they were added, deep-copied with their owner.
class SectionSet {
 public:
  SectionSet() = default;
  SectionSet(const SectionSet& other) { *this = other; }
  SectionSet& operator=(const SectionSet& other);
  SectionSet(SectionSet&&) = default;
  SectionSet& operator=(SectionSet&&) = default;

  void add(std::string key, std::string doc, std::unique_ptr<DynamicSection> section);
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  // The section under `key` as a T; throws selfsup::Error when there is none of that type.
  template <class T>
  T& get(const std::string& key) const {
    if (auto* section = dynamic_cast<T*>(find(key))) return *section;
    missing(key);
  }
  // Visits every section as v.section(key, section, doc).
  void visit(Visitor& v);

 private:
  DynamicSection* find(const std::string& key) const;
  [[noreturn]] void missing(const std::string& key) const;
  struct Entry {
    std::string key, doc;
    std::unique_ptr<DynamicSection> section;
  };
  std::vector<Entry> entries_;
};

// A list of sections (e.g. one augmentation pipeline per view).
struct SectionListRef {
  virtual ~SectionListRef() = default;
  virtual size_t size() const = 0;
  virtual void resize(size_t n) = 0;
  virtual void visit_item(size_t i, Visitor& v) = 0;
};

class Visitor {
 public:
  virtual ~Visitor() = default;
  virtual void operator()(const char* key, bool& value, const char* doc) = 0;
  virtual void operator()(const char* key, int64_t& value, const char* doc) = 0;
  virtual void operator()(const char* key, double& value, const char* doc) = 0;
  virtual void operator()(const char* key, std::string& value, const char* doc) = 0;
  virtual void operator()(const char* key, std::vector<double>& value, const char* doc) = 0;
  virtual void operator()(const char* key, std::vector<std::string>& value, const char* doc) = 0;
  virtual void section(const char* key, SectionRef& section, const char* doc) = 0;
  virtual void section_list(const char* key, SectionListRef& list, const char* doc) = 0;
  // Numbers with their valid range; visitors that do not check or show ranges ignore it.
  virtual void operator()(const char* key, int64_t& value, const char* doc, const Range& range) {
    (*this)(key, value, doc);
  }
  virtual void operator()(const char* key, double& value, const char* doc, const Range& range) {
    (*this)(key, value, doc);
  }

  template <class T>
  void section(const char* key, T& value, const char* doc) {
    struct Ref : SectionRef {
      T& t;
      explicit Ref(T& t_) : t(t_) {}
      void visit(Visitor& v) override { t.visit(v); }
    } ref(value);
    section(key, static_cast<SectionRef&>(ref), doc);
  }

  template <class T>
  void list(const char* key, std::vector<T>& values, const char* doc) {
    struct Ref : SectionListRef {
      std::vector<T>& items;
      explicit Ref(std::vector<T>& i) : items(i) {}
      size_t size() const override { return items.size(); }
      void resize(size_t n) override { items.resize(n); }
      void visit_item(size_t i, Visitor& v) override { items[i].visit(v); }
    } ref(values);
    section_list(key, ref, doc);
  }
};

// Fills `target` from a YAML node. Keys absent from the node keep their defaults; unknown keys and
// wrong types throw selfsup::Error naming `origin` (usually the file) and the dotted key path.
template <class T>
void from_yaml(const YAML::Node& node, T& target, const std::string& origin);
// Serialises `target` to YAML text (every field, defaults included).
template <class T>
std::string to_yaml(T& target);
// A Markdown reference of every field: dotted key, default, doc.
template <class T>
std::string describe(T& target);

// Applies `a.b.c=value` overrides to a parsed YAML tree (value parsed as YAML, so lists work:
// augment.views.0.crop.scale=[0.2,1]). Validation of the key happens when the tree is read.
void apply_override(YAML::Node& root, const std::string& assignment);

// A copy of the tree in which every YAML alias (*name) is its own node. Without it an override of
// augment.views.1 would also change views.0 when the recipe wrote `- *view` (yaml-cpp shares the node).
YAML::Node expand_aliases(const YAML::Node& node);

// Non-template cores of the functions above.
void read_section(const YAML::Node& node, SectionRef& section, const std::string& origin);
std::string write_section(SectionRef& section);
std::string describe_section(SectionRef& section);

template <class T>
struct Adapter : SectionRef {
  T& t;
  explicit Adapter(T& t_) : t(t_) {}
  void visit(Visitor& v) override { t.visit(v); }
};

template <class T>
void from_yaml(const YAML::Node& node, T& target, const std::string& origin) {
  Adapter<T> ref(target);
  read_section(node, ref, origin);
}
template <class T>
std::string to_yaml(T& target) {
  Adapter<T> ref(target);
  return write_section(ref);
}
template <class T>
std::string describe(T& target) {
  Adapter<T> ref(target);
  return describe_section(ref);
}

}  // namespace selfsup::config
