// amlauth completion bash|zsh|fish — completion scripts generated from the command tree,
// so they never drift from the real flags.
import { Command, Argument } from "commander";
import type { App } from "../app.js";

interface CommandShape {
  path: string[];
  subcommands: string[];
  options: string[];
}

export function makeCompletionCommand(app: App): Command {
  return new Command("completion")
    .description("print a shell completion script")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]))
    .addHelpText(
      "after",
      `
Examples:
  source <(amlauth completion bash)                      # bash, current shell
  amlauth completion zsh > "\${fpath[1]}/_amlauth"        # zsh
  amlauth completion fish > ~/.config/fish/completions/amlauth.fish`,
    )
    .action(async (shell: "bash" | "zsh" | "fish", _opts: unknown, cmd: Command) => {
      const root = rootOf(cmd);
      const shapes = collectShapes(root, []);
      const script = shell === "bash" ? bashScript(shapes) : shell === "zsh" ? zshScript(shapes) : fishScript(shapes);
      app.ctx.stdout.write(script);
    });
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

export function collectShapes(cmd: Command, path: string[]): CommandShape[] {
  const options = cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x)));
  const here: CommandShape = { path, subcommands: cmd.commands.map((c) => c.name()), options };
  return [here, ...cmd.commands.flatMap((c) => collectShapes(c, [...path, c.name()]))];
}

function bashScript(shapes: CommandShape[]): string {
  const cases = shapes
    .map((s) => `    "${s.path.join(" ")}") words="${[...s.subcommands, ...s.options].join(" ")}" ;;`)
    .join("\n");
  return `# amlauth bash completion
_amlauth() {
  local cur path i w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "\${path:+$path }$w" in
${shapes
  .filter((s) => s.path.length > 0)
  .map((s) => `      "${s.path.join(" ")}") path="${s.path.join(" ")}" ;;`)
  .join("\n")}
    esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _amlauth amlauth
`;
}

function zshScript(shapes: CommandShape[]): string {
  return `#compdef amlauth
# amlauth zsh completion (uses bash-style completion through bashcompinit)
autoload -U +X bashcompinit && bashcompinit
${bashScript(shapes)}`;
}

function fishScript(shapes: CommandShape[]): string {
  const lines = ["# amlauth fish completion", "complete -c amlauth -f"];
  for (const s of shapes) {
    const cond =
      s.path.length === 0
        ? "__fish_use_subcommand"
        : `__fish_seen_subcommand_from ${s.path[s.path.length - 1]}`;
    for (const sub of s.subcommands) lines.push(`complete -c amlauth -n '${cond}' -a ${sub}`);
    for (const opt of s.options) {
      if (opt.startsWith("--")) lines.push(`complete -c amlauth -n '${cond}' -l ${opt.slice(2)}`);
      else lines.push(`complete -c amlauth -n '${cond}' -s ${opt.slice(1)}`);
    }
  }
  return lines.join("\n") + "\n";
}
