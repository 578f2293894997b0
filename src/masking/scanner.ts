import { TextMasker, defaultDetectors } from './text-masker.ts';

/**
 * The inspection masker: every built-in detector, `redact`. Used for policy facts (whatever the
 * masking rules say) and to mask what is recorded. Built once per process by the composition root
 * (`Services.scanner`) and once per inspection worker.
 *
 * @example const scanner = inspectionScanner(masking.hashKey); scanner.mask('mail a@b.co').text
 */
export function inspectionScanner(hashKey: Buffer): TextMasker {
  return new TextMasker({ detectors: defaultDetectors(), strategy: 'redact', hashKey });
}
