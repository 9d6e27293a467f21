// Global flags shared by every command (declared once in main.ts).
export type OutputFormat = "raw" | "json" | "tsv" | "table" | "env";

export interface GlobalOptions {
  subscription?: string;
  resourceGroup?: string;
  workspace?: string;
  profile?: string;
  output?: OutputFormat;
  verbose?: boolean;
  /** false when --no-color was given. */
  color?: boolean;
  emulator?: boolean;
  api?: "v1" | "v2";
  credential?: string;
  armEndpoint?: string;
  authorityHost?: string;
  caFile?: string;
}
