import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';

/** Who AWS says hallpass is (`sts:GetCallerIdentity`, which needs no permission). */
export type CallerIdentity = { readonly account: string; readonly arn: string };

/** Resolves `work`, or rejects with a timeout error after `ms`. */
export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the SDK's standard chain finds credentials (environment, profile, SSO, web identity, container
 * or instance role), without calling any AWS API. `undefined` when found; otherwise why not.
 */
export async function missingCredentials(timeoutMs = 5_000): Promise<string | undefined> {
  try {
    const creds = await within(fromNodeProviderChain()(), timeoutMs, 'the AWS credential chain');
    return creds.accessKeyId === '' ? 'the credential chain gave an empty access key' : undefined;
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
}

/** `sts:GetCallerIdentity` in `region` (honours `AWS_ENDPOINT_URL_STS`), one attempt, bounded in time. */
export async function callerIdentity(region: string, timeoutMs = 10_000): Promise<CallerIdentity> {
  const client = new STSClient({ region, maxAttempts: 1 });
  try {
    const out = await within(client.send(new GetCallerIdentityCommand({})), timeoutMs, 'STS');
    if (out.Account === undefined || out.Arn === undefined)
      throw new Error('STS answered without an identity');
    return { account: out.Account, arn: out.Arn };
  } finally {
    client.destroy();
  }
}
