import { Command } from "commander";
import type { App } from "../app.js";
import { makeKeysListCommand } from "./keys-list.js";
import { makeKeysRegenCommand } from "./keys-regen.js";
import { makeKeysRotateCommand } from "./keys-rotate.js";

export function makeKeysCommand(app: App): Command {
  return new Command("keys")
    .description("list, regenerate and rotate the primary/secondary keys")
    .addCommand(makeKeysListCommand(app))
    .addCommand(makeKeysRegenCommand(app))
    .addCommand(makeKeysRotateCommand(app));
}
