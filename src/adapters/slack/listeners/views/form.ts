import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import type { Scope } from '../../context';
import type { Submitted } from '../middleware';

/** A form's submit before its ack: the submitter on `context`, nothing answered yet. */
export type FormArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs<Scope>;

/** A form's submit after `ackForm`: acked, with what its check read on `context.form`. */
export type SubmittedArgs<T> = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs<Submitted<T>>;
