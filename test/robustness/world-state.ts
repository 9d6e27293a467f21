// Reads the emulator's durable state (state.json in its data dir) so a test can count what the
// server actually applied: every regenerate, deploy and update leaves one operation record.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestWorld } from "../e2e/helpers.js";

export interface StoredService {
  name: string;
  computeType: "ACI" | "AKS";
  authEnabled: boolean;
  aadAuthEnabled: boolean;
  state: string;
  keys: { primaryKey: string; secondaryKey: string };
}

export interface StoredEndpoint {
  name: string;
  authMode: string;
  provisioningState: string;
  keys: { primaryKey: string; secondaryKey: string };
}

interface StoredOperation {
  api: "v1" | "v2";
  operationType: string;
  target: string;
  status: string;
}

interface StoredState {
  v1Services: Record<string, StoredService>;
  v2Endpoints: Record<string, StoredEndpoint>;
  operations: Record<string, StoredOperation>;
}

/** The state as last written: the store resolves a change only once it is on disk. */
export function storedState(world: TestWorld): StoredState {
  return JSON.parse(readFileSync(join(world.dataDir, "state.json"), "utf8")) as StoredState;
}

export function service(world: TestWorld, name: string): StoredService | undefined {
  return storedState(world).v1Services[name];
}

export function endpoint(world: TestWorld, name: string): StoredEndpoint | undefined {
  return storedState(world).v2Endpoints[name];
}

/** How many operations of this type the server started for `target` (applied changes). */
export function operationCount(world: TestWorld, api: "v1" | "v2", operationType: string, target: string): number {
  return Object.values(storedState(world).operations).filter(
    (op) => op.api === api && op.operationType === operationType && op.target === target,
  ).length;
}
