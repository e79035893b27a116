#!/usr/bin/env python3
"""Generate Horizons' C++ event types from the Avro schemas in schemas/.

Usage: horizons_codegen.py --out DIR schemas/*.avsc

Each schema file describes one topic: a record whose fields are the envelope
followed by a last field `payload`, a union of payload records. The file name
(without .avsc) is the topic name. The generator writes one header,
DIR/horizons/generated/events.hpp, holding:

  * an `enum class` per Avro enum and a `struct` per Avro record, with
    traits (`enum_traits`, `record_traits`) that the hand-written codec,
    JSON and validation templates walk; nothing else lists a field;
  * `envelope` (the shared fields) and `event<Payload>`;
  * per topic: a `topic_id`, the payload variant, the alias
    `<record>_event`, and the schema text itself;
  * `payload_traits` naming each payload's topic, union branch and dotted
    event type (derived from the record name: JobStatusChanged ->
    job.status.changed);
  * a zero-copy view per record (`<record>_view`, `envelope_view`) with the
    same fields as view types (include/horizons/views.hpp), its
    `record_traits`, `view_traits<record>` naming it, and `to_owned()`.

Only the Avro subset the contract uses is accepted; anything else is an error
that names the schema file and field, so the contract cannot drift into a
shape the C++ side silently mishandles.
"""
import argparse
import json
import os
import re
import sys

CPP_KEYWORDS = {
    "alignas", "alignof", "and", "asm", "auto", "bool", "break", "case", "catch", "char",
    "class", "const", "continue", "default", "delete", "do", "double", "else", "enum",
    "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
    "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "nullptr",
    "operator", "or", "private", "protected", "public", "register", "return", "short",
    "signed", "sizeof", "static", "struct", "switch", "template", "this", "throw", "true",
    "try", "typedef", "typeid", "typename", "union", "unsigned", "using", "virtual", "void",
    "volatile", "while", "xor",
}
AVRO_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PRIMITIVES = {
    "boolean": "bool",
    "int": "std::int32_t",
    "long": "std::int64_t",
    "float": "float",
    "double": "double",
    "string": "std::string",
}
LOGICAL = {
    ("string", "uuid"): "::horizons::uuid",
    ("long", "timestamp-micros"): "::horizons::timestamp",
}


class SchemaError(Exception):
    pass


def snake(name):
    """CamelCase or UPPER_SNAKE to lower snake_case, keyword-safe."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return s + "_" if s in CPP_KEYWORDS else s


def dotted(record_name):
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r".\1", record_name).lower()


class Model:
    def __init__(self):
        self.named = {}      # fullname -> (kind, definition json, cpp name)
        self.order = []      # fullnames in dependency order
        self.topics = []     # dicts

    def check_name(self, name, where):
        if not isinstance(name, str) or not AVRO_NAME.match(name):
            raise SchemaError(f"{where}: '{name}' is not a valid Avro name")

    def register(self, schema, namespace, where):
        name = schema["name"]
        self.check_name(name, where)
        ns = schema.get("namespace", namespace)
        fullname = f"{ns}.{name}" if ns else name
        if fullname in self.named:
            if self.named[fullname][1] != strip_docs(schema):
                raise SchemaError(f"{where}: {fullname} is defined twice, differently")
            return fullname, ns, False
        return fullname, ns, True

    def cpp_type(self, schema, namespace, where):
        """Returns the C++ type of an Avro schema, registering named types."""
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return PRIMITIVES[schema]
            if schema in ("null", "bytes"):
                raise SchemaError(f"{where}: '{schema}' is only allowed as the null branch of an optional")
            fullname = schema if "." in schema else f"{namespace}.{schema}"
            if fullname not in self.named:
                raise SchemaError(f"{where}: unknown type '{schema}' (named types must be defined before use)")
            return "::horizons::" + self.named[fullname][2]
        if isinstance(schema, list):
            if len(schema) == 2 and schema[0] == "null":
                return f"std::optional<{self.cpp_type(schema[1], namespace, where)}>"
            raise SchemaError(f"{where}: only [\"null\", T] unions are supported inside payloads")
        kind = schema.get("type")
        logical = schema.get("logicalType")
        if logical is not None:
            if (kind, logical) not in LOGICAL:
                raise SchemaError(f"{where}: unsupported logical type {logical} on {kind}")
            return LOGICAL[(kind, logical)]
        if kind in PRIMITIVES:
            return PRIMITIVES[kind]
        if kind == "array":
            return f"std::vector<{self.cpp_type(schema['items'], namespace, where + '[]')}>"
        if kind == "map":
            return f"std::map<std::string, {self.cpp_type(schema['values'], namespace, where + '{}')}>"
        if kind == "enum":
            fullname, ns, new = self.register(schema, namespace, where)
            if new:
                symbols = schema.get("symbols", [])
                if not symbols or len(set(symbols)) != len(symbols):
                    raise SchemaError(f"{where}: enum {fullname} needs distinct symbols")
                for s in symbols:
                    self.check_name(s, f"{where}: enum {fullname} symbol")
                if schema.get("default") not in symbols:
                    raise SchemaError(f"{where}: enum {fullname} must declare a default symbol")
                self.named[fullname] = ("enum", strip_docs(schema), snake(schema["name"]))
                self.order.append(fullname)
            return "::horizons::" + self.named[fullname][2]
        if kind == "record":
            fullname, ns, new = self.register(schema, namespace, where)
            if new:
                fields = []
                for f in schema.get("fields", []):
                    self.check_name(f.get("name"), f"{where}.{schema['name']}")
                    fields.append((f["name"], self.cpp_type(f["type"], ns, f"{where}.{f['name']}")))
                self.named[fullname] = ("record", strip_docs(schema), snake(schema["name"]), fields)
                self.order.append(fullname)
            return "::horizons::" + self.named[fullname][2]
        raise SchemaError(f"{where}: unsupported schema {json.dumps(schema)[:80]}")


def strip_docs(schema):
    """Definition identity ignores documentation."""
    if isinstance(schema, dict):
        return {k: strip_docs(v) for k, v in schema.items() if k != "doc"}
    if isinstance(schema, list):
        return [strip_docs(v) for v in schema]
    return schema


def load(model, path):
    topic = os.path.basename(path)[: -len(".avsc")]
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as e:
        raise SchemaError(f"{path}: not JSON: {e}")
    where = os.path.basename(path)
    if schema.get("type") != "record":
        raise SchemaError(f"{where}: a topic schema must be a record")
    model.check_name(schema.get("name"), where)
    ns = schema.get("namespace", "")
    fields = schema.get("fields", [])
    if not fields or fields[-1].get("name") != "payload" or not isinstance(fields[-1]["type"], list):
        raise SchemaError(f"{where}: the last field must be 'payload', a union of records")
    envelope = strip_docs(fields[:-1])
    env_fields = [(f["name"], model.cpp_type(f["type"], ns, f"{where}.{f['name']}")) for f in fields[:-1]]
    payloads = []
    for branch in fields[-1]["type"]:
        if not isinstance(branch, dict) or branch.get("type") != "record":
            raise SchemaError(f"{where}.payload: every branch must be a record defined in place")
        model.cpp_type(branch, ns, f"{where}.payload")
        payloads.append(branch["name"])
    model.topics.append({
        "name": topic, "record": schema["name"], "text": text, "envelope": envelope,
        "env_fields": env_fields, "payloads": payloads,
    })


def raw_string(text):
    delim = "avsc"
    assert f"){delim}\"" not in text
    return f'R"{delim}({text}){delim}"'


def generate(model):
    topics = model.topics
    first = topics[0]
    for t in topics[1:]:
        if t["envelope"] != first["envelope"]:
            raise SchemaError(f"{t['name']}.avsc: envelope fields differ from {first['name']}.avsc")
    event_types = {}
    for t in topics:
        for p in t["payloads"]:
            et = dotted(p)
            if et in event_types:
                raise SchemaError(f"event type {et} appears in {event_types[et]} and {t['name']}")
            event_types[et] = t["name"]

    out = []
    w = out.append
    w("// Generated by tools/codegen/horizons_codegen.py from schemas/*.avsc. Do not edit.")
    w("#pragma once")
    w("")
    w("#include <horizons/views.hpp>")
    w("")
    w("namespace horizons {")
    w("")
    w("/// The catalogue's topics, one per schema file, in file order.")
    w("enum class topic_id : std::uint8_t {")
    for t in topics:
        w(f"  {snake(t['name'].replace('-', '_'))},")
    w("};")
    w(f"inline constexpr std::size_t topic_count = {len(topics)};")
    w("")
    for fullname in model.order:
        entry = model.named[fullname]
        kind, schema, cpp = entry[0], entry[1], entry[2]
        if kind == "enum":
            syms = schema["symbols"]
            w(f"enum class {cpp} : std::uint8_t {{ {', '.join(snake(s) for s in syms)} }};")
            w(f"template <> struct enum_traits<{cpp}> {{")
            w(f'  static constexpr std::string_view avro_name = "{schema["name"]}";')
            w(f"  static constexpr std::array<std::string_view, {len(syms)}> symbols{{"
              + ", ".join(f'"{s}"' for s in syms) + "};")
            w(f"  static constexpr {cpp} default_value = {cpp}::{snake(schema['default'])};")
            w("};")
            w("")
        else:
            emit_record(w, cpp, schema["name"], entry[3])
    emit_record(w, "envelope", "envelope", first["env_fields"])
    w("/// One event: the envelope fields plus a typed payload, either one payload")
    w("/// record (`event<job_submitted>`) or a topic's variant of them.")
    w("template <class Payload>")
    w("struct event : envelope {")
    w("  Payload payload{};")
    w("  friend bool operator==(const event&, const event&) = default;")
    w("};")
    w("")
    w("template <topic_id Topic> struct topic_traits;")
    w("")
    all_payloads = []
    for t in topics:
        tid = snake(t["name"].replace("-", "_"))
        payloads = [snake(p) for p in t["payloads"]]
        for index, (p, avro_name) in enumerate(zip(payloads, t["payloads"])):
            all_payloads.append(p)
            w(f"template <> struct payload_traits<{p}> {{")
            w(f"  static constexpr topic_id topic = topic_id::{tid};")
            w(f'  static constexpr std::string_view event_type = "{dotted(avro_name)}";')
            w(f"  static constexpr std::size_t union_index = {index};")
            w("};")
        variant = f"{tid}_payload"
        alias = snake(t["record"])
        w(f"using {variant} = std::variant<{', '.join(payloads)}>;")
        w(f"using {alias} = event<{variant}>;")
        w(f"template <> struct topic_traits<topic_id::{tid}> {{")
        w(f"  using payload = {variant};")
        w(f'  static constexpr std::string_view name = "{t["name"]}";')
        w(f'  static constexpr std::string_view avro_name = "{t["record"]}";')
        w(f"  static constexpr std::string_view schema_json = {raw_string(t['text'])};")
        w("};")
        w("")
    w("/// Any event of any topic, as read from the wire or from JSON.")
    w("using any_event = std::variant<" + ", ".join(snake(t["record"]) for t in topics) + ">;")
    w("")
    w("/// Every dotted event type, in topic and union order.")
    w(f"inline constexpr std::array<std::string_view, {len(all_payloads)}> all_event_types{{")
    for p in all_payloads:
        w(f"    payload_traits<{p}>::event_type,")
    w("};")
    w("")
    w("}  // namespace horizons")
    w("")
    w("/// X-macros for explicit instantiation over every payload and topic payload variant.")
    w("#define HORIZONS_FOR_EACH_PAYLOAD(X) " + " ".join(f"X(::horizons::{p})" for p in all_payloads))
    w("#define HORIZONS_FOR_EACH_TOPIC_PAYLOAD(X) "
      + " ".join(f"X(::horizons::{snake(t['name'].replace('-', '_'))}_payload)" for t in topics))
    return "\n".join(out) + "\n"


def emit_record(w, cpp, avro_name, fields):
    w(f"struct {cpp} {{")
    for name, ctype in fields:
        w(f"  {ctype} {name}{{}};")
    w(f"  friend bool operator==(const {cpp}&, const {cpp}&) = default;")
    w("};")
    emit_record_traits(w, cpp, avro_name, fields)
    view = f"{cpp}_view"
    w(f"/// {cpp} as a view into the record's bytes (views.hpp): valid while they are.")
    w(f"struct {view} {{")
    w(f"  using owned_type = {cpp};")
    for name, ctype in fields:
        w(f"  ::horizons::view_of<{ctype}> {name}{{}};")
    w(f"  [[nodiscard]] {cpp} to_owned() const {{")
    w(f"    {cpp} owned;")
    w("    detail::assign_owned(owned, *this);")
    w("    return owned;")
    w("  }")
    w("};")
    emit_record_traits(w, view, avro_name, fields)
    w(f"template <> struct view_traits<{cpp}> {{ using type = {view}; }};")
    w("")


def emit_record_traits(w, cpp, avro_name, fields):
    w(f"template <> struct record_traits<{cpp}> {{")
    w(f'  static constexpr std::string_view avro_name = "{avro_name}";')
    w("  static constexpr auto fields = std::tuple{")
    for name, _ in fields:
        w(f'      field_info{{"{name}", &{cpp}::{name}}},')
    w("  };")
    w("};")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output include directory")
    parser.add_argument("schemas", nargs="+")
    args = parser.parse_args()
    model = Model()
    try:
        for path in args.schemas:
            load(model, path)
        text = generate(model)
    except (SchemaError, KeyError, TypeError) as e:
        print(f"horizons_codegen: error: {e}", file=sys.stderr)
        return 1
    target = os.path.join(args.out, "horizons", "generated", "events.hpp")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # Rewrite only on change so that an unchanged contract does not rebuild everything.
    if not os.path.exists(target) or open(target, encoding="utf-8").read() != text:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
