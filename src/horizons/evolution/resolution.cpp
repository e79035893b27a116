// Schema resolution, once: building a plan from a (writer, reader) pair both decides whether the
// reader can read the writer (the incompatibilities found on the way) and yields the steps that
// turn writer bytes into reader bytes. Compatibility levels are this check applied in one or both
// directions over a subject's versions.
#include <horizons/schema_evolution.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include "../codec/avro_binary.hpp"
#include "schema_node.hpp"

namespace horizons {

namespace {

using detail::avro_type;
using detail::schema_node;
using enum incompatibility::kind;

constexpr std::array<std::string_view, 7> level_names{
    "NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"};

// ------------------------------------------------------------ matching

bool names_match(const schema_node& writer, const schema_node& reader) {
  if (writer.short_name() == reader.short_name()) return true;
  return std::ranges::any_of(reader.aliases, [&](const std::string& alias) {
    const auto dot = alias.rfind('.');
    return alias == writer.full_name || (dot != std::string::npos && alias.substr(dot + 1) == writer.short_name());
  });
}

// The specification's promotions: int -> long, float, double; long -> float, double;
// float -> double; string <-> bytes.
bool promotable(avro_type writer, avro_type reader) {
  using enum avro_type;
  switch (writer) {
    case int_type: return reader == long_type || reader == float_type || reader == double_type;
    case long_type: return reader == float_type || reader == double_type;
    case float_type: return reader == double_type;
    case string: return reader == bytes;
    case bytes: return reader == string;
    default: return false;
  }
}

bool same_kind(const schema_node& writer, const schema_node& reader) {
  return writer.type == reader.type && (!writer.named() || names_match(writer, reader));
}

// The reader union's branch for a writer type: the first of the same kind, else the first the
// writer promotes to.
std::optional<std::size_t> reader_branch_for(const schema_node& writer, const schema_node& reader_union) {
  const auto& branches = reader_union.branches;
  for (std::size_t i = 0; i < branches.size(); ++i) {
    if (same_kind(writer, *branches[i])) return i;
  }
  for (std::size_t i = 0; i < branches.size(); ++i) {
    if (promotable(writer.type, branches[i]->type)) return i;
  }
  return std::nullopt;
}

std::string join(std::string_view path, std::string_view field) {
  return path.empty() ? std::string(field) : fmt::format("{}.{}", path, field);
}

}  // namespace

// --------------------------------------------------------------- plan

namespace detail {

struct plan_node {
  enum class op : std::uint8_t {
    copy,          // identical encoding: a primitive, or a fixed
    promote,       // writer_type -> reader_type
    enum_symbols,  // writer index -> reader index
    record,
    array,
    map,
    from_union,  // the writer's branch index picks a plan (and a reader branch, if the reader is a union)
    to_union,    // writer not a union, reader a union: write the reader branch, then the value
  };
  op what = op::copy;
  const schema_node* writer = nullptr;
  const schema_node* reader = nullptr;

  std::vector<std::int64_t> symbols;  // enum_symbols: reader index of each writer symbol

  struct field_step {
    const schema_node* skip = nullptr;  // a writer field the reader does not have
    const plan_node* plan = nullptr;    // else: how to translate it
    std::size_t reader_index = 0;
  };
  std::vector<field_step> fields;  // record: in writer order
  struct reader_default {
    std::size_t reader_index;
    const std::string* bytes;
  };
  std::vector<reader_default> defaults;  // record: reader fields the writer lacks, in reader order
  bool in_reader_order = true;           // record: writer order keeps the reader's, so no reordering
  std::size_t reader_fields = 0;

  const plan_node* items = nullptr;  // array, map

  struct branch_step {
    const plan_node* plan = nullptr;
    std::int64_t reader_branch = -1;  // -1: the reader is not a union
  };
  std::vector<branch_step> branches;  // from_union: per writer branch
  std::int64_t reader_branch = 0;     // to_union
  const plan_node* inner = nullptr;   // to_union
};

}  // namespace detail

namespace {

using detail::plan_node;

class plan_builder {
 public:
  plan_builder(std::deque<plan_node>& nodes, std::vector<incompatibility>& problems)
      : nodes_(nodes), problems_(problems) {}

  const plan_node* build(const schema_node& w, const schema_node& r, const std::string& path) {
    const auto key = std::pair{&w, &r};
    if (const auto done = built_.find(key); done != built_.end()) return done->second;  // recursive types
    auto& node = nodes_.emplace_back();
    node.writer = &w;
    node.reader = &r;
    built_.emplace(key, &node);

    if (w.type == avro_type::union_type) return from_union(node, w, r, path);
    if (r.type == avro_type::union_type) {
      const auto branch = reader_branch_for(w, r);
      if (!branch) {
        problem(missing_union_branch, path,
                fmt::format("the writer's {} matches no branch of the reader's union", w.describe()));
        return &node;
      }
      node.what = plan_node::op::to_union;
      node.reader_branch = static_cast<std::int64_t>(*branch);
      node.inner = build(w, *r.branches[*branch], path);
      return &node;
    }
    if (w.type != r.type) {
      if (promotable(w.type, r.type)) {
        node.what = plan_node::op::promote;
      } else {
        problem(type_mismatch, path, fmt::format("the writer's {} cannot be read as {}", w.describe(), r.describe()));
      }
      return &node;
    }
    if (w.named() && !names_match(w, r)) {
      problem(name_mismatch, path, fmt::format("the writer's {} is not the reader's {}", w.full_name, r.full_name));
      return &node;
    }
    switch (w.type) {
      case avro_type::record: return record(node, w, r, path);
      case avro_type::enum_type: return enumeration(node, w, r, path);
      case avro_type::array:
      case avro_type::map:
        node.what = w.type == avro_type::array ? plan_node::op::array : plan_node::op::map;
        node.items = build(*w.items, *r.items, fmt::format("{}[]", path));
        return &node;
      case avro_type::fixed:
        if (w.size != r.size) {
          problem(fixed_size_mismatch, path,
                  fmt::format("the writer's {} of {} bytes is read as {} bytes", w.full_name, w.size, r.size));
        }
        return &node;
      default: return &node;  // the same primitive: copy
    }
  }

 private:
  void problem(incompatibility::kind what, const std::string& path, std::string message) {
    problems_.push_back({.what = what,
                         .path = path,
                         .message = path.empty() ? std::move(message) : fmt::format("{}: {}", path, message)});
  }

  const plan_node* from_union(plan_node& node, const schema_node& w, const schema_node& r, const std::string& path) {
    node.what = plan_node::op::from_union;
    for (const auto* branch : w.branches) {
      if (r.type != avro_type::union_type) {
        if (same_kind(*branch, r) || promotable(branch->type, r.type)) {
          node.branches.push_back({.plan = build(*branch, r, path), .reader_branch = -1});
        } else {
          problem(missing_union_branch, path,
                  fmt::format("the writer's union branch {} cannot be read as {}", branch->describe(), r.describe()));
          node.branches.push_back({});
        }
        continue;
      }
      const auto target = reader_branch_for(*branch, r);
      if (!target) {
        problem(
            missing_union_branch, path,
            fmt::format("the writer's union branch {} matches no branch of the reader's union", branch->describe()));
        node.branches.push_back({});
        continue;
      }
      node.branches.push_back(
          {.plan = build(*branch, *r.branches[*target], path), .reader_branch = static_cast<std::int64_t>(*target)});
    }
    return &node;
  }

  const plan_node* record(plan_node& node, const schema_node& w, const schema_node& r, const std::string& path) {
    node.what = plan_node::op::record;
    node.reader_fields = r.fields.size();
    std::vector<bool> written(r.fields.size(), false);
    std::size_t last_reader_index = 0;
    bool first = true;
    for (const auto& wf : w.fields) {
      const auto match = std::ranges::find_if(r.fields, [&](const detail::schema_field& rf) {
        return rf.name == wf.name || std::ranges::find(rf.aliases, wf.name) != rf.aliases.end();
      });
      if (match == r.fields.end()) {
        node.fields.push_back({.skip = wf.type, .plan = nullptr, .reader_index = 0});
        continue;
      }
      const auto index = static_cast<std::size_t>(match - r.fields.begin());
      written[index] = true;
      if (!first && index < last_reader_index) node.in_reader_order = false;
      first = false;
      last_reader_index = index;
      node.fields.push_back(
          {.skip = nullptr, .plan = build(*wf.type, *match->type, join(path, match->name)), .reader_index = index});
    }
    for (std::size_t i = 0; i < r.fields.size(); ++i) {
      if (written[i]) continue;
      if (!r.fields[i].default_bytes) {
        problem(missing_default, join(path, r.fields[i].name),
                "the reader's field has no default, and the writer does not write it");
        continue;
      }
      node.defaults.push_back({.reader_index = i, .bytes = &*r.fields[i].default_bytes});
    }
    return &node;
  }

  const plan_node* enumeration(plan_node& node, const schema_node& w, const schema_node& r, const std::string& path) {
    node.what = plan_node::op::enum_symbols;
    for (const auto& symbol : w.symbols) {
      const auto found = std::ranges::find(r.symbols, symbol);
      if (found != r.symbols.end()) {
        node.symbols.push_back(found - r.symbols.begin());
      } else if (r.enum_default) {
        node.symbols.push_back(static_cast<std::int64_t>(*r.enum_default));
      } else {
        problem(missing_enum_symbol, path,
                fmt::format("the writer's symbol {} of {} is unknown to the reader, whose enum has no default", symbol,
                            w.full_name));
        node.symbols.push_back(0);
      }
    }
    return &node;
  }

  std::deque<plan_node>& nodes_;
  std::vector<incompatibility>& problems_;
  std::map<std::pair<const schema_node*, const schema_node*>, const plan_node*> built_;
};

// ---------------------------------------------------------- translate

void put_long(byte_buffer& out, std::int64_t value) {
  auto* at = reinterpret_cast<std::uint8_t*>(out.prepare(10));
  auto n = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  std::size_t i = 0;
  while (n >= 0x80) {
    at[i++] = static_cast<std::uint8_t>(n | 0x80);
    n >>= 7;
  }
  at[i++] = static_cast<std::uint8_t>(n);
  out.commit(i);
}

void put_bytes(byte_buffer& out, const void* data, std::size_t size) {
  out.append({static_cast<const std::byte*>(data), size});
}

template <class T>
void put_fixed(byte_buffer& out, T value) {
  put_bytes(out, &value, sizeof value);
}

using detail::avro_reader;

class translator {
 public:
  explicit translator(avro_reader& in) : in_(in) {}

  void run(const plan_node& p, byte_buffer& out) {
    if (in_.failed()) return;
    switch (p.what) {
      case plan_node::op::copy: return copy(*p.writer, out);
      case plan_node::op::promote: return promote(p.writer->type, p.reader->type, out);
      case plan_node::op::enum_symbols: {
        const auto index = in_.read_long();
        if (index < 0 || static_cast<std::size_t>(index) >= p.symbols.size()) {
          return in_.fail_bad_enum_index(index, p.symbols.size());
        }
        return put_long(out, p.symbols[static_cast<std::size_t>(index)]);
      }
      case plan_node::op::record: return record(p, out);
      case plan_node::op::array:
      case plan_node::op::map: return blocks(p.what == plan_node::op::map, out, [&] { run(*p.items, out); });
      case plan_node::op::from_union: {
        const auto index = in_.read_long();
        if (index < 0 || static_cast<std::size_t>(index) >= p.branches.size()) {
          return in_.fail_bad_union_index(index, p.branches.size());
        }
        const auto& branch = p.branches[static_cast<std::size_t>(index)];
        if (branch.reader_branch >= 0) put_long(out, branch.reader_branch);
        return run(*branch.plan, out);
      }
      case plan_node::op::to_union: put_long(out, p.reader_branch); return run(*p.inner, out);
    }
  }

  // Reads past a value of a writer type the reader does not want, checking it as it goes.
  void skip(const schema_node& w) {
    byte_buffer discard;
    copy(w, discard);
  }

 private:
  // Copies a value whose encoding the reader shares, checking it.
  void copy(const schema_node& w, byte_buffer& out) {
    const auto* start = in_.position();
    switch (w.type) {
      case avro_type::null_type: return;
      case avro_type::boolean: (void)in_.read_bool(); break;
      case avro_type::int_type: (void)in_.read_int(); break;
      case avro_type::long_type: (void)in_.read_long(); break;
      case avro_type::float_type: (void)in_.read_fixed<float>(); break;
      case avro_type::double_type: (void)in_.read_fixed<double>(); break;
      case avro_type::bytes:
      case avro_type::string: (void)in_.read_string_view(); break;
      case avro_type::fixed:
        if (in_.remaining() < w.size) return in_.fail(codec_errc::truncated, "fixed " + w.full_name);
        for (std::size_t i = 0; i < w.size; ++i) (void)in_.read_fixed<std::uint8_t>();
        break;
      case avro_type::enum_type: {
        const auto index = in_.read_long();
        if (index < 0 || static_cast<std::size_t>(index) >= w.symbols.size()) {
          return in_.fail_bad_enum_index(index, w.symbols.size());
        }
        break;
      }
      case avro_type::record:
        for (const auto& f : w.fields) copy(*f.type, out);
        return;
      case avro_type::array:
      case avro_type::map: return blocks(w.type == avro_type::map, out, [&] { copy(*w.items, out); });
      case avro_type::union_type: {
        const auto index = in_.read_long();
        if (index < 0 || static_cast<std::size_t>(index) >= w.branches.size()) {
          return in_.fail_bad_union_index(index, w.branches.size());
        }
        put_long(out, index);
        return copy(*w.branches[static_cast<std::size_t>(index)], out);
      }
    }
    if (!in_.failed()) put_bytes(out, start, static_cast<std::size_t>(in_.position() - start));
  }

  void copy_key(byte_buffer& out) {
    const auto key = in_.read_string_view();
    if (in_.failed()) return;
    put_long(out, static_cast<std::int64_t>(key.size()));
    put_bytes(out, key.data(), key.size());
  }

  void promote(avro_type from, avro_type to, byte_buffer& out) {
    if (from == avro_type::string || from == avro_type::bytes) {
      const auto text = in_.read_string_view();
      if (in_.failed()) return;
      put_long(out, static_cast<std::int64_t>(text.size()));
      return put_bytes(out, text.data(), text.size());
    }
    double value = 0;
    switch (from) {
      case avro_type::int_type: value = in_.read_int(); break;
      case avro_type::long_type: {
        const auto n = in_.read_long();
        if (to == avro_type::float_type) {
          if (!in_.failed()) put_fixed(out, static_cast<float>(n));
          return;
        }
        if (!in_.failed()) put_fixed(out, static_cast<double>(n));
        return;
      }
      case avro_type::float_type: value = in_.read_fixed<float>(); break;
      default: break;
    }
    if (in_.failed()) return;
    if (to == avro_type::long_type) return put_long(out, static_cast<std::int64_t>(value));
    if (to == avro_type::float_type) return put_fixed(out, static_cast<float>(value));
    put_fixed(out, value);
  }

  void record(const plan_node& p, byte_buffer& out) {
    if (p.in_reader_order) {
      // Stream: each reader-only field's default goes in just before the next field after it.
      auto next_default = p.defaults.begin();
      for (const auto& step : p.fields) {
        if (step.skip) {
          skip(*step.skip);
          continue;
        }
        for (; next_default != p.defaults.end() && next_default->reader_index < step.reader_index; ++next_default) {
          put_bytes(out, next_default->bytes->data(), next_default->bytes->size());
        }
        run(*step.plan, out);
      }
      for (; next_default != p.defaults.end(); ++next_default) {
        put_bytes(out, next_default->bytes->data(), next_default->bytes->size());
      }
      return;
    }
    // The writer has the reader's fields in another order: each into a buffer of its own.
    std::vector<byte_buffer> parts(p.reader_fields);
    for (const auto& step : p.fields) {
      if (step.skip) {
        skip(*step.skip);
      } else {
        run(*step.plan, parts[step.reader_index]);
      }
    }
    for (const auto& d : p.defaults) put_bytes(parts[d.reader_index], d.bytes->data(), d.bytes->size());
    for (const auto& part : parts) out.append(part.bytes());
  }

  // An array's or map's blocks, each written back with a positive count (a writer's negative
  // count and byte size say nothing about the translated items).
  template <class Item>
  void blocks(bool map, byte_buffer& out, const Item& item) {
    for (;;) {
      const auto count = in_.read_block_count(1);
      if (in_.failed()) return;
      put_long(out, static_cast<std::int64_t>(count));
      if (count == 0) return;
      for (std::size_t i = 0; i < count && !in_.failed(); ++i) {
        if (map) copy_key(out);
        item();
      }
    }
  }

  avro_reader& in_;
};

// ------------------------------------------------------ compatibility

// How a problem reads when the candidate is the reader (it reads an older version) or the writer
// (an older version reads it).
std::string in_words(const incompatibility& problem, bool candidate_reads, std::string_view level, int version) {
  const auto direction = candidate_reads ? fmt::format("the new version cannot read version {}", version)
                                         : fmt::format("version {} cannot read the new version", version);
  std::string what = problem.message;
  if (problem.what == missing_default) {
    what = candidate_reads
               ? fmt::format("field {} added without a default", problem.path)
               : fmt::format("field {} removed, and version {} has no default for it", problem.path, version);
  } else if (problem.what == missing_enum_symbol && !candidate_reads) {
    what = fmt::format("{} (a symbol added without a default in version {})", problem.message, version);
  }
  return fmt::format("{}: breaks {} ({})", what, level, direction);
}

}  // namespace

std::string_view to_string(compatibility_level level) { return level_names[static_cast<std::size_t>(level)]; }

std::optional<compatibility_level> compatibility_level_from(std::string_view name) {
  const auto found = std::ranges::find(level_names, name);
  if (found == level_names.end()) return std::nullopt;
  return static_cast<compatibility_level>(found - level_names.begin());
}

struct resolution_plan::steps {
  avro_schema writer, reader;  // the plan points into their nodes: kept alive with it
  std::deque<plan_node> nodes;
  const plan_node* root = nullptr;
  bool identity = false;
};

resolution_plan::resolution_plan(std::unique_ptr<const steps> s) : steps_(std::move(s)) {}
resolution_plan::resolution_plan(resolution_plan&&) noexcept = default;
resolution_plan& resolution_plan::operator=(resolution_plan&&) noexcept = default;
resolution_plan::~resolution_plan() = default;

std::expected<resolution_plan, std::vector<incompatibility>> resolution_plan::build(const avro_schema& writer,
                                                                                    const avro_schema& reader) {
  auto s = std::make_unique<steps>(
      steps{.writer = writer, .reader = reader, .nodes = {}, .root = nullptr, .identity = false});
  std::vector<incompatibility> problems;
  plan_builder builder(s->nodes, problems);
  s->root = builder.build(s->writer.root(), s->reader.root(), "");
  if (!problems.empty()) return std::unexpected(std::move(problems));
  s->identity = writer.canonical_form() == reader.canonical_form();
  return resolution_plan(std::move(s));
}

bool resolution_plan::identity() const { return steps_->identity; }

std::expected<void, codec_error> resolution_plan::translate(std::span<const std::byte> writer_body,
                                                            byte_buffer& out) const {
  avro_reader in(writer_body);
  const auto start = out.size();
  if (steps_->identity) {
    out.append(writer_body);
    return {};
  }
  translator(in).run(*steps_->root, out);
  if (!in.failed() && in.remaining() != 0) {
    in.fail(codec_errc::trailing_bytes, std::to_string(in.remaining()) + " bytes after the record");
  }
  if (in.failed()) {
    out.truncate(start);
    return std::unexpected(codec_error{
        .code = in.error(),
        .message = fmt::format("{} at byte {} of a record written with another schema version{}{}",
                               to_string(in.error()), in.offset(), in.detail().empty() ? "" : ": ", in.detail())});
  }
  return {};
}

std::vector<incompatibility> reader_cannot_read(const avro_schema& reader, const avro_schema& writer) {
  std::deque<plan_node> nodes;
  std::vector<incompatibility> problems;
  plan_builder builder(nodes, problems);
  (void)builder.build(writer.root(), reader.root(), "");
  return problems;
}

namespace {

std::string type_text(const schema_node& n) {
  if (n.type == avro_type::union_type) {
    std::string out;
    for (const auto* b : n.branches) out += fmt::format("{}{}", out.empty() ? "" : "|", b->describe());
    return out;
  }
  if (n.type == avro_type::array || n.type == avro_type::map) {
    return fmt::format("{}<{}>", type_name(n.type), type_text(*n.items));
  }
  return n.describe();
}

void changes(const schema_node& before, const schema_node& after, const std::string& path,
             std::set<std::pair<const schema_node*, const schema_node*>>& seen, std::vector<std::string>& out) {
  if (!seen.insert({&before, &after}).second) return;
  const auto where = path.empty() ? std::string("the root") : path;
  if (before.type != after.type || (before.named() && before.full_name != after.full_name)) {
    out.push_back(fmt::format("~ {}: {} -> {}", where, type_text(before), type_text(after)));
    return;
  }
  switch (before.type) {
    case avro_type::record:
      for (const auto& f : before.fields) {
        const auto match = std::ranges::find(after.fields, f.name, &detail::schema_field::name);
        if (match == after.fields.end()) out.push_back(fmt::format("- field {}", join(path, f.name)));
      }
      for (const auto& f : after.fields) {
        const auto match = std::ranges::find(before.fields, f.name, &detail::schema_field::name);
        if (match == before.fields.end()) {
          out.push_back(fmt::format("+ field {} ({}{})", join(path, f.name), type_text(*f.type),
                                    f.default_bytes ? ", with a default" : ", no default"));
        } else {
          changes(*match->type, *f.type, join(path, f.name), seen, out);
          if (match->default_bytes.has_value() != f.default_bytes.has_value()) {
            out.push_back(fmt::format("~ {}: default {}", join(path, f.name), f.default_bytes ? "added" : "removed"));
          }
        }
      }
      return;
    case avro_type::enum_type:
      for (const auto& symbol : after.symbols) {
        if (std::ranges::find(before.symbols, symbol) == before.symbols.end()) {
          out.push_back(fmt::format("+ symbol {} of {}", symbol, after.full_name));
        }
      }
      for (const auto& symbol : before.symbols) {
        if (std::ranges::find(after.symbols, symbol) == after.symbols.end()) {
          out.push_back(fmt::format("- symbol {} of {}", symbol, after.full_name));
        }
      }
      if (before.enum_default != after.enum_default) {
        const auto name = [](const schema_node& e) {
          return e.enum_default ? e.symbols[*e.enum_default] : std::string("none");
        };
        out.push_back(fmt::format("~ default of {}: {} -> {}", after.full_name, name(before), name(after)));
      }
      return;
    case avro_type::array:
    case avro_type::map: return changes(*before.items, *after.items, fmt::format("{}[]", path), seen, out);
    case avro_type::union_type:
      for (const auto* b : after.branches) {
        const auto match =
            std::ranges::find_if(before.branches, [&](const schema_node* x) { return x->describe() == b->describe(); });
        if (match == before.branches.end()) {
          out.push_back(fmt::format("+ branch {} of {}", b->describe(), where));
        } else {
          changes(**match, *b, path, seen, out);
        }
      }
      for (const auto* b : before.branches) {
        if (std::ranges::none_of(after.branches,
                                 [&](const schema_node* x) { return x->describe() == b->describe(); })) {
          out.push_back(fmt::format("- branch {} of {}", b->describe(), where));
        }
      }
      return;
    case avro_type::fixed:
      if (before.size != after.size) out.push_back(fmt::format("~ {}: size {} -> {}", where, before.size, after.size));
      return;
    default: return;
  }
}

}  // namespace

std::vector<std::string> schema_changes(const avro_schema& before, const avro_schema& after) {
  std::vector<std::string> out;
  std::set<std::pair<const schema_node*, const schema_node*>> seen;
  changes(before.root(), after.root(), "", seen, out);
  return out;
}

std::vector<incompatibility> check_compatibility(compatibility_level level, const avro_schema& candidate,
                                                 std::span<const avro_schema> existing) {
  using enum compatibility_level;
  std::vector<incompatibility> found;
  if (level == none || existing.empty()) return found;
  const bool transitive = level == backward_transitive || level == forward_transitive || level == full_transitive;
  const bool backwards = level != forward && level != forward_transitive;
  const bool forwards = level != backward && level != backward_transitive;
  const auto first = transitive ? std::size_t{0} : existing.size() - 1;
  for (auto i = first; i < existing.size(); ++i) {
    const int version = static_cast<int>(i) + 1;
    const auto add = [&](std::vector<incompatibility> problems, bool candidate_reads) {
      for (auto& p : problems) {
        p.message = in_words(p, candidate_reads, to_string(level), version);
        found.push_back(std::move(p));
      }
    };
    if (backwards) add(reader_cannot_read(candidate, existing[i]), true);
    if (forwards) add(reader_cannot_read(existing[i], candidate), false);
  }
  return found;
}

}  // namespace horizons
