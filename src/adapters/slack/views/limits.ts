/**
 * Slack's Block Kit limits (docs.slack.dev, checked for Bolt 5.1). Views budget against these; the
 * tests check every built surface against them (tests/support/block-kit.ts).
 */
export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  headerText: 150,
  id: 255,
  buttonText: 75,
  buttonValue: 2000,
  actionsElements: 25,
  contextElements: 10,
  contextText: 3000,
  optionText: 75,
  optionValue: 150,
  options: 100,
  modalTitle: 24,
  modalButton: 24,
  privateMetadata: 3000,
  inputLabel: 2000,
  inputHint: 2000,
  placeholder: 150,
  plainTextInputMax: 3000,
  checkboxOptions: 10,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
} as const;
