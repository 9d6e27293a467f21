// The workspace discovery document (v1-contract.md §2.2): every service host is this emulator.
// Real clients GET it without an Authorization header.
import type { EmulatorRoute, RouteDeps } from "../deps.js";

const SERVICE_KEYS = [
  "api",
  "catalog",
  "experimentation",
  "gallery",
  "history",
  "hyperdrive",
  "labeling",
  "modelmanagement",
  "pipelines",
  "studio",
] as const;

export function discoveryRoutes(deps: RouteDeps): EmulatorRoute[] {
  return [
    {
      method: "GET",
      pattern: /^\/discovery$/,
      auth: "none",
      handle: () => {
        const base = deps.baseUrl();
        return { status: 200, body: Object.fromEntries(SERVICE_KEYS.map((key) => [key, base])) };
      },
    },
  ];
}
