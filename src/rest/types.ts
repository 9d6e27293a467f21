// The small interface every command talks to. One adapter per API:
// v1 Model Management (src/rest/v1.ts) and v2 ARM online endpoints (src/rest/v2.ts).
import type { V1DeploySpec, V2DeploySpec } from "../core/deploy-config.js";

export type ApiKind = "v1" | "v2";

/** v1: ACI | AKS. v2: Managed | Kubernetes (Kubernetes when properties.compute is set). */
export type ComputeType = "ACI" | "AKS" | "Managed" | "Kubernetes";

/** v1 modes: key | token | none. v2 modes: key | aml_token | aad_token. */
export type AuthMode = "key" | "token" | "none" | "aml_token" | "aad_token";

/** What `auth show` and `deploy` print (-o json shape from the CLI issue). */
export interface ServiceInfo {
  api: ApiKind;
  name: string;
  computeType: ComputeType;
  authMode: AuthMode;
  /** Key auth on. */
  authEnabled: boolean;
  /** Token auth on (v1 aadAuthEnabled; v2 aml_token or aad_token). */
  tokenAuthEnabled: boolean;
  /** v1: Transitioning|Healthy|Unhealthy|Failed; v2: provisioningState. */
  state: string;
  scoringUri: string | null;
}

export interface ServiceKeys {
  primaryKey: string;
  secondaryKey: string;
}

export type KeyType = "Primary" | "Secondary";

export interface ServiceToken {
  accessToken: string;
  tokenType: string;
  /** Epoch seconds, UTC. */
  expiryOn: number;
  /** Epoch seconds, UTC. Request a new token after this. */
  refreshAfter: number;
  /** "entra": an Entra token from the user's credential (v2 aad_token endpoints), not one minted by the service. */
  source?: "service" | "entra";
}

export interface WaitOptions {
  /** false = return as soon as the server accepted the change (--no-wait). */
  wait: boolean;
  /** Called with short progress labels ("Transitioning", "Running"); goes to the spinner. */
  onProgress?: (label: string) => void;
  signal?: AbortSignal;
}

/** The target state of `auth set`. */
export interface AuthChange {
  mode: AuthMode;
}

export interface AuthBackend {
  readonly api: ApiKind;
  /** Throws NotFoundError when absent. */
  get(name: string): Promise<ServiceInfo>;
  /** null when absent (used by name resolution). */
  find(name: string): Promise<ServiceInfo | null>;
  listKeys(name: string): Promise<ServiceKeys>;
  /** Waits for the operation; never applies the change twice (see rest/reconcile). */
  regenerateKey(name: string, keyType: KeyType, keyValue?: string, opts?: WaitOptions): Promise<void>;
  getToken(name: string): Promise<ServiceToken>;
  setAuthMode(name: string, change: AuthChange, opts: WaitOptions): Promise<ServiceInfo>;
  deploy(spec: V1DeploySpec | V2DeploySpec, opts: WaitOptions): Promise<ServiceInfo>;
}
