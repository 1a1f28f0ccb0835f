import {
  type DetailOf,
  errorText,
  type Failure,
  type Sentences,
} from '../../../src/adapters/slack/views/errors';
import type { UseCases } from '../../../src/app/use-cases';
import type { parseCommand } from '../../../src/domain/command';
import { err, type FailureOf } from '../../../src/domain/result';

/**
 * Type-level checks, run by the compiler (`tsc`, and ts-jest when this file loads): each
 * `@ts-expect-error` fails the build if the line under it compiles. The sentence table covers exactly
 * the codes that reach Slack, each sentence reads its own code's detail, and `errorText` takes only a
 * whole failure that something produces. Never called: only its types matter.
 */
function typeChecks(table: Sentences) {
  const accepts = (_: Sentences): void => {};
  const { RATE_LIMITED: _withoutOne, ...incomplete } = table;
  // @ts-expect-error a code that reaches Slack without a sentence
  accepts(incomplete);
  // @ts-expect-error a sentence for a code nothing produces (it would be dead)
  accepts({ ...table, NOT_YET_AVAILABLE: () => 'That is not available yet.' });
  // @ts-expect-error a sentence reading a field its code's detail does not have
  accepts({ ...table, UNKNOWN_GRANT: (d) => `There is no grant ${d.resourceId}.` });
  accepts({ ...table, UNKNOWN_GRANT: (d) => `There is no grant ${d.grantId ?? 'with that id'}.` });

  // @ts-expect-error a code nothing produces
  errorText(err('NOT_YET_AVAILABLE', { feature: '/access extend' }));
  // @ts-expect-error another code's detail
  errorText(err('UNKNOWN_GRANT', { resourceId: 'prod-db' }));
  // @ts-expect-error a code alone, without the detail its sentence is written from
  errorText(err('NOT_APPROVER'));
  // @ts-expect-error the code and the detail apart
  errorText('RATE_LIMITED', undefined);
  errorText(err('RATE_LIMITED'));

  // The table's codes come from what the use cases and the parser return, not from a list kept by hand.
  const fromRevoke = (f: FailureOf<UseCases['revokeGrant']>): Failure => f;
  const fromParser = (f: FailureOf<typeof parseCommand>): Failure => f;
  const grantOnly: DetailOf<'UNKNOWN_GRANT'> = { grantId: undefined };
  return [fromRevoke, fromParser, grantOnly];
}

describe('the error sentence table', () => {
  it('is checked by the compiler (see typeChecks)', () => {
    expect(typeChecks).toBeInstanceOf(Function);
  });
});
