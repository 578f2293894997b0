import type { Services } from '../../../app/services.ts';
import { optionalAgent, type Principal } from '../../../identity/principal.ts';
import type { RecordEvent } from '../../../recording/recorder.ts';
import type { TextMasker } from '../../../masking/text-masker.ts';

/** Most characters of prompt or response text kept in one recorded event. */
export const RECORD_TEXT_LIMIT = 64 * 1024;

/** Accumulates masked text for the recording, up to {@link RECORD_TEXT_LIMIT}. */
export class TextCapture {
  text = '';
  truncated = false;
  add = (s: string): void => {
    if (this.text.length >= RECORD_TEXT_LIMIT) {
      this.truncated = true;
      return;
    }
    this.text += s.slice(0, RECORD_TEXT_LIMIT - this.text.length);
    if (s.length > RECORD_TEXT_LIMIT) this.truncated = true;
  };
}

/** A capture that keeps nothing, for when recording is off. */
class DiscardingCapture extends TextCapture {
  override add = (): void => undefined;
}

/** The capture used when recording is off (stateless: shared by every exchange). */
export const NO_CAPTURE: TextCapture = new DiscardingCapture();

/**
 * Hands one event of an HTTP exchange to the recorder. Content must already be masked; as a
 * second line of defence, `text` fields are masked again with `scanner` (all detectors).
 * Never throws into the data path.
 */
export function recordEvent(
  svc: Pick<Services, 'recorder' | 'clock' | 'log'>, session: string, principal: Principal | undefined, connection: string,
  type: RecordEvent['type'], data: Record<string, unknown>,
): void {
  try {
    svc.recorder.record({
      session, protocol: 'http', type, at: svc.clock.now(), connection, data,
      ...(principal ? { user: principal.id, ...optionalAgent(principal) } : {}),
    });
  } catch (err) {
    svc.log.error({ err: String(err) }, 'recorder failed');
  }
}

/** `text` bounded and masked with `scanner` (for recording prompts and responses). */
export function maskedExcerpt(text: string, scanner: TextMasker): string {
  return scanner.mask(text.slice(0, RECORD_TEXT_LIMIT)).text;
}
