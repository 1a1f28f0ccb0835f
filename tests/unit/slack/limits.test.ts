import type { types } from '@slack/bolt';
import { blockProblems } from '../../support/block-kit';

const button = (actionId: string, over: Partial<types.Button> = {}): types.Button => ({
  type: 'button',
  action_id: actionId,
  text: { type: 'plain_text', text: 'Go' },
  value: 'grt_x',
  ...over,
});

describe('blockProblems', () => {
  it('accepts the same action_id in two different blocks', () => {
    const blocks: types.KnownBlock[] = [
      { type: 'actions', block_id: 'my_grant:grt_a', elements: [button('done_grant')] },
      { type: 'actions', block_id: 'my_grant:grt_b', elements: [button('done_grant')] },
    ];
    expect(blockProblems(blocks, 'home')).toEqual([]);
  });

  it('refuses the same action_id twice in one block, and a repeated block_id', () => {
    const blocks: types.KnownBlock[] = [
      { type: 'actions', block_id: 'a', elements: [button('done_grant'), button('done_grant')] },
      { type: 'actions', block_id: 'a', elements: [button('extend_grant')] },
    ];
    const problems = blockProblems(blocks, 'home');
    expect(problems.some((p) => p.includes('duplicate action_id done_grant'))).toBe(true);
    expect(problems.some((p) => p.includes('duplicate block_id a'))).toBe(true);
  });

  it('checks confirm dialogs', () => {
    const confirm: types.ConfirmationDialog = {
      title: { type: 'plain_text', text: 't'.repeat(101) },
      text: { type: 'plain_text', text: 'x'.repeat(301) },
      confirm: { type: 'plain_text', text: 'c'.repeat(31) },
    };
    const problems = blockProblems(
      [{ type: 'actions', elements: [button('done_grant', { confirm })] }],
      'message',
    );
    expect(problems).toHaveLength(3);
  });

  it('checks checkbox options in modals', () => {
    const options = Array.from({ length: 11 }, (_, i) => ({
      text: { type: 'plain_text' as const, text: 'o'.repeat(76) },
      value: `v${i}`,
    }));
    const problems = blockProblems(
      [
        {
          type: 'input',
          label: { type: 'plain_text', text: 'Pick' },
          element: { type: 'checkboxes', action_id: 'pick', options },
        },
      ],
      'modal',
    );
    expect(problems.some((p) => p.includes('11 checkbox options'))).toBe(true);
    expect(problems.some((p) => p.includes('option text 76 > 75'))).toBe(true);
  });
});
