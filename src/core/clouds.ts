// Azure clouds by name (v2-sdk.md §4.4), and the one rule for turning a cloud name or URL into an
// endpoint. Pure: shared by the config resolver and the REST session.
import { UsageError } from "../errors.js";

export const CLOUDS = {
  public: { armEndpoint: "https://management.azure.com", authorityHost: "https://login.microsoftonline.com" },
  china: { armEndpoint: "https://management.chinacloudapi.cn", authorityHost: "https://login.chinacloudapi.cn" },
  usgov: { armEndpoint: "https://management.usgovcloudapi.net", authorityHost: "https://login.microsoftonline.us" },
} as const;
export type CloudName = keyof typeof CLOUDS;
export type CloudEndpoint = keyof (typeof CLOUDS)["public"];

/** az's cloud names mean the same clouds. */
const CLOUD_ALIASES: Record<string, CloudName> = {
  public: "public",
  azurecloud: "public",
  china: "china",
  azurechinacloud: "china",
  usgov: "usgov",
  azureusgovernment: "usgov",
};

export function cloudName(value: string): CloudName | undefined {
  return CLOUD_ALIASES[value.trim().toLowerCase()];
}

const LABELS: Record<CloudEndpoint, string> = { armEndpoint: "the ARM endpoint", authorityHost: "the authority host" };

/**
 * A cloud name or an https URL → the endpoint: absent = public cloud. ARM endpoints keep their path
 * (without trailing slashes); authority hosts are reduced to their origin.
 */
export function normalizeCloudEndpoint(value: string | undefined, which: CloudEndpoint): string {
  if (value === undefined || value.trim() === "") return CLOUDS.public[which];
  const named = cloudName(value);
  if (named) return CLOUDS[named][which];
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new UsageError(`${LABELS[which]} ${JSON.stringify(value)} is neither a URL nor a cloud name (public, china, usgov)`);
  }
  if (url.protocol !== "https:") throw new UsageError(`${LABELS[which]} must use https: ${url.origin}`);
  return which === "armEndpoint" ? `${url.origin}${url.pathname.replace(/\/+$/, "")}` : url.origin;
}
