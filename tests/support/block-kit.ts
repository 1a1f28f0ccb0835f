import type { types } from '@slack/bolt';
import { LIMITS } from '../../src/adapters/slack/views/limits';

/*
 * A checker of built Block Kit surfaces against Slack's limits (`LIMITS`), so every view test can
 * prove what it builds would be accepted.
 */

type Surface = 'message' | 'modal' | 'home';

const textLength = (t: types.TextObject | undefined): number => (t === undefined ? 0 : t.text.length);

/**
 * Everything in `blocks` that Slack would reject (or that hallpass never sends), as readable
 * problems; an empty list means the blocks are valid for `surface`. Covers the block types
 * hallpass builds: header, section, context, actions (buttons, with confirm dialogs), input
 * (plain text, static select, checkboxes), divider.
 */
export function blockProblems(blocks: readonly types.KnownBlock[], surface: Surface): string[] {
  const problems: string[] = [];
  const max = surface === 'message' ? LIMITS.messageBlocks : LIMITS.viewBlocks;
  if (blocks.length > max) problems.push(`${blocks.length} blocks, more than ${max} for a ${surface}`);
  const blockIds = new Set<string>();
  blocks.forEach((block, i) => {
    const at = `block ${i} (${block.type})`;
    const add = (p: string): void => {
      problems.push(`${at}: ${p}`);
    };
    if (block.block_id !== undefined) {
      if (block.block_id.length > LIMITS.id) add('block_id longer than 255');
      if (blockIds.has(block.block_id)) add(`duplicate block_id ${block.block_id}`);
      blockIds.add(block.block_id);
    }
    switch (block.type) {
      case 'header':
        if (block.text.text.length === 0) add('empty header');
        if (block.text.text.length > LIMITS.headerText) add(`header text ${block.text.text.length} > 150`);
        break;
      case 'section': {
        const fields = block.fields ?? [];
        if (block.text === undefined && fields.length === 0) add('section without text or fields');
        if (block.text !== undefined && textLength(block.text) === 0) add('empty section text');
        if (textLength(block.text) > LIMITS.sectionText) add(`section text ${textLength(block.text)} > 3000`);
        if (fields.length > LIMITS.fields) add(`${fields.length} fields > 10`);
        for (const f of fields) {
          if (f.text.length === 0) add('empty field');
          if (f.text.length > LIMITS.fieldText) add(`field text ${f.text.length} > 2000`);
        }
        break;
      }
      case 'context':
        if (block.elements.length === 0) add('context without elements');
        if (block.elements.length > LIMITS.contextElements) add(`${block.elements.length} elements > 10`);
        for (const e of block.elements) {
          if ('text' in e && typeof e.text === 'string') {
            if (e.text.length === 0) add('empty context text');
            if (e.text.length > LIMITS.contextText) add(`context text ${e.text.length} > 3000`);
          }
        }
        break;
      case 'actions': {
        if (block.elements.length > LIMITS.actionsElements) add(`${block.elements.length} elements > 25`);
        // Slack wants action_ids unique within their block (not across blocks).
        const actionIds = new Set<string>();
        for (const e of block.elements) {
          if (e.action_id !== undefined) {
            if (e.action_id.length > LIMITS.id) add('action_id longer than 255');
            if (actionIds.has(e.action_id)) add(`duplicate action_id ${e.action_id} in one block`);
            actionIds.add(e.action_id);
          }
          if (e.type === 'button') {
            if (e.text.text.length === 0) add('empty button text');
            if (e.text.text.length > LIMITS.buttonText) add(`button text ${e.text.text.length} > 75`);
            if ((e.value ?? '').length > LIMITS.buttonValue) add('button value longer than 2000');
            if (e.confirm !== undefined) {
              const c = e.confirm;
              if (textLength(c.title) > LIMITS.confirmTitle) add('confirm title longer than 100');
              if (textLength(c.text) === 0 || textLength(c.text) > LIMITS.confirmText)
                add('confirm text empty or longer than 300');
              if (textLength(c.confirm) > LIMITS.confirmButton || textLength(c.deny) > LIMITS.confirmButton)
                add('confirm buttons longer than 30');
            }
          }
        }
        break;
      }
      case 'input': {
        if (surface === 'message') add('input blocks belong in modals');
        if (block.label.text.length === 0 || block.label.text.length > LIMITS.inputLabel)
          add('bad label length');
        if (textLength(block.hint) > LIMITS.inputHint) add('hint longer than 2000');
        const el = block.element;
        if (el.action_id !== undefined && el.action_id.length > LIMITS.id) add('action_id longer than 255');
        if (
          'placeholder' in el &&
          el.placeholder !== undefined &&
          el.placeholder.text.length > LIMITS.placeholder
        ) {
          add('placeholder longer than 150');
        }
        if (el.type === 'static_select') {
          const options = el.options ?? [];
          if (options.length === 0 || options.length > LIMITS.options)
            add(`${options.length} options (1..100)`);
          for (const o of options) {
            if (o.text.text.length > LIMITS.optionText) add(`option text ${o.text.text.length} > 75`);
            if ((o.value ?? '').length > LIMITS.optionValue) add('option value longer than 150');
          }
        }
        if (el.type === 'checkboxes') {
          if (el.options.length === 0 || el.options.length > LIMITS.checkboxOptions)
            add(`${el.options.length} checkbox options (1..10)`);
          for (const o of el.options) {
            if (o.text.text.length > LIMITS.optionText) add(`option text ${o.text.text.length} > 75`);
            if ((o.value ?? '').length > LIMITS.optionValue) add('option value longer than 150');
          }
        }
        if (el.type === 'plain_text_input' && (el.max_length ?? 0) > LIMITS.plainTextInputMax) {
          add('max_length above 3000');
        }
        break;
      }
      case 'divider':
        break;
      default:
        add('block type hallpass does not build (unchecked)');
    }
  });
  return problems;
}

/** Problems with a message: the fallback `text` must be present beside the blocks. */
export function messageProblems(message: { text: string; blocks: readonly types.KnownBlock[] }): string[] {
  const problems = blockProblems(message.blocks, 'message');
  if (message.text.trim() === '') problems.push('empty fallback text');
  return problems;
}

/** Problems with a modal or Home view, including title / submit / close / private_metadata limits. */
export function viewProblems(view: types.ModalView | types.HomeView): string[] {
  const blocks = view.blocks as types.KnownBlock[];
  const problems = blockProblems(blocks, view.type);
  if ((view.private_metadata ?? '').length > LIMITS.privateMetadata) problems.push('private_metadata > 3000');
  if ((view.callback_id ?? '').length > LIMITS.id) problems.push('callback_id longer than 255');
  if (view.type === 'modal') {
    if (view.title.text.length === 0 || view.title.text.length > LIMITS.modalTitle)
      problems.push('title length');
    if (textLength(view.submit) > LIMITS.modalButton) problems.push('submit longer than 24');
    if (textLength(view.close) > LIMITS.modalButton) problems.push('close longer than 24');
    if (view.submit === undefined && blocks.some((b) => b.type === 'input')) {
      problems.push('a modal with input blocks needs submit');
    }
  }
  return problems;
}
