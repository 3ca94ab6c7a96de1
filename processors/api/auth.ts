import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The key a request presents: `X-API-Key: <key>` or `Authorization: Bearer <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey;
  const authz = headers.authorization;
  if (typeof authz === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authz);
    if (m) return m[1];
  }
  return undefined;
}

// Compare digests, so neither the length nor a prefix of a configured key leaks through timing.
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export function keyAccepted(key: string | undefined, accepted: readonly string[]): boolean {
  if (key === undefined) return false;
  const d = digest(key);
  let ok = false;
  for (const k of accepted) ok = timingSafeEqual(d, digest(k)) || ok;
  return ok;
}

/** A preHandler that answers 401 with a reason unless the request carries an accepted key. */
export function requireKey(accepted: readonly string[]) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (accepted.length === 0) {
      return reply.code(401).send({
        error: 'unauthorized',
        message: 'no API key is configured on this server (set MASTERDEAL_API_KEYS)',
      });
    }
    const key = presentedKey(req.headers);
    if (key === undefined) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({
        error: 'unauthorized',
        message: 'missing API key: send X-API-Key or Authorization: Bearer',
      });
    }
    if (!keyAccepted(key, accepted)) {
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({
        error: 'unauthorized',
        message: 'API key not accepted',
      });
    }
  };
}
