import { afterEach, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { V1DeploySpec } from "../../src/core/deploy-config.js";
import { UsageError } from "../../src/errors.js";
import { buildCreateBody, createTarGz, prepareUploads } from "../../src/rest/v1-deploy.js";
import { tempDir } from "./helpers.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});
function scratch() {
  const t = tempDir("amlauth-deploy-");
  cleanups.push(t.cleanup);
  return t.dir;
}

function spec(over: Partial<V1DeploySpec> = {}): V1DeploySpec {
  return {
    api: "v1",
    name: "svc",
    computeType: "ACI",
    models: ["demo-model:1"],
    entryScript: "score.py",
    authEnabled: true,
    aadAuthEnabled: false,
    extra: {},
    ...over,
  };
}

describe("source directory tarball", () => {
  it("is a gzip'd ustar that system tar extracts under basename(sourceDir)", () => {
    const root = scratch();
    const src = join(root, "my_src");
    const deep = join(src, "pkg", "a".repeat(60), "b".repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(src, "score.py"), "def init():\n    pass\n");
    writeFileSync(join(src, "pkg", "helper.py"), "X = 1\n");
    const longName = `${"c".repeat(120)}.txt`; // over 100 bytes: needs a pax header
    writeFileSync(join(deep, longName), "deep");
    writeFileSync(join(src, "empty.bin"), "");
    symlinkSync("score.py", join(src, "link.py"));

    const tgz = createTarGz(src);
    expect(gunzipSync(tgz).length % 512).toBe(0);
    const archive = join(root, "out.tar.gz");
    writeFileSync(archive, tgz);
    const listing = execFileSync("tar", ["-tzf", archive], { encoding: "utf8" }).trim().split("\n");
    expect(listing.every((p) => p.startsWith("my_src/"))).toBe(true);
    expect(listing).toContain("my_src/pkg/helper.py");

    const out = join(root, "x");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", archive, "-C", out]);
    expect(readFileSync(join(out, "my_src", "score.py"), "utf8")).toBe("def init():\n    pass\n");
    expect(readFileSync(join(out, "my_src", "pkg", "a".repeat(60), "b".repeat(60), longName), "utf8")).toBe("deep");
    expect(readFileSync(join(out, "my_src", "empty.bin"), "utf8")).toBe("");
    expect(readFileSync(join(out, "my_src", "link.py"), "utf8")).toBe("def init():\n    pass\n");
  });
});

describe("prepareUploads", () => {
  it("uploads the entry script alone, plus a driver that loads it", () => {
    const dir = scratch();
    writeFileSync(join(dir, "score.py"), "def run(data):\n    return data\n");
    const files = prepareUploads(spec(), dir);
    expect(files.code.path).toBe("score.py");
    expect(files.code.bytes.toString()).toContain("def run");
    expect(files.driver.path).toMatch(/^amlauth_main_[0-9a-f]{8}\.py$/);
    expect(files.driver.bytes.toString()).toContain('_ENTRY_SCRIPT = "score.py"');
    expect(files.driver.bytes.toString()).toContain("_SOURCE_ROOT = None");
    expect(files.entryVariables).toEqual({ AZUREML_ENTRY_SCRIPT: "score.py" });
  });

  it("tars a source directory with unpack and points the driver into it", () => {
    const dir = scratch();
    mkdirSync(join(dir, "app", "sub"), { recursive: true });
    writeFileSync(join(dir, "app", "sub", "score.py"), "def run(x):\n    return x\n");
    const files = prepareUploads(spec({ sourceDir: "app", entryScript: "sub/score.py" }), dir);
    expect(files.code.path).toMatch(/^[0-9a-f]{8}\.tar\.gz$/);
    expect(files.code.unpack).toBe(true);
    expect(files.entryVariables).toEqual({ AZUREML_SOURCE_DIRECTORY: "app", AZUREML_ENTRY_SCRIPT: "app/sub/score.py" });
    expect(files.driver.bytes.toString()).toContain('_SOURCE_ROOT = "app"');
  });

  it("runs the driver with python when one is available", () => {
    let python: string | undefined;
    for (const candidate of ["python3", "python"]) {
      try {
        execFileSync(candidate, ["--version"], { stdio: "ignore" });
        python = candidate;
        break;
      } catch {
        // try the next name
      }
    }
    if (!python) return; // the wrapper's text is covered above
    const dir = scratch();
    writeFileSync(join(dir, "score.py"), "state = {}\ndef init():\n    state['ready'] = True\ndef run(raw_data, request_headers):\n    return [state['ready'], raw_data, request_headers['h']]\n");
    const files = prepareUploads(spec(), dir);
    writeFileSync(join(dir, files.driver.path), files.driver.bytes);
    const out = execFileSync(
      python,
      ["-c", `import json, sys; sys.path.insert(0, ${JSON.stringify(dir)}); import ${files.driver.path.slice(0, -3)} as d; d.init(); print(json.dumps(d.run("body", {"h": 1})))`],
      { encoding: "utf8" },
    );
    expect(JSON.parse(out)).toEqual([true, "body", 1]);
  });

  it("checks the entry script like SDK v1 before any network call", () => {
    const dir = scratch();
    writeFileSync(join(dir, "my-score.py"), "");
    writeFileSync(join(dir, "score.txt"), "");
    writeFileSync(join(dir, "class.py"), "");
    const message = (s: Partial<V1DeploySpec>) => {
      try {
        prepareUploads(spec(s), dir);
        return "no error";
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
    };
    expect(message({ entryScript: "missing.py" })).toBe("entry script missing.py not found");
    expect(message({ entryScript: "score.txt" })).toMatch(/must be a Python file/);
    expect(message({ entryScript: "my-score.py" })).toMatch(/^invalid name "my-score.py"/);
    expect(message({ entryScript: "class.py" })).toMatch(/^invalid name "class.py"/);
    expect(message({ sourceDir: "nope" })).toMatch(/^source directory nope does not exist/);
  });
});

describe("create body", () => {
  const image = { driverProgram: "d.py", assets: [], modelIds: ["demo-model:1"] };

  it("ACI: explicit auth flags, null keys, SDK resource defaults", () => {
    const body = buildCreateBody(spec({ authEnabled: true, aadAuthEnabled: false }), image);
    expect(body).toMatchObject({
      name: "svc",
      computeType: "ACI",
      keys: { primaryKey: null, secondaryKey: null },
      authEnabled: true,
      aadAuthEnabled: false,
      containerResourceRequirements: { cpu: 0.1, memoryInGB: 0.5 },
      environmentImageRequest: image,
    });
    expect(body).not.toHaveProperty("computeName");
    expect(body).not.toHaveProperty("overwrite");
  });

  it("AKS: computeName, given keys, extras that cannot override auth", () => {
    const body = buildCreateBody(
      spec({
        computeType: "AKS",
        computeTarget: "aks-compute",
        authEnabled: false,
        aadAuthEnabled: true,
        cpu: 1,
        keys: { primaryKey: "pk-123456789" },
        extra: { numReplicas: 2, authEnabled: true, containerResourceRequirements: { cpuLimit: 2 } },
        overwrite: true,
      }),
      image,
    );
    expect(body).toMatchObject({
      computeType: "AKS",
      computeName: "aks-compute",
      numReplicas: 2,
      authEnabled: false,
      aadAuthEnabled: true,
      keys: { primaryKey: "pk-123456789", secondaryKey: null },
      containerResourceRequirements: { cpu: 1, cpuLimit: 2, memoryInGB: 0.5, memoryInGBLimit: null, gpu: null },
      overwrite: true,
    });
  });
});
