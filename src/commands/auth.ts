import { Command } from "commander";
import type { App } from "../app.js";
import { makeAuthSetCommand } from "./auth-set.js";
import { makeAuthShowCommand } from "./auth-show.js";
import { makeAuthCheckCommand } from "./auth-check.js";

export function makeAuthCommand(app: App): Command {
  return new Command("auth")
    .description("show, switch and check the auth mode of a service or endpoint")
    .addCommand(makeAuthShowCommand(app))
    .addCommand(makeAuthSetCommand(app))
    .addCommand(makeAuthCheckCommand(app));
}
