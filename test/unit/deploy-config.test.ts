import { describe, expect, it } from "vitest";
import { RuleViolationError, UsageError } from "../../src/errors.js";
import { buildV1DeploySpec, buildV2DeploySpec, type V1DeployInput } from "../../src/core/deploy-config.js";
import { parseStructuredText } from "../../src/core/config-file.js";

const base = (over: Partial<V1DeployInput> = {}): V1DeployInput => ({
  name: "my-svc",
  flags: { computeType: "aci", models: ["demo-model:1"], entryScript: "score.py" },
  ...over,
});

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    const msg = (err as Error).message;
    expect(msg).not.toContain("\n");
    return msg;
  }
  throw new Error("expected a UsageError");
}

describe("buildV1DeploySpec: flags", () => {
  it("builds an ACI spec with defaults (key auth off)", () => {
    expect(buildV1DeploySpec(base())).toEqual({
      api: "v1",
      name: "my-svc",
      computeType: "ACI",
      models: ["demo-model:1"],
      entryScript: "score.py",
      authEnabled: false,
      aadAuthEnabled: false,
      extra: {},
    });
  });

  it("builds an AKS spec with every flag", () => {
    const spec = buildV1DeploySpec({
      name: "aks-svc",
      flags: {
        computeType: "AKS",
        computeTarget: "aks-compute",
        models: ["a:1", "b.model_x:12"],
        entryScript: "pkg/score.py",
        sourceDir: "./src",
        environment: "my-env:3",
        cpu: "0.5",
        memoryGb: 2,
        auth: "token",
        description: "demo",
        overwrite: true,
      },
    });
    expect(spec).toMatchObject({
      computeType: "AKS",
      computeTarget: "aks-compute",
      models: ["a:1", "b.model_x:12"],
      entryScript: "pkg/score.py",
      sourceDir: "./src",
      environment: { name: "my-env", version: "3" },
      cpu: 0.5,
      memoryGb: 2,
      authEnabled: false,
      aadAuthEnabled: true,
      description: "demo",
      overwrite: true,
    });
    expect(buildV1DeploySpec(base({ flags: { ...base().flags, environment: "AzureML-Minimal" } })).environment).toEqual({ name: "AzureML-Minimal" });
  });

  it.each([
    [undefined, /service NAME is required/],
    ["ab", /invalid service name "ab"/],
    ["My-svc", /invalid service name/],
    ["1svc", /invalid service name/],
    ["svc-", /invalid service name/],
    ["a".repeat(33), /invalid service name/],
  ])("refuses service name %j", (name, re) => {
    expect(usage(() => buildV1DeploySpec(base(name === undefined ? { name: undefined } : { name })))).toMatch(re);
  });

  it("accepts 3 and 32 character names", () => {
    expect(buildV1DeploySpec(base({ name: "abc" })).name).toBe("abc");
    expect(buildV1DeploySpec(base({ name: `a${"b".repeat(31)}` })).name).toHaveLength(32);
  });

  it.each([
    [{ models: [] }, /at least one --model/],
    [{ models: ["nover"] }, /NAME:VERSION/],
    [{ models: ["m:0"] }, /NAME:VERSION/],
    [{ models: ["m:latest"] }, /NAME:VERSION/],
    [{ models: ["m:1", "m:1"] }, /given twice/],
    [{ entryScript: undefined }, /entry script is required/],
    [{ entryScript: "score.txt" }, /must end in \.py/],
    [{ entryScript: "my-score.py" }, /Python identifier/],
    [{ entryScript: "class.py" }, /Python identifier/],
    [{ entryScript: "1score.py" }, /Python identifier/],
    [{ sourceDir: "src", entryScript: "../score.py" }, /inside the source directory/],
    [{ sourceDir: "src", entryScript: "/abs/score.py" }, /inside the source directory/],
    [{ environment: "env:v2" }, /NAME or NAME:VERSION/],
    [{ environment: "a:1:2" }, /NAME or NAME:VERSION/],
    [{ cpu: "0" }, /--cpu must be a number greater than 0/],
    [{ cpu: "lots" }, /--cpu must be a number/],
    [{ memoryGb: -1 }, /--memory-gb must be a number greater than 0/],
    [{ cpu: 5 }, /more than ACI allows \(at most 4 cores\)/],
    [{ memoryGb: 17 }, /more than ACI allows \(at most 16 GB\)/],
    [{ computeTarget: "aks-compute" }, /--compute-target applies only to AKS/],
    [{ computeType: "local" }, /not supported by amlauth/],
    [{ computeType: "k8s" }, /unknown deployment type "k8s"/],
    [{ auth: "bearer" }, /unknown auth mode/],
  ])("refuses bad flags %#", (flags, re) => {
    expect(usage(() => buildV1DeploySpec(base({ flags: { ...base().flags, ...flags } })))).toMatch(re);
  });

  it("needs a compute type and, for AKS, a compute target", () => {
    expect(usage(() => buildV1DeploySpec(base({ flags: { models: ["m:1"], entryScript: "score.py" } })))).toMatch(/--compute-type aci\|aks/);
    expect(usage(() => buildV1DeploySpec(base({ flags: { ...base().flags, computeType: "aks" } })))).toMatch(/need a compute target/);
    expect(usage(() => buildV1DeploySpec(base({ flags: { ...base().flags, computeType: "aks", computeTarget: "x" } })))).toMatch(/invalid compute target/);
  });

  it("checks file existence through the injected function", () => {
    const seen: string[] = [];
    const exists = (path: string, kind: "file" | "dir") => {
      seen.push(`${kind}:${path}`);
      return path !== "src/missing.py";
    };
    const flags = { ...base().flags, sourceDir: "src/", entryScript: "score.py" };
    buildV1DeploySpec(base({ flags, exists }));
    expect(seen).toEqual(["dir:src/", "file:src/score.py"]);
    expect(usage(() => buildV1DeploySpec(base({ flags: { ...flags, entryScript: "missing.py" }, exists })))).toMatch(
      /entry script "src\/missing.py" does not exist/,
    );
    expect(usage(() => buildV1DeploySpec(base({ flags, exists: () => false })))).toMatch(/source directory "src\/" does not exist/);
  });
});

describe("buildV1DeploySpec: --dc and --ic files", () => {
  const aksDc = {
    computeType: "aks",
    computeTargetName: "aks-compute",
    containerResourceRequirements: { cpu: 0.5, memoryInGB: 1, cpuLimit: 1, memoryInGBLimit: 2 },
    gpuCores: 1,
    authEnabled: true,
    keys: { primaryKey: "primary-key-0001", secondaryKey: "secondary-key-0002" },
    appInsightsEnabled: true,
    autoScaler: { autoscaleEnabled: true, minReplicas: 1, maxReplicas: 3, refreshPeriodInSeconds: 10, targetUtilization: 70 },
    dataCollection: { storageEnabled: false },
    scoringTimeoutMs: 60000,
    maxConcurrentRequestsPerContainer: 1,
    maxQueueWaitMs: 500,
    livenessProbeRequirements: { periodSeconds: 10, initialDelaySeconds: 310, timeoutSeconds: 2, successThreshold: 1, failureThreshold: 3 },
    namespace: "ml-prod",
  };

  it("reads an az AKS deploymentconfig (YAML) into the spec and wire-named extras", () => {
    const dc = parseStructuredText(
      "computeType: AKS\ncomputeTargetName: aks-compute\ncontainerResourceRequirements:\n  cpu: 0.5\n  memoryInGB: 1\ntokenAuthEnabled: true\nauthEnabled: false\n",
      "dc.yaml",
    );
    const spec = buildV1DeploySpec({ name: "svc-one", flags: { models: ["m:1"], entryScript: "score.py" }, dc, dcPath: "dc.yaml" });
    expect(spec).toMatchObject({ computeType: "AKS", computeTarget: "aks-compute", cpu: 0.5, memoryGb: 1, authEnabled: false, aadAuthEnabled: true });
  });

  it("passes the AKS extras through in wire names", () => {
    const spec = buildV1DeploySpec({ name: "svc-one", flags: { models: ["m:1"], entryScript: "score.py" }, dc: aksDc, dcPath: "dc.json" });
    expect(spec.keys).toEqual({ primaryKey: "primary-key-0001", secondaryKey: "secondary-key-0002" });
    expect(spec.extra).toEqual({
      containerResourceRequirements: { cpuLimit: 1, memoryInGBLimit: 2, gpu: 1 },
      appInsightsEnabled: true,
      autoScaler: aksDc.autoScaler,
      dataCollection: { storageEnabled: false },
      scoringTimeoutMs: 60000,
      maxConcurrentRequestsPerContainer: 1,
      maxQueueWaitMs: 500,
      livenessProbeRequirements: aksDc.livenessProbeRequirements,
      namespace: "ml-prod",
    });
  });

  it("flags override the files", () => {
    const spec = buildV1DeploySpec({
      name: "svc-one",
      flags: { computeType: "aks", computeTarget: "other-aks", models: ["m:1"], entryScript: "main.py", cpu: 0.75, auth: "key" },
      dc: { ...aksDc, authEnabled: false, tokenAuthEnabled: true },
      ic: { entryScript: "score.py", sourceDirectory: "./app" },
    });
    expect(spec).toMatchObject({ computeTarget: "other-aks", entryScript: "main.py", sourceDir: "./app", cpu: 0.75, memoryGb: 1, authEnabled: true, aadAuthEnabled: false });
  });

  it("takes ACI settings and groups encryption and vnet fields", () => {
    const spec = buildV1DeploySpec({
      name: "svc-one",
      flags: { models: ["m:1"], entryScript: "score.py" },
      dc: { computeType: "ACI", location: "westeurope", dnsNameLabel: "my-svc", vaultBaseUrl: "https://kv.vault.azure.net", keyName: "k", keyVersion: "1", vnetName: "v", subnetName: "s" },
    });
    expect(spec.extra).toEqual({
      location: "westeurope",
      dnsNameLabel: "my-svc",
      encryptionProperties: { vaultBaseUrl: "https://kv.vault.azure.net", keyName: "k", keyVersion: "1" },
      vnetConfiguration: { vnetName: "v", subnetName: "s" },
    });
  });

  it("reads entryScript, sourceDirectory (null allowed) and an inline environment from --ic", () => {
    const environment = { name: "inline-env", python: { userManagedDependencies: false } };
    const spec = buildV1DeploySpec({ name: "svc-one", flags: { computeType: "aci", models: ["m:1"] }, ic: { entryScript: "score.py", sourceDirectory: null, environment } });
    expect(spec.entryScript).toBe("score.py");
    expect(spec.sourceDir).toBeUndefined();
    expect(spec.inlineEnvironment).toEqual(environment);
  });

  it.each([
    [{ computeType: "aci", authEnabeld: true }, 'dc.json: unknown key "authEnabeld" (did you mean "authEnabled"?)'],
    [{ computeType: "aci", containerResourceRequirements: { cpus: 1 } }, 'dc.json: unknown key "containerResourceRequirements.cpus" (did you mean "cpu"?)'],
    [{ computeType: "aci", authEnabled: "yes" }, "dc.json: authEnabled must be true or false"],
    [{ computeType: "aci", containerResourceRequirements: { cpu: -1 } }, "dc.json: containerResourceRequirements.cpu must be a number greater than 0"],
    [{ computeType: "aci", containerResourceRequirements: { cpu: "1" } }, "dc.json: containerResourceRequirements.cpu must be a number greater than 0"],
    [{ computeType: "aci", keys: "abc" }, "dc.json: keys must be an object"],
    [{ computeType: "aci", keys: { primaryKey: 12345678 } }, "dc.json: keys.primaryKey must be a non-empty string"],
    [{ computeType: "aci", numReplicas: 2 }, "dc.json: numReplicas applies only to AKS services, not ACI"],
    [{ computeType: "aci", sslEnabled: true }, "dc.json: sslEnabled: TLS settings are not supported by amlauth deploy; configure TLS on the service afterwards"],
    [{ computeType: "aks", computeTargetName: "aks-compute", location: "westus" }, "dc.json: location applies only to ACI services, not AKS"],
    [{ computeType: "aks", computeTargetName: "aks-compute", autoScaler: { minReplicas: 3, maxReplicas: 2 } }, "dc.json: autoScaler.minReplicas must not be above maxReplicas"],
    [{ computeType: "aks", computeTargetName: "aks-compute", autoScaler: { autoscaleEnabled: true }, numReplicas: 2 }, "dc.json: numReplicas cannot be set while autoScaler.autoscaleEnabled is true; keep one"],
    [{ computeType: "aks", computeTargetName: "aks-compute", autoScaler: { targetUtilization: 101 } }, "dc.json: autoScaler.targetUtilization must be a whole number from 1 to 100"],
    [{ computeType: "aks", computeTargetName: "aks-compute", numReplicas: 1.5 }, "dc.json: numReplicas must be a whole number greater than 0"],
    [{ computeType: "aks", computeTargetName: "aks-compute", containerResourceRequirements: { cpu: 2, cpuLimit: 1 } }, "dc.json: containerResourceRequirements.cpuLimit must not be below cpu (2)"],
    [{ computeType: "aks", computeTargetName: "aks-compute", namespace: "Bad_NS" }, "dc.json: namespace must be a Kubernetes namespace name (lowercase letters, digits, hyphens)"],
    [{ computeType: "aci", authEnabled: false, keys: { primaryKey: "primary-key-0001" } }, "dc.json: keys are set but key authentication is off; remove them or use key auth (--auth key)"],
    [{ computeType: "aci", authEnabled: true, keys: { primaryKey: "same-key-0001", secondaryKey: "same-key-0001" } }, "dc.json: keys.primaryKey and keys.secondaryKey must differ (rotation needs two keys)"],
    [{ computeType: "aci", authEnabled: true, keys: { primaryKey: "short" } }, "dc.json: keys.primaryKey must be 8–128 printable characters without spaces"],
    [{ computeType: 7 }, "dc.json: computeType must be ACI or AKS"],
    [{ authEnabled: true }, "Need to specify computeType in --deploy-config-file (dc.json), or pass --compute-type aci|aks"],
    [{ computeType: "aksendpoint" }, 'dc.json: compute type "aksendpoint" is not supported by amlauth; use ACI or AKS'],
    [{ computeType: "acii", authEnabled: true }, 'dc.json: unknown deployment type "acii"; use ACI or AKS'],
    [["computeType", "aci"], "dc.json: the file must hold an object (key: value pairs)"],
    [null, "dc.json: the file must hold an object (key: value pairs)"],
  ])("refuses a bad --dc file %#", (dc, message) => {
    const msg = usage(() => buildV1DeploySpec({ name: "svc-one", flags: { models: ["m:1"], entryScript: "score.py" }, dc, dcPath: "dc.json" }));
    expect(msg).toBe(message);
  });

  it("never echoes key values from a --dc file", () => {
    const msg = usage(() =>
      buildV1DeploySpec({
        name: "svc-one",
        flags: { models: ["m:1"], entryScript: "score.py" },
        dc: { computeType: "aci", authEnabled: true, keys: { primaryKey: "has space in-it-secret" } },
        dcPath: "dc.json",
      }),
    );
    expect(msg).not.toContain("secret");
  });

  it.each([
    [{ entryScript: "score.py", runtime: "python" }, /runtime: legacy image-based deploy settings are not supported/],
    [{ entryScript: "score.py", environment: "name" }, /environment must be an object/],
    [{ entryScript: "score.py", environment: { python: {} } }, /environment.name must be a non-empty string/],
    [{ entryScript: "score.py", sourceDir: "x" }, /unknown key "sourceDir" \(did you mean "sourceDirectory"\?\)/],
    [{ entryScript: 3 }, /entryScript must be a non-empty string/],
    ["score.py", /the file must hold an object/],
  ])("refuses a bad --ic file %#", (ic, re) => {
    const msg = usage(() => buildV1DeploySpec({ name: "svc-one", flags: { computeType: "aci", models: ["m:1"] }, ic, icPath: "ic.json" }));
    expect(msg).toMatch(/^ic\.json: /);
    expect(msg).toMatch(re);
  });

  it("refuses --environment together with an inline environment", () => {
    expect(
      usage(() =>
        buildV1DeploySpec({
          name: "svc-one",
          flags: { computeType: "aci", models: ["m:1"], environment: "e:1" },
          ic: { entryScript: "score.py", environment: { name: "inline" } },
          icPath: "ic.json",
        }),
      ),
    ).toMatch(/both --environment and an environment object in ic.json/);
  });

  it("tokenAuthEnabled: false on ACI is harmless; true is a rule violation", () => {
    const flags = { models: ["m:1"], entryScript: "score.py" };
    expect(buildV1DeploySpec({ name: "svc-one", flags, dc: { computeType: "aci", tokenAuthEnabled: false } }).aadAuthEnabled).toBe(false);
    expect(() => buildV1DeploySpec({ name: "svc-one", flags, dc: { computeType: "aci", tokenAuthEnabled: true } })).toThrow(RuleViolationError);
  });
});

describe("buildV2DeploySpec", () => {
  const k8s = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/k8s";

  it("defaults to key auth on a managed endpoint", () => {
    expect(buildV2DeploySpec({ name: "My-Endpoint" })).toEqual({ api: "v2", name: "My-Endpoint", authMode: "key" });
  });

  it("keeps compute, description and location", () => {
    expect(buildV2DeploySpec({ name: "ep-k8s", auth: "token", compute: k8s, description: "d", location: "westeurope" })).toEqual({
      api: "v2",
      name: "ep-k8s",
      authMode: "aml_token",
      compute: k8s,
      description: "d",
      location: "westeurope",
    });
  });

  it.each([
    [{ name: undefined }, /endpoint NAME is required/],
    [{ name: "ep" }, /invalid endpoint name/],
    [{ name: "ep_one" }, /invalid endpoint name/],
    [{ name: "ep-one", compute: "k8s" }, /--compute must be the ARM id of a Kubernetes compute/],
    [{ name: "ep-one", compute: `${k8s}/extra` }, /--compute must be the ARM id/],
    [{ name: "ep-one", location: "west europe" }, /invalid location/],
    [{ name: "ep-one", description: "x".repeat(513) }, /at most 512/],
  ])("refuses %#", (input, re) => {
    expect(usage(() => buildV2DeploySpec(input))).toMatch(re);
  });
});
