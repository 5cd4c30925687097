/**
 * `--schedule`'s cron expressions (training/retrain/schedule.ts, through croner): the next
 * time against a plain computation of it in local time, and bad expressions refused as a
 * user's mistake (UsageError, exit 2) naming the flag.
 */
import { assert, assertEquals } from "../../assert.ts";
import { UsageError } from "../../../core/errors.ts";
import { nextTime } from "../../../training/retrain/schedule.ts";

/**
 * The next whole minute after `t` (local time) that is a multiple of `minuteStep`, or, with
 * `hour`, the next `hour`:00.
 */
function nextOf(t: Date, minuteStep: number, hour: number | null): number {
  const d = new Date(t);
  d.setSeconds(0, 0);
  for (let k = 0; k < 2 * 24 * 60; k++) {
    d.setMinutes(d.getMinutes() + 1);
    if (d.getMinutes() % minuteStep === 0 && (hour === null || d.getHours() === hour)) {
      if (hour === null || d.getMinutes() === 0) return d.getTime();
    }
  }
  throw new Error("no time within two days");
}

Deno.test("schedule: the next time of daily and quarter-hour expressions", () => {
  for (const [expr, step, hour] of [["0 3 * * *", 60, 3], ["*/15 * * * *", 15, null]] as const) {
    const before = new Date();
    const got = nextTime(expr).getTime();
    const after = new Date();
    const want = [nextOf(before, step, hour), nextOf(after, step, hour)];
    assert(want.includes(got), `${expr}: ${new Date(got).toISOString()} not in ${want}`);
  }
});

Deno.test("schedule: a bad expression is a usage error naming --schedule", () => {
  for (const expr of ["61 * * * *", "not cron", "* * *"]) {
    let err: unknown = null;
    try {
      nextTime(expr);
    } catch (e) {
      err = e;
    }
    assert(err instanceof UsageError, `${expr}: ${err}`);
    assertEquals((err as Error).message.startsWith(`--schedule "${expr}"`), true);
  }
});
