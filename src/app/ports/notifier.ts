import type { Grant } from '../../domain/grant';
import type { MessageRef } from '../../domain/request';
import type { ApprovalCard, ChannelNotice, Notice } from '../notices';
import type { SessionCredentials } from './role-sessions';

/** Slack, as the use cases see it. Failures throw; use cases log them and go on (a notice never blocks a close). */
export interface Notifier {
  /** Posts the Approve / Deny message in the resource's channel. */
  postApprovalCard(card: ApprovalCard): Promise<MessageRef>;
  /** Rewrites the approval message in place to show the current state. */
  updateApprovalCard(ref: MessageRef, card: ApprovalCard): Promise<void>;
  /** Replies in the approval message's thread. */
  notifyThread(ref: MessageRef, notice: Notice): Promise<void>;
  /** Sends a direct message to a user. */
  notifyUser(userId: string, notice: Notice): Promise<void>;
  /**
   * Sends role credentials to the requester alone, as a direct message. The only place
   * credentials ever leave hallpass; they are not stored or logged.
   */
  sendCredentials(
    userId: string,
    card: ApprovalCard,
    grant: Grant,
    credentials: SessionCredentials,
  ): Promise<void>;
  /** Posts a notice in a channel on its own, outside any approval thread (the reconciliation report). */
  notifyChannel(channel: string, notice: ChannelNotice): Promise<void>;
}
