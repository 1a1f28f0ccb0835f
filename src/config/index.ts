import type { Policy } from '../domain/policy';
import { ConfigError, type ConfigSection, type Env, loadEnv, policyPathOf } from './env';
import { readPolicy } from './policy';

export {
  ConfigError,
  type ConfigResult,
  type ConfigSection,
  type Env,
  LOG_LEVELS,
  type LogLevel,
  loadEnv,
} from './env';
export { checkPolicy, loadPolicy, parsePolicy, readPolicy } from './policy';

/** Everything start-up needs from outside the code. */
export type Config = { readonly env: Env; readonly policy: Policy };

/**
 * Validates the environment and the policy file it names. Throws one `ConfigError` listing every problem;
 * the policy is checked even when the environment is bad (at the path `HALLPASS_POLICY` names, or the
 * default), so one start-up attempt shows everything to fix.
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const envResult = loadEnv(env);
  const policyResult = readPolicy(envResult.ok ? envResult.value.policyPath : policyPathOf(env));
  const sections: ConfigSection[] = [];
  if (!envResult.ok) sections.push(envResult.section);
  if (!policyResult.ok) sections.push(policyResult.section);
  if (!envResult.ok || !policyResult.ok) throw new ConfigError(sections);
  return { env: envResult.value, policy: policyResult.value };
}
