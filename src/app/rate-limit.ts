/** `/access` commands one person may send per minute before hallpass answers "slow down". */
export const COMMANDS_PER_MINUTE = 10;
