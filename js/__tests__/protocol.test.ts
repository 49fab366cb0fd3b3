// @vitest-environment node
// The TypeScript side of the widget protocol, checked against the one schema (js/protocol.json) with the
// TypeScript compiler's own type checker; tests/test_protocol.py checks the Python TypedDicts against it.
// Direction matters: the browser must read every field the kernel sends (a field may be optional here, a reader
// may accept more types), and send only what the kernel accepts.
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { dispatcher } from "../shell";
import type { ServerMessage } from "../types";

// vitest runs from the project root; ts.sys reads files without Node's typings
const js = (file: string) => ts.sys.resolvePath(`${ts.sys.getCurrentDirectory()}/js/${file}`);
const schema = JSON.parse(ts.sys.readFile(js("protocol.json")) ?? "null");
const files = ["types.ts", "compare/types.ts"].map(js);
const program = ts.createProgram(files, {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  target: ts.ScriptTarget.ES2020,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
});
const checker = program.getTypeChecker();

interface Field {
  optional: boolean;
  types: Set<string>;
}

/** The exported type `file:Name` (as the schema writes it). */
function exported(ref: string): ts.Type {
  const [file, name] = ref.split(":");
  const source = program.getSourceFile(js(file));
  const module = source && checker.getSymbolAtLocation(source);
  const symbol = module && checker.getExportsOfModule(module).find((s) => s.name === name);
  if (!symbol) throw new Error(`js/${file} exports no type ${name}`);
  return checker.getDeclaredTypeOfSymbol(symbol);
}

/** The schema's names for a TypeScript type: `string | null` → {"string", "null"}; `-1 | 1` → {"-1", "1"}. */
function typeNames(type: ts.Type): Set<string> {
  const out = new Set<string>();
  for (const part of type.isUnion() ? type.types : [type]) {
    if (part.flags & ts.TypeFlags.Undefined) continue; // an optional field's implicit `| undefined`
    if (part.flags & ts.TypeFlags.Null) out.add("null");
    else if (part.flags & ts.TypeFlags.BooleanLike) out.add("boolean");
    else if (part.isStringLiteral() || part.isNumberLiteral()) out.add(JSON.stringify(part.value));
    else if (part.flags & ts.TypeFlags.StringLike) out.add("string");
    else if (part.flags & ts.TypeFlags.NumberLike) out.add("number");
    else if (checker.isArrayType(part)) out.add("array");
    else if (part.flags & ts.TypeFlags.Object) out.add("object");
    else out.add(checker.typeToString(part));
  }
  return out;
}

function fieldsOf(type: ts.Type): Map<string, Field> {
  const out = new Map<string, Field>();
  for (const prop of checker.getPropertiesOfType(type)) {
    if (prop.name === "kind") continue;
    out.set(prop.name, {
      optional: (prop.flags & ts.SymbolFlags.Optional) !== 0,
      types: typeNames(checker.getTypeOfSymbol(prop)),
    });
  }
  return out;
}

function schemaFields(fields: Record<string, string>): Map<string, Field> {
  return new Map(
    Object.entries(fields).map(([key, types]) => [
      key.replace(/\?$/, ""),
      { optional: key.endsWith("?"), types: new Set(types.split(" | ")) },
    ]),
  );
}

/** The members of a union of messages, by their `kind`. */
function byKind(union: ts.Type): Map<string, ts.Type> {
  const out = new Map<string, ts.Type>();
  for (const member of union.isUnion() ? union.types : [union]) {
    const kind = member.getProperty("kind");
    const literal = kind && checker.getTypeOfSymbol(kind);
    if (!literal?.isStringLiteral()) throw new Error(`a message type without a literal kind: ${checker.typeToString(member)}`);
    out.set(literal.value, member);
  }
  return out;
}

const subset = (a: Set<string>, b: Set<string>) => [...a].every((x) => b.has(x));

/** What is wrong with `ts` as a reader of messages shaped like `wire` (the kernel sends them). */
function readerProblems(ts_: Map<string, Field>, wire: Map<string, Field>): string[] {
  const problems: string[] = [];
  for (const [name, field] of wire) {
    const ours = ts_.get(name);
    if (!ours) problems.push(`missing field ${name}`);
    else {
      if (field.optional && !ours.optional) problems.push(`${name} may be left out by the kernel: make it optional`);
      if (!subset(field.types, ours.types)) problems.push(`${name}: reads ${[...ours.types]}, kernel sends ${[...field.types]}`);
    }
  }
  for (const [name, field] of ts_) if (!wire.has(name) && !field.optional) problems.push(`${name} is never sent`);
  return problems;
}

/** What is wrong with `ts` as a writer of messages the kernel accepts shaped like `wire`. */
function writerProblems(ts_: Map<string, Field>, wire: Map<string, Field>): string[] {
  const problems: string[] = [];
  for (const [name, field] of ts_) {
    const theirs = wire.get(name);
    if (!theirs) problems.push(`the kernel does not accept ${name}`);
    else if (!subset(field.types, theirs.types)) problems.push(`${name}: sends ${[...field.types]}, kernel takes ${[...theirs.types]}`);
    else if (field.optional && !theirs.optional) problems.push(`${name} is required by the kernel`);
  }
  for (const name of wire.keys()) if (!ts_.has(name)) problems.push(`${name} is never sent`);
  return problems;
}

describe("the TypeScript protocol matches js/protocol.json", () => {
  for (const widget of ["chat", "compare"]) {
    for (const direction of ["sends", "accepts"]) {
      const section = schema[widget][direction];
      it(`${widget} ${direction} (${section.typescript})`, () => {
        const members = byKind(exported(section.typescript));
        expect([...members.keys()].sort()).toEqual(Object.keys(section.kinds).sort());
        const problems: Record<string, string[]> = {};
        for (const [kind, member] of members) {
          const wire = schemaFields(section.kinds[kind]);
          const found = direction === "sends" ? readerProblems(fieldsOf(member), wire) : writerProblems(fieldsOf(member), wire);
          if (found.length) problems[kind] = found;
        }
        expect(problems).toEqual({});
      });
    }
  }

  for (const [name, record] of Object.entries<{ typescript: string; fields: Record<string, string> }>(schema.records)) {
    it(`record ${name} (${record.typescript}) reads all the kernel sends`, () => {
      expect(readerProblems(fieldsOf(exported(record.typescript)), schemaFields(record.fields))).toEqual([]);
    });
  }

  it("finds a drifted field (the check can fail)", () => {
    const wire = schemaFields({ id: "string", retries: "number" });
    const ours = new Map<string, Field>([["id", { optional: false, types: new Set(["string"]) }]]);
    expect(readerProblems(ours, wire)).toEqual(["missing field retries"]);
    expect(writerProblems(new Map([["id", { optional: false, types: new Set(["number"]) }]]), schemaFields({ id: "string" }))).toHaveLength(1);
  });
});

describe("the browser's dispatch table", () => {
  it("calls the handler of the message's kind and ignores anything else", () => {
    const seen: string[] = [];
    const onCustom = dispatcher<ServerMessage>({
      delta: (m) => seen.push(`delta ${m.id} ${m.text}`),
      sync: (m) => seen.push(`sync ${m.id}`),
      notice: (m) => seen.push(`notice ${m.level}`),
      attached: (m) => seen.push(`attached ${m.token}`),
      "attach-progress": (m) => seen.push(`attach-progress ${m.token} ${m.done}`),
      completions: (m) => seen.push(`completions ${m.request}`),
      provenance: (m) => seen.push(`provenance ${m.id}`),
      code: (m) => seen.push(`code ${m.code}`),
      export: (m) => seen.push(`export ${m.format}`),
    });
    onCustom({ kind: "delta", id: "a1", text: "Hi" });
    onCustom({ kind: "notice", level: "warning", text: "busy" });
    for (const odd of [null, "delta", 42, { kind: "launch" }, { kind: "toString" }, { kind: "__proto__" }, { id: "x" }]) {
      onCustom(odd);
    }
    expect(seen).toEqual(["delta a1 Hi", "notice warning"]);
  });
});
