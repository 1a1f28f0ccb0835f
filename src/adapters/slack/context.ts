import type { Clock, Logger } from '../../app/ports';
import type { UseCases } from '../../app/use-cases';

/** What every listener gets: the use cases, the clock and the logger. Nothing else. */
export type ListenerContext = { readonly uc: UseCases; readonly clock: Clock; readonly logger: Logger };
