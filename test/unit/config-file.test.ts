import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { closestMatch, locateJsonError, parseStructuredText } from "../../src/core/config-file.js";

function parseError(text: string, file: string): UsageError {
  try {
    parseStructuredText(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error("expected a parse error");
}

describe("parseStructuredText", () => {
  it("parses JSON and YAML by extension, and sniffs files without one", () => {
    expect(parseStructuredText('{"a": 1, "b": [true, null]}', "x.json")).toEqual({ a: 1, b: [true, null] });
    expect(parseStructuredText("a: 1\nb:\n  - true\n  - ~\n", "x.yaml")).toEqual({ a: 1, b: [true, null] });
    expect(parseStructuredText("a: 1\n", "x.yml")).toEqual({ a: 1 });
    expect(parseStructuredText('{"a": 1}', ".amlauthrc")).toEqual({ a: 1 });
    expect(parseStructuredText("a: 1\n", ".amlauthrc")).toEqual({ a: 1 });
    // A BOM (Windows editors) is not part of the content.
    expect(parseStructuredText('\ufeff{"a": 1}', "x.json")).toEqual({ a: 1 });
  });

  it("uses the YAML core schema: no timestamps, no yes/no booleans", () => {
    expect(parseStructuredText("when: 2024-01-01\nanswer: yes\nflag: true\n", "x.yaml")).toEqual({
      when: "2024-01-01",
      answer: "yes",
      flag: true,
    });
  });

  it("refuses JS-only YAML tags", () => {
    expect(() => parseStructuredText("a: !!js/function 'function () {}'\n", "x.yaml")).toThrow(UsageError);
  });

  it.each([
    ['{\n  "a": 1,\n  "b" 2\n}', 3, "expected ':' after a property name"],
    ['{\n  "a": 1,\n}', 3, "trailing comma"],
    ['{"a": tru}', 1, "unexpected character"],
    ['{\n "a": "line\nbreak"}', 2, "line break inside a string"],
    ["[1, 2", 1, "unexpected end of file"],
    ['{"a": 1} extra', 1, "unexpected content after the JSON value"],
    ["{'a': 1}", 1, "expected a double-quoted property name"],
  ])("broken JSON %#: one line with file and line number", (text, line, reason) => {
    const err = parseError(text, "/tmp/dc.json");
    expect(err.message).toMatch(new RegExp(`^/tmp/dc\\.json: invalid JSON at line ${line}, column \\d+: `));
    expect(err.message).toContain(reason);
    expect(err.message).not.toContain("\n");
  });

  it("never quotes the file content in JSON errors (it may hold keys)", () => {
    const secret = "s3cr3t-primary-key-value";
    const err = parseError(`{"keys": {"primaryKey": "${secret}",}}`, "dc.json");
    expect(err.message).not.toContain(secret);
    expect(err.message).toContain("trailing comma");
  });

  it.each([
    ["a: 1\nb: [1, 2\nc: 3\n", 3],
    ["a: 1\na: 2\n", 2],
    ["a:\n  - b\n - c\n", 3],
    ['x: "open\n', 2],
  ])("broken YAML %#: one line with file and line number", (text, line) => {
    const err = parseError(text, "cfg.yaml");
    expect(err.message).toMatch(new RegExp(`^cfg\\.yaml: invalid YAML at line ${line}, column \\d+: `));
    expect(err.message).not.toContain("\n");
  });

  it("does not quote YAML content either", () => {
    const err = parseError("keys:\n  primaryKey: hunter2-secret-value\n   bad: 1\n", "dc.yaml");
    expect(err.message).not.toContain("hunter2");
  });

  it("reads a YAML file of only comments as null", () => {
    expect(parseStructuredText("# nothing here\n", "dc.yaml")).toBeNull();
  });

  it("refuses empty files and multi-document YAML", () => {
    expect(parseError("  \n", "dc.yaml").message).toBe("dc.yaml: the file is empty");
    expect(parseError("a: 1\n---\nb: 2\n", "dc.yaml").message).toMatch(/single document/);
  });
});

describe("locateJsonError", () => {
  it("points at the offending character", () => {
    expect(locateJsonError('{"a" 1}')).toEqual({ offset: 5, reason: "expected ':' after a property name" });
    expect(locateJsonError('{"a": "\\x"}').reason).toBe("bad escape in a string");
    expect(locateJsonError('{"a": 01}').reason).toMatch(/expected ','/);
  });
});

describe("closestMatch", () => {
  const keys = ["computeType", "authEnabled", "tokenAuthEnabled", "containerResourceRequirements"];
  it("suggests near misses, case-insensitively", () => {
    expect(closestMatch("computetype", keys)).toBe("computeType");
    expect(closestMatch("authEnabeld", keys)).toBe("authEnabled");
    expect(closestMatch("tokenAuthEnable", keys)).toBe("tokenAuthEnabled");
  });
  it("suggests nothing for unrelated words", () => {
    expect(closestMatch("banana", keys)).toBeUndefined();
  });
});
