// The emulator's seeded world and its public, documented sign-in values.
// These are not secrets: they only open the local emulator (documented in README).

export const EMULATOR_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000";
export const EMULATOR_RESOURCE_GROUP = "amlauth-rg";
export const EMULATOR_WORKSPACE = "amlauth-ws";
/** Made-up region so nothing looks like a real Azure location. */
export const EMULATOR_REGION = "emulatorwest";
export const EMULATOR_AKS_COMPUTE = "aks-compute";
export const EMULATOR_MODEL = "demo-model:1";
export const EMULATOR_ENVIRONMENT = "demo-env:1";
export const EMULATOR_TENANT_ID = "11111111-1111-1111-1111-111111111111";
export const EMULATOR_CLIENT_ID = "22222222-2222-2222-2222-222222222222";
export const EMULATOR_CLIENT_SECRET = "amlauth-emulator-secret";
/** Accepted as a control-plane bearer without signing in (documented). */
export const EMULATOR_STATIC_TOKEN = "amlauth-emulator-static-token";

/** v1 services seeded unless --empty. */
export const SEEDED_V1_SERVICES = [
  { name: "demo-aci", computeType: "ACI", authEnabled: true, aadAuthEnabled: false },
  { name: "demo-aks", computeType: "AKS", authEnabled: false, aadAuthEnabled: true },
] as const;

/** v2 online endpoints seeded unless --empty. */
export const SEEDED_V2_ENDPOINTS = [
  { name: "demo-managed", authMode: "Key", kubernetes: false },
  { name: "demo-k8s", authMode: "AMLToken", kubernetes: true },
] as const;

/** Audience of Entra tokens for the Azure ML data plane (aad_token endpoints). */
export const ML_DATA_PLANE_AUDIENCE = "https://ml.azure.com";
