// The image's HEALTHCHECK: exit 0 when GET $GATEHOUSE_HEALTHCHECK_URL (default
// http://127.0.0.1:8080/healthz) answers 200 within 2 s, else 1. Node has fetch; the image has no curl.
import process from 'node:process';

const url = process.env.GATEHOUSE_HEALTHCHECK_URL || 'http://127.0.0.1:8080/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  process.exit(res.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
