// amlauth auth show [NAME] — compute type, auth mode, state, scoring URI.
import { Command } from "commander";
import type { App } from "../app.js";
import { renderServiceInfo } from "../output/format.js";
import { target } from "./shared.js";

export function makeAuthShowCommand(app: App): Command {
  return new Command("show")
    .description("show compute type, auth mode, state and scoring URI")
    .argument("[name]", "service or endpoint name (default: from config)")
    .addHelpText("after", "\nExamples:\n  amlauth auth show demo-aks\n  amlauth auth show demo-managed -o json")
    .action(async (name: string | undefined) => {
      await runAuthShow(app, name);
    });
}

export async function runAuthShow(app: App, nameArg: string | undefined): Promise<void> {
  const { name, backend } = await target(app, nameArg);
  const info = await backend.get(name);
  const out = await app.printer();
  out.data(renderServiceInfo(info, out.formatFor(), { chalk: out.chalk }));
}
