// Mints a relay token as docs/protocol.md ("Tokens") specifies, for tests that play a side.
import { createHmac } from "node:crypto";

export function mintToken(secret, relayId, expiry) {
  const mac = createHmac("sha256", secret).update(`lambda-relay.v1\0${relayId}\0${expiry}`).digest("hex");
  return `v1.${expiry}.${mac}`;
}
