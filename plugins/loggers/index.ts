/**
 * The logger plugins: what writes a run's records. Importing this module registers the
 * built-in ones with kind "logger": "tensorboard", "csv", "summary" and "report" (a run's
 * default set) and "jsonl" (JSON lines; added with `--logger +jsonl`). Their code is in
 * stages/log/loggers.ts, beside the files they write.
 *
 * @example
 * import "./plugins/loggers/index.ts";
 * const jsonl = create<Logger>("logger", "jsonl", { path: "/tmp/run.jsonl" });
 *
 * @module
 */
import { register } from "../registry.ts";
import { LOGGER_PLUGINS } from "../../stages/log/loggers.ts";

export {
  DEFAULT_LOGGERS,
  defaultLoggers,
  type EpochLog,
  type Logger,
  LOGGER_PLUGINS,
  type RunStart,
} from "../../stages/log/loggers.ts";

for (const p of Object.values(LOGGER_PLUGINS)) register(p);
