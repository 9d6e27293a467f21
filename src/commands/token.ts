import { Command } from "commander";
import type { App } from "../app.js";
import { makeTokenGetCommand } from "./token-get.js";

export function makeTokenCommand(app: App): Command {
  return new Command("token").description("access tokens for token-auth services and endpoints").addCommand(makeTokenGetCommand(app));
}
