const utf8 = new TextEncoder();
const sha256 = async (text: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text)));

/**
 * A check of `Authorization: Bearer <secret>` that takes the same time whatever the guess: both
 * sides are hashed (so their lengths do not show) and the digests compared without an early exit.
 * Web Crypto has no timingSafeEqual, and core runs on every runtime, hence these few lines.
 */
export function bearerCheck(secret: string): (authorization: string | null) => Promise<boolean> {
  const expected = sha256(`Bearer ${secret}`);
  return async (authorization) => {
    const [want, got] = await Promise.all([expected, sha256(authorization ?? '')]);
    let diff = 0;
    for (let i = 0; i < want.length; i++) diff |= want[i]! ^ got[i]!;
    return diff === 0;
  };
}
