#include "selfsup/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>

#include "selfsup/core/error.h"

namespace selfsup::config {
namespace {

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    default: return "'" + n.Scalar() + "'";
  }
}

// Reads each visited field from a YAML mapping; remembers which keys it consumed so the rest can
// be reported as unknown.
class Reader : public Visitor {
 public:
  Reader(const YAML::Node& node, std::string path, std::string origin)
      : node_(node), path_(std::move(path)), origin_(std::move(origin)) {
    if (node_ && !node_.IsNull() && !node_.IsMap())
      fail(path_.empty() ? "<top level>" : path_, "expected a mapping, got " + type_name(node_));
    // yaml-cpp keeps the first of two equal keys and drops the second without a word.
    if (node_ && node_.IsMap()) {
      std::set<std::string> keys;
      for (const auto& kv : node_) {
        // A list or a mapping as a key (YAML's `? ...`) cannot name a field.
        if (!kv.first.IsScalar())
          fail(path_.empty() ? "<top level>" : path_,
               "a key that is " + type_name(kv.first) + " (line " + std::to_string(kv.first.Mark().line + 1) +
                   "): keys are plain names");
        const auto key = kv.first.as<std::string>();
        if (!keys.insert(key).second)
          fail(join(path_, key), "duplicated key (line " + std::to_string(kv.first.Mark().line + 1) + ")");
      }
    }
  }

  void finish() const {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>();
      if (!seen_.count(key)) {
        std::string known;
        for (const auto& k : order_) known += (known.empty() ? "" : ", ") + k;
        fail(join(path_, key), "unknown key (known here: " + known + ")");
      }
    }
  }

  void operator()(const char* key, bool& v, const char*) override { scalar(key, v, "true or false"); }
  void operator()(const char* key, int64_t& v, const char*) override { scalar(key, v, "an integer"); }
  void operator()(const char* key, double& v, const char*) override {
    if (scalar(key, v, "a number") && !std::isfinite(v))
      fail(join(path_, key), "expected a finite number, got " + type_name(lookup_again(key)));
  }
  void operator()(const char* key, int64_t& v, const char* doc, const Range& range) override {
    (*this)(key, v, doc);
    check(key, static_cast<double>(v), range);
  }
  void operator()(const char* key, double& v, const char* doc, const Range& range) override {
    (*this)(key, v, doc);
    check(key, v, range);
  }
  void operator()(const char* key, std::string& v, const char*) override { scalar(key, v, "a string"); }
  void operator()(const char* key, std::vector<double>& v, const char*) override {
    sequence(key, v, "a list of numbers");
    for (size_t i = 0; i < v.size(); ++i)
      if (!std::isfinite(v[i])) fail(join(join(path_, key), std::to_string(i)), "expected a finite number");
  }
  void operator()(const char* key, std::vector<std::string>& v, const char*) override {
    sequence(key, v, "a list of strings");
  }

  void section(const char* key, SectionRef& s, const char*) override {
    const YAML::Node child = lookup(key);
    Reader r(child, join(path_, key), origin_);
    s.visit(r);
    r.finish();
  }

  void section_list(const char* key, SectionListRef& list, const char*) override {
    const YAML::Node child = lookup(key);
    if (!child) return;
    const std::string path = join(path_, key);
    if (!child.IsSequence()) fail(path, "expected a list, got " + type_name(child));
    list.resize(child.size());
    for (size_t i = 0; i < child.size(); ++i) {
      Reader r(child[i], join(path, std::to_string(i)), origin_);
      list.visit_item(i, r);
      r.finish();
    }
  }

 private:
  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(origin_ + ": " + path + ": " + what);
  }

  YAML::Node lookup(const char* key) {
    seen_.insert(key);
    order_.push_back(key);
    if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = node_;  // const lookup: the non-const operator[] would insert the key
    return map[key];
  }

  // A value read outside its range is an error; a default (key absent) is valid by construction.
  void check(const char* key, double v, const Range& range) {
    if (!range.contains(v) && lookup_again(key))
      fail(join(path_, key), "expected a number " + range.text() + ", got " + type_name(lookup_again(key)));
  }

  YAML::Node lookup_again(const char* key) const {
    if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = node_;
    return map[key];
  }

  // Reads the key into v when it is present; returns whether it was.
  template <class T>
  bool scalar(const char* key, T& v, const char* expected) {
    const YAML::Node child = lookup(key);
    if (!child) return false;
    if (!child.IsScalar()) fail(join(path_, key), std::string("expected ") + expected + ", got " + type_name(child));
    try {
      v = child.as<T>();
    } catch (const YAML::Exception&) {
      fail(join(path_, key), std::string("expected ") + expected + ", got " + type_name(child));
    }
    return true;
  }

  template <class T>
  void sequence(const char* key, std::vector<T>& v, const char* expected) {
    const YAML::Node child = lookup(key);
    if (!child) return;
    const std::string path = join(path_, key);
    if (child.IsScalar()) {  // a single value is a one-element list (e.g. mean: 0.5)
      T one{};
      try {
        one = child.as<T>();
      } catch (const YAML::Exception&) {
        fail(path, std::string("expected ") + expected + ", got " + type_name(child));
      }
      v = {one};
      return;
    }
    if (!child.IsSequence()) fail(path, std::string("expected ") + expected + ", got " + type_name(child));
    std::vector<T> out;
    for (size_t i = 0; i < child.size(); ++i) {
      try {
        out.push_back(child[i].as<T>());
      } catch (const YAML::Exception&) {
        fail(join(path, std::to_string(i)), std::string("expected ") + expected + ", got " + type_name(child[i]));
      }
    }
    v = std::move(out);
  }

  YAML::Node node_;
  std::string path_, origin_;
  std::set<std::string> seen_;
  std::vector<std::string> order_;
};

// Emits every field as YAML, with each field's doc as a trailing comment-free value (docs live in
// docs/recipes.md; the saved recipe stays machine-readable and short).
class Writer : public Visitor {
 public:
  explicit Writer(YAML::Emitter& out) : out_(out) {}
  void operator()(const char* key, bool& v, const char*) override { out_ << YAML::Key << key << YAML::Value << v; }
  void operator()(const char* key, int64_t& v, const char*) override { out_ << YAML::Key << key << YAML::Value << v; }
  void operator()(const char* key, double& v, const char*) override {
    out_ << YAML::Key << key << YAML::Value << number(v);
  }
  void operator()(const char* key, std::string& v, const char*) override {
    out_ << YAML::Key << key << YAML::Value << YAML::DoubleQuoted << v;
  }
  void operator()(const char* key, std::vector<double>& v, const char*) override {
    out_ << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (double d : v) out_ << number(d);
    out_ << YAML::EndSeq;
  }
  void operator()(const char* key, std::vector<std::string>& v, const char*) override {
    out_ << YAML::Key << key << YAML::Value << YAML::Flow << v;
  }
  void section(const char* key, SectionRef& s, const char*) override {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    s.visit(*this);
    out_ << YAML::EndMap;
  }
  void section_list(const char* key, SectionListRef& list, const char*) override {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (size_t i = 0; i < list.size(); ++i) {
      out_ << YAML::BeginMap;
      list.visit_item(i, *this);
      out_ << YAML::EndMap;
    }
    out_ << YAML::EndSeq;
  }

 private:
  // Shortest text that reads back as the same double.
  static std::string number(double v) {
    for (int precision = 6; precision <= 17; ++precision) {
      std::ostringstream s;
      s.precision(precision);
      s << v;
      if (std::stod(s.str()) == v) return s.str();
    }
    return std::to_string(v);
  }
  YAML::Emitter& out_;
};

class Describer : public Visitor {
 public:
  explicit Describer(std::ostringstream& out, std::string path = "") : out_(out), path_(std::move(path)) {}
  void operator()(const char* key, bool& v, const char* doc) override { row(key, v ? "true" : "false", doc); }
  void operator()(const char* key, int64_t& v, const char* doc) override { row(key, std::to_string(v), doc); }
  void operator()(const char* key, double& v, const char* doc) override { row(key, fmt(v), doc); }
  void operator()(const char* key, int64_t& v, const char* doc, const Range& range) override {
    row(key, std::to_string(v), std::string(doc) + "; " + range.text());
  }
  void operator()(const char* key, double& v, const char* doc, const Range& range) override {
    row(key, fmt(v), std::string(doc) + "; " + range.text());
  }
  void operator()(const char* key, std::string& v, const char* doc) override { row(key, "\"" + v + "\"", doc); }
  void operator()(const char* key, std::vector<double>& v, const char* doc) override {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i]);
    row(key, s + "]", doc);
  }
  void operator()(const char* key, std::vector<std::string>& v, const char* doc) override {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    row(key, s + "]", doc);
  }
  void section(const char* key, SectionRef& s, const char* doc) override {
    row(key, "(section)", doc);
    Describer d(out_, join(path_, key));
    s.visit(d);
  }
  void section_list(const char* key, SectionListRef& list, const char* doc) override {
    row(key, "(list of " + std::to_string(list.size()) + ")", doc);
    if (list.size() == 0) return;
    Describer d(out_, join(path_, key) + ".N");
    list.visit_item(0, d);
  }

 private:
  static std::string fmt(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  }
  // Markdown table cells: a literal '|' must be escaped.
  static std::string cell(const std::string& text) {
    std::string out;
    for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  }
  void row(const char* key, const std::string& value, const std::string& doc) {
    out_ << "| `" << join(path_, key) << "` | `" << value << "` | " << cell(doc) << " |\n";
  }
  std::ostringstream& out_;
  std::string path_;
};

}  // namespace

bool Range::contains(double v) const {
  if (std::isnan(v)) return false;
  const bool above = min_open ? v > min : v >= min;
  const bool below = max_open ? v < max : v <= max;
  return above && below;
}

std::string Range::text() const {
  auto num = [](double v) {
    std::ostringstream s;
    s << v;
    return s.str();
  };
  if (max == kInf) return std::string(min_open ? "> " : ">= ") + num(min);
  if (min == -kInf) return std::string(max_open ? "< " : "<= ") + num(max);
  return "in " + std::string(min_open ? "(" : "[") + num(min) + ", " + num(max) + (max_open ? ")" : "]");
}

SectionSet& SectionSet::operator=(const SectionSet& other) {
  if (this == &other) return *this;
  entries_.clear();
  for (const auto& e : other.entries_) entries_.push_back({e.key, e.doc, e.section->clone()});
  return *this;
}

void SectionSet::add(std::string key, std::string doc, std::unique_ptr<DynamicSection> section) {
  if (find(key)) throw Error("recipe section '" + key + "' is registered twice");
  entries_.push_back({std::move(key), std::move(doc), std::move(section)});
}

void SectionSet::visit(Visitor& v) {
  for (auto& e : entries_) v.section(e.key.c_str(), *e.section, e.doc.c_str());
}

DynamicSection* SectionSet::find(const std::string& key) const {
  for (const auto& e : entries_)
    if (e.key == key) return e.section.get();
  return nullptr;
}

void SectionSet::missing(const std::string& key) const {
  std::string known;
  for (const auto& e : entries_) known += (known.empty() ? "" : ", ") + e.key;
  throw Error("no recipe section '" + key + "' of the requested type (registered: " + (known.empty() ? "none" : known) +
              "; a program using the library calls selfsup::register_builtin() first)");
}

void read_section(const YAML::Node& node, SectionRef& section, const std::string& origin) {
  Reader r(node, "", origin);
  section.visit(r);
  r.finish();
}

std::string write_section(SectionRef& section) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Writer w(out);
  section.visit(w);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string describe_section(SectionRef& section) {
  std::ostringstream out;
  out << "| key | default | meaning |\n|---|---|---|\n";
  Describer d(out);
  section.visit(d);
  return out.str();
}

YAML::Node expand_aliases(const YAML::Node& node) {
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : node) out.push_back(expand_aliases(item));
    return out;
  }
  if (node.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& kv : node) out[kv.first.Scalar()] = expand_aliases(kv.second);
    return out;
  }
  if (node.IsScalar()) return YAML::Node(node.Scalar());
  return YAML::Node(node.Type());
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("override '" + assignment + "': expected key=value with a dotted key, e.g. train.epochs=5");
  const std::string path = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw Error("override '" + assignment + "': value is not valid YAML: " + e.msg);
  }
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) throw Error("override '" + assignment + "': empty key segment in '" + path + "'");
    parts.push_back(part);
  }
  // A list position: digits only, and few enough to fit (std::isdigit is undefined on bytes > 127).
  auto index_of = [](const std::string& part) -> std::optional<size_t> {
    if (part.empty() || part.size() > 9) return std::nullopt;
    for (const char c : part)
      if (c < '0' || c > '9') return std::nullopt;
    return std::stoul(part);
  };
  // Walk with explicit node handles: yaml-cpp's operator[] returns views that re-bind on assignment.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i < parts.size(); ++i) {
    YAML::Node parent = chain.back();
    const auto index = parent.IsSequence() ? index_of(parts[i]) : std::nullopt;
    const bool last = i + 1 == parts.size();
    if (index) {
      if (*index >= parent.size())
        throw Error("override '" + assignment + "': index " + parts[i] + " out of range (list has " +
                    std::to_string(parent.size()) + " items)");
      if (last) parent[*index] = value;
      else chain.push_back(parent[*index]);
      continue;
    }
    if (!parent.IsMap() && !parent.IsNull()) {
      std::string where;
      for (size_t k = 0; k < i; ++k) where += (k ? "." : "") + parts[k];
      throw Error("override '" + assignment + "': " + (where.empty() ? "the recipe" : "'" + where + "'") + " is " +
                  (parent.IsSequence() ? "a list (give an item number)" : "a value") + ", not a section");
    }
    if (last) {
      parent[parts[i]] = value;
    } else {
      if (!parent[parts[i]]) parent[parts[i]] = YAML::Node(YAML::NodeType::Map);
      chain.push_back(parent[parts[i]]);
    }
  }
}

}  // namespace selfsup::config
