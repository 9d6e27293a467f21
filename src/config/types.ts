// Shapes of configuration: what a file may hold, the layers found on disk, and the one resolved
// result every command reads. Keys are documented in .amlauthrc.example.
import type { OutputFormat } from "../commands/globals.js";

export type ApiKind = "v1" | "v2";

/** Keys allowed at the top of a config file and inside a profile. */
export interface ConfigValues {
  subscription?: string;
  resourceGroup?: string;
  workspace?: string;
  /** Default service/endpoint NAME when a command is given none. */
  service?: string;
  api?: ApiKind;
  credential?: string;
  tenantId?: string;
  armEndpoint?: string;
  authorityHost?: string;
  caFile?: string;
  emulator?: boolean;
  output?: OutputFormat;
  cacheDir?: string;
  timeoutSeconds?: number;
  retries?: number;
}
export type ConfigKey = keyof ConfigValues;

export interface ConfigFileContent extends ConfigValues {
  profiles?: Record<string, ConfigValues>;
  defaultProfile?: string;
}

/** One validated amlauth config file. */
export interface LoadedConfigFile {
  /** Absolute path. */
  path: string;
  /** How messages name it, e.g. "/p/package.json#amlauth". */
  label: string;
  content: ConfigFileContent;
}

/** The workspace triple from an azureml SDK `config.json`. */
export interface AzuremlConfig {
  path: string;
  subscription?: string;
  resourceGroup?: string;
  workspace?: string;
}

export interface ConfigLayers {
  user?: LoadedConfigFile;
  azureml?: AzuremlConfig;
  project?: LoadedConfigFile;
}

export type ConfigSourceKind = "default" | "user" | "azureml" | "project" | "profile" | "env" | "flag";

export interface ConfigSource {
  kind: ConfigSourceKind;
  /** For --verbose: "env AMLAUTH_WORKSPACE", "flag --workspace", "profile prod (/p/.amlauthrc)". */
  detail: string;
}

export interface ResolvedConfig {
  subscription?: string;
  resourceGroup?: string;
  workspace?: string;
  service?: string;
  /** undefined = look the NAME up as both (issue 4). */
  api?: ApiKind;
  /** undefined = the DefaultAzureCredential chain. */
  credential?: string;
  tenantId?: string;
  /** https URL without trailing slash (cloud names already mapped). */
  armEndpoint: string;
  authorityHost: string;
  /** Absolute path. */
  caFile?: string;
  emulator: boolean;
  /** undefined = decided per command from the terminal (format.ts defaultFormat). */
  output?: OutputFormat;
  /** Absolute path of the token/state cache directory. */
  cacheDir: string;
  timeoutSeconds: number;
  retries: number;
  /** The selected profile, if any. */
  profile?: string;
  /** Where each set value came from. */
  sources: Partial<Record<ConfigKey | "profile", ConfigSource>>;
  /** Every config file that was read, lowest precedence first. */
  files: string[];
}
