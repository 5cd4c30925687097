/**
 * Headless Chromium for the page tests: Debian's `chromium`, installed here with apt-get when
 * missing and we are root or have passwordless sudo; `dumpDom` returns the DOM after the
 * page's own scripts ran.
 */
import { existsSync } from "node:fs";
import { tempDir } from "../../_temp.ts";

async function sh(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

const LOCK_WAIT = "-o DPkg::Lock::Timeout=600";

/** Path of a Chromium binary, installing Debian's package when needed and possible. */
async function chromium(): Promise<string> {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) if (existsSync(p)) return p;
  const root = Deno.uid() === 0;
  const sudo = !root && (await sh("sh", ["-c", "command -v sudo && sudo -n true"])).ok;
  if (!root && !sudo) {
    throw new Error(
      "report test: /usr/bin/chromium is missing and cannot be installed (not root, no " +
        "passwordless sudo): run `apt-get install chromium` first",
    );
  }
  const pre = sudo ? "sudo -n " : "";
  console.error("report test: installing Debian's chromium package (apt-get)…");
  const r = await sh("sh", [
    "-c",
    // Another apt-get (a test file running beside this one) is waited for, not failed on.
    `${pre}apt-get ${LOCK_WAIT} update -qq && DEBIAN_FRONTEND=noninteractive ${pre}apt-get ` +
    `${LOCK_WAIT} install -y -qq --no-install-recommends chromium`,
  ]);
  if (!r.ok || !existsSync("/usr/bin/chromium")) {
    throw new Error(`report test: apt-get install chromium failed:\n${r.out.slice(-2000)}`);
  }
  return "/usr/bin/chromium";
}

/** The DOM after the page's scripts ran, as headless Chromium dumps it (`file` may end in `#hash`). */
export async function dumpDom(file: string): Promise<string> {
  const bin = await chromium();
  const profile = await tempDir("chromium-profile-");
  try {
    const r = await sh(bin, [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      "--virtual-time-budget=5000",
      "--dump-dom",
      `file://${file}`,
    ]);
    if (!r.ok) throw new Error(`chromium failed:\n${r.out.slice(-2000)}`);
    return r.out;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}
