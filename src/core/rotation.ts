// The two-key rotation procedure as a pure state machine (no I/O). The command persists the
// state between steps, so an interrupted rotation resumes where it stopped. State never holds keys.
//
//   start ──regen secondary──▶ secondary-regenerated ──verify/exec ok──▶ clients-moving
//        ──(--then-primary | --wait-for-clients elapsed)──▶ regen primary ──▶ done (state removed)

export type RotationPhase = "secondary-regenerated" | "clients-moving";

export interface RotationState {
  version: 1;
  api: "v1" | "v2";
  name: string;
  phase: RotationPhase;
  startedAt: string;
  updatedAt: string;
  /** Set when --verify proved the new secondary key works. */
  verifiedAt?: string;
  /** Set when --exec succeeded with the new secondary key. */
  execSucceededAt?: string;
}

export interface RotationRequest {
  verify: boolean;
  exec: string | undefined;
  /** Regenerate the primary right away (after verify/exec). */
  thenPrimary: boolean;
  /** Wait this many seconds for clients, then regenerate the primary. */
  waitForClientsSeconds: number | undefined;
}

export type RotationStep =
  | { kind: "regen-secondary" }
  | { kind: "verify-secondary" }
  | { kind: "exec" }
  | { kind: "wait-for-clients"; seconds: number }
  | { kind: "regen-primary" }
  | { kind: "stop-awaiting-primary" };

/** The steps still to run for this request, given what a previous run already did. */
export function planRotation(state: RotationState | undefined, req: RotationRequest): RotationStep[] {
  const steps: RotationStep[] = [];
  if (!state) steps.push({ kind: "regen-secondary" });
  // Verification and the hook run on every (re)start until they have succeeded once.
  if (req.verify && !state?.verifiedAt) steps.push({ kind: "verify-secondary" });
  if (req.exec !== undefined && !state?.execSucceededAt) steps.push({ kind: "exec" });
  if (req.waitForClientsSeconds !== undefined) {
    steps.push({ kind: "wait-for-clients", seconds: req.waitForClientsSeconds });
    steps.push({ kind: "regen-primary" });
  } else if (req.thenPrimary) {
    steps.push({ kind: "regen-primary" });
  } else {
    steps.push({ kind: "stop-awaiting-primary" });
  }
  return steps;
}

export function newRotationState(api: "v1" | "v2", name: string, nowIso: string): RotationState {
  return { version: 1, api, name, phase: "secondary-regenerated", startedAt: nowIso, updatedAt: nowIso };
}

export function isRotationState(value: unknown): value is RotationState {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    v.version === 1 &&
    (v.api === "v1" || v.api === "v2") &&
    typeof v.name === "string" &&
    (v.phase === "secondary-regenerated" || v.phase === "clients-moving") &&
    typeof v.startedAt === "string"
  );
}

export function describeRotation(state: RotationState | undefined, name: string): string {
  if (!state) return `no rotation in progress for ${name}`;
  const done = [
    `secondary key regenerated at ${state.startedAt}`,
    state.verifiedAt ? `verified at ${state.verifiedAt}` : undefined,
    state.execSucceededAt ? `--exec hook succeeded at ${state.execSucceededAt}` : undefined,
  ].filter(Boolean);
  return `rotation of ${name} in progress: ${done.join("; ")}; next: move clients to the secondary key, then \`amlauth keys rotate ${name} --then-primary\``;
}
