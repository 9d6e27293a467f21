// amlauth deploy NAME — v1: a model as an ACI/AKS web service; v2 (--api v2): create or update an
// online endpoint (deployments of models under a v2 endpoint are out of scope).
import { Command, Option } from "commander";
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { App } from "../app.js";
import { UsageError } from "../errors.js";
import { buildV1DeploySpec, buildV2DeploySpec, type V1DeployFlags } from "../core/deploy-config.js";
import { renderServiceInfo } from "../output/format.js";
import { withOutcomeHint } from "./shared.js";

export interface DeployOptions extends V1DeployFlags {
  model?: string[];
  dc?: string;
  ic?: string;
  compute?: string;
  wait?: boolean; // false with --no-wait
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function makeDeployCommand(app: App): Command {
  return new Command("deploy")
    .description("deploy a model as a v1 web service (ACI/AKS), or create/update a v2 online endpoint (--api v2)")
    .argument("<name>", "service or endpoint name")
    .addOption(new Option("--compute-type <type>", "v1: aci or aks").choices(["aci", "aks", "ACI", "AKS"]))
    .option("--compute-target <name>", "v1: AKS compute target name")
    .option("-m, --model <name:version>", "v1: registered model (repeatable)", collect)
    .option("--entry-script <file>", "v1: scoring script (.py)")
    .option("--source-dir <dir>", "v1: folder uploaded with the entry script")
    .option("-e, --environment <name[:version]>", "v1: registered environment")
    .option("--cpu <n>", "v1: CPU cores")
    .option("--memory-gb <n>", "v1: memory in GB")
    .option("--auth <mode>", "v1: key | token | none; v2: key | aml_token | aad_token")
    .option("--dc <file>", "v1: az-compatible deployment config (JSON or YAML)")
    .option("--ic <file>", "v1: az-compatible inference config (JSON or YAML)")
    .option("--compute <armId>", "v2: ARM id of a Kubernetes compute (omit for a managed endpoint)")
    .option("--description <text>", "description")
    .option("--overwrite", "v1: replace an existing service of the same name")
    .option("--no-wait", "return once the deployment is accepted")
    .addHelpText(
      "after",
      `
Auth defaults: ACI key auth off, AKS key auth on, token auth off; token auth only on AKS and never
together with key auth. v2: key (default), aml_token or aad_token (managed endpoints only).
v2 deploy creates or updates the endpoint only; deploying models under it is out of scope.

Examples:
  amlauth deploy my-aci --compute-type aci -m demo-model:1 --entry-script score.py --auth key
  amlauth deploy my-aks --compute-type aks --compute-target aks-compute -m demo-model:1 \\
      --entry-script score.py --source-dir ./src --auth token
  amlauth deploy my-svc --dc deploymentconfig.json --ic inferenceconfig.json -m demo-model:1
  amlauth deploy --api v2 my-endpoint --auth aml_token`,
    )
    .action(async (name: string, opts: DeployOptions) => {
      await runDeploy(app, name, opts);
    });
}

export async function runDeploy(app: App, name: string, opts: DeployOptions): Promise<void> {
  const cfg = await app.config();
  const api = app.globals().api ?? cfg.api ?? (opts.compute && !opts.computeType && !opts.dc ? "v2" : "v1");
  const wait = opts.wait !== false;
  const out = await app.printer();
  const session = await app.session();

  if (api === "v2") {
    const v1Only = (["computeType", "computeTarget", "model", "entryScript", "sourceDir", "environment", "dc", "ic"] as const).filter(
      (k) => opts[k] !== undefined,
    );
    if (v1Only.length > 0) throw new UsageError(`--${kebab(v1Only[0]!)} applies to v1 web services only, not to --api v2`);
    const spec = buildV2DeploySpec({ name, auth: opts.auth, compute: opts.compute, description: opts.description });
    const backend = await session.backend("v2");
    const info = await withOutcomeHint(
      out.withSpinner(`Deploying endpoint ${name}`, (update) => backend.deploy(spec, { wait, onProgress: update, signal: app.ctx.signal })),
      "the endpoint may or may not have been created or updated",
      `check with \`amlauth auth show ${name} --api v2\``,
    );
    out.data(renderServiceInfo(info, out.formatFor(), { chalk: out.chalk }));
    return;
  }

  if (opts.compute) throw new UsageError("--compute applies to v2 endpoints; for v1 use --compute-target");
  const dc = opts.dc ? await readStructuredFile(app, opts.dc, "--dc") : undefined;
  const ic = opts.ic ? await readStructuredFile(app, opts.ic, "--ic") : undefined;
  const spec = buildV1DeploySpec({
    name,
    flags: { ...opts, models: opts.model },
    dc,
    ic,
    dcPath: opts.dc,
    icPath: opts.ic,
    exists: (path, kind) => {
      const full = resolve(app.ctx.cwd, path);
      if (!existsSync(full)) return false;
      const st = statSync(full);
      return kind === "dir" ? st.isDirectory() : st.isFile();
    },
  });
  const backend = await session.backend("v1");
  const info = await withOutcomeHint(
    out.withSpinner(`Deploying ${name} to ${spec.computeType}`, (update) => backend.deploy(spec, { wait, onProgress: update, signal: app.ctx.signal })),
    "the deployment may or may not have started",
    `check with \`amlauth auth show ${name} --api v1\``,
  );
  out.data(renderServiceInfo(info, out.formatFor(), { chalk: out.chalk }));
  out.success(wait ? `${name} deployed (${info.authMode} auth)` : `${name}: deployment accepted (not waiting)`);
}

async function readStructuredFile(app: App, path: string, flag: string): Promise<unknown> {
  const full = resolve(app.ctx.cwd, path);
  let text: string;
  try {
    const st = statSync(full);
    if (!st.isFile()) throw new UsageError(`${flag} ${path} is not a file`);
    if (st.size > 1024 * 1024) throw new UsageError(`${flag} ${path} is larger than 1 MiB`);
    text = readFileSync(full, "utf8");
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read ${flag} file ${path}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  // js-yaml loads only when a file is actually parsed.
  const { parseStructuredText } = await import("../core/config-file.js");
  return parseStructuredText(text, path);
}

function kebab(key: string): string {
  if (key === "model") return "model";
  return key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}
