import { describe, expect, it } from "vitest";
import { InterruptedError, UsageError } from "../../src/errors.js";
import { createPrinter } from "../../src/output/print.js";
import { makeTestContext, type TestContext } from "./helpers.js";

const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

/** Polls (bounded) until `check` passes; for output written from timers and lazy imports. */
async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Printer streams", () => {
  it("data goes to stdout only; notices to stderr", async () => {
    const ctx = makeTestContext();
    const out = (await createPrinter(ctx, {}));
    out.data("a\tb\n");
    out.info("deploying demo");
    out.warn("careful");
    out.success("done");
    out.trace("hidden without --verbose");
    expect(ctx.stdoutText()).toBe("a\tb\n");
    expect(ctx.stderrText()).toBe("deploying demo\nwarning: careful\ndone\n");
  });

  it("success ticks and colors only on a terminal", async () => {
    const ctx = makeTestContext({ stderrIsTTY: true, env: { FORCE_COLOR: "1" } });
    (await createPrinter(ctx, {})).success("done");
    expect(ctx.stderrText()).toBe("\u001b[32m✓\u001b[39m done\n");
    const plain = makeTestContext({ stderrIsTTY: true, env: { NO_COLOR: "1" } });
    (await createPrinter(plain, {})).success("done");
    expect(plain.stderrText()).toBe("✓ done\n");
  });

  it("--verbose traces go to stderr with tokens masked", async () => {
    const ctx = makeTestContext();
    (await createPrinter(ctx, { verbose: true })).trace(`→ POST /token ${JWT}`);
    expect(ctx.stderrText()).toBe("→ POST /token [REDACTED]\n");
    expect(ctx.stdoutText()).toBe("");
  });

  it("picks the explicit format, else the terminal default", async () => {
    expect((await createPrinter(makeTestContext(), { output: "json" })).formatFor({ singleSecret: true })).toBe("json");
    expect((await createPrinter(makeTestContext(), {})).formatFor({ singleSecret: true })).toBe("raw");
    expect((await createPrinter(makeTestContext(), {})).formatFor()).toBe("tsv");
    expect((await createPrinter(makeTestContext({ stdoutIsTTY: true }), {})).formatFor()).toBe("table");
  });

  it("chalk follows stdout, errChalk follows stderr", async () => {
    const ctx = makeTestContext({ stdoutIsTTY: false, stderrIsTTY: true });
    const out = await createPrinter(ctx, {});
    expect(out.chalk.bold("x")).toBe("x");
    expect(out.errChalk.bold("x")).not.toBe("x");
    expect((await createPrinter(ctx, { color: false })).errChalk.bold("x")).toBe("x");
  });
});

describe("Printer.secret and CI masking", () => {
  it("registers the secret on stderr before it reaches stdout (GitHub Actions)", async () => {
    const ctx = makeTestContext({ env: { GITHUB_ACTIONS: "true" } });
    const order: string[] = [];
    ctx.stderr.on("data", (c: Buffer) => order.push(`err:${c.toString()}`));
    ctx.stdout.on("data", (c: Buffer) => order.push(`out:${c.toString()}`));
    (await createPrinter(ctx, {})).secret(`${JWT}\n`);
    expect(order).toEqual([`err:::add-mask::${JWT}\n`, `out:${JWT}\n`]);
  });

  it("masks each listed secret (Azure Pipelines)", async () => {
    const ctx = makeTestContext({ env: { TF_BUILD: "True" } });
    (await createPrinter(ctx, {})).secret('{"primaryKey":"key-one","secondaryKey":"key-two"}\n', ["key-one", "key-two"]);
    expect(ctx.stderrText()).toBe("##vso[task.setsecret]key-one\n##vso[task.setsecret]key-two\n");
    expect(ctx.stdoutText()).toContain("key-one");
  });

  it("writes nothing to stderr outside CI", async () => {
    const ctx = makeTestContext();
    (await createPrinter(ctx, {})).secret("key-one\n");
    expect(ctx.stderrText()).toBe("");
    expect(ctx.stdoutText()).toBe("key-one\n");
  });
});

describe("Printer.withSpinner", () => {
  const run = async (ctx: TestContext, opts: Parameters<typeof createPrinter>[1], work?: (update: (p: string) => void) => Promise<string>) =>
    (await createPrinter(ctx, opts)).withSpinner("Deploying demo", work ?? (async () => "result"));

  it("prints nothing in a pipe without --verbose", async () => {
    const ctx = makeTestContext();
    expect(await run(ctx, {})).toBe("result");
    expect(ctx.stderrText()).toBe("");
  });

  it("prints one plain line with --verbose, plus progress changes", async () => {
    const ctx = makeTestContext();
    await run(ctx, { verbose: true }, async (update) => {
      update("Transitioning");
      update("Transitioning");
      update("Healthy");
      return "ok";
    });
    expect(ctx.stderrText()).toBe("Deploying demo…\nDeploying demo: Transitioning\nDeploying demo: Healthy\n");
  });

  it("prints one plain line on a terminal in CI or with -o json", async () => {
    const ci = makeTestContext({ stderrIsTTY: true, env: { CI: "true" } });
    await run(ci, {});
    expect(ci.stderrText()).toBe("Deploying demo…\n");
    const json = makeTestContext({ stderrIsTTY: true });
    await run(json, { output: "json" });
    expect(json.stderrText()).toBe("Deploying demo…\n");
  });

  it("shows no spinner for an operation faster than the delay", async () => {
    const ctx = makeTestContext({ stderrIsTTY: true });
    await run(ctx, {});
    expect(ctx.stderrText()).toBe("");
  });

  it("starts a spinner on an interactive stderr once the delay has passed, and stops it", async () => {
    const ctx = makeTestContext({ stderrIsTTY: true, env: { NO_COLOR: "1" } });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const done = run(ctx, { spinnerDelayMs: 0 }, async (update) => {
      await eventually(() => ctx.stderrText().includes("Deploying demo"));
      update("Healthy");
      await gate;
      return "ok";
    });
    // The animated spinner re-renders with the progress label (the plain fallback never would).
    await eventually(() => ctx.stderrText().includes("Deploying demo (Healthy)"));
    release();
    expect(await done).toBe("ok");
    expect(ctx.stderrText()).not.toContain("Deploying demo…");
    expect(ctx.stdoutText()).toBe("");
  });

  it("passes errors through", async () => {
    const ctx = makeTestContext({ stderrIsTTY: true });
    await expect(run(ctx, {}, async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  });
});

describe("Printer.confirm", () => {
  const interactive = () => makeTestContext({ stdinIsTTY: true, stderrIsTTY: true, env: { NO_COLOR: "1" } });

  it.each([
    ["y\n", true],
    ["YES\n", true],
    ["n\n", false],
    ["\n", false],
    ["maybe\n", false],
  ])("answer %j → %s", async (answer, expected) => {
    const ctx = interactive();
    const pending = (await createPrinter(ctx, {})).confirm("Regenerate the primary key of demo-aci?");
    ctx.stdin.write(answer);
    expect(await pending).toBe(expected);
    expect(ctx.stderrText()).toBe("Regenerate the primary key of demo-aci? [y/N] ");
  });

  it("end of input is a no", async () => {
    const ctx = interactive();
    const pending = (await createPrinter(ctx, {})).confirm("Sure?");
    ctx.stdin.end();
    expect(await pending).toBe(false);
  });

  it("Ctrl-C (the abort signal) interrupts", async () => {
    const ctx = interactive();
    const pending = (await createPrinter(ctx, {})).confirm("Sure?");
    ctx.abort();
    await expect(pending).rejects.toBeInstanceOf(InterruptedError);
  });

  it("refuses to ask without a terminal", async () => {
    const ctx = makeTestContext({ stdinIsTTY: false, stderrIsTTY: true });
    await expect((await createPrinter(ctx, {})).confirm("Sure?")).rejects.toBeInstanceOf(UsageError);
  });
});
