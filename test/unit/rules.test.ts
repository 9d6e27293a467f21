import { describe, expect, it } from "vitest";
import { RuleViolationError, ServiceError, UsageError } from "../../src/errors.js";
import {
  RULES,
  assertV1TokenAvailable,
  assertV2ModeAllowed,
  normalizeV2AuthMode,
  parseV1AuthMode,
  planV1AuthUpdate,
  resolveV1DeployAuth,
  v1FlagsToMode,
  v1ModeToFlags,
  v2ModeFromWire,
  v2WireMode,
  type RuleId,
  type V1AuthFlags,
  type V1AuthRequest,
  type V1Compute,
} from "../../src/core/rules.js";
import { buildV1DeploySpec, buildV2DeploySpec } from "../../src/core/deploy-config.js";

// Outcome codes: K = key auth, T = token auth, N = none, !A = token-on-ACI violation, !B = key+token violation.
type Outcome = "K" | "T" | "N" | "!A" | "!B";
const FLAGS: Record<Outcome, V1AuthFlags | undefined> = {
  K: { authEnabled: true, aadAuthEnabled: false },
  T: { authEnabled: false, aadAuthEnabled: true },
  N: { authEnabled: false, aadAuthEnabled: false },
  "!A": undefined,
  "!B": undefined,
};
const VIOLATION: Partial<Record<Outcome, RuleId>> = { "!A": "v1-token-on-aci", "!B": "v1-key-and-token" };

// The nine requests, in the order the expectation strings below use: key flag × token flag.
const TRI = [undefined, false, true] as const;
const REQUESTS: V1AuthRequest[] = TRI.flatMap((authEnabled) =>
  TRI.map((tokenAuthEnabled) => {
    const req: V1AuthRequest = {};
    if (authEnabled !== undefined) req.authEnabled = authEnabled;
    if (tokenAuthEnabled !== undefined) req.tokenAuthEnabled = tokenAuthEnabled;
    return req;
  }),
);
const describeReq = (r: V1AuthRequest): string => `key=${r.authEnabled ?? "unset"} token=${r.tokenAuthEnabled ?? "unset"}`;

function expectViolation(fn: () => unknown, rule: RuleId): RuleViolationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RuleViolationError);
    const violation = err as RuleViolationError;
    expect(violation.rule).toBe(rule);
    expect(violation.exitCode).toBe(2);
    expect(violation.message).toBe(RULES[rule]);
    expect(violation.hint).toBeTruthy();
    return violation;
  }
  throw new Error(`expected a ${rule} violation`);
}

describe("v1 deploy: compute × key flag × token flag × source", () => {
  //                       requests: uu    uf    ut     fu   ff   ft     tu   tf   tt
  const EXPECTED: Record<V1Compute, Outcome[]> = {
    ACI: ["N", "N", "!A", "N", "N", "!A", "K", "K", "!A"],
    AKS: ["K", "K", "T", "N", "N", "T", "K", "K", "!B"],
  };
  for (const compute of ["ACI", "AKS"] as const) {
    REQUESTS.forEach((req, i) => {
      const outcome = EXPECTED[compute][i] as Outcome;
      for (const source of ["flag", "file", "update"] as const) {
        it(`${compute} ${describeReq(req)} from ${source} → ${outcome}`, () => {
          const rule = VIOLATION[outcome];
          if (rule) {
            const err = expectViolation(() => resolveV1DeployAuth(compute, req, source), rule);
            // The hint names what to change where the request came from.
            if (source === "file") expect(err.hint).toMatch(/deploy config/);
            if (source === "flag") expect(err.hint).toMatch(/--auth/);
            if (source === "update") expect(err.hint).toMatch(/amlauth auth set/);
          } else {
            expect(resolveV1DeployAuth(compute, req, source)).toEqual(FLAGS[outcome]);
          }
        });
      }
    });
  }
});

describe("v1 deploy through the --dc loader (file source)", () => {
  const EXPECTED: Record<V1Compute, Outcome[]> = {
    ACI: ["N", "N", "!A", "N", "N", "!A", "K", "K", "!A"],
    AKS: ["K", "K", "T", "N", "N", "T", "K", "K", "!B"],
  };
  for (const compute of ["ACI", "AKS"] as const) {
    REQUESTS.forEach((req, i) => {
      const outcome = EXPECTED[compute][i] as Outcome;
      it(`${compute} deploymentconfig ${describeReq(req)} → ${outcome}`, () => {
        const dc: Record<string, unknown> = { computeType: compute.toLowerCase(), ...req };
        if (compute === "AKS") dc["computeTargetName"] = "aks-compute";
        const build = () =>
          buildV1DeploySpec({ name: "svc-one", flags: { models: ["m:1"], entryScript: "score.py" }, dc, dcPath: "dc.json" });
        const rule = VIOLATION[outcome];
        if (rule) {
          const err = expectViolation(build, rule);
          expect(err.hint).toMatch(/deploy config/);
        } else {
          const spec = build();
          expect({ authEnabled: spec.authEnabled, aadAuthEnabled: spec.aadAuthEnabled }).toEqual(FLAGS[outcome]);
        }
      });
    });
  }

  it("--auth overrides both file flags", () => {
    const dc = { computeType: "AKS", computeTargetName: "aks-compute", authEnabled: true, tokenAuthEnabled: false };
    const spec = buildV1DeploySpec({ name: "svc-one", flags: { models: ["m:1"], entryScript: "score.py", auth: "token" }, dc });
    expect([spec.authEnabled, spec.aadAuthEnabled]).toEqual([false, true]);
  });

  for (const compute of ["ACI", "AKS"] as const) {
    for (const mode of ["key", "token", "none"] as const) {
      it(`--auth ${mode} on ${compute}`, () => {
        const flags = { computeType: compute, models: ["m:1"], entryScript: "score.py", auth: mode, computeTarget: compute === "AKS" ? "aks-compute" : undefined };
        const build = () => buildV1DeploySpec({ name: "svc-one", flags });
        if (compute === "ACI" && mode === "token") {
          expectViolation(build, "v1-token-on-aci");
          return;
        }
        const spec = build();
        expect(v1FlagsToMode(spec.authEnabled, spec.aadAuthEnabled)).toBe(mode);
      });
    }
  }
});

describe("v1 update against each current state", () => {
  const STATES: Array<{ compute: V1Compute; current: Outcome; expected: Outcome[] }> = [
    //                                      uu   uf   ut    fu   ff   ft    tu   tf   tt
    { compute: "ACI", current: "N", expected: ["N", "N", "!A", "N", "N", "!A", "K", "K", "!A"] },
    { compute: "ACI", current: "K", expected: ["K", "K", "!A", "N", "N", "!A", "K", "K", "!A"] },
    { compute: "AKS", current: "N", expected: ["N", "N", "T", "N", "N", "T", "K", "K", "!B"] },
    { compute: "AKS", current: "K", expected: ["K", "K", "T", "N", "N", "T", "K", "K", "!B"] },
    { compute: "AKS", current: "T", expected: ["T", "N", "T", "T", "N", "T", "K", "K", "!B"] },
  ];
  for (const { compute, current, expected } of STATES) {
    REQUESTS.forEach((req, i) => {
      const outcome = expected[i] as Outcome;
      it(`${compute} currently ${current}, ${describeReq(req)} → ${outcome}`, () => {
        const state = { computeType: compute, name: "svc", ...(FLAGS[current] as V1AuthFlags) };
        const rule = VIOLATION[outcome];
        if (rule) {
          const err = expectViolation(() => planV1AuthUpdate(state, req), rule);
          expect(err.hint).toContain("amlauth auth set svc");
          return;
        }
        const plan = planV1AuthUpdate(state, req);
        expect(plan.next).toEqual(FLAGS[outcome]);
        expect(plan.changed).toBe(outcome !== current);
        checkPatch(state, plan.patch, FLAGS[outcome] as V1AuthFlags);
      });
    });
  }

  it("every mode against every current state", () => {
    let cases = 0;
    for (const compute of ["ACI", "AKS"] as const) {
      for (const current of compute === "ACI" ? (["N", "K"] as const) : (["N", "K", "T"] as const)) {
        for (const mode of ["key", "token", "none"] as const) {
          const state = { computeType: compute, ...(FLAGS[current] as V1AuthFlags) };
          cases++;
          if (compute === "ACI" && mode === "token") {
            expectViolation(() => planV1AuthUpdate(state, mode), "v1-token-on-aci");
            continue;
          }
          const plan = planV1AuthUpdate(state, mode);
          expect(v1FlagsToMode(plan.next.authEnabled, plan.next.aadAuthEnabled)).toBe(mode);
          const sameMode = v1FlagsToMode(state.authEnabled, state.aadAuthEnabled) === mode;
          expect(plan.changed).toBe(!sameMode);
          expect(plan.patch.length).toBe(sameMode ? 0 : compute === "AKS" ? 2 : 1);
          checkPatch(state, plan.patch, plan.next);
        }
      }
    }
    expect(cases).toBe(15);
  });

  it("key → token on AKS switches key off first", () => {
    const plan = planV1AuthUpdate({ computeType: "AKS", authEnabled: true, aadAuthEnabled: false }, "token");
    expect(plan.patch).toEqual([
      { op: "replace", path: "/authEnabled", value: false },
      { op: "replace", path: "/aadAuthEnabled", value: true },
    ]);
  });

  it("token → key on AKS switches token off first", () => {
    const plan = planV1AuthUpdate({ computeType: "AKS", authEnabled: false, aadAuthEnabled: true }, "key");
    expect(plan.patch.map((op) => op.path)).toEqual(["/aadAuthEnabled", "/authEnabled"]);
  });
});

/** Applies the ops in order and checks: never key+token, ends in `next`, nothing for ACI's aadAuthEnabled. */
function checkPatch(state: V1AuthFlags & { computeType: V1Compute }, patch: ReturnType<typeof planV1AuthUpdate>["patch"], next: V1AuthFlags): void {
  const live = { authEnabled: state.authEnabled, aadAuthEnabled: state.aadAuthEnabled };
  for (const op of patch) {
    expect(op.op).toBe("replace");
    if (state.computeType === "ACI") expect(op.path).not.toBe("/aadAuthEnabled");
    if (op.path === "/authEnabled") live.authEnabled = op.value;
    else live.aadAuthEnabled = op.value;
    expect(live.authEnabled && live.aadAuthEnabled).toBe(false);
  }
  expect(live).toEqual(next);
}

describe("v1 modes and token availability", () => {
  it("maps modes to flags and back", () => {
    for (const mode of ["key", "token", "none"] as const) {
      const flags = v1ModeToFlags(mode);
      expect(v1FlagsToMode(flags.authEnabled, flags.tokenAuthEnabled)).toBe(mode);
    }
    expect(v1ModeToFlags("key")).toEqual({ authEnabled: true, tokenAuthEnabled: false });
    // A service reporting both is shown as token: clients send the token in that case.
    expect(v1FlagsToMode(true, true)).toBe("token");
  });

  it.each([
    ["key", "key"],
    ["KEY", "key"],
    ["token", "token"],
    ["aml_token", "token"],
    ["AML-Token", "token"],
    ["none", "none"],
    [" None ", "none"],
  ] as const)("parseV1AuthMode(%j) → %s", (input, mode) => {
    expect(parseV1AuthMode(input)).toBe(mode);
  });

  it("refuses aad_token on v1 and unknown modes", () => {
    expectViolation(() => parseV1AuthMode("aad_token"), "v1-aad-token");
    expect(() => parseV1AuthMode("bearer")).toThrow(UsageError);
    expect(() => parseV1AuthMode("bearer")).toThrow(/choose key, token or none/);
  });

  it("token get: ACI never, AKS only with token auth", () => {
    const aci = expectViolation(
      () => assertV1TokenAvailable({ name: "demo-aci", computeType: "ACI", tokenAuthEnabled: false }),
      "v1-token-unavailable-aci",
    );
    expect(aci.hint).toContain("amlauth keys list demo-aci");
    const aks = expectViolation(
      () => assertV1TokenAvailable({ name: "demo-aks", computeType: "AKS", tokenAuthEnabled: false }),
      "v1-token-not-enabled",
    );
    expect(aks.hint).toContain("amlauth auth set demo-aks --mode token");
    expect(() => assertV1TokenAvailable({ name: "demo-aks", computeType: "AKS", tokenAuthEnabled: true })).not.toThrow();
  });
});

describe("v2: managed/kubernetes × every mode spelling", () => {
  const INPUTS: Array<[string, "key" | "aml_token" | "aad_token" | "none" | "unknown"]> = [
    ["key", "key"],
    ["Key", "key"],
    ["aml_token", "aml_token"],
    ["AMLToken", "aml_token"],
    ["token", "aml_token"],
    ["TOKEN", "aml_token"],
    ["aad_token", "aad_token"],
    ["AADToken", "aad_token"],
    ["aad-token", "aad_token"],
    ["none", "none"],
    ["None", "none"],
    ["certificate", "unknown"],
  ];
  for (const kubernetes of [false, true]) {
    for (const [input, meaning] of INPUTS) {
      const label = kubernetes ? "kubernetes" : "managed";
      it(`${label} ${input}`, () => {
        const run = () => {
          const mode = normalizeV2AuthMode(input);
          assertV2ModeAllowed(mode, { kubernetes, name: "ep" });
          return mode;
        };
        if (meaning === "none") expectViolation(run, "v2-no-none");
        else if (meaning === "unknown") expect(run).toThrow(/choose key, aml_token or aad_token/);
        else if (meaning === "aad_token" && kubernetes) {
          const err = expectViolation(run, "v2-aad-on-kubernetes");
          expect(err.hint).toContain("amlauth auth set ep --mode aml_token");
        } else expect(run()).toBe(meaning);

        // The same through the v2 deploy builder (Kubernetes = --compute given).
        const compute = kubernetes ? "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/k8s" : undefined;
        const build = () => buildV2DeploySpec({ name: "ep-one", auth: input, ...(compute ? { compute } : {}) });
        if (meaning === "none") expectViolation(build, "v2-no-none");
        else if (meaning === "unknown") expect(build).toThrow(UsageError);
        else if (meaning === "aad_token" && kubernetes) expect(expectViolation(build, "v2-aad-on-kubernetes").hint).toMatch(/--compute/);
        else expect(build().authMode).toBe(meaning);
      });
    }
  }

  it("wire names round-trip, case-insensitively", () => {
    for (const mode of ["key", "aml_token", "aad_token"] as const) {
      expect(v2ModeFromWire(v2WireMode(mode))).toBe(mode);
      expect(v2ModeFromWire(v2WireMode(mode).toUpperCase())).toBe(mode);
    }
    expect(v2WireMode("aml_token")).toBe("AMLToken");
    expect(() => v2ModeFromWire("Certificate")).toThrow(ServiceError);
  });
});
