// Mints a relay token as docs/protocol.md ("Tokens") specifies, for tests that play a side:
// written from the spec, not from the Rust, so the tests also check the two agree.
import { createHash, createHmac } from "node:crypto";

/** The binding of a request (docs/protocol.md, "Tokens"): the first 16 bytes of a SHA-256 over
 * length-prefixed parts, as hex. */
export function requestBinding({ method = "GET", pathAndQuery = "/", bodyMode = "inline", body = Buffer.alloc(0), clientAddress = "" } = {}) {
  const hash = createHash("sha256").update("lambda-relay.binding.v2\0");
  const parts = [method, pathAndQuery, bodyMode, createHash("sha256").update(body).digest(), clientAddress];
  for (const part of parts) {
    const bytes = Buffer.from(part);
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(bytes.length));
    hash.update(length).update(bytes);
  }
  return hash.digest().subarray(0, 16).toString("hex");
}

/** A token for `relayId` expiring at `expiry` (Unix seconds), minted now for `request` (by
 * default a GET of `/` with no body and no client address). */
export function mintToken(secret, relayId, expiry, request = {}, issued = Math.floor(Date.now() / 1000)) {
  const binding = requestBinding(request);
  const mac = createHmac("sha256", secret).update(`lambda-relay.v2\0${relayId}\0${issued}\0${expiry}\0${binding}`).digest("hex");
  return `v2.${issued}.${expiry}.${binding}.${mac}`;
}
